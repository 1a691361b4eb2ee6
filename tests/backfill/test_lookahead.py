"""The look ahead: the next queued ops of types that prepare are prepared while they wait, in claim order and no
further; a preparation goes to its op's run once, young, and never as an error; ops that leave the queue, and the
engine's stop, cancel theirs. Then the engine: a run finds its preparation in ``ctx.prepared``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from conftest import AppFactory, running_client
from pydantic import Field
from support.auth import ADMIN, FixedTokens
from support.engine import engine_config
from support.jobs import CountItems
from support.seeding import new_op

from chive_admin._generated import ids
from chive_admin.backfill.context import JobContext
from chive_admin.backfill.job import Job, JobParams, JobServices
from chive_admin.backfill.job_types import JobRegistry
from chive_admin.backfill.jobs import BUILTIN_JOBS
from chive_admin.backfill.lookahead import Lookahead
from chive_admin.store import operations as ops
from chive_admin.store.db import Database


class NoteParams(JobParams):
    n: int = Field(alias="batchSize")  # a field triggerBackfill's lexicon has


@dataclass
class Notes:
    calls: list[int] = field(default_factory=list)
    gate: asyncio.Event | None = None
    handed: dict[int, object] = field(default_factory=dict)
    cancelled: list[int] = field(default_factory=list)

    def reset(self) -> None:
        self.calls, self.gate, self.handed, self.cancelled = [], None, {}, []


NOTES = Notes()


class Noted(Job[NoteParams, None]):
    """Prepares ``prepared-<n>`` (failing for n < 0, waiting on ``gate`` when it is set); its runs note what they
    were handed."""

    type = "test-noted"
    trigger_name = "testNoted"
    params_model = NoteParams
    checkpoint_model = None
    stages = ("noting",)

    @classmethod
    async def prepare(cls, params: NoteParams, services: JobServices) -> object | None:
        NOTES.calls.append(params.n)
        try:
            if NOTES.gate is not None:
                await NOTES.gate.wait()
        except asyncio.CancelledError:
            NOTES.cancelled.append(params.n)
            raise
        if params.n < 0:
            raise RuntimeError("the lookup failed")
        return f"prepared-{params.n}"

    async def run(self, ctx: JobContext[None], params: NoteParams) -> None:
        if params.n == 0 and NOTES.gate is not None:  # the first run: the others queue behind it
            await NOTES.gate.wait()
        NOTES.handed[params.n] = None if ctx.prepared is None else await ctx.prepared.result()


@pytest.fixture(autouse=True)
def fresh_notes() -> None:
    NOTES.reset()


REGISTRY = JobRegistry([*BUILTIN_JOBS, Noted, CountItems])
SERVICES = cast(JobServices, object())  # Noted.prepare uses none of them


async def queue(db: Database, op_type: str, *numbers: int) -> list[ops.Operation]:
    async with db.write() as conn:
        return [await new_op(conn, op_type, {"batchSize": n} if op_type == Noted.type else {}) for n in numbers]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_only_types_that_prepare_do_and_the_rest_are_told_none() -> None:
    assert REGISTRY.prepares(Noted.type)
    assert not REGISTRY.prepares(CountItems.type)
    assert not REGISTRY.prepares("no-such-type")
    assert [job.type for job in BUILTIN_JOBS if job.prepares()] == ["did-sync"]


async def test_the_next_ops_are_prepared_in_claim_order_and_no_further(db: Database) -> None:
    await queue(db, CountItems.type)  # first in the queue, but nothing to prepare
    first, second, third = await queue(db, Noted.type, 1, 2, 3)
    lookahead = Lookahead(db, REGISTRY, 2)
    await lookahead.refresh(SERVICES)
    await lookahead.refresh(SERVICES)  # the same ops again: nothing prepared twice
    await settle()
    assert NOTES.calls == [1, 2]
    taken = lookahead.take(first.id)
    assert taken is not None
    assert await taken.result() == "prepared-1"
    assert lookahead.take(first.id) is None  # handed over once
    async with db.write() as conn:  # a worker takes the first; the third comes within the next two
        await ops.claim_next(conn, types=[Noted.type], owner="w", lease_until="2999-01-01T00:00:00Z", now="x")
    await lookahead.refresh(SERVICES)
    await settle()
    assert NOTES.calls == [1, 2, 3]
    for op, n in ((second, 2), (third, 3)):
        prepared = lookahead.take(op.id)
        assert prepared is not None
        assert await prepared.result() == f"prepared-{n}"
    await lookahead.close()


async def test_a_run_waits_for_a_preparation_under_way(db: Database) -> None:
    NOTES.gate = asyncio.Event()
    (op,) = await queue(db, Noted.type, 7)
    lookahead = Lookahead(db, REGISTRY, 2)
    await lookahead.refresh(SERVICES)
    prepared = lookahead.take(op.id)
    assert prepared is not None
    waiting = asyncio.create_task(prepared.result())
    await settle()
    assert not waiting.done()
    NOTES.gate.set()
    assert await waiting == "prepared-7"


async def test_a_failed_or_old_preparation_is_none_not_an_error(db: Database) -> None:
    failing, aged = await queue(db, Noted.type, -1, 2)
    lookahead = Lookahead(db, REGISTRY, 2, max_age=0.05)
    await lookahead.refresh(SERVICES)
    await settle()
    await asyncio.sleep(0.1)  # older than max_age by the time it is taken
    for op in (failing, aged):
        prepared = lookahead.take(op.id)
        assert prepared is not None
        assert await prepared.result() is None


async def test_ops_that_left_the_queue_and_the_stop_cancel_their_preparations(db: Database) -> None:
    NOTES.gate = asyncio.Event()
    cancelled_op, kept = await queue(db, Noted.type, 1, 2)
    lookahead = Lookahead(db, REGISTRY, 2, leave_after=0.05)
    await lookahead.refresh(SERVICES)
    await settle()
    async with db.write() as conn:
        await ops.request_cancel(conn, cancelled_op.id, "2026-01-01T00:00:00Z")
    await lookahead.refresh(SERVICES)
    await settle()
    assert NOTES.cancelled == []  # not at once: a worker that claimed it may be about to take it
    await asyncio.sleep(0.1)
    assert NOTES.cancelled == [1]
    assert lookahead.take(cancelled_op.id) is None
    handed = lookahead.take(kept.id)  # a run that stops before it waits for it leaves it running
    assert handed is not None
    await lookahead.close()
    assert NOTES.cancelled == [1, 2]
    assert lookahead.take(kept.id) is None


async def test_a_claimed_op_dropped_by_a_later_read_is_still_handed_to_its_worker(db: Database) -> None:
    NOTES.gate = asyncio.Event()
    claimed, _ = await queue(db, Noted.type, 1, 2)
    lookahead = Lookahead(db, REGISTRY, 2)
    await lookahead.refresh(SERVICES)
    await settle()
    async with db.write() as conn:  # a worker claims the first; a read after that commit no longer lists it ...
        await ops.claim_next(conn, types=[Noted.type], owner="w", lease_until="2999-01-01T00:00:00Z", now="x")
    await lookahead.refresh(SERVICES)
    prepared = lookahead.take(claimed.id)  # ... before the worker takes its preparation
    assert prepared is not None
    NOTES.gate.set()
    assert await prepared.result() == "prepared-1"
    assert NOTES.calls == [1, 2]  # looked up once
    assert NOTES.cancelled == []
    await lookahead.close()


async def test_an_op_taken_while_a_read_is_under_way_is_not_prepared_after_it(db: Database) -> None:
    first, _ = await queue(db, Noted.type, 1, 2)
    lookahead = Lookahead(db, REGISTRY, 2)
    reading = asyncio.create_task(lookahead.refresh(SERVICES))
    await asyncio.sleep(0)  # the read has begun: it will list both
    assert lookahead.take(first.id) is None  # a worker claimed the first and took nothing: it looks it up itself
    await reading
    await settle()
    assert NOTES.calls == [2]  # the first is not looked up a second time
    await lookahead.close()


@pytest.fixture
async def client(make_app: AppFactory) -> AsyncIterator[Any]:
    config = engine_config(workers=1, lease_seconds=3, poll_seconds=0.05, stop_grace_seconds=5)
    app = make_app(authenticator=FixedTokens(), jobs=REGISTRY, engine_config=config)
    async with running_client(app) as running:
        yield running


async def test_ops_queued_behind_a_busy_worker_are_prepared_and_their_runs_handed_it(client: Any) -> None:
    NOTES.gate = asyncio.Event()  # the first run waits on it: the others queue behind it
    trigger = f"/xrpc/{ids.PUB_CHIVE_ADMIN_TRIGGER_BACKFILL}"
    for n in range(4):
        response = await client.post(trigger, json={"type": "testNoted", "batchSize": n}, headers=ADMIN)
        assert response.status_code == 200, response.text
    NOTES.gate.set()
    async with asyncio.timeout(30):  # a bound for the test, not a speed claim
        while len(NOTES.handed) < 4:
            await asyncio.sleep(0.02)
    # the first op may have been taken before its trigger's look ahead read the queue; the others were prepared
    # while they waited (each once), and their runs were handed that
    assert NOTES.handed[0] in (None, "prepared-0")
    assert {n: NOTES.handed[n] for n in (1, 2, 3)} == {1: "prepared-1", 2: "prepared-2", 3: "prepared-3"}
    assert sorted(NOTES.calls) in ([1, 2, 3], [0, 1, 2, 3])
