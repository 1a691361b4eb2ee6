"""``chive-admin moderation``: write the local moderation record (warnings, violations) in the server's database,
beside a running server or not. listWarnings and listViolations read it.

Each write goes to the audit trail in the same transaction as the change, with ``via=cli``, the moderator named by
``--by`` as the actor and the account concerned as the target (the action names the command: ``moderation.warn``…).
A bad argument is one line on stderr and exit 2, before the database is opened.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from chive_admin.cli.local_db import add_db_option, chosen_db, opened
from chive_admin.cli.roles import cli_audit
from chive_admin.clock import now_stamp, stamp, utc_now
from chive_admin.lex.formats import validate_at_uri, validate_did
from chive_admin.settings import SettingsError
from chive_admin.store import audit as audit_store
from chive_admin.store import moderation as moderation_store
from chive_admin.store.target import DbTarget

MAX_TEXT = 2000
MAX_TYPE = 100
MAX_CONTEXT = 10_000
MAX_DAYS = 3650


def add_commands(commands: argparse._SubParsersAction[Any]) -> None:
    moderation = commands.add_parser(
        "moderation",
        help="warn accounts and record policy violations (listWarnings, listViolations)",
        description="Write the server's local moderation record, beside a running server or not. "
        "Every write goes to the audit trail.",
    )
    actions = moderation.add_subparsers(dest="moderation_command", metavar="ACTION", required=True)
    warn = actions.add_parser("warn", help="issue a warning to an account")
    warn.add_argument("did", metavar="DID", help="the account warned")
    warn.add_argument("--reason", required=True, help="why")
    warn.add_argument("--days", default=None, help=f"it lapses after this many days (1-{MAX_DAYS}); default never")
    violation = actions.add_parser("violation", help="record a policy violation by an account")
    violation.add_argument("did", metavar="DID", help="the account responsible")
    violation.add_argument("--type", required=True, help="which rule was broken (e.g. spam, plagiarism)")
    violation.add_argument("--severity", required=True, help=f"one of {', '.join(moderation_store.SEVERITIES)}")
    violation.add_argument("--description", default=None, help="what happened")
    violation.add_argument("--context", default=None, help="supporting details as JSON (e.g. '{\"similarity\": 0.9}')")
    violation.add_argument("--subject", default=None, help="the at:// URI of the record concerned")
    resolve = actions.add_parser("resolve", help="resolve an open violation by its id")
    resolve.add_argument("id", metavar="ID", help="the violation's id (listViolations)")
    revoke = actions.add_parser("revoke", help="revoke a warning by its id")
    revoke.add_argument("id", metavar="ID", help="the warning's id (listWarnings)")
    for action in (warn, violation, resolve, revoke):
        action.add_argument("--by", required=True, help="the DID of the moderator or admin acting")
        add_db_option(action)


def _did(flag: str, value: str) -> str:
    try:
        return validate_did(value)
    except ValueError as exc:
        raise SettingsError(f"{flag}: {value!r} is not a valid DID ({exc})") from None


def _text(flag: str, value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    text = value.strip()
    if not text or len(text) > limit or any(not c.isprintable() and c not in "\n\t" for c in text):
        raise SettingsError(f"{flag}: must be 1 to {limit} printable characters")
    return text


def _id(value: str) -> int:
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        raise SettingsError(f"ID: {value!r} is not an id (a positive integer)")
    return int(value)


def _context(value: str | None) -> str | None:
    if value is None:
        return None
    if len(value) > MAX_CONTEXT:
        raise SettingsError(f"--context: longer than {MAX_CONTEXT} characters")
    try:
        parsed = json.loads(value)
    except ValueError as exc:
        raise SettingsError(f"--context: not JSON ({exc})") from None
    return json.dumps(parsed, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def _audit(action: str, by: str, did: str, detail: str) -> audit_store.AuditEntry:
    return cli_audit(f"moderation.{action}", by, did, detail + " (chive-admin moderation, on the server's machine)")


async def _warn(path: DbTarget, did: str, by: str, reason: str, expires_at: str | None) -> int:
    async with opened(path) as db, db.write() as conn:
        warning_id = await moderation_store.add_warning(
            conn, did=did, reason=reason, issued_by=by, now=now_stamp(), expires_at=expires_at
        )
        lapse = f", expires {expires_at}" if expires_at else ""
        await audit_store.append_audit(conn, [_audit("warn", by, did, f"warning {warning_id}: {reason}{lapse}")])
    return warning_id


@dataclass(frozen=True)
class _NewViolation:
    did: str
    type: str
    severity: str
    by: str
    description: str | None
    context: str | None
    subject_uri: str | None


async def _violation(path: DbTarget, new: _NewViolation) -> int:
    async with opened(path) as db, db.write() as conn:
        violation_id = await moderation_store.add_violation(
            conn,
            did=new.did,
            type=new.type,
            severity=new.severity,
            recorded_by=new.by,
            now=now_stamp(),
            description=new.description,
            context=new.context,
            subject_uri=new.subject_uri,
        )
        detail = f"violation {violation_id}: {new.type} ({new.severity})"
        await audit_store.append_audit(conn, [_audit("violation", new.by, new.did, detail)])
    return violation_id


async def _close(path: DbTarget, action: str, record_id: int, by: str) -> str | None:
    """Revoke a warning or resolve a violation; the DID it concerned, or None when there was no such open one."""
    async with opened(path) as db, db.write() as conn:
        if action == "revoke":
            did = await moderation_store.revoke_warning(conn, record_id, by, now_stamp())
            detail = f"warning {record_id} revoked"
        else:
            did = await moderation_store.resolve_violation(conn, record_id, by, now_stamp())
            detail = f"violation {record_id} resolved"
        if did is not None:
            await audit_store.append_audit(conn, [_audit(action, by, did, detail)])
    return did


def run(args: argparse.Namespace) -> int:
    by = _did("--by", args.by)
    command = args.moderation_command
    if command in ("revoke", "resolve"):
        record_id = _id(args.id)
        did = asyncio.run(_close(chosen_db(args), command, record_id, by))
        kind = "warning" if command == "revoke" else "violation"
        if did is None:
            state = "unrevoked" if command == "revoke" else "open"
            print(f"chive-admin: error: no {state} {kind} with id {record_id}", file=sys.stderr)
            return 1
        print(f"{kind} {record_id} of {did} {'revoked' if command == 'revoke' else 'resolved'}")
        return 0
    did = _did("DID", args.did)
    if command == "warn":
        reason = _text("--reason", args.reason, MAX_TEXT)
        assert reason is not None
        if args.days is not None and not (
            args.days.isascii() and args.days.isdigit() and 1 <= int(args.days) <= MAX_DAYS
        ):
            raise SettingsError(f"--days: {args.days!r} is not a number of days from 1 to {MAX_DAYS}")
        expires_at = stamp(utc_now() + timedelta(days=int(args.days))) if args.days is not None else None
        warning_id = asyncio.run(_warn(chosen_db(args), did, by, reason, expires_at))
        print(f"warning {warning_id} issued to {did}" + (f" (expires {expires_at})" if expires_at else ""))
        return 0
    if args.severity not in moderation_store.SEVERITIES:
        raise SettingsError(f"--severity: {args.severity!r} is not one of {', '.join(moderation_store.SEVERITIES)}")
    subject = args.subject
    if subject is not None:
        try:
            subject = validate_at_uri(subject)
        except ValueError as exc:
            raise SettingsError(f"--subject: {subject!r} is not an at:// URI ({exc})") from None
    rule = _text("--type", args.type, MAX_TYPE)
    assert rule is not None
    description = _text("--description", args.description, MAX_TEXT)
    new = _NewViolation(did, rule, args.severity, by, description, _context(args.context), subject)
    violation_id = asyncio.run(_violation(chosen_db(args), new))
    print(f"violation {violation_id} recorded for {did} ({args.severity})")
    return 0
