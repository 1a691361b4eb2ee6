"""The live indexer: a firehose source's events, verified, applied to the index in batches with the cursor.

The unit of durability is the batch: every event taken from the queue at once (up to ``batch_size``). Each is judged
first, outside any transaction (verification may resolve a DID on the network); then one transaction re-reads the
heads of the batch's repositories, applies what still chains, queues a did-sync for each repository that must be
resynced, and moves the source's cursor to the batch's last sequence. A crash replays at most the uncommitted batch,
and a replayed commit is skipped by its rev, so nothing is applied twice.

The stream's own troubles are events too: ``FutureCursor`` forgets the cursor (the next connection starts at the
source's head), ``ConsumerTooSlow`` and lost connections reconnect from the committed cursor, ``#info
OutdatedCursor`` is logged and counted (a gap the source cannot fill; a freshness-scan is the repair), undecodable
and oversized frames are counted and logged. Nothing is dropped without a trace in :class:`LiveStats`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from chive_admin.auth.identity import IdentityResolver
from chive_admin.backfill import job_types
from chive_admin.backfill.engine import Engine
from chive_admin.backfill.items import RecordItem
from chive_admin.backfill.jobs.did_sync import DidSyncParams
from chive_admin.clock import now_stamp
from chive_admin.ingest.live_commit import Judgement, Verdict, judge
from chive_admin.ingest.write import apply_records, remove_records
from chive_admin.store import dead_letters, firehose_cursors, index
from chive_admin.store.db import Database
from chive_admin.store.index import RepoHead
from chive_admin.store.operations import QueueFull
from chive_admin.store.sql import Conn
from chive_admin.upstream.firehose import (
    Commit,
    Connected,
    Disconnected,
    Event,
    FirehoseClient,
    FirehoseLimits,
    Info,
    Passing,
    StreamError,
    Undecodable,
)

log = logging.getLogger(__name__)

#: events judged and committed together at most
BATCH_SIZE = 100


@dataclass
class LiveStats:
    """What the indexer has seen since it started; every event lands in exactly one of the event counters."""

    connected: bool = False
    connections: int = 0
    applied: int = 0
    replayed: int = 0
    ignored: int = 0
    refused: int = 0
    resyncs: int = 0
    #: sequenced events of other kinds (#identity, #account, #sync…): the cursor moves past them
    passed: int = 0
    undecodable: int = 0
    too_large: int = 0
    infos: int = 0
    stream_errors: dict[str, int] = field(default_factory=dict)
    records_written: int = 0
    records_deleted: int = 0
    dead_lettered: int = 0
    #: the last sequence committed by this process
    cursor: int | None = None


class LiveIndexer:
    def __init__(
        self,
        source: str,
        db: Database,
        identities: IdentityResolver,
        engine: Engine,
        *,
        allow_private: bool,
        limits: FirehoseLimits | None = None,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.source = source
        self.db = db
        self.identities = identities
        self.engine = engine
        self.batch_size = batch_size
        self.stats = LiveStats()
        self.limits = limits or FirehoseLimits()
        self._allow_private = allow_private
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=self.limits.backlog)
        #: the sequence a batch must exceed: what the source sends again after a reconnect is not applied twice
        self._floor: int | None = None

    async def committed_cursor(self) -> int | None:
        async with self.db.read() as conn:
            self._floor = await firehose_cursors.get(conn, self.source)
        return self._floor

    async def run(self) -> None:
        """Read and apply until cancelled. A failure of the indexer's own (the database unreachable) starts both
        halves again, after a pause, from the committed cursor; what was queued is dropped, being uncommitted."""
        while True:
            try:
                await self._run_once()
            except Exception:
                self.stats.connected = False
                log.exception("firehose %s: the live indexer failed; starting again from its cursor", self.source)
                await asyncio.sleep(self.limits.backoff_cap / 4)

    async def _run_once(self) -> None:
        self.queue = asyncio.Queue(maxsize=self.limits.backlog)
        client = FirehoseClient(
            self.source, self.queue, self.committed_cursor, allow_private=self._allow_private, limits=self.limits
        )
        async with asyncio.TaskGroup() as group:
            group.create_task(client.run(), name="firehose-reader")
            group.create_task(self._apply_loop(), name="firehose-indexer")

    async def _apply_loop(self) -> None:
        while True:
            batch = [await self.queue.get()]
            while len(batch) < self.batch_size and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            try:
                await self._handle(batch)
            finally:
                for _ in batch:
                    self.queue.task_done()

    async def _handle(self, batch: list[Event]) -> None:
        commits: list[Commit] = []
        last_seq: int | None = None
        forget = False
        for event in batch:
            seq = event.seq if isinstance(event, Commit | Passing) else None
            if seq is not None:
                if self._floor is not None and seq <= self._floor:
                    self.stats.replayed += 1
                    continue
                last_seq = seq if last_seq is None else max(last_seq, seq)
            if isinstance(event, Commit):
                commits.append(event)
            elif self._note(event):
                forget = True
        if commits or last_seq is not None:
            await self._commit(commits, last_seq)
        if forget:
            async with self.db.write() as conn:
                await firehose_cursors.clear(conn, self.source)
            self._floor = None

    def _note(self, event: Event) -> bool:
        """Count a non-commit event; ``True`` when the committed cursor must be forgotten."""
        stats = self.stats
        if isinstance(event, Passing):
            stats.passed += 1
        elif isinstance(event, Connected):
            stats.connected = True
            stats.connections += 1
            log.info("firehose %s: connected (cursor %s)", self.source, event.cursor)
        elif isinstance(event, Disconnected):
            stats.connected = False
            stats.too_large += int(event.too_large)
            log.warning("firehose %s: disconnected: %s", self.source, event.reason)
        elif isinstance(event, Undecodable):
            stats.undecodable += 1
            log.warning("firehose %s: an undecodable frame: %s", self.source, event.reason)
        elif isinstance(event, Info):
            stats.infos += 1
            log.warning("firehose %s: info %s: %s", self.source, event.name, event.message or "")
        elif isinstance(event, StreamError):
            stats.stream_errors[event.error] = stats.stream_errors.get(event.error, 0) + 1
            log.warning("firehose %s: error frame %s: %s", self.source, event.error, event.message or "")
            # the source is behind our cursor (reset, or another source): its sequence starts again lower
            return event.error == "FutureCursor"
        return False

    async def _commit(self, commits: list[Commit], last_seq: int | None) -> None:
        dids = sorted({c.repo for c in commits})
        async with self.db.read() as conn:
            seen = await index.repo_heads(conn, dids)
        heads: dict[str, RepoHead | None] = {did: seen.get(did) for did in dids}
        judged: list[tuple[Commit, Judgement]] = []
        for commit in commits:
            try:
                judgement = await judge(commit, heads[commit.repo], self.identities)
            except Exception as exc:
                # a commit that breaks the judge is refused, not retried: the stream would otherwise stop on it
                # forever (every restart resumes at the same event)
                log.exception("firehose: judging %s rev %s (seq %d) failed", commit.repo, commit.rev, commit.seq)
                judgement = Judgement(Verdict.REFUSE, f"judging failed: {type(exc).__name__}")
            judged.append((commit, judgement))
            head = heads[commit.repo]
            if judgement.verdict is Verdict.APPLY and head is not None:
                heads[commit.repo] = RepoHead(judgement.rev, judgement.data_cid, head.pds_url)
        resyncs: set[str] = set()
        now = now_stamp()
        async with self.db.write() as conn:
            now_held = await index.repo_heads(conn, dids)
            # a did-sync may have moved a head since it was read: what was judged against the old one is redone
            moved = {did for did in dids if now_held.get(did) != seen.get(did)}
            for commit, judgement in judged:
                verdict = judgement.verdict
                if commit.repo in moved and verdict is Verdict.APPLY:
                    verdict = Verdict.RESYNC
                self._count(commit, judgement, verdict)
                if verdict is Verdict.APPLY:
                    await self._apply(conn, commit, judgement, now_held[commit.repo], now)
                elif verdict is Verdict.RESYNC:
                    resyncs.add(commit.repo)
            for did in sorted(resyncs):
                await self._queue_resync(conn, did)
            if last_seq is not None:
                await firehose_cursors.advance(conn, self.source, last_seq, now)
        if last_seq is not None:
            self._floor = last_seq if self._floor is None else max(self._floor, last_seq)
            self.stats.cursor = self._floor
        if resyncs:
            self.engine.wake()
            self.engine.on_change()

    def _count(self, commit: Commit, judgement: Judgement, verdict: Verdict) -> None:
        stats = self.stats
        if verdict is Verdict.APPLY:
            stats.applied += 1
        elif verdict is Verdict.REPLAY:
            stats.replayed += 1
        elif verdict is Verdict.IGNORE:
            stats.ignored += 1
        elif verdict is Verdict.RESYNC:
            stats.resyncs += 1
            log.info("firehose: %s rev %s: resync (%s)", commit.repo, commit.rev, judgement.reason)
        else:
            stats.refused += 1
            reason = judgement.reason
            log.warning("firehose: refused %s rev %s (seq %d): %s", commit.repo, commit.rev, commit.seq, reason)

    async def _apply(self, conn: Conn, commit: Commit, judgement: Judgement, head: RepoHead, now: str) -> None:
        if judgement.upserts:
            result = await apply_records(conn, judgement.upserts, now)
            self.stats.records_written += result.written
        if judgement.deletes:
            self.stats.records_deleted += await remove_records(conn, judgement.deletes)
        pds = head.pds_url or ""
        for bad in judgement.invalid:
            # as did-sync parks them: retried by refetching the record from the repository's PDS
            await dead_letters.add(
                conn,
                operation_id=None,
                job_type=job_types.DID_SYNC.name,
                error_type="invalid_record",
                message=bad.problem,
                context={"uri": bad.uri, "did": commit.repo, "pds": pds, "seq": commit.seq},
                item=RecordItem(uri=bad.uri, pds=pds).to_json(),
                now=now,
            )
            self.stats.dead_lettered += 1
        await index.set_repo_head(conn, commit.repo, judgement.rev, judgement.data_cid, now)

    async def _queue_resync(self, conn: Conn, did: str) -> None:
        try:
            await self.engine.enqueue(conn, job_types.DID_SYNC.name, DidSyncParams(did=did), None)
        except QueueFull:
            # the head stays where it is: the repository's next commit will not chain and asks again
            log.warning("firehose: the operation queue is full; the resync of %s waits for its next commit", did)
