"""The in-process engine: bounded workers claim queued ops under a lease, run their job, and record the outcome.

The database is the only source of truth: a worker's memory holds nothing that a crash could lose. Whatever a job
committed (data, counters, checkpoint) stays; whatever it had not committed is redone from the checkpoint.

A cancel request is seen by the job at its next checkpoint, which a working job reaches within a batch. But a job can
be stuck between two (waiting on a PDS that drips its answer, on a 429 cooldown, on a retry's backoff), so a job that
has not stopped ``cancel_grace_seconds`` after the request is interrupted: its task is cancelled. What it had
committed stays, as after a crash; a batch in flight is rolled back whole (``Database.write`` is cancellation-safe);
the job's ``on_cancel`` runs and the op ends ``cancelled`` at its last checkpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import ValidationError
from ulid import ULID

from chive_admin.backfill.context import AnyContext, CancelRequested, JobContext, LeaseLost, ShuttingDown
from chive_admin.backfill.job import Job, JobFailed, JobParams
from chive_admin.backfill.job_types import JobRegistry
from chive_admin.backfill.lookahead import Lookahead
from chive_admin.clock import now_stamp, stamp, stamp_in, utc_now
from chive_admin.settings import DEFAULT_LEASE_SECONDS
from chive_admin.store import operations as ops
from chive_admin.store.db import Database, is_storage_full, is_transient
from chive_admin.store.sql import Conn

if TYPE_CHECKING:
    from chive_admin.backfill.job import JobServices
    from chive_admin.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")
#: the reason a requeued op shows while the disk is full
STORAGE_FULL = "storage_full"
STORAGE_FULL_MESSAGE = "waiting for storage: the database's disk is full"
#: the reason a requeued op shows after the database went away under it
DATABASE_UNAVAILABLE = "database_unavailable"
DATABASE_UNAVAILABLE_MESSAGE = "interrupted: the database could not be reached; resumed from its checkpoint"


@dataclass(frozen=True)
class EngineConfig:
    #: settings (``--workers``, ``--retention-days``, ``--max-queued-ops``): no defaults of their own, see
    #: ``from_settings``
    workers: int
    retention_days: int
    #: queued operations at most; a trigger past it is refused (``ops.QueueFull``)
    max_queued: int
    lease_seconds: float = float(DEFAULT_LEASE_SECONDS)
    #: an op started this many times without finishing (crashes, lost leases) ends failed instead of looping
    max_attempts: int = 25
    poll_seconds: float = 1.0
    prune_every_seconds: float = 3600.0
    #: how long a graceful stop waits for jobs to reach their next checkpoint before interrupting them
    stop_grace_seconds: float = 10.0
    #: after the disk filled up, how long workers wait before claiming again (each try costs one failed batch)
    storage_pause_seconds: float = 5.0
    #: how long a cancel request waits for the job to stop at a checkpoint before interrupting it
    cancel_grace_seconds: float = 1.0

    @classmethod
    def from_settings(cls, settings: Settings) -> EngineConfig:
        return cls(
            workers=settings.workers,
            retention_days=settings.retention_days,
            max_queued=settings.max_queued_ops,
            lease_seconds=settings.lease_seconds,
        )


class NotRunnable(Exception):
    def __init__(self, op_type: str) -> None:
        super().__init__(f"{op_type} operations are not implemented yet")
        self.op_type = op_type


class Engine:
    def __init__(
        self,
        db: Database,
        registry: JobRegistry,
        config: EngineConfig,
        *,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.db = db
        self.registry = registry
        self.config = config
        self.services: JobServices | None = None
        self._instance = str(ULID())
        self._wake = asyncio.Event()
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        #: the job task of each op a worker of this engine runs, so that a cancel request can interrupt it
        self._running: dict[str, asyncio.Task[None]] = {}
        #: ops whose job task was cancelled for a cancel request (not for a lost lease or a stop)
        self._cancel_requested: set[str] = set()
        #: cancel requests waiting out their grace before they interrupt a job
        self._interrupts: set[asyncio.Task[None]] = set()
        self._paused_until = 0.0
        #: told after every committed state change (the status answers kept for pollers are dropped)
        self.on_change = on_change
        #: ops whose state cannot be written while the disk is full: their views say why they are stuck
        self._storage_waits: set[str] = set()
        #: the next queued ops, prepared while they wait: as many as the workers take in two rounds
        self.lookahead = Lookahead(db, registry, 2 * config.workers)

    # -- lifecycle ------------------------------------------------------------------------------------------------

    @asynccontextmanager
    async def _state_write(self) -> AsyncIterator[Conn]:
        """A write transaction on the operations table; kept status answers are dropped after it (committed or not)."""
        try:
            async with self.db.write() as conn:
                yield conn
        finally:
            self.on_change()

    async def start(self, services: JobServices) -> None:
        """Resume what a previous process left, then start the workers.

        A process that owns its database (SQLite) resumes every op left running at once; on a shared database
        (PostgreSQL) an op left running may be a live peer's, so only those whose lease ran out are taken."""
        self.services = services
        async with self._state_write() as conn:
            if self.db.exclusive:
                requeued, cancelled = await ops.requeue_orphans(conn, now_stamp())
            else:
                requeued, cancelled = await ops.requeue_expired(conn, now_stamp())
        if requeued or cancelled:
            log.info("resuming %d interrupted operation(s); %d cancel request(s) completed", requeued, cancelled)
        self.db.on_work(self.wake)  # a trigger on another process wakes an idle worker here
        await self.prune()
        for index in range(self.config.workers):
            self._tasks.append(asyncio.create_task(self._worker(index), name=f"backfill-worker-{index}"))
        self._tasks.append(asyncio.create_task(self._maintenance(), name="backfill-maintenance"))

    async def stop(self) -> None:
        """Graceful stop: running jobs return at their next checkpoint and go back to the queue for the next start."""
        self._stopping = True
        self._wake.set()
        workers = [t for t in self._tasks if not t.get_name().endswith("maintenance")]
        for waiter in list(self._interrupts):  # the ops go back to the queue; their cancel completes at start-up
            waiter.cancel()
        for task in self._tasks:
            if task not in workers:
                task.cancel()
        if workers:
            _, pending = await asyncio.wait(workers, timeout=self.config.stop_grace_seconds)
            for task in pending:  # a job stuck between checkpoints: interrupt it; its lease is released below
                task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self.lookahead.close()

    def wake(self) -> None:
        """New work is queued: an idle worker claims it, and the look ahead prepares it if it must wait."""
        self._wake.set()
        if self.services is not None and not self._stopping:
            self.lookahead.soon(self.services)

    @property
    def stopping(self) -> bool:
        return self._stopping

    # -- requests -------------------------------------------------------------------------------------------------

    async def trigger(self, op_type: str, params: JobParams, started_by: str | None) -> tuple[ops.Operation, bool]:
        """A new queued op, or the queued/running op with the same type and params (``True`` when reused)."""
        async with self._state_write() as conn:
            op, reused = await self.enqueue(conn, op_type, params, started_by)
        if not reused:
            log.info("operation %s (%s) queued by %s", op.id, op_type, started_by, extra=op_fields(op))
            self.wake()
        return op, reused

    async def enqueue(
        self, conn: Conn, op_type: str, params: JobParams, started_by: str | None
    ) -> tuple[ops.Operation, bool]:
        """:meth:`trigger` inside the caller's transaction (the op is queued with what that transaction commits);
        the caller calls :meth:`wake` and ``on_change`` once it has committed. ``QueueFull`` writes nothing."""
        if self.registry.job(op_type) is None:
            raise NotRunnable(op_type)
        return await ops.insert_or_reuse(
            conn,
            op_id=str(ULID()),
            op_type=op_type,
            params=params.normalised(),
            started_by=started_by,
            now=now_stamp(),
            max_queued=self.config.max_queued,
        )

    async def cancel(self, op_id: str) -> tuple[ops.CancelResult, ops.Operation | None]:
        async with self._state_write() as conn:
            result, op = await ops.request_cancel(conn, op_id, now_stamp())
        if result in (ops.CancelResult.CANCELLED, ops.CancelResult.REQUESTED):
            log.info("operation %s: cancel %s", op_id, result.value, extra=op_fields(op) if op else {"op_id": op_id})
        if result in (ops.CancelResult.REQUESTED, ops.CancelResult.ALREADY_REQUESTED):
            self._interrupt(op_id)
        return result, op

    def _interrupt(self, op_id: str) -> None:
        """If a worker here runs ``op_id``, interrupt its job unless it stops at a checkpoint within the grace."""
        task = self._running.get(op_id)
        if task is None or task.done() or any(w.get_name() == f"cancel-{op_id}" for w in self._interrupts):
            return
        waiter = asyncio.create_task(self._interrupt_after_grace(op_id, task), name=f"cancel-{op_id}")
        self._interrupts.add(waiter)
        waiter.add_done_callback(self._interrupts.discard)

    async def _interrupt_after_grace(self, op_id: str, task: asyncio.Task[None]) -> None:
        await asyncio.wait([task], timeout=self.config.cancel_grace_seconds)
        if not task.done():
            log.info("operation %s: interrupting its job for the cancel request", op_id)
            self._cancel_requested.add(op_id)
            task.cancel()

    async def prune(self) -> int:
        cutoff = stamp(utc_now() - timedelta(days=self.config.retention_days))
        async with self._state_write() as conn:
            pruned = await ops.prune_ended(conn, cutoff)
        if pruned:
            log.info("pruned %d operation(s) that ended before %s", pruned, cutoff)
        return pruned

    # -- workers --------------------------------------------------------------------------------------------------

    async def _maintenance(self) -> None:
        # a third of a lease: an op whose process died is requeued at most that long after its lease ran out
        every = self.config.lease_seconds / 3
        elapsed = 0.0
        while True:
            await asyncio.sleep(every)
            elapsed += every
            try:
                async with self._state_write() as conn:
                    stale, cancelled = await ops.requeue_expired(conn, now_stamp())
                if _log_requeued(stale, cancelled):
                    self._wake.set()
                if elapsed >= self.config.prune_every_seconds:
                    elapsed = 0.0
                    await self.prune()
            except Exception as exc:  # the next round tries again: maintenance outlives a database hiccup
                if not is_transient(exc):
                    log.exception("engine maintenance failed")

    async def _claim(self, owner: str) -> ops.Operation | None:
        async with self._state_write() as conn:
            now = now_stamp()
            # an op whose lease ran out (its process died, on a shared database) is taken over by the next idle
            # worker's poll, not at the next maintenance round
            stale, cancelled = await ops.requeue_expired(conn, now)
            exhausted = await ops.fail_exhausted(conn, self.config.max_attempts, now)
            claimed = await ops.claim_next(
                conn,
                types=self.registry.runnable,
                owner=owner,
                lease_until=stamp_in(self.config.lease_seconds),
                now=now,
            )
        # said once committed: a claim rolled back (a full disk) requeued and failed nothing, and would say so again
        # at every poll until there is room
        _log_requeued(stale, cancelled)
        for op_id in exhausted:
            log.error(
                "operation %s failed: too many attempts",
                op_id,
                extra={"op_id": op_id, "status": "failed", "error_code": "too_many_attempts"},
            )
        return claimed

    async def _idle(self, seconds: float) -> None:
        # not cleared here but before each claim: a trigger committed while a claim ran must still wake this worker
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    def _pause_for_storage(self) -> None:
        self._paused_until = asyncio.get_running_loop().time() + self.config.storage_pause_seconds

    async def _worker(self, index: int) -> None:
        services = self.services
        assert services is not None, "started by start()"
        while not self._stopping:
            paused = self._paused_until - asyncio.get_running_loop().time()
            if paused > 0:
                await asyncio.sleep(min(paused, self.config.poll_seconds))
                continue
            owner = f"{self._instance}/{index}/{ULID()}"  # unique per claim: a stale worker can never write
            self._wake.clear()
            try:
                op = await self._claim(owner)
            except Exception as exc:  # a worker outlives a database hiccup; the next poll tries again
                if is_transient(exc):
                    log.warning("worker %d: %s; claiming paused", index, _trouble(exc))
                    self._pause_for_storage()
                else:
                    log.exception("worker %d: could not claim an operation", index)
                    await self._idle(self.config.poll_seconds)
                continue
            if op is None:
                await self._idle(self.config.poll_seconds)
                continue
            self.lookahead.soon(services)  # the ops behind this one move up
            try:
                await self._run(op, owner)
            except asyncio.CancelledError:
                await asyncio.shield(self._release(op.id, owner))
                raise
            except Exception:  # the worker must outlive any one op
                log.exception("worker %d: unexpected error around operation %s", index, op.id)

    async def _run(self, op: ops.Operation, owner: str) -> None:
        job_class = self.registry.job(op.type)
        assert job_class is not None, "only runnable types are claimed"
        assert self.services is not None, "started by start()"
        log.info("operation %s (%s) started, attempt %d", op.id, op.type, op.attempts, extra=op_fields(op))
        try:
            params = job_class.params_model.model_validate(op.params)
        except ValidationError as exc:
            await self._finish(op.id, owner, ops.Outcome.FAILED, code="invalid_params", error=str(exc))
            return
        try:
            ctx = JobContext(
                op,
                owner=owner,
                db=self.db,
                services=self.services,
                checkpoints=job_class.checkpoints,
                stages=job_class.stages,
                stopping=lambda: self._stopping,
                prepared=self.lookahead.take(op.id),
                on_end=lambda: self.on_change(),
            )
        except ValidationError:  # not what this job stores: our own fault, so the op says no more than that
            log.exception("operation %s (%s): its checkpoint cannot be read", op.id, op.type)
            await self._failed_internally(op.id, owner, f"the checkpoint of the {op.type} job cannot be read")
            return
        job = job_class()
        job_task = asyncio.create_task(job.run(ctx, params), name=f"job-{op.id}")
        self._running[op.id] = job_task
        heart = asyncio.create_task(self._heartbeat(op.id, owner, job_task))
        try:
            await _past_its_end(job_task, ctx)
        except CancelRequested:
            await self._cancelled(job, ctx, owner)
        except ShuttingDown:
            await self._release(op.id, owner)
        except LeaseLost:
            log.warning("operation %s: lease lost, leaving it to its new owner", op.id)
        except JobFailed as exc:
            await self._finish(op.id, owner, ops.Outcome.FAILED, code=exc.code, error=exc.message, context=exc.context)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # the worker itself is being stopped; it releases the op
            if op.id in self._cancel_requested:
                await self._cancelled(job, ctx, owner)
            else:
                log.warning("operation %s: lease lost, its job was stopped", op.id)
        except Exception as exc:
            if is_transient(exc):
                await self._requeue_transient(op.id, owner, exc)
                return
            log.exception("operation %s (%s) crashed", op.id, op.type)
            await self._failed_internally(op.id, owner, f"unexpected {type(exc).__name__} in the {op.type} job")
        else:
            if ctx.ended is not None:  # its last batch ended it
                _log_ended(ctx.ended)
            else:
                outcome = ops.Outcome.PARTIAL if ctx.progress.records_failed else ops.Outcome.COMPLETED
                await self._finish(op.id, owner, outcome, ctx=ctx)
        finally:
            self._running.pop(op.id, None)
            self._cancel_requested.discard(op.id)
            heart.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heart

    async def _cancelled(self, job: Job[Any, Any], ctx: AnyContext, owner: str) -> None:
        """End a cancelled op, after its job undid what must not outlive it."""
        try:
            await job.on_cancel(ctx)
        except Exception:
            log.exception("operation %s (%s): its cancel could not be completed", ctx.op_id, ctx.op_type)
            await self._failed_internally(ctx.op_id, owner, f"the {ctx.op_type} job could not undo its work on cancel")
            return
        await self._finish(ctx.op_id, owner, ops.Outcome.CANCELLED)

    async def _failed_internally(self, op_id: str, owner: str, what: str) -> None:
        """End an op failed by our own fault: what went wrong is in the log, not in the op (no internals leak)."""
        await self._finish(op_id, owner, ops.Outcome.FAILED, code="internal_error", error=f"{what}; see the server log")

    async def _heartbeat(self, op_id: str, owner: str, job_task: asyncio.Task[None]) -> None:
        while True:
            await asyncio.sleep(self.config.lease_seconds / 3)
            try:
                async with self._state_write() as conn:
                    status = await ops.heartbeat(conn, op_id, owner, stamp_in(self.config.lease_seconds))
            except Exception as exc:
                if not is_transient(exc):
                    raise
                continue  # the lease is ours until it expires; the job's own writes meet the trouble first
            if status is None:
                log.warning("operation %s: lease lost, stopping its job", op_id)
                job_task.cancel()
                return
            if status == "cancelling":  # requested on another process (PostgreSQL): interrupt the job as it would
                self._interrupt(op_id)

    async def _finish(
        self,
        op_id: str,
        owner: str,
        outcome: ops.Outcome,
        *,
        ctx: AnyContext | None = None,
        code: str | None = None,
        error: str | None = None,
        context: dict[str, Any] | None = None,
    ) -> None:
        async def write() -> ops.Operation | None:
            async with self._state_write() as conn:
                now = now_stamp()
                if ctx is not None:  # a job that ran to its end: its last counters, even those after its last batch
                    await ops.save_progress(conn, op_id, owner, ctx.progress, now)
                if not await ops.finish(
                    conn, op_id, owner, outcome, now, error=error, error_code=code, error_context=context
                ):
                    return None
                return await ops.get(conn, op_id)  # what the log says is what was written

        ended = await self._persist(op_id, "recording its end", write)
        if ended:
            _log_ended(ended)
        else:
            log.warning("operation %s: could not record its end (%s); it is no longer held here", op_id, outcome.value)

    async def _persist(self, op_id: str, what: str, write: Callable[[], Awaitable[T]]) -> T:
        """Run a state write for ``op_id``; while the disk is full or the database out of reach, wait and try
        again, so an op's outcome is never dropped. Meanwhile :meth:`view` shows an op waiting for a full disk as
        such, since its row cannot say so."""
        delay = 0.5
        try:
            while True:
                try:
                    return await write()
                except Exception as exc:
                    if not is_transient(exc) or self._stopping:
                        raise
                    if is_storage_full(exc) and op_id not in self._storage_waits:
                        self._storage_waits.add(op_id)
                        self.on_change()
                    log.warning("operation %s: %s: %s; trying again in %.1f s", op_id, what, _trouble(exc), delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 30.0)
        finally:
            if op_id in self._storage_waits:
                self._storage_waits.discard(op_id)
                self.on_change()

    def view(self, op: ops.Operation) -> ops.Operation:
        """``op`` as clients should see it: its row, unless the engine holds news the full disk keeps out of it."""
        if op.id in self._storage_waits:
            return dataclasses.replace(op, error=STORAGE_FULL_MESSAGE, error_code=STORAGE_FULL)
        return op

    async def _requeue_transient(self, op_id: str, owner: str, exc: Exception) -> None:
        """A full disk or a database out of reach stopped a job: its batch rolled back, so give the op back to the
        queue with the reason showing; it resumes from its checkpoint once a claim gets through again. Should this
        process die first, the lease runs out and another process takes the op."""
        if is_storage_full(exc):
            code, message = STORAGE_FULL, STORAGE_FULL_MESSAGE
            log.warning("operation %s: storage is full; requeued, it resumes when space is freed", op_id)
        else:
            code, message = DATABASE_UNAVAILABLE, DATABASE_UNAVAILABLE_MESSAGE
            log.warning("operation %s: %s; it resumes when the database is back", op_id, exc)
        self._pause_for_storage()

        async def write() -> bool:
            async with self._state_write() as conn:
                return await ops.release(conn, op_id, owner, now_stamp(), error=message, error_code=code)

        await self._persist(op_id, "requeueing it", write)

    async def _release(self, op_id: str, owner: str) -> None:
        async with self._state_write() as conn:
            if await ops.release(conn, op_id, owner, now_stamp()):
                log.info("operation %s released for the next start", op_id, extra={"op_id": op_id, "status": "queued"})


def _log_requeued(stale: int, cancelled: int) -> bool:
    """Say what a committed requeue of expired leases did; whether it did anything."""
    if stale or cancelled:
        log.warning("requeued %d operation(s) whose lease expired; %d cancelled", stale, cancelled)
    return bool(stale or cancelled)


def _trouble(exc: BaseException) -> str:
    return "storage is full" if is_storage_full(exc) else "the database cannot be reached"


async def _past_its_end(job_task: asyncio.Task[None], ctx: AnyContext) -> None:
    """Await the job; once its last batch has ended the op, what it raises while it returns (closing an export, a
    cancel that came too late) changes nothing committed, so it is logged, not handled as the op's outcome."""
    try:
        await job_task
    except BaseException as exc:
        current = asyncio.current_task()
        if ctx.ended is None or (current is not None and current.cancelling()):
            raise
        log.warning("operation %s: its job raised %s after its last batch ended it", ctx.op_id, type(exc).__name__)


def _log_ended(op: ops.Operation) -> None:
    code = f" ({op.error_code})" if op.error_code else ""
    log.info("operation %s ended %s%s", op.id, op.status, code, extra=op_fields(op))


def op_fields(op: ops.Operation) -> dict[str, Any]:
    """An operation's state as log fields (``--log-format json``), for log queries by id, type, status or code."""
    return {
        "op_id": op.id,
        "type": op.type,
        "status": op.status,
        "attempt": op.attempts,
        # the counters every op has; a job type's own ``counts`` are in the op's view, not in its log lines
        **{name: value for name, value in dataclasses.asdict(op.progress).items() if name != "counts"},
        "error_code": op.error_code,
    }
