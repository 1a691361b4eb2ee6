"""While the disk is full an op's own row cannot record why it is stuck; the engine's view of it says so instead,
and stops saying so once the write went through."""

from __future__ import annotations

import asyncio
import sqlite3

from conftest import AppFactory, running_client
from support.auth import ADMIN, FixedTokens
from support.engine import engine_config
from support.jobs import CountItems

from chive_admin._generated import ids
from chive_admin.backfill.engine import STORAGE_FULL
from chive_admin.backfill.job_types import JobRegistry
from chive_admin.store.db import is_storage_full


def test_storage_full_is_recognised() -> None:
    assert is_storage_full(sqlite3.OperationalError("database or disk is full"))
    assert not is_storage_full(sqlite3.OperationalError("database is locked"))
    assert not is_storage_full(OSError(28, "No space left on device"))  # SQLite reports it as SQLITE_FULL


async def test_an_op_whose_state_cannot_be_written_shows_why(make_app: AppFactory) -> None:
    app = make_app(authenticator=FixedTokens(), jobs=JobRegistry([CountItems]), engine_config=engine_config(workers=0))
    status = f"/xrpc/{ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS}"
    async for client in running_client(app):
        made = await client.post(
            f"/xrpc/{ids.PUB_CHIVE_ADMIN_TRIGGER_BACKFILL}", json={"type": "testCount"}, headers=ADMIN
        )
        op_id = made.json()["operation"]["id"]
        engine = app.state.services.engine
        tries = 0
        space = asyncio.Event()

        async def write(space: asyncio.Event = space) -> bool:
            nonlocal tries
            tries += 1
            if not space.is_set():
                raise sqlite3.OperationalError("database or disk is full")
            return True

        waiting = asyncio.create_task(engine._persist(op_id, "recording its end", write))
        while tries == 0:
            await asyncio.sleep(0.01)
        one = (await client.get(status, params={"id": op_id}, headers=ADMIN)).json()["operation"]
        listed = (await client.get(status, headers=ADMIN)).json()["operations"]
        assert (one["errorCode"], one["status"]) == (STORAGE_FULL, "queued")
        assert [op["errorCode"] for op in listed] == [STORAGE_FULL]
        space.set()
        assert await waiting is True
        after = (await client.get(status, params={"id": op_id}, headers=ADMIN)).json()["operation"]
        assert "errorCode" not in after
