"""Roles, API keys and the audit log."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import aiosqlite


async def roles_of(conn: aiosqlite.Connection, did: str) -> frozenset[str]:
    async with conn.execute("SELECT role FROM roles WHERE did = ?", (did,)) as cur:
        return frozenset([str(row[0]) async for row in cur])


async def grant(conn: aiosqlite.Connection, did: str, role: str, granted_by: str | None, now: str) -> bool:
    """True when the role was new (idempotent: granting a held role changes nothing)."""
    cur = await conn.execute(
        "INSERT INTO roles (did, role, granted_by, granted_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (did, role, granted_by, now),
    )
    return cur.rowcount == 1


async def revoke(conn: aiosqlite.Connection, did: str, role: str) -> bool:
    cur = await conn.execute("DELETE FROM roles WHERE did = ? AND role = ?", (did, role))
    return cur.rowcount == 1


async def holders_of(conn: aiosqlite.Connection, role: str) -> list[str]:
    """The DIDs granted ``role`` in the roles table, first granted first."""
    async with conn.execute("SELECT did FROM roles WHERE role = ? ORDER BY granted_at, did", (role,)) as cur:
        return [str(row[0]) async for row in cur]


@dataclass(frozen=True)
class RoleGrant:
    did: str
    role: str
    granted_by: str | None
    granted_at: str


async def list_roles(conn: aiosqlite.Connection) -> list[RoleGrant]:
    async with conn.execute("SELECT did, role, granted_by, granted_at FROM roles ORDER BY did, role") as cur:
        return [RoleGrant(*row) async for row in cur]


@dataclass(frozen=True)
class ApiKey:
    id: str
    did: str
    name: str
    created_at: str
    revoked_at: str | None
    last_used_at: str | None


_KEY_COLUMNS = "id, did, name, created_at, revoked_at, last_used_at"


async def create_key(conn: aiosqlite.Connection, *, key_id: str, did: str, name: str, key_hash: str, now: str) -> None:
    await conn.execute(
        "INSERT INTO api_keys (id, did, name, key_hash, created_at) VALUES (?, ?, ?, ?, ?)",
        (key_id, did, name, key_hash, now),
    )


async def key_by_hash(conn: aiosqlite.Connection, key_hash: str) -> ApiKey | None:
    async with conn.execute(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE key_hash = ?", (key_hash,)) as cur:
        row = await cur.fetchone()
    return ApiKey(*row) if row else None


async def list_keys(conn: aiosqlite.Connection) -> list[ApiKey]:
    async with conn.execute(f"SELECT {_KEY_COLUMNS} FROM api_keys ORDER BY created_at, id") as cur:
        return [ApiKey(*row) async for row in cur]


async def revoke_key(conn: aiosqlite.Connection, key_id: str, now: str) -> bool:
    cur = await conn.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (now, key_id))
    return cur.rowcount == 1


async def touch_keys(conn: aiosqlite.Connection, last_used: Mapping[str, str]) -> None:
    await conn.executemany(
        "UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)",
        [(at, key_id, at) for key_id, at in last_used.items()],
    )


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


async def append_audit(conn: aiosqlite.Connection, entries: Iterable[AuditEntry]) -> None:
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


async def audit_page(
    conn: aiosqlite.Connection, *, limit: int, before_id: int | None, actor_did: str | None
) -> AuditPage:
    """Entries made by an identified caller, newest first, with id < ``before_id``; and how many match in all."""
    where: list[str] = [_IDENTIFIED]
    args: list[str | int] = []
    if actor_did is not None:
        where.append("actor_did = ?")
        args.append(actor_did)
    async with conn.execute(f"SELECT count(*) FROM audit_log WHERE {' AND '.join(where)}", args) as cur:
        row = await cur.fetchone()
    total = int(row[0]) if row else 0
    if before_id is not None:
        where.append("id < ?")
        args.append(before_id)
    async with conn.execute(  # one more than asked: whether another page follows, without a second query
        f"SELECT {_AUDIT_COLUMNS} FROM audit_log WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
        (*args, limit + 1),
    ) as cur:
        entries = [AuditEntry(*row) async for row in cur]
    return AuditPage(entries[:limit], total, len(entries) > limit)
