"""Roles granted to DIDs (admin, moderator…), beside the bootstrap admins of the settings."""

from __future__ import annotations

from dataclasses import dataclass

from chive_admin.store.sql import Conn


async def roles_of(conn: Conn, did: str) -> frozenset[str]:
    return frozenset(str(row[0]) for row in await conn.fetchall("SELECT role FROM roles WHERE did = ?", (did,)))


async def grant(conn: Conn, did: str, role: str, granted_by: str | None, now: str) -> bool:
    """True when the role was new (idempotent: granting a held role changes nothing)."""
    changed = await conn.execute(
        "INSERT INTO roles (did, role, granted_by, granted_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (did, role, granted_by, now),
    )
    return changed == 1


async def revoke(conn: Conn, did: str, role: str) -> bool:
    changed = await conn.execute("DELETE FROM roles WHERE did = ? AND role = ?", (did, role))
    return changed == 1


async def holders_of(conn: Conn, role: str) -> list[str]:
    """The DIDs granted ``role`` in the roles table, first granted first."""
    rows = await conn.fetchall("SELECT did FROM roles WHERE role = ? ORDER BY granted_at, did", (role,))
    return [str(row[0]) for row in rows]


@dataclass(frozen=True)
class RoleGrant:
    did: str
    role: str
    granted_by: str | None
    granted_at: str


async def list_roles(conn: Conn) -> list[RoleGrant]:
    rows = await conn.fetchall("SELECT did, role, granted_by, granted_at FROM roles ORDER BY did, role")
    return [RoleGrant(*row) for row in rows]
