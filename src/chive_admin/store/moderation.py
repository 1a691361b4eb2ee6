"""The local moderation record: warnings issued to accounts and recorded policy violations.

Nothing on the network carries these (no ATProto record, and Chive never writes its own tables), so this server
keeps them: ``chive-admin moderation`` writes them, listWarnings / listViolations and the dashboard read them. A
warning is *active* until it expires or is revoked; only active warnings are listed unless asked otherwise. A
violation stays listed once resolved (its ``resolved_at`` says so). Both lists are newest first, with the handle of
the account when the index knows its repository.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chive_admin.store.sql import Conn, fetch_int

#: from least to most serious (the CHECK of the violations table)
SEVERITIES = ("low", "medium", "high", "critical")


@dataclass(frozen=True)
class AccountWarning:
    id: int
    did: str
    handle: str | None
    reason: str
    issued_by: str
    created_at: str
    expires_at: str | None
    revoked_at: str | None
    revoked_by: str | None


@dataclass(frozen=True)
class Violation:
    id: int
    did: str
    handle: str | None
    type: str
    severity: str
    description: str | None
    context: str | None
    subject_uri: str | None
    recorded_by: str
    created_at: str
    resolved_at: str | None
    resolved_by: str | None


async def add_warning(
    conn: Conn, *, did: str, reason: str, issued_by: str, now: str, expires_at: str | None = None
) -> int:
    row = await conn.fetchone(
        "INSERT INTO warnings (did, reason, issued_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
        (did, reason, issued_by, now, expires_at),
    )
    assert row is not None
    return int(row[0])


async def revoke_warning(conn: Conn, warning_id: int, by: str, now: str) -> str | None:
    """The DID the warning was issued to, or None when there is no unrevoked warning ``warning_id``."""
    row = await conn.fetchone(
        "UPDATE warnings SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL RETURNING did",
        (now, by, warning_id),
    )
    return str(row[0]) if row is not None else None


async def add_violation(
    conn: Conn,
    *,
    did: str,
    type: str,
    severity: str,
    recorded_by: str,
    now: str,
    description: str | None = None,
    context: str | None = None,
    subject_uri: str | None = None,
) -> int:
    row = await conn.fetchone(
        "INSERT INTO violations (did, type, severity, description, context, subject_uri, recorded_by, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (did, type, severity, description, context, subject_uri, recorded_by, now),
    )
    assert row is not None
    return int(row[0])


async def resolve_violation(conn: Conn, violation_id: int, by: str, now: str) -> str | None:
    """The DID responsible for the violation, or None when there is no open violation ``violation_id``."""
    row = await conn.fetchone(
        "UPDATE violations SET resolved_at = ?, resolved_by = ? WHERE id = ? AND resolved_at IS NULL RETURNING did",
        (now, by, violation_id),
    )
    return str(row[0]) if row is not None else None


def _filter(did: str | None, conditions: list[str], args: list[Any]) -> str:
    if did is not None:
        conditions.append("t.did = ?")
        args.append(did)
    return f" WHERE {' AND '.join(conditions)}" if conditions else ""


async def warnings_page(
    conn: Conn, *, limit: int, did: str | None, now: str, include_inactive: bool = False
) -> tuple[list[AccountWarning], int]:
    """The newest ``limit`` warnings (of ``did`` if given; active ones at ``now`` unless ``include_inactive``), and
    how many match in all."""
    conditions: list[str] = []
    args: list[Any] = []
    if not include_inactive:
        conditions.append("t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > ?)")
        args.append(now)
    where = _filter(did, conditions, args)
    total = await fetch_int(conn, f"SELECT count(*) FROM warnings t{where}", args)
    rows = await conn.fetchall(
        "SELECT t.id, t.did, r.handle, t.reason, t.issued_by, t.created_at, t.expires_at, t.revoked_at, t.revoked_by"
        f" FROM warnings t LEFT JOIN repos r ON r.did = t.did{where} ORDER BY t.id DESC LIMIT ?",
        [*args, limit],
    )
    return [AccountWarning(int(row[0]), *list(row)[1:]) for row in rows], total


async def violations_page(conn: Conn, *, limit: int, did: str | None) -> tuple[list[Violation], int]:
    """The newest ``limit`` violations (of ``did`` if given), resolved or not, and how many match in all."""
    args: list[Any] = []
    where = _filter(did, [], args)
    total = await fetch_int(conn, f"SELECT count(*) FROM violations t{where}", args)
    rows = await conn.fetchall(
        "SELECT t.id, t.did, r.handle, t.type, t.severity, t.description, t.context, t.subject_uri, t.recorded_by,"
        f" t.created_at, t.resolved_at, t.resolved_by FROM violations t LEFT JOIN repos r ON r.did = t.did{where}"
        " ORDER BY t.id DESC LIMIT ?",
        [*args, limit],
    )
    return [Violation(int(row[0]), *list(row)[1:]) for row in rows], total
