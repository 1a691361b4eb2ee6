"""The audit trail: one entry per admin call, allowed or refused, and its pages for getAuditLog."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from chive_admin.store.sql import Conn


@dataclass(frozen=True)
class AuditEntry:
    at: str
    method: str
    outcome: str
    status: int
    actor_did: str | None = None
    via: str | None = None
    key_id: str | None = None
    target: str | None = None
    reason: str | None = None
    detail: str | None = None
    client_ip: str | None = None
    id: int | None = None


_AUDIT_COLUMNS = "at, method, outcome, status, actor_did, via, key_id, target, reason, detail, client_ip, id"


async def append_audit(conn: Conn, entries: Iterable[AuditEntry]) -> None:
    await conn.executemany(
        "INSERT INTO audit_log (at, method, outcome, status, actor_did, via, key_id, target, reason, detail,"
        " client_ip) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                e.at,
                e.method,
                e.outcome,
                e.status,
                e.actor_did,
                e.via,
                e.key_id,
                e.target,
                e.reason,
                e.detail,
                e.client_ip,
            )
            for e in entries
        ],
    )


@dataclass(frozen=True)
class AuditPage:
    entries: Sequence[AuditEntry]
    #: entries that match the filter on every page
    total: int
    #: whether older matching entries follow the last one of ``entries``
    more: bool


# Calls refused before any identity was established (no or unverifiable credentials) are recorded without an actor.
# They are kept out of getAuditLog: Chive's lexicon requires actorDid on every entry, and a client holding it rejects
# a whole answer that has one entry without it. Operators see them in the table, the logs and the refusal metric.
_IDENTIFIED = "actor_did IS NOT NULL"


async def audit_page(conn: Conn, *, limit: int, before_id: int | None, actor_did: str | None) -> AuditPage:
    """Entries made by an identified caller, newest first, with id < ``before_id``; and how many match in all."""
    where: list[str] = [_IDENTIFIED]
    args: list[str | int] = []
    if actor_did is not None:
        where.append("actor_did = ?")
        args.append(actor_did)
    row = await conn.fetchone(f"SELECT count(*) FROM audit_log WHERE {' AND '.join(where)}", args)
    total = int(row[0]) if row else 0
    if before_id is not None:
        where.append("id < ?")
        args.append(before_id)
    rows = await conn.fetchall(  # one more than asked: whether another page follows, without a second query
        f"SELECT {_AUDIT_COLUMNS} FROM audit_log WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
        (*args, limit + 1),
    )
    entries = [AuditEntry(*row) for row in rows]
    return AuditPage(entries[:limit], total, len(entries) > limit)
