"""The API-key store on a real database: lookups cached briefly and boundedly, whatever is sprayed at it."""

from __future__ import annotations

import pytest

from chive_admin.auth import api_keys
from chive_admin.auth.api_keys import PREFIX, ApiKeyStore, KeyOwner, key_hash, new_key, new_key_id
from chive_admin.clock import now_stamp
from chive_admin.store import api_keys as api_keys_store
from chive_admin.store.db import Database

OWNER = "did:plc:keyowner000000000000000000"


async def stored_key(db: Database) -> tuple[str, str]:
    key, key_id = new_key(), new_key_id()
    async with db.write() as conn:
        await api_keys_store.create_key(
            conn, key_id=key_id, did=OWNER, name="k", key_hash=key_hash(key), now=now_stamp()
        )
    return key, key_id


async def test_sprayed_unknown_keys_never_grow_the_cache_past_its_bound(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api_keys, "MAX_CACHED", 50)
    store = ApiKeyStore(db)
    key, _ = await stored_key(db)
    for n in range(500):
        assert await store.owner(f"ca_unknown{n}") is None
        assert len(store._cache) <= 50
    owner = await store.owner(key)  # a real key still works, pushed out of the cache or not
    assert owner is not None
    assert owner.did == OWNER
    assert list(store.take_used()) == [owner.key_id]


DID = OWNER


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_keys_are_prefixed_random_and_hashed() -> None:
    keys = {new_key() for _ in range(100)}
    assert len(keys) == 100
    assert all(k.startswith(PREFIX) and len(k) == len(PREFIX) + 43 for k in keys)
    key = next(iter(keys))
    assert key_hash(key) == key_hash(key)
    assert len(key_hash(key)) == 64
    assert key not in key_hash(key)
    assert new_key_id().startswith("k")


async def test_only_the_hash_is_stored(db: Database) -> None:
    key, _ = await stored_key(db)
    async with db.read() as conn:
        dump = repr([tuple(r) for r in await conn.fetchall("SELECT * FROM api_keys")])
    assert key not in dump
    assert key_hash(key) in dump


async def test_a_key_is_its_owner_until_revoked_and_the_cache_expires(db: Database) -> None:
    clock = Clock()
    keys = ApiKeyStore(db, cache_seconds=5, clock=clock)
    key, key_id = await stored_key(db)
    assert await keys.owner(key) == KeyOwner(key_id, DID)
    async with db.write() as conn:
        await api_keys_store.revoke_key(conn, key_id, now_stamp())  # as `chive-admin keys revoke` beside the server
    clock.now = 4.9
    assert await keys.owner(key) == KeyOwner(key_id, DID)
    clock.now = 5.0
    assert await keys.owner(key) is None


async def test_forget_drops_cached_lookups_at_once(db: Database) -> None:
    keys = ApiKeyStore(db, clock=Clock())
    unknown = new_key()
    assert await keys.owner(unknown) is None  # an unknown key is cached as unknown too
    async with db.write() as conn:
        await api_keys_store.create_key(
            conn, key_id="k1", did=DID, name="late", key_hash=key_hash(unknown), now=now_stamp()
        )
    assert await keys.owner(unknown) is None
    keys.forget()
    assert await keys.owner(unknown) == KeyOwner("k1", DID)


async def test_a_tampered_key_is_unknown(db: Database) -> None:
    keys = ApiKeyStore(db)
    key, _ = await stored_key(db)
    assert await keys.owner(key[:-1] + ("A" if key[-1] != "A" else "B")) is None


async def test_last_use_is_gathered_per_key_for_one_write(db: Database) -> None:
    keys = ApiKeyStore(db)
    key, key_id = await stored_key(db)
    assert keys.take_used() == {}
    for _ in range(3):
        await keys.owner(key)
    await keys.owner(new_key())  # an unknown key is used by nobody
    used = keys.take_used()
    assert list(used) == [key_id]
    assert keys.take_used() == {}
