"""API keys: only their SHA-256 is stored, each bound to a DID, named, revocable, its last use kept."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from chive_admin.store.sql import Conn


@dataclass(frozen=True)
class ApiKey:
    id: str
    did: str
    name: str
    created_at: str
    revoked_at: str | None
    last_used_at: str | None


_KEY_COLUMNS = "id, did, name, created_at, revoked_at, last_used_at"


async def create_key(conn: Conn, *, key_id: str, did: str, name: str, key_hash: str, now: str) -> None:
    await conn.execute(
        "INSERT INTO api_keys (id, did, name, key_hash, created_at) VALUES (?, ?, ?, ?, ?)",
        (key_id, did, name, key_hash, now),
    )


async def key_by_hash(conn: Conn, key_hash: str) -> ApiKey | None:
    row = await conn.fetchone(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE key_hash = ?", (key_hash,))
    return ApiKey(*row) if row else None


async def list_keys(conn: Conn) -> list[ApiKey]:
    rows = await conn.fetchall(f"SELECT {_KEY_COLUMNS} FROM api_keys ORDER BY created_at, id")
    return [ApiKey(*row) for row in rows]


async def revoke_key(conn: Conn, key_id: str, now: str) -> bool:
    changed = await conn.execute(
        "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (now, key_id)
    )
    return changed == 1


async def touch_keys(conn: Conn, last_used: Mapping[str, str]) -> None:
    await conn.executemany(
        "UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)",
        [(at, key_id, at) for key_id, at in last_used.items()],
    )
