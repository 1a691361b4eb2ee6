"""A test-only job type for the engine's own tests: it processes numbered items in batches and records each one.

Loaded in-process by the tests, and into a real ``chive-admin serve`` with ``--job-plugin support.jobs:CountItems``.
Its behaviour comes from env vars so a subprocess server can be steered too:
``TEST_JOB_ITEMS`` (default 100), ``TEST_JOB_DELAY`` seconds per batch (default 0), ``TEST_JOB_DLQ_EVERY`` (every
n-th item dead-lettered), ``TEST_JOB_FAIL_AT`` / ``TEST_JOB_CRASH_AT`` (item at which it fails cleanly / raises),
``TEST_JOB_TEXT`` (appended to every message it writes: hostile text for the CLI's tests), ``TEST_JOB_UNIT=repos``
(the items count as repositories, and the op has no record total), ``TEST_JOB_LAST_BATCH`` (its last batch ends the
op: ``ctx.batch(last=True)``; with ``TEST_JOB_RAISE_AFTER_END`` it raises after that).
"""

from __future__ import annotations

import asyncio
import os

from pydantic import Field

from chive_admin.backfill.context import AnyContext, JobContext
from chive_admin.backfill.items import Item
from chive_admin.backfill.job import Job, JobFailed, JobParams, RetryFailed
from chive_admin.store.sql import Conn, Dialect, fetch_int

ITEMS_TABLE = "CREATE TABLE IF NOT EXISTS test_items (op_id TEXT NOT NULL, item INTEGER NOT NULL, attempt INTEGER)"
#: pg_advisory_xact_lock key for creating the table (any constant the server does not use)
_ITEMS_TABLE_LOCK = 0x74657374


async def items_table(conn: Conn) -> None:
    """Create the items table unless it exists. On PostgreSQL two transactions creating it at once collide in the
    catalog (``pg_type``), IF NOT EXISTS or not: the first to come creates it under a lock."""
    if conn.dialect is Dialect.POSTGRES:
        if await fetch_int(conn, "SELECT count(*) FROM pg_tables WHERE tablename = 'test_items'"):
            return
        await conn.execute("SELECT pg_advisory_xact_lock(?)", (_ITEMS_TABLE_LOCK,))
    await conn.execute(ITEMS_TABLE)


class CountParams(JobParams):
    batch_size: int = Field(default=10, alias="batchSize", ge=1, le=10_000)


class CountItem(Item):
    """An item that was dead-lettered: its number."""

    item: int


def _env_int(name: str) -> int | None:
    value = os.environ.get(name)
    return int(value) if value else None


class CountItems(Job[CountParams, int]):
    type = "test-count"
    trigger_name = "testCount"
    params_model = CountParams
    #: the number of items done (all of them below it)
    checkpoint_model = int
    item_model = CountItem
    stages = ("counting",)

    async def run(self, ctx: JobContext[int], params: CountParams) -> None:
        total = _env_int("TEST_JOB_ITEMS") or 100
        delay = float(os.environ.get("TEST_JOB_DELAY") or 0)
        dlq_every, fail_at, crash_at = (
            _env_int(n) for n in ("TEST_JOB_DLQ_EVERY", "TEST_JOB_FAIL_AT", "TEST_JOB_CRASH_AT")
        )
        text = os.environ.get("TEST_JOB_TEXT", "")
        as_repos = os.environ.get("TEST_JOB_UNIT") == "repos"
        ends_in_a_batch = bool(os.environ.get("TEST_JOB_LAST_BATCH"))
        ctx.stage("counting")
        if as_repos:
            ctx.progress.total_repos = total
        else:
            ctx.progress.total_records = total
        await ctx.save()
        start = ctx.checkpoint or 0
        for first in range(start, total, params.batch_size):
            items = range(first, min(first + params.batch_size, total))
            if delay:
                await asyncio.sleep(delay)
            async with ctx.batch(last=ends_in_a_batch and items.stop == total) as conn:
                await items_table(conn)
                for item in items:
                    if fail_at is not None and item == fail_at:
                        context = {"item": item, "text": text} if text else {"item": item}
                        raise JobFailed("test_failure", f"item {item} cannot be processed{text}", context)
                    if crash_at is not None and item == crash_at:
                        raise RuntimeError("secret-detail-that-must-not-leak")
                    if dlq_every and item % dlq_every == 0:
                        await ctx.dead_letter(
                            conn,
                            error_type="test_item",
                            message=f"item {item} refused{text}",
                            context={"item": item},
                            item=CountItem(item=item),
                        )
                        continue
                    await conn.execute(
                        "INSERT INTO test_items (op_id, item, attempt) VALUES (?, ?, ?)", (ctx.op_id, item, ctx.attempt)
                    )
                    ctx.progress.records_processed += 1
                    if as_repos:
                        ctx.progress.processed_repos = (ctx.progress.processed_repos or 0) + 1
                ctx.checkpoint = items.stop
        if ends_in_a_batch and os.environ.get("TEST_JOB_RAISE_AFTER_END"):
            raise RuntimeError("closing something after the end")

    async def retry_item(self, ctx: AnyContext, item: Item) -> None:
        assert isinstance(item, CountItem)
        if os.environ.get("TEST_JOB_RETRY_FAIL"):
            raise RetryFailed(f"item {item.item} refused again")
        async with ctx.batch() as conn:
            await items_table(conn)
            await conn.execute(
                "INSERT INTO test_items (op_id, item, attempt) VALUES (?, ?, ?)", (ctx.op_id, item.item, ctx.attempt)
            )
            ctx.progress.records_processed += 1
