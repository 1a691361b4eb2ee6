"""Roles granted to DIDs (admin, moderator…), beside the bootstrap admins of the settings."""

from __future__ import annotations

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
