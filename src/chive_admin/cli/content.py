"""``chive-admin content``: lift and list index takedowns (deleteContent) in the database, beside a running server
or not. A running server sees a change at once: it reads takedowns from the database on every call.

A restore goes to the audit trail in the same transaction as the change, as ``deleteContent`` with ``via=cli`` and
the detail ``takedown lifted``. As for ``chive-admin roles``, a local command has no caller DID, while getAuditLog's
entries must name an actor: the entry names the repository the record belongs to, and ``via=cli`` says the change
came from the command line, not from that DID.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from chive_admin._generated import ids
from chive_admin.cli.local_db import add_db_option, chosen_db, opened
from chive_admin.cli.roles import cli_audit
from chive_admin.lex.formats import record_uri_parts
from chive_admin.settings import SettingsError
from chive_admin.store import audit as audit_store
from chive_admin.store import search, takedowns
from chive_admin.store.target import DbTarget


def add_commands(commands: argparse._SubParsersAction[Any]) -> None:
    content = commands.add_parser(
        "content",
        help="lift and list index takedowns (deleteContent)",
        description="Lift and list the index takedowns of deleteContent in the server's database, beside a running "
        "server or not; a running server sees a change at once, and every change goes to the audit trail.",
    )
    actions = content.add_subparsers(dest="content_command", metavar="ACTION", required=True)
    restore = actions.add_parser("restore", help="lift the takedown of a record: it is visible again")
    restore.add_argument("uri", metavar="URI", help="the record's at-uri (at://DID/COLLECTION/RKEY)")
    listing = actions.add_parser("list", help="every takedown in this database")
    for action in (restore, listing):
        add_db_option(action)


async def _restore(path: DbTarget, uri: str, did: str) -> takedowns.Takedown | None:
    async with opened(path) as db, db.write() as conn:
        lifted = await takedowns.restore(conn, uri)
        if lifted is not None:
            await search.refresh(conn, [uri])
        detail = "takedown lifted" if lifted is not None else "was not taken down"
        entry = cli_audit(
            ids.PUB_CHIVE_ADMIN_DELETE_CONTENT,
            did,
            uri,
            detail + " (chive-admin content restore, on the server's machine)",
        )
        await audit_store.append_audit(conn, [entry])
    return lifted


async def _list(path: DbTarget) -> list[takedowns.Takedown]:
    async with opened(path) as db, db.read() as conn:
        return await takedowns.every(conn)


def run(args: argparse.Namespace) -> int:
    if args.content_command == "list":
        for row in asyncio.run(_list(chosen_db(args))):
            print(f"{row.uri}\ttaken down {row.taken_down_at}\tby {row.taken_down_by}\t{row.reason or ''}")
        return 0
    try:
        did, _, _ = record_uri_parts(args.uri)
    except ValueError as exc:
        raise SettingsError(f"URI: {args.uri!r} is not a record's at-uri ({exc})") from None
    lifted = asyncio.run(_restore(chosen_db(args), args.uri, did))
    if lifted is None:
        print(f"{args.uri} was not taken down")
    else:
        print(f"restored {args.uri} (taken down {lifted.taken_down_at} by {lifted.taken_down_by})")
    return 0
