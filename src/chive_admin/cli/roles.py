"""``chive-admin roles``: grant, revoke and list roles in the database file, with or without a server on it.

This is how the first admin is made on a server started without ``--admin-did``; a running server sees a change
within its role cache time (``auth.roles.CACHE_SECONDS``). Bootstrap admins (``--admin-did``) are the server's
configuration, not rows: they are not listed or revoked here (those given by ``CHIVE_ADMIN_ADMIN_DIDS`` in this
command's environment are shown as such).

Each grant and revoke goes to the audit trail in the same transaction as the change, as ``assignRole`` or
``revokeRole`` with ``via=cli``. A local command has no caller DID (whoever can write the database file can do
anything with it), while getAuditLog's entries must name an actor: the entry names the DID acted upon as both actor
and target, and ``via=cli`` says the change came from the command line, not from that DID.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

from chive_admin._generated import ids
from chive_admin.auth.roles import CACHE_SECONDS, ROLES
from chive_admin.cli.local_db import add_db_option, chosen_db, opened
from chive_admin.clock import now_stamp
from chive_admin.lex.formats import validate_did
from chive_admin.settings import ENV_PREFIX, SettingsError
from chive_admin.store import audit as audit_store
from chive_admin.store import roles as roles_store
from chive_admin.store.target import DbTarget

#: the ``via`` of the audit entries this command writes
VIA = "cli"


def add_commands(commands: argparse._SubParsersAction[Any]) -> None:
    roles = commands.add_parser(
        "roles",
        help="grant, revoke and list roles (make the first admin here)",
        description="Grant, revoke and list roles in the server's database, beside a running server or not. "
        f"A running server sees a change within {CACHE_SECONDS:.0f} s; every change goes to the audit trail.",
    )
    actions = roles.add_subparsers(dest="roles_command", metavar="ACTION", required=True)
    grant = actions.add_parser("grant", help="give a DID a role (e.g. chive-admin roles grant did:plc:you admin)")
    revoke = actions.add_parser("revoke", help="take a role from a DID")
    for action in (grant, revoke):
        action.add_argument("did", metavar="DID", help="the account (e.g. did:plc:…)")
        action.add_argument("role", metavar="ROLE", choices=ROLES, help=f"one of {', '.join(ROLES)}")
    listing = actions.add_parser("list", help="every role granted in this database")
    for action in (grant, revoke, listing):
        add_db_option(action)


def bootstrap_admins() -> frozenset[str]:
    """The ``CHIVE_ADMIN_ADMIN_DIDS`` this command can see (a server may have been given others by flag)."""
    return frozenset(d.strip() for d in os.environ.get(ENV_PREFIX + "ADMIN_DIDS", "").split(",") if d.strip())


def cli_audit(method: str, actor_did: str, target: str, detail: str) -> audit_store.AuditEntry:
    """The audit entry of a change made by a local command (``via=cli``), allowed by construction."""
    return audit_store.AuditEntry(
        at=now_stamp(),
        method=method,
        outcome="allowed",
        status=200,
        actor_did=actor_did,
        via=VIA,
        target=target,
        detail=detail,
    )


def _audit(method: str, did: str, detail: str) -> audit_store.AuditEntry:
    return cli_audit(method, did, did, detail + " (chive-admin roles, on the server's machine)")


async def _grant(path: DbTarget, did: str, role: str) -> bool:
    async with opened(path) as db, db.write() as conn:
        new = await roles_store.grant(conn, did, role, None, now_stamp())
        detail = f"{role} granted" if new else f"{role} already held"
        await audit_store.append_audit(conn, [_audit(ids.PUB_CHIVE_ADMIN_ASSIGN_ROLE, did, detail)])
    return new


async def _revoke(path: DbTarget, did: str, role: str) -> bool:
    async with opened(path) as db, db.write() as conn:
        removed = await roles_store.revoke(conn, did, role)
        detail = f"{role} revoked" if removed else f"{role} was not held"
        await audit_store.append_audit(conn, [_audit(ids.PUB_CHIVE_ADMIN_REVOKE_ROLE, did, detail)])
    return removed


async def _list(path: DbTarget) -> list[roles_store.RoleGrant]:
    async with opened(path) as db, db.read() as conn:
        return await roles_store.list_roles(conn)


def _did(value: str) -> str:
    try:
        return validate_did(value)
    except ValueError as exc:
        raise SettingsError(f"DID: {value!r} is not a valid DID ({exc})") from None


def run(args: argparse.Namespace) -> int:
    if args.roles_command == "list":
        path = chosen_db(args)
        grants = asyncio.run(_list(path))
        for row in grants:
            print(f"{row.did}\t{row.role}\tgranted {row.granted_at}\tby {row.granted_by or 'chive-admin roles'}")
        for did in sorted(bootstrap_admins()):
            print(f"{did}\tadmin\tbootstrap admin (CHIVE_ADMIN_ADMIN_DIDS)")
        if not any(row.role == "admin" for row in grants) and not bootstrap_admins():
            print(
                "no admin in this database; grant one with `chive-admin roles grant DID admin` "
                "(a server started with --admin-did DID has that admin too)",
                file=sys.stderr,
            )
        return 0
    did = _did(args.did)
    path = chosen_db(args)
    later = f"a running server sees it within {CACHE_SECONDS:.0f} s"
    if args.roles_command == "grant":
        new = asyncio.run(_grant(path, did, args.role))
        print(f"granted {args.role} to {did} ({later})" if new else f"{did} already holds {args.role}")
        return 0
    removed = asyncio.run(_revoke(path, did, args.role))
    print(f"revoked {args.role} from {did} ({later})" if removed else f"{did} did not hold {args.role}")
    if args.role == "admin" and did in bootstrap_admins():
        print(f"{did} stays admin: it is a bootstrap admin (CHIVE_ADMIN_ADMIN_DIDS)", file=sys.stderr)
    return 0
