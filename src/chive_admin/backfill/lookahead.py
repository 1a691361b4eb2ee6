"""The engine's look ahead: while the first queued ops wait for a worker, each job type's ``prepare`` does the reads
their runs will start with (a did-sync's DID document and handle), so that a worker that takes one goes straight
to its own work.

A batch of 50 did-syncs on two workers waited on the PLC directory 50 times in a row, one lookup at the head of
each run; looked up ahead, those lookups overlap the runs before them. It reads only: what it finds is handed to
the op's run (``ctx.prepared``) if it is still young when a worker takes the op, and is thrown away otherwise (the
run resolves again). A failed preparation is not an error: the run meets the failure itself and reports it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING, Any

from chive_admin.backfill.job import Job, JobParams
from chive_admin.backfill.job_types import JobRegistry
from chive_admin.store import operations as ops
from chive_admin.store.db import Database, is_transient

if TYPE_CHECKING:
    from chive_admin.backfill.job import JobServices

log = logging.getLogger(__name__)

#: a preparation older than this when its op is taken is not used: a did-sync wants the DID document as it is now,
#: and an op may wait long behind a big one
MAX_AGE_SECONDS = 30.0
#: how long the preparation of an op no longer queued is kept before it is cancelled: a worker that has just claimed
#: the op may not have taken it yet when a read made after the claim drops it
LEAVE_AFTER_SECONDS = 2.0


class Prepared:
    """One op's preparation, handed to its run, which waits for it in its own time (a heartbeat keeps its lease)."""

    def __init__(self, task: asyncio.Task[tuple[object | None, float]], max_age: float) -> None:
        self._task = task
        self._max_age = max_age

    async def result(self) -> object | None:
        """What was prepared (waiting for a preparation under way: it does what the run would do first), or ``None``
        when nothing was, it failed, or it is too old."""
        prepared, ended_at = await asyncio.shield(self._task)
        return prepared if asyncio.get_running_loop().time() - ended_at <= self._max_age else None


class Lookahead:
    """The preparations of at most ``size`` queued ops: the next ones a worker will take."""

    def __init__(
        self,
        db: Database,
        registry: JobRegistry,
        size: int,
        *,
        max_age: float = MAX_AGE_SECONDS,
        leave_after: float = LEAVE_AFTER_SECONDS,
    ) -> None:
        self._db = db
        self._registry = registry
        self._size = size
        self._max_age = max_age
        self._leave_after = leave_after
        self._types = frozenset(t for t in registry.runnable if registry.prepares(t))
        #: each op's preparation: what it found (``None``: nothing, or it failed) and the loop's time it ended
        self._preparing: dict[str, asyncio.Task[tuple[object | None, float]]] = {}
        #: preparations of ops that left the next ``size``, until ``leave_after`` cancels them (or a worker takes one)
        self._leaving: dict[str, asyncio.Task[tuple[object | None, float]]] = {}
        #: the ops workers took last: a read made before a claim still lists its op, which must not be prepared then
        self._taken: deque[str] = deque(maxlen=4 * max(size, 1))
        #: preparations handed to runs and not ended yet (a run stopped early leaves its own): the stop cancels them
        self._handed: set[asyncio.Task[tuple[object | None, float]]] = set()
        self._refreshing: asyncio.Task[None] | None = None
        #: another refresh is wanted after the one under way (an op was queued while it read)
        self._again = False
        #: preparations started, for tests and metrics
        self.started = 0

    def soon(self, services: JobServices) -> None:
        """:meth:`refresh` in the background (after a trigger: its op may wait behind busy workers); calls that come
        while one runs make one more, not one each."""
        if not self._types or self._size <= 0:
            return
        if self._refreshing is not None:
            self._again = True
            return
        self._refreshing = asyncio.create_task(self._refresh_until_settled(services), name="lookahead")

    async def _refresh_until_settled(self, services: JobServices) -> None:
        try:
            while True:
                self._again = False
                try:
                    await self.refresh(services)
                except Exception as exc:  # an optimisation: the claims and the runs meet the database's trouble
                    if not is_transient(exc):
                        log.exception("could not read the queued operations ahead")
                if not self._again:
                    return
        finally:
            self._refreshing = None

    async def refresh(self, services: JobServices) -> None:
        """Read the next queued ops that have something to prepare and start what is not started yet, except ops a
        worker took while this read (each DID is looked up once); cancel, ``leave_after`` later, the preparations of
        ops no longer among them (taken by another process, cancelled, or further back than the next ``size``) that
        no worker took meanwhile."""
        if not self._types or self._size <= 0:
            return
        async with self._db.read() as conn:
            queued = await ops.next_queued(conn, types=self._types, limit=self._size)
        wanted = {op.id for op in queued}
        for op_id in [op_id for op_id in self._preparing if op_id not in wanted]:
            self._leave(op_id, self._preparing.pop(op_id))
        for op in queued:
            if op.id in self._preparing or op.id in self._taken:
                continue
            # back among the next ones (a requeued op went before it, and was taken) before it was dropped
            back = self._leaving.pop(op.id, None)
            if back is not None:
                self._preparing[op.id] = back
            else:
                self._start(op, services)

    def _leave(self, op_id: str, task: asyncio.Task[tuple[object | None, float]]) -> None:
        self._leaving[op_id] = task

        def drop() -> None:
            if self._leaving.get(op_id) is task:
                del self._leaving[op_id]
                task.cancel()

        asyncio.get_running_loop().call_later(self._leave_after, drop)

    def _start(self, op: ops.Operation, services: JobServices) -> None:
        job_class = self._registry.job(op.type)
        assert job_class is not None, "only runnable types are prepared"
        try:
            params = job_class.params_model.model_validate(op.params)
        except ValueError:  # the run fails it with invalid_params; nothing to prepare
            return
        self._preparing[op.id] = asyncio.create_task(_prepare(job_class, params, services), name=f"prepare-{op.id}")
        self.started += 1

    def take(self, op_id: str) -> Prepared | None:
        """The preparation of ``op_id``, which a worker has just taken; ``None`` when there is none."""
        self._taken.append(op_id)
        task = self._preparing.pop(op_id, None) or self._leaving.pop(op_id, None)
        if task is None:
            return None
        if not task.done():
            self._handed.add(task)
            task.add_done_callback(self._handed.discard)
        return Prepared(task, self._max_age)

    async def close(self) -> None:
        tasks: list[asyncio.Task[Any]] = [*self._preparing.values(), *self._leaving.values(), *self._handed]
        if self._refreshing is not None:
            tasks.append(self._refreshing)
        self._preparing.clear()
        self._leaving.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _prepare(
    job_class: type[Job[Any, Any]], params: JobParams, services: JobServices
) -> tuple[object | None, float]:
    try:
        prepared = await job_class.prepare(params, services)
    except Exception:  # the run meets the same failure and reports it
        log.debug("preparing a %s operation failed; its run will do it", job_class.type, exc_info=True)
        prepared = None
    return prepared, asyncio.get_running_loop().time()
