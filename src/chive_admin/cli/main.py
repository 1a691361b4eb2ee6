"""The ``chive-admin`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from chive_admin import __version__
from chive_admin.backfill.job_types import PluginError
from chive_admin.cli import content as content_cli
from chive_admin.cli import keys as keys_cli
from chive_admin.cli import moderation as moderation_cli
from chive_admin.cli import ops as client_commands
from chive_admin.cli import roles as roles_cli
from chive_admin.settings import (
    DEFAULT_DB,
    DEFAULT_HOST,
    DEFAULT_PORT,
    SettingsError,
    add_arguments,
    from_arguments,
)
from chive_admin.store.db import DatabaseLockedByOtherProcess, DatabaseUnavailable

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="chive-admin",
        description="ATProto XRPC admin and backfill server for the pub.chive.admin lexicons.",
        epilog="Every serve flag can also be set with an env var CHIVE_ADMIN_<FLAG> (e.g. "
        f"CHIVE_ADMIN_PORT={DEFAULT_PORT}, CHIVE_ADMIN_ADMIN_DIDS=did:plc:a,did:plc:b). Flags win over env vars.",
    )
    parser.add_argument("--version", action="version", version=f"chive-admin {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    serve = commands.add_parser(
        "serve",
        help="run the XRPC server",
        description=f"Run the XRPC server. With no flags it listens on {DEFAULT_HOST}:{DEFAULT_PORT} and keeps its "
        f"state in ./{DEFAULT_DB} (SQLite, created on first start).",
    )
    add_arguments(serve)
    keys_cli.add_commands(commands)
    roles_cli.add_commands(commands)
    moderation_cli.add_commands(commands)
    content_cli.add_commands(commands)
    client_commands.add_commands(commands)
    return parser


def _serve(args: argparse.Namespace) -> int:
    settings = from_arguments(args)
    from chive_admin.cli import serve  # uvicorn and the app: not imported for the other commands

    return serve.run(settings)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "keys":
            return keys_cli.run(args)
        if args.command == "roles":
            return roles_cli.run(args)
        if args.command == "moderation":
            return moderation_cli.run(args)
        if args.command == "content":
            return content_cli.run(args)
        if args.command in ("ops", "dlq", "status"):
            return client_commands.run(args)
    except (SettingsError, PluginError, DatabaseLockedByOtherProcess, DatabaseUnavailable) as exc:
        print(f"chive-admin: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    parser.error(f"unknown command {args.command!r}")
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
