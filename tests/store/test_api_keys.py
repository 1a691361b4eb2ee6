"""API keys in the store: found by hash, revoked once, listed without their hash, last use written in one go."""

from __future__ import annotations

from chive_admin.auth.api_keys import key_hash, new_key
from chive_admin.store import api_keys as api_keys_store
from chive_admin.store.db import Database

OWNER = "did:plc:keyowner000000000000000000"


async def test_a_key_is_found_by_its_hash_and_revoked_once(db: Database) -> None:
    key = new_key()
    async with db.write() as conn:
        await api_keys_store.create_key(
            conn, key_id="k1", did=OWNER, name="ci", key_hash=key_hash(key), now="2026-01-01T00:00:00.000000Z"
        )
        await api_keys_store.touch_keys(conn, {"k1": "2026-01-02T00:00:00.000000Z"})
    async with db.read() as conn:
        found = await api_keys_store.key_by_hash(conn, key_hash(key))
        assert found is not None
        assert (found.id, found.did, found.name, found.last_used_at) == (
            "k1",
            OWNER,
            "ci",
            "2026-01-02T00:00:00.000000Z",
        )
        assert await api_keys_store.key_by_hash(conn, key_hash(new_key())) is None
        assert [k.id for k in await api_keys_store.list_keys(conn)] == ["k1"]
    async with db.write() as conn:
        assert await api_keys_store.revoke_key(conn, "k1", "2026-01-03T00:00:00.000000Z") is True
        assert await api_keys_store.revoke_key(conn, "k1", "2026-01-04T00:00:00.000000Z") is False
    async with db.read() as conn:
        revoked = await api_keys_store.key_by_hash(conn, key_hash(key))
    assert revoked is not None
    assert revoked.revoked_at == "2026-01-03T00:00:00.000000Z"  # the caller refuses it; the row stays for the list
