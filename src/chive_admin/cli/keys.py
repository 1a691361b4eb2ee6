"""``chive-admin keys``: create, list and revoke API keys in the database file (with or without a server on it)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from chive_admin.auth.api_keys import key_hash, new_key, new_key_id
from chive_admin.auth.roles import METRICS_WRITER
from chive_admin.cli.local_db import add_db_option, chosen_db, opened
from chive_admin.cli.roles import bootstrap_admins
from chive_admin.clock import now_stamp
from chive_admin.lex.formats import validate_did
from chive_admin.settings import SettingsError
from chive_admin.store import api_keys as api_keys_store
from chive_admin.store import roles as roles_store
from chive_admin.store.target import DbTarget

MAX_NAME = 100


def add_commands(commands: argparse._SubParsersAction[Any]) -> None:
    keys = commands.add_parser("keys", help="manage API keys", description="Create, list and revoke API keys.")
    actions = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="create a key; it is printed once and never stored")
    create.add_argument(
        "--did", required=True, help="the DID the key acts as (it needs the admin or the metrics-writer role)"
    )
    create.add_argument("--name", required=True, help="what the key is for (e.g. ci-nightly)")
    listing = actions.add_parser("list", help="list keys (never the keys themselves)")
    revoke = actions.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id", metavar="ID")
    for action in (create, listing, revoke):
        add_db_option(action)


async def _create(path: DbTarget, did: str, name: str) -> tuple[str, str, frozenset[str]]:
    """The new key's id, the key, and the roles its DID holds in this database."""
    async with opened(path) as db:
        key, key_id = new_key(), new_key_id()
        async with db.write() as conn:
            await api_keys_store.create_key(
                conn, key_id=key_id, did=did, name=name, key_hash=key_hash(key), now=now_stamp()
            )
            roles = await roles_store.roles_of(conn, did)
        return key_id, key, roles


async def _list(path: DbTarget) -> list[api_keys_store.ApiKey]:
    async with opened(path) as db, db.read() as conn:
        return await api_keys_store.list_keys(conn)


async def _revoke(path: DbTarget, key_id: str) -> bool:
    async with opened(path) as db, db.write() as conn:
        return await api_keys_store.revoke_key(conn, key_id, now_stamp())


def run(args: argparse.Namespace) -> int:
    if args.keys_command == "create":
        try:
            did = validate_did(args.did)
        except ValueError as exc:
            raise SettingsError(f"--did: {args.did!r} is not a valid DID ({exc})") from None
        name = args.name.strip()
        if not name or len(name) > MAX_NAME or not name.isprintable():
            raise SettingsError(f"--name: must be 1 to {MAX_NAME} printable characters")
        key_id, key, roles = asyncio.run(_create(chosen_db(args), did, name))
        print(key)
        print(f"key {key_id} for {did} ({name}); shown once: store it now", file=sys.stderr)
        if not roles & {"admin", METRICS_WRITER} and did not in bootstrap_admins():
            # every method needs the admin role (the record* methods: metrics-writer): without either the key is
            # refused everywhere with AdminRequired
            print(
                f"warning: {did} has no admin role in this database; grant one with "
                f"`chive-admin roles grant {did} admin` (or `metrics-writer` for a front end that records views), "
                f"or start the server with --admin-did {did}",
                file=sys.stderr,
            )
        return 0
    path = chosen_db(args)
    if args.keys_command == "list":
        for row in asyncio.run(_list(path)):
            state = f"revoked {row.revoked_at}" if row.revoked_at else "active"
            used = row.last_used_at or "-"
            print(f"{row.id}\t{row.did}\t{row.name}\tcreated {row.created_at}\tlast used {used}\t{state}")
        return 0
    if asyncio.run(_revoke(path, args.key_id)):
        print(f"revoked {args.key_id}")
        return 0
    print(f"chive-admin: error: no active key with id {args.key_id!r}", file=sys.stderr)
    return 1
