"""The ``chive-admin`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from chive_admin import __version__
from chive_admin.backfill.job_types import PluginError
from chive_admin.cli import keys as keys_cli
from chive_admin.cli import ops as client_commands
from chive_admin.cli import roles as roles_cli
from chive_admin.settings import (
    DEFAULT_CLIENT_TIMEOUT,
    DEFAULT_DB,
    DEFAULT_EXPORT_READERS,
    DEFAULT_HOST,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_QUEUED_OPS,
    DEFAULT_PLC_URL,
    DEFAULT_PORT,
    DEFAULT_RETENTION_DAYS,
    DEFAULT_UPSTREAM_CONCURRENCY,
    DEFAULT_WORKERS,
    SettingsError,
    build,
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
        epilog="Every serve flag can also be set with an env var CHIVE_ADMIN_<FLAG> (e.g. CHIVE_ADMIN_PORT=8590, "
        "CHIVE_ADMIN_ADMIN_DIDS=did:plc:a,did:plc:b). Flags win over env vars.",
    )
    parser.add_argument("--version", action="version", version=f"chive-admin {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    serve = commands.add_parser(
        "serve",
        help="run the XRPC server",
        description="Run the XRPC server. With no flags it listens on 127.0.0.1:8590 and keeps its state in "
        "./chive-admin.db (SQLite, created on first start).",
    )
    serve.add_argument("--host", help=f"address to listen on (default {DEFAULT_HOST})")
    serve.add_argument("--port", help=f"port to listen on (default {DEFAULT_PORT})")
    serve.add_argument("--db", help=f"SQLite database file (default ./{DEFAULT_DB})")
    serve.add_argument(
        "--service-did",
        help="this service's DID: the `aud` that service-auth tokens must carry (default did:web:<host>%%3A<port>)",
    )
    serve.add_argument(
        "--admin-did",
        dest="admin_dids",
        action="append",
        metavar="DID",
        help="a DID that is always admin (repeatable; env CHIVE_ADMIN_ADMIN_DIDS, comma-separated)",
    )
    serve.add_argument("--plc-url", help=f"PLC directory for did:plc resolution (default {DEFAULT_PLC_URL})")
    serve.add_argument("--governance-did", help="repo DID whose pub.chive.graph.* records governance-sync mirrors")
    serve.add_argument("--workers", help=f"backfill operations run at once (default {DEFAULT_WORKERS})")
    serve.add_argument(
        "--allow-private-network",
        action="store_const",
        const=True,
        default=None,
        help="let upstream calls reach loopback/private addresses (local development and tests only)",
    )
    serve.add_argument("--log-level", help="critical, error, warning, info (default) or debug")
    serve.add_argument("--log-format", help="text (default) or json: one JSON object per line")
    serve.add_argument(
        "--metrics-token",
        help="a bearer token that may read /metrics without admin credentials (env CHIVE_ADMIN_METRICS_TOKEN)",
    )
    serve.add_argument("--upstream-timeout", help="seconds an upstream read may take (default 30)")
    serve.add_argument("--upstream-attempts", help="attempts per upstream call, retries included (default 6)")
    serve.add_argument(
        "--upstream-deadline",
        help="seconds one upstream request may take, connect to last byte (default 60; exports: see the README)",
    )
    serve.add_argument(
        "--upstream-concurrency",
        help=f"requests in flight to one upstream host at once (default {DEFAULT_UPSTREAM_CONCURRENCY})",
    )
    serve.add_argument(
        "--export-readers",
        help="processes that read repository exports; 0 reads them on a thread of the server "
        f"(default {DEFAULT_EXPORT_READERS}: one per core beyond the first, at most 4)",
    )
    serve.add_argument(
        "--max-queued-ops",
        help=f"operations queued at most; past it a trigger is refused with 503 (default {DEFAULT_MAX_QUEUED_OPS})",
    )
    serve.add_argument(
        "--retention-days", help=f"days ended operations are kept before pruning (default {DEFAULT_RETENTION_DAYS})"
    )
    serve.add_argument(
        "--job-plugin",
        dest="job_plugins",
        action="append",
        metavar="MODULE:CLASS",
        help="load an extra job type (repeatable; env CHIVE_ADMIN_JOB_PLUGINS, comma-separated)",
    )
    serve.add_argument(
        "--trusted-proxy",
        dest="trusted_proxies",
        action="append",
        metavar="IP|CIDR",
        help="a reverse proxy whose X-Forwarded-For is believed (repeatable; env CHIVE_ADMIN_TRUSTED_PROXIES, "
        "comma-separated); from anyone else forwarded headers are ignored (default: none)",
    )
    serve.add_argument(
        "--client-timeout",
        help="seconds a client has to send a request's headers, then again its body, before it is cut off "
        f"(default {DEFAULT_CLIENT_TIMEOUT})",
    )
    serve.add_argument(
        "--max-connections",
        help=f"client connections open at once; more are closed at once (default {DEFAULT_MAX_CONNECTIONS})",
    )
    keys_cli.add_commands(commands)
    roles_cli.add_commands(commands)
    client_commands.add_commands(commands)
    return parser


def _serve(args: argparse.Namespace) -> int:
    settings = build(
        host=args.host,
        port=args.port,
        db=args.db,
        service_did=args.service_did,
        admin_dids=args.admin_dids,
        plc_url=args.plc_url,
        governance_did=args.governance_did,
        workers=args.workers,
        allow_private_network=args.allow_private_network,
        log_level=args.log_level,
        retention_days=args.retention_days,
        job_plugins=args.job_plugins,
        metrics_token=args.metrics_token,
        log_format=args.log_format,
        upstream_timeout=args.upstream_timeout,
        upstream_attempts=args.upstream_attempts,
        upstream_deadline=args.upstream_deadline,
        upstream_concurrency=args.upstream_concurrency,
        export_readers=args.export_readers,
        trusted_proxies=args.trusted_proxies,
        client_timeout=args.client_timeout,
        max_connections=args.max_connections,
        max_queued_ops=args.max_queued_ops,
    )
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
        if args.command in ("ops", "dlq"):
            return client_commands.run(args)
    except (SettingsError, PluginError, DatabaseLockedByOtherProcess, DatabaseUnavailable) as exc:
        print(f"chive-admin: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    parser.error(f"unknown command {args.command!r}")
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
