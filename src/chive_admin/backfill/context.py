"""What a running job sees: its checkpoint, counters, the batch transaction, the dead-letter queue, the cancel check."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager, suppress
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import TypeAdapter

from chive_admin.api_first import api_first
from chive_admin.backfill.items import Item, RecordItem
from chive_admin.clock import now_stamp
from chive_admin.ingest.fetch import InvalidRecord
from chive_admin.store import dead_letters
from chive_admin.store import operations as ops
from chive_admin.store.db import Database
from chive_admin.store.sql import Conn

if TYPE_CHECKING:
    from chive_admin.backfill.job import JobServices
    from chive_admin.backfill.lookahead import Prepared


class Stop(Exception):
    """Raised out of ``ctx.batch()`` after its commit: the job must return now, its work so far is safe."""


class CancelRequested(Stop):
    pass


class ShuttingDown(Stop):
    pass


class LeaseLost(Stop):
    """Another owner took the op (or it was ended under us); the batch was rolled back."""


C = TypeVar("C")

#: how long a step of :meth:`JobContext.in_stage` runs before its stage is committed on its own (what a dashboard
#: polling every second or two would miss anyway)
STAGE_SHOWN_AFTER = 0.5


class JobContext(Generic[C]):
    """The context of one run of a job whose checkpoint is a ``C``."""

    def __init__(
        self,
        op: ops.Operation,
        *,
        owner: str,
        db: Database,
        services: JobServices,
        checkpoints: TypeAdapter[C],
        stages: tuple[str, ...],
        stopping: Callable[[], bool],
        prepared: Prepared | None = None,
        on_end: Callable[[], None] = lambda: None,
    ) -> None:
        """Raises pydantic's ``ValidationError`` when the stored checkpoint is not a ``C``. ``on_end`` is called
        when a last batch ends the op (committed or not), as the engine's own state writes do."""
        self.op_id = op.id
        self.op_type = op.type
        self.owner = owner
        self.db = db
        self.services = services
        self._checkpoints = checkpoints
        #: the job's position, ``None`` until it commits one; committed with each batch (frozen: replace it)
        self.checkpoint: C | None = None if op.checkpoint is None else checkpoints.validate_python(op.checkpoint)
        self.attempt = op.attempts
        #: what the job type's ``prepare`` started while the op was queued (``None``: nothing; the run does it)
        self.prepared = prepared
        #: the op's counters and stage, committed with each batch
        self.progress = op.progress.copy()
        self._stages = stages
        self._stopping = stopping
        self._on_end = on_end
        #: the op as its last batch ended it (``batch(last=True)``); ``None`` while it runs
        self.ended: ops.Operation | None = None
        self._committed = self._snapshot()
        #: one batch of this op at a time: its counters and checkpoint describe what the batches before it
        #: committed. SQLite's single writer did it implicitly; PostgreSQL commits transactions in parallel, so the
        #: concurrent fetches of one job (a pds-scan's repositories) would mix each other's uncommitted counts.
        self._batch_lock = asyncio.Lock()

    def count(self, name: str, n: int = 1) -> None:
        """Add to one of the job's own counters (inside a batch, like every change of progress)."""
        self.progress.counts[name] = self.progress.counts.get(name, 0) + n

    def stage(self, name: str) -> None:
        if name not in self._stages:
            raise ValueError(f"stage {name!r} is not declared by {self.op_type}")
        self.progress.stage = name

    @asynccontextmanager
    async def batch(self, *, last: bool = False) -> AsyncIterator[Conn]:
        """One write transaction holding the batch's data, counters and checkpoint: all of it commits, or none.

        After the commit, a cancel request or a shutdown raises ``Stop`` so the job returns at this checkpoint.
        A batch begins once no request is being answered (:func:`~chive_admin.api_first.api_first`).

        ``last``: the job's final batch, which also ends the op (``completed``, ``partial`` when records failed,
        ``cancelled`` when a cancel was requested meanwhile), so ending costs no transaction of its own (a small
        repository's sync is a handful of them); the job returns right after it (:attr:`ended`).
        """
        if self.ended is not None:
            raise RuntimeError(f"operation {self.op_id} has ended: its last batch was committed")
        await api_first()
        ended: ops.Operation | None = None
        async with self._batch_lock:
            try:
                async with self.db.write() as conn:
                    yield conn
                    now = now_stamp()
                    status = await ops.save_progress(
                        conn, self.op_id, self.owner, self.progress, now, self._stored_checkpoint()
                    )
                    if status is None:
                        raise LeaseLost(f"operation {self.op_id} is no longer held by this worker")
                    if last:
                        outcome = ops.Outcome.PARTIAL if self.progress.records_failed else ops.Outcome.COMPLETED
                        finished = await ops.finish(conn, self.op_id, self.owner, outcome, now)
                        assert finished, "held, as save_progress just found in this transaction"
                        ended = await ops.get(conn, self.op_id)
            except BaseException:
                self._restore(self._committed)  # after a failed batch, state must describe what is committed
                raise
            finally:
                if last:
                    self._on_end()
            self._committed = self._snapshot()
        if ended is not None:
            self.ended = ended
            return
        if status == "cancelling":
            raise CancelRequested(self.op_id)
        if self._stopping():
            raise ShuttingDown(self.op_id)

    def _stored_checkpoint(self) -> Any:
        if self.checkpoint is None:
            return None
        return self._checkpoints.dump_python(self.checkpoint, mode="json")

    async def save(self) -> None:
        """Commit the current stage, counters and checkpoint on their own (e.g. when a stage starts)."""
        async with self.batch():
            pass

    @asynccontextmanager
    async def in_stage(self, name: str, *, shown_after: float = STAGE_SHOWN_AFTER) -> AsyncIterator[None]:
        """Enter stage ``name`` for a step that may be quick or slow (one download): it is committed on its own
        only once the step has lasted ``shown_after`` seconds, else with the next batch. A small repository's sync
        then costs one write transaction less; a long download still shows what the op is waiting on.

        The step is never interrupted by that commit, and leaving the block never raises what the commit met: a
        cancel request, a lost lease or a shutdown is in the database or the engine, where the next batch meets it
        again (so the step's resources are handed on or closed by the caller as usual)."""
        self.stage(name)
        saving = False

        async def show() -> None:
            nonlocal saving
            await asyncio.sleep(shown_after)
            saving = True
            with suppress(Exception):
                await self.save()

        showing = asyncio.ensure_future(show())
        try:
            yield
        finally:
            if not saving:  # still waiting: nothing to save; a commit under way is let finish
                showing.cancel()
            await asyncio.wait([showing])

    async def dead_letter(
        self,
        conn: Conn,
        *,
        error_type: str,
        message: str,
        context: dict[str, Any],
        item: Item,
    ) -> None:
        """Park one failed item (inside the current batch); the op will end ``partial``."""
        await dead_letters.add(
            conn,
            operation_id=self.op_id,
            job_type=self.op_type,
            error_type=error_type,
            message=message,
            context=context,
            item=item.to_json(),
            now=now_stamp(),
        )
        self.progress.records_failed += 1

    async def dead_letter_records(self, conn: Conn, invalid: Iterable[InvalidRecord], *, did: str, pds: str) -> None:
        """Park records that fail their lexicon, retryable by refetching each from ``pds``."""
        for bad in invalid:
            await self.dead_letter(
                conn,
                error_type="invalid_record",
                message=bad.problem,
                context={"uri": bad.uri, "did": did, "pds": pds},
                item=RecordItem(uri=bad.uri, pds=pds),
            )

    def _snapshot(self) -> tuple[C | None, ops.Progress]:
        return self.checkpoint, self.progress.copy()  # a checkpoint is frozen: kept as it is

    def _restore(self, saved: tuple[C | None, ops.Progress]) -> None:
        self.checkpoint, progress = saved
        self.progress = progress.copy()


#: the context of a job of any type: what code that leaves the checkpoint alone takes (a retried item is processed
#: in the context of the retrying operation, whose checkpoint is not the item's job's)
AnyContext = JobContext[Any]
