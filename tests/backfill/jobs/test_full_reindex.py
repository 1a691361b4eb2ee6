"""full-reindex over 20k eprints: search answers from the old index until the swap; a cancel keeps the old index."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from conftest import AppFactory, running_client
from starlette.applications import Starlette
from support.api import call, started, wait_ended, wait_until
from support.auth import FixedTokens
from support.engine import engine_config
from support.resume import ended, left_off

from chive_admin._generated import ids
from chive_admin.backfill.context import JobContext
from chive_admin.ingest.write import apply_records
from chive_admin.store import operations, search
from chive_admin.store.index import IndexedRecord
from chive_admin.store.sql import Dialect

COUNT = 20_000
DID = "did:plc:author000000000000000000"


def eprint(n: int) -> IndexedRecord:
    return IndexedRecord.from_parts(
        DID,
        search.EPRINT_COLLECTION,
        f"e{n:06d}",
        f"cid{n}",
        {"title": f"Alpha study {n}", "abstractPlainText": "graphs", "keywords": ["k"], "authors": [{"name": "Ada"}]},
    )


@pytest.fixture
async def seeded(make_app: AppFactory) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    app = make_app(authenticator=FixedTokens(), engine_config=engine_config(workers=1, poll_seconds=0.05))
    async with running_client(app) as client:
        db = app.state.services.db
        async with db.write() as conn:
            await apply_records(conn, [eprint(n) for n in range(COUNT)], "2026-01-01T00:00:00.000000Z")
            # the records drift from the live index (as after a bug or a tokenizer change): only a rebuild sees it
            retitled = (
                "jsonb_set(value::jsonb, '{title}', to_jsonb('Zebra ' || rkey))::text"
                if conn.dialect is Dialect.POSTGRES
                else "json_set(value, '$.title', 'Zebra ' || rkey)"
            )
            await conn.execute(f"UPDATE records SET value = {retitled} WHERE rkey < 'e000100'")
        yield app, client


async def trigger(client: httpx.AsyncClient, batch: int) -> str:
    return started(await call(client, ids.PUB_CHIVE_ADMIN_TRIGGER_FULL_REINDEX, {"batchSize": batch}))


async def find(app: Starlette, text: str) -> list[str]:
    async with app.state.services.db.read() as conn:
        return await search.search(conn, text, limit=200)


async def test_search_answers_from_the_old_index_until_the_swap(seeded: tuple[Starlette, httpx.AsyncClient]) -> None:
    app, client = seeded
    op_id = await trigger(client, 500)
    answered_during = 0
    while True:
        alpha, zebra = await find(app, "alpha"), await find(app, "zebra")
        # read after the searches, from the database itself (getBackfillStatus may answer from its cache, a quarter
        # of a second behind): "building" now means not swapped back then
        async with app.state.services.db.read() as conn:
            stored = await operations.get(conn, op_id)
        assert stored is not None
        if stored.ended:
            break
        assert len(alpha) == 200  # the live index serves throughout
        if stored.progress.stage in (None, "building"):  # the swap commits together with stage "swapping"
            assert zebra == []  # still the old index
            answered_during += 1
        await asyncio.sleep(0)
    op = await wait_ended(client, op_id)  # the engine marks the end just after its last commit
    assert answered_during > 0
    assert op["status"] == "completed"
    assert (op["recordsProcessed"], op["totalRecords"], op["stage"]) == (COUNT, COUNT, "swapping")
    assert len(await find(app, "zebra")) == 100
    async with app.state.services.db.read() as conn:
        assert await search.count(conn) == COUNT
        assert (await search.state(conn)).building is None


async def test_cancel_mid_rebuild_keeps_the_live_index(seeded: tuple[Starlette, httpx.AsyncClient]) -> None:
    app, client = seeded
    async with app.state.services.db.read() as conn:
        live_before = (await search.state(conn)).live
    op_id = await trigger(client, 50)
    await wait_until(client, op_id, lambda op: op["recordsProcessed"] >= 1000)
    cancel = await call(client, ids.PUB_CHIVE_ADMIN_CANCEL_BACKFILL, {"id": op_id})
    assert cancel.json() == {"success": True}
    op = await wait_ended(client, op_id)
    assert op["status"] == "cancelled"
    assert op["recordsProcessed"] < COUNT
    async with app.state.services.db.read() as conn:
        after = await search.state(conn)
        assert (after.live, after.building) == (live_before, None)
        assert await search.count(conn) == COUNT
    assert await find(app, "zebra") == []
    # a later reindex starts over cleanly and completes
    again = await trigger(client, 2000)
    op = await wait_ended(client, again)
    assert (op["status"], op["recordsProcessed"]) == ("completed", COUNT)
    assert len(await find(app, "zebra")) == 100


async def test_a_cancel_that_interrupts_the_job_still_abandons_the_rebuild(
    seeded: tuple[Starlette, httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a job that does not come to its next checkpoint (as one waiting on an upstream answer would not): the cancel
    # cannot wait for it, so the job is interrupted; the shadow table must still be abandoned
    app, client = seeded
    batch = JobContext.batch
    batches = 0

    @asynccontextmanager
    async def stuck_after_three(ctx: JobContext[Any]) -> AsyncIterator[Any]:
        nonlocal batches
        batches += 1
        if batches > 3:  # the rebuild's start, then two of 500 eprints
            await asyncio.sleep(3600)
        async with batch(ctx) as conn:
            yield conn

    monkeypatch.setattr(JobContext, "batch", stuck_after_three)
    op_id = await trigger(client, 500)
    while batches <= 3:
        await asyncio.sleep(0.01)
    cancel = await call(client, ids.PUB_CHIVE_ADMIN_CANCEL_BACKFILL, {"id": op_id})
    assert cancel.json() == {"success": True}
    op = await wait_ended(client, op_id, within=20)
    assert (op["status"], op["recordsProcessed"]) == ("cancelled", 1000)
    async with app.state.services.db.read() as conn:
        assert (await search.state(conn)).building is None
        assert await search.count(conn) == COUNT
    assert await find(app, "zebra") == []


async def test_batch_size_is_checked(seeded: tuple[Starlette, httpx.AsyncClient]) -> None:
    _, client = seeded
    for bad in (0, 10_001, "500"):
        response = await call(client, ids.PUB_CHIVE_ADMIN_TRIGGER_FULL_REINDEX, {"batchSize": bad})
        assert response.status_code == 400, bad


async def test_a_rebuild_stored_by_the_previous_version_resumes_after_its_checkpoint(make_app: AppFactory) -> None:
    app = make_app(authenticator=FixedTokens(), engine_config=engine_config(workers=1, poll_seconds=0.05))
    async with running_client(app) as _:
        async with app.state.services.db.write() as conn:
            await apply_records(conn, [eprint(n) for n in range(30)], "2026-01-01T00:00:00.000000Z")
        tenth = eprint(9).uri
        # the JSON the previous version stored after its first batch of 10
        op_id = await left_off(
            app, "full-reindex", {"batchSize": 10}, {"after": tenth}, progress=operations.Progress(records_processed=10)
        )
        op = await ended(app, op_id)
        async with app.state.services.db.read() as conn:
            live = await search.count(conn)
    assert (op.status, op.attempts, op.progress.records_processed) == ("completed", 2, 30)
    assert op.checkpoint == {"after": eprint(29).uri}
    # the rebuild went on after its checkpoint: the 10 eprints before it were not filled again (nor, here, at all:
    # the test stored the checkpoint, not the shadow table that held them)
    assert live == 20
