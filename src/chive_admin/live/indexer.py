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
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from enum import Enum
from typing import Protocol

from chive_admin.auth.identity import IdentityError, IdentityResolver
from chive_admin.backfill import job_types
from chive_admin.backfill.engine import Engine
from chive_admin.backfill.items import RecordItem
from chive_admin.backfill.jobs.did_sync import DidSyncParams
from chive_admin.backfill.jobs.freshness_scan import FreshnessParams
from chive_admin.clock import now_stamp
from chive_admin.ingest.handles import HandleVerifier
from chive_admin.ingest.live_commit import Judgement, Verdict, judge, judge_sync
from chive_admin.ingest.write import apply_records, remove_records
from chive_admin.live.flow import Flow
from chive_admin.live.handover import HeldCommits
from chive_admin.store import dead_letters, firehose_cursors, index, operations
from chive_admin.store.db import Database
from chive_admin.store.index import RepoHead
from chive_admin.store.operations import QueueFull
from chive_admin.store.sql import Conn
from chive_admin.upstream.firehose import (
    Account,
    Commit,
    Connected,
    Disconnected,
    Event,
    FirehoseClient,
    FirehoseLimits,
    Identity,
    Info,
    Passing,
    Sequenced,
    StreamError,
    Sync,
    Undecodable,
)
from chive_admin.upstream.urls import registry_key

log = logging.getLogger(__name__)

#: events judged and committed together at most
BATCH_SIZE = 100
#: seconds between looks at whether a held repository's sync has ended, while the stream is quiet
HELD_POLL = 1.0
#: what a commit of a repository being synced waits for the snapshot instead of doing
_AWAITING_SNAPSHOT = (Verdict.APPLY, Verdict.RESYNC, Verdict.HOLD)


class Gap(Enum):
    """Events the source can no longer send: the index may have missed some."""

    #: ``#info OutdatedCursor``: the cursor is older than what the source keeps
    OUTDATED = "outdated"
    #: error ``FutureCursor``: the cursor is ahead of the source's sequence
    FUTURE = "future"


@dataclass(frozen=True)
class IdentityUpdate:
    """A held repository's identity as resolved for an ``#identity`` event."""

    #: the verified handle (None: none verifies)
    handle: str | None
    pds_url: str | None


def _did_of(event: Sequenced) -> str:
    return event.repo if isinstance(event, Commit) else event.did or ""


@dataclass
class LiveStats:
    """What the indexer has seen since it started; every event lands in exactly one of the event counters."""

    #: the connection, events by kind, lag (see :mod:`chive_admin.live.flow`)
    flow: Flow
    applied: int = 0
    replayed: int = 0
    ignored: int = 0
    refused: int = 0
    #: commits of repositories another host holds (a per-PDS source speaks for its own accounts only)
    foreign: int = 0
    resyncs: int = 0
    #: commits held while a did-sync of their repository ran, then judged against its snapshot
    held: int = 0
    handed_over: int = 0
    identities: int = 0
    accounts: int = 0
    syncs: int = 0
    #: OutdatedCursor / FutureCursor: a freshness-scan was queued
    gaps: int = 0
    #: sequenced events of types this version does not know: the cursor moves past them
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

    @property
    def connected(self) -> bool:
        return self.flow.connected

    def counters(self) -> LiveStats:
        """A copy of the counters, for :meth:`restore` (the flow is the connection's, not a batch's: not copied)."""
        return replace(self, stream_errors=dict(self.stream_errors))

    def restore(self, before: LiveStats) -> None:
        """The counters as they were ``before`` a batch whose transaction failed: it is redone from the committed
        cursor, and counted then."""
        for name in (f.name for f in fields(self) if f.name != "flow"):
            setattr(self, name, getattr(before, name))

    @property
    def connections(self) -> int:
        return self.flow.connections


class SourcePolicy(Protocol):
    """What the process around an indexer decides of its source (see :mod:`chive_admin.live.sources`)."""

    async def admit(self, commit: Commit, head: RepoHead | None) -> Judgement | None:
        """A verdict on a commit before it is judged (a source that may not speak for its repository), or ``None``."""

    async def speaks_for(self, did: str, head: RepoHead | None) -> bool:
        """Whether the source may speak for ``did``'s account at all (an ``#account`` event of another host's
        repository is not believed either)."""

    async def fence(self, conn: Conn) -> None:
        """Inside every transaction that moves the cursor: raise to roll it back (the source is no longer ours)."""

    def connection(self, made: bool, reason: str) -> None:
        """A connection was made, or could not be (``reason``)."""


class LiveIndexer:
    def __init__(
        self,
        source: str,
        db: Database,
        identities: IdentityResolver,
        handles: HandleVerifier,
        engine: Engine,
        *,
        allow_private: bool,
        limits: FirehoseLimits | None = None,
        batch_size: int = BATCH_SIZE,
        held: HeldCommits | None = None,
        policy: SourcePolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.source = source
        self.policy = policy
        self.db = db
        self.identities = identities
        self.handles = handles
        self._held = held if held is not None else HeldCommits()
        self.engine = engine
        self.batch_size = batch_size
        #: epoch seconds, as event times are: what lag and connection ages are measured with
        self.clock = clock
        self.stats = LiveStats(Flow(since=clock()))
        self.limits = limits or FirehoseLimits()
        self._allow_private = allow_private
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=self.limits.backlog)
        #: the sequence a batch must exceed: what the source sends again after a reconnect is not applied twice
        self._floor: int | None = None
        #: whether the connection the indexer last heard of was made (the flow knows it sooner, at the socket)
        self._connected = False

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
                self.stats.flow.down(self.clock())
                log.exception("firehose %s: the live indexer failed; starting again from its cursor", self.source)
                await asyncio.sleep(self.limits.backoff_cap / 4)

    async def _run_once(self) -> None:
        self.queue = asyncio.Queue(maxsize=self.limits.backlog)
        self.stats.flow.restart()
        client = FirehoseClient(
            self.source,
            self.queue,
            self.committed_cursor,
            allow_private=self._allow_private,
            limits=self.limits,
            received=self._received,
        )
        async with asyncio.TaskGroup() as group:
            group.create_task(client.run(), name="firehose-reader")
            group.create_task(self._apply_loop(), name="firehose-indexer")

    async def _apply_loop(self) -> None:
        while True:
            try:
                # while commits are held, the end of their sync is looked for even if the stream is quiet
                first = await asyncio.wait_for(self.queue.get(), HELD_POLL) if self._held else await self.queue.get()
            except TimeoutError:
                await self._handle([])
                continue
            batch = [first]
            while len(batch) < self.batch_size and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            try:
                await self._handle(batch)
                self.stats.flow.done(len(batch))
            finally:
                for _ in batch:
                    self.queue.task_done()

    def _received(self, event: Event) -> None:
        self.stats.flow.received(event, self.clock())

    async def _handle(self, batch: list[Event]) -> None:
        events: list[Sequenced] = []
        last_seq: int | None = None
        gap: Gap | None = None
        for event in batch:
            if isinstance(event, Sequenced):
                if self._floor is not None and event.seq <= self._floor:
                    self.stats.replayed += 1
                    continue
                last_seq = event.seq if last_seq is None else max(last_seq, event.seq)
                events.append(event)
            else:
                gap = self._note(event) or gap
        if events or last_seq is not None or self._held:
            await self._commit(events, last_seq)
        if gap is not None:
            await self._repair(gap)

    def _note(self, event: Event) -> Gap | None:
        """Count an event of the stream itself; the gap it reveals in what the index has seen, if any."""
        stats = self.stats
        if isinstance(event, Connected):
            if self.policy is not None:
                self.policy.connection(True, "")
            self._connected = True
            log.info("firehose %s: connected (cursor %s)", self.source, event.cursor)
        elif isinstance(event, Disconnected):
            if self.policy is not None and not self._connected:  # no Connected before it: the dial failed
                self.policy.connection(False, event.reason)
            self._connected = False
            stats.too_large += int(event.too_large)
            log.warning("firehose %s: disconnected: %s", self.source, event.reason)
        elif isinstance(event, Undecodable):
            stats.undecodable += 1
            log.warning("firehose %s: an undecodable frame: %s", self.source, event.reason)
        elif isinstance(event, Info):
            stats.infos += 1
            log.warning("firehose %s: info %r: %r", self.source, event.name, event.message or "")
            if event.name == "OutdatedCursor":
                # the source replays from the oldest event it kept: what came between is lost to the stream
                return Gap.OUTDATED
        elif isinstance(event, StreamError):
            stats.stream_errors[event.error] = stats.stream_errors.get(event.error, 0) + 1
            log.warning("firehose %s: error frame %r: %r", self.source, event.error, event.message or "")
            if event.error == "FutureCursor":
                # the source is behind our cursor (reset, or another source): its sequence starts again lower
                return Gap.FUTURE
        return None

    async def _repair(self, gap: Gap) -> None:
        """After a gap the stream cannot fill: a freshness-scan re-checks the index against the hosts. A cursor the
        source does not know is forgotten, so that the next connection starts at its head."""
        async with self.db.write() as conn:
            if self.policy is not None:
                await self.policy.fence(conn)
            if gap is Gap.FUTURE:
                await firehose_cursors.clear(conn, self.source)
            try:
                await self.engine.enqueue(conn, job_types.FRESHNESS_SCAN.name, FreshnessParams(tier="all"), None)
            except QueueFull:
                log.warning("firehose %s: the operation queue is full; no freshness-scan after a gap", self.source)
        if gap is Gap.FUTURE:
            self._floor = None
        self.stats.gaps += 1
        self.engine.wake()
        self.engine.on_change()

    async def _commit(self, events: list[Sequenced], last_seq: int | None) -> None:
        """Judge ``events`` (and the held commits whose repository's sync has ended) against the stored heads, then
        apply them in order in one transaction with the cursor."""
        before, held_before = self.stats.counters(), self._held.snapshot()
        try:
            await self._commit_batch(events, last_seq)
        except BaseException:
            # nothing of the batch was committed: it is redone from the cursor, so neither its counts nor what it
            # took from or added to the hold may stay
            self.stats.restore(before)
            self._held.restore(held_before)
            raise

    async def _commit_batch(self, events: list[Sequenced], last_seq: int | None) -> None:
        dids = sorted({_did_of(e) for e in events} | self._held.dids())
        async with self.db.read() as conn:
            seen = await index.repo_heads(conn, dids)
            syncing = await self._syncing(conn, dids)
        resyncs: set[str] = set()
        work: list[Sequenced] = []
        for did in self._held.dids() - syncing:
            released = self._held.release(did)
            if released is None:  # more came than could be held: the sync's snapshot is too old already
                resyncs.add(did)
            else:
                self.stats.handed_over += len(released)
                work += released
        work += events
        heads: dict[str, RepoHead | None] = {did: seen.get(did) for did in dids}
        prepared = [(event, await self._prepare(event, heads, syncing)) for event in work]
        now = now_stamp()
        async with self.db.write() as conn:
            if self.policy is not None:
                await self.policy.fence(conn)
            # locked: a batch of another source committing the same repositories goes first or waits for this one
            now_held = await index.repo_heads(conn, dids, lock=True)
            now_syncing = await self._syncing(conn, dids)
            # a did-sync may have moved a head since it was read: what was judged against the old one is redone
            moved = {did for did in dids if now_held.get(did) != seen.get(did)}
            for event, judgement in prepared:
                await self._effect(conn, event, judgement, now_held, moved, now_syncing, resyncs, now)
            for did in sorted(resyncs - now_syncing):
                await self._queue_resync(conn, did)
            if last_seq is not None:
                await firehose_cursors.advance(conn, self.source, last_seq, now)
        if last_seq is not None:
            self._floor = last_seq if self._floor is None else max(self._floor, last_seq)
            self.stats.cursor = self._floor
        if resyncs:
            self.engine.wake()
            self.engine.on_change()

    async def _syncing(self, conn: Conn, dids: list[str]) -> set[str]:
        """Which of ``dids`` a did-sync is queued or running for: their commits wait for its snapshot."""
        params = [DidSyncParams(did=did).normalised() for did in dids]
        return {dids[i] for i in await operations.active_among(conn, job_types.DID_SYNC.name, params)}

    async def _prepare(
        self, event: Sequenced, heads: dict[str, RepoHead | None], syncing: set[str]
    ) -> Judgement | IdentityUpdate | None:
        """The network half of an event (verification, resolution), done outside the transaction."""
        if isinstance(event, Commit):
            if event.repo in syncing:
                return Judgement(Verdict.HOLD, "a did-sync of the repository is under way")
            judgement = await self._judged(event, heads[event.repo])
        elif isinstance(event, Passing):
            return None
        elif not await self._speaks_for(event.did, heads[event.did]):
            return Judgement(Verdict.FOREIGN, "the source does not host the repository")
        elif isinstance(event, Sync):
            judgement = await judge_sync(event, heads[event.did], self.identities)
        elif isinstance(event, Identity):
            return await self._resolve(event.did) if heads[event.did] is not None else None
        else:
            return None
        head = heads[_did_of(event)]
        if judgement.verdict is Verdict.APPLY and head is not None:
            heads[_did_of(event)] = RepoHead(judgement.rev, judgement.data_cid, head.pds_url)
        return judgement

    async def _speaks_for(self, did: str, head: RepoHead | None) -> bool:
        """Whether the source may speak of ``did``'s account (a per-PDS source: only of the accounts it hosts)."""
        return head is None or self.policy is None or await self.policy.speaks_for(did, head)

    async def _judged(self, commit: Commit, head: RepoHead | None) -> Judgement:
        try:
            admitted = None if self.policy is None else await self.policy.admit(commit, head)
            return admitted or await judge(commit, head, self.identities)
        except Exception as exc:
            # a commit that breaks the judge is refused, not retried: the stream would otherwise stop on it
            # forever (every restart resumes at the same event)
            log.exception("firehose: judging %s rev %s (seq %d) failed", commit.repo, commit.rev, commit.seq)
            return Judgement(Verdict.REFUSE, f"judging failed: {type(exc).__name__}")

    async def _resolve(self, did: str) -> IdentityUpdate | None:
        """``#identity``: the DID's document as it is now, its handle verified now."""
        try:
            identity = await self.identities.resolve(did, current=True)
        except IdentityError as exc:
            log.warning("firehose: #identity of %s: cannot resolve: %s", did, exc)
            return None
        handle = await self.handles.verified(did, identity.handle, fresh=True)
        return IdentityUpdate(handle, registry_key(identity.pds) if identity.pds else None)

    async def _effect(
        self,
        conn: Conn,
        event: Sequenced,
        prepared: Judgement | IdentityUpdate | None,
        held: dict[str, RepoHead],
        moved: set[str],
        syncing: set[str],
        resyncs: set[str],
        now: str,
    ) -> None:
        stats = self.stats
        if isinstance(prepared, Judgement) and prepared.verdict is Verdict.FOREIGN:
            # before the kinds' own counters: a foreign event is not one of theirs
            self._foreign(event, prepared)
        elif isinstance(event, Commit | Sync):
            assert isinstance(prepared, Judgement)
            did = _did_of(event)
            verdict = prepared.verdict
            if isinstance(event, Commit) and did in syncing and verdict in _AWAITING_SNAPSHOT:
                verdict = Verdict.HOLD
            elif did in moved and verdict is Verdict.APPLY:
                # at or past this rev: another source applied the same commit (a relay and its PDS both
                # followed), or a did-sync stored a later snapshot; a replay either way, as judge() says
                held_rev = held[did].rev if did in held else None
                verdict = Verdict.REPLAY if held_rev is not None and held_rev >= event.rev else Verdict.RESYNC
            self._count(event, prepared, verdict)
            if verdict is Verdict.HOLD:
                assert isinstance(event, Commit)
                self._held.add(event)
            elif verdict is Verdict.APPLY:
                if isinstance(event, Commit):
                    await self._apply(conn, event, prepared, now)
                await index.set_repo_head(conn, did, prepared.rev, prepared.data_cid, now)
            elif verdict is Verdict.RESYNC:
                resyncs.add(did)
        elif isinstance(event, Identity):
            stats.identities += 1
            if isinstance(prepared, IdentityUpdate):
                await index.set_repo_identity(conn, event.did, prepared.handle, prepared.pds_url, now)
        elif isinstance(event, Account):
            stats.accounts += 1
            if await self._account(conn, event, now):
                resyncs.add(event.did)
        else:
            stats.passed += 1

    def _foreign(self, event: Sequenced, judgement: Judgement) -> None:
        self.stats.foreign += 1
        log.warning(  # the repository and rev are the source's text: shown literally
            "firehose %s: not believed from this source: %r (seq %d): %s",
            self.source,
            _did_of(event),
            event.seq,
            judgement.reason,
        )

    async def _account(self, conn: Conn, event: Account, now: str) -> bool:
        """Apply an ``#account`` to a held repository; ``True`` when it must be resynced (it came back)."""
        status = "active" if event.active else (event.status or "inactive")
        before = await index.set_repo_status(conn, event.did, status, now)
        if before is None or before == status:
            return False
        log.info("firehose: %s is %s (was %s)", event.did, status, before)
        if status == "deleted":
            self._held.release(event.did)
            self.stats.records_deleted += await remove_records(conn, list(await index.record_cids(conn, event.did)))
            await index.forget_repo_head(conn, event.did, now)
            return False
        await index.set_repo_hidden(conn, event.did, not event.active)
        # back: what changed while it was away is not in the stream (a deactivated repository emits nothing)
        return event.active

    def _count(self, event: Commit | Sync, judgement: Judgement, verdict: Verdict) -> None:
        stats = self.stats
        did, kind = (event.repo, "") if isinstance(event, Commit) else (event.did, "#sync ")
        if isinstance(event, Sync):
            stats.syncs += 1
        if verdict is Verdict.HOLD:
            stats.held += 1
        elif verdict is Verdict.APPLY:
            stats.applied += 1
        elif verdict is Verdict.REPLAY:
            stats.replayed += 1
        elif verdict is Verdict.IGNORE:
            stats.ignored += 1
        elif verdict is Verdict.RESYNC:
            stats.resyncs += 1
            log.info("firehose: %s%s rev %r: resync (%s)", kind, did, event.rev, judgement.reason)
        else:
            stats.refused += 1
            reason = judgement.reason
            log.warning("firehose: refused %s%s rev %r (seq %d): %s", kind, did, event.rev, event.seq, reason)

    async def _apply(self, conn: Conn, commit: Commit, judgement: Judgement, now: str) -> None:
        if judgement.upserts:
            result = await apply_records(conn, judgement.upserts, now)
            self.stats.records_written += result.written
        if judgement.deletes:
            self.stats.records_deleted += await remove_records(conn, judgement.deletes)
        head = (await index.repo_heads(conn, [commit.repo])).get(commit.repo) if judgement.invalid else None
        pds = (head.pds_url if head else None) or ""
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

    async def _queue_resync(self, conn: Conn, did: str) -> None:
        try:
            await self.engine.enqueue(conn, job_types.DID_SYNC.name, DidSyncParams(did=did), None)
        except QueueFull:
            # the head stays where it is: the repository's next commit will not chain and asks again
            log.warning("firehose: the operation queue is full; the resync of %s waits for its next commit", did)
