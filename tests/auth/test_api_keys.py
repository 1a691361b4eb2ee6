"""The API-key store on a real database: lookups cached briefly and boundedly, whatever is sprayed at it."""

from __future__ import annotations

import pytest

from chive_admin.auth import api_keys
from chive_admin.auth.api_keys import ApiKeyStore, key_hash, new_key, new_key_id
from chive_admin.clock import now_stamp
from chive_admin.store import access
from chive_admin.store.db import Database

OWNER = "did:plc:keyowner000000000000000000"


async def stored_key(db: Database) -> str:
    key = new_key()
    async with db.write() as conn:
        await access.create_key(conn, key_id=new_key_id(), did=OWNER, name="k", key_hash=key_hash(key), now=now_stamp())
    return key


async def test_sprayed_unknown_keys_never_grow_the_cache_past_its_bound(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api_keys, "MAX_CACHED", 50)
    store = ApiKeyStore(db)
    key = await stored_key(db)
    for n in range(500):
        assert await store.owner(f"ca_unknown{n}") is None
        assert len(store._cache) <= 50
    owner = await store.owner(key)  # a real key still works, pushed out of the cache or not
    assert owner is not None
    assert owner.did == OWNER
    assert list(store.take_used()) == [owner.key_id]
