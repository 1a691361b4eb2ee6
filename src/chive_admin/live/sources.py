"""The sources of live indexing, each read by one :class:`~chive_admin.live.indexer.LiveIndexer` with its own cursor.

- **A relay** (``--firehose-url``): one source that speaks for every repository.
- **The registry's PDSes** (``--firehose-pdses``): one source per host of the PDS registry, the registry read again
  every ``poll_seconds`` so that hosts registered later (a pds-scan, a did-sync) are subscribed to as well. A PDS
  speaks only for the accounts it hosts: a commit of a repository whose registered PDS is another host is not
  believed (``foreign``, counted and logged), whatever its signature. A PDS holds its accounts' signing keys, so
  after an account moves away its old host can still sign commits under a key that was not rotated, and can replay
  the account's old commits at will; and two hosts' streams of one repository would interleave, each breaking the
  other's chain. When the DID document itself names this source (a move the registry has not seen yet), the
  repository is resynced instead: the did-sync records its new PDS.
- **One reader per source**: on a database shared by processes (PostgreSQL), a process reads a source only while
  it holds the source's lease (:mod:`chive_admin.store.firehose_leases`), renewed every third of ``--lease-seconds``
  and in every batch's transaction; one that loses it stops reading, and another process takes the source over,
  from its committed cursor, once the lease has run out (at once after a clean stop, which gives it up). A process
  that owns its database (SQLite's owner lock: a second ``serve`` on the file is refused) needs no lease.
- **Health**: a live connection to a registered PDS counts as a scan's contact does: ``unhealthy_after``
  connections failing in a row mark the host ``unhealthy`` in the registry, the next one made ``healthy``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import socket
import uuid
from dataclasses import dataclass, field
from enum import Enum

from chive_admin.auth.identity import IdentityError, IdentityResolver
from chive_admin.backfill.engine import Engine
from chive_admin.clock import now_stamp, stamp_in
from chive_admin.ingest.handles import HandleVerifier
from chive_admin.ingest.live_commit import Judgement, Verdict, touches_index
from chive_admin.live.indexer import LiveIndexer
from chive_admin.store import firehose_leases, index
from chive_admin.store.db import Database
from chive_admin.store.index import RepoHead
from chive_admin.store.sql import Conn
from chive_admin.upstream.firehose import Commit, FirehoseLimits
from chive_admin.upstream.urls import normalise_service_url, registry_key

log = logging.getLogger(__name__)

#: seconds between two readings of the PDS registry for hosts to subscribe to
PDS_POLL_SECONDS = 60.0
#: live connections to a PDS failing in a row after which the registry calls it unhealthy; more than a scan's
#: three, since a stream reconnects far more often than a host is scanned (backoff 1, 2, 4, 8 s: about 15 s down)
UNHEALTHY_AFTER = 5
#: PDS sources followed at most: each holds a connection and a bounded backlog, and anyone can run a PDS that a
#: did-sync then registers; past it, the hosts registered first are followed
MAX_PDS_SOURCES = 1000
#: connection outcomes waiting to be written to the registry at most (older ones are dropped past it)
_OUTCOMES = 64


class Standing(Enum):
    """What a source is to a repository."""

    #: it hosts the repository (or is a relay, which speaks for every one)
    HOST = "host"
    #: the DID document names this source but the registry another PDS: a move the index has not seen
    MOVED_HERE = "moved_here"
    #: another PDS hosts it
    FOREIGN = "foreign"


class LeaseLost(Exception):
    """This process no longer holds the source: it stops reading it."""


@dataclass(frozen=True)
class LiveConfig:
    relay: str | None = None
    pdses: bool = False
    allow_private: bool = False
    #: seconds a source's lease holds without renewal; ``None``: this process owns the database, no lease
    lease_seconds: float | None = None
    poll_seconds: float = PDS_POLL_SECONDS
    unhealthy_after: int = UNHEALTHY_AFTER
    max_pdses: int = MAX_PDS_SOURCES
    limits: FirehoseLimits = field(default_factory=FirehoseLimits)


class SourceGuard:
    """The :class:`~chive_admin.live.indexer.SourcePolicy` of one source: which repositories it speaks for, whether
    this process still holds it, and its connections' outcomes for the registry."""

    def __init__(
        self,
        source: str,
        identities: IdentityResolver,
        *,
        hosts_only: bool,
        holder: str,
        lease_seconds: float | None,
    ) -> None:
        self.source = source
        self.identities = identities
        self.hosts_only = hosts_only
        self.holder = holder
        self.lease_seconds = lease_seconds
        #: whether this process reads the source now (always, without a lease)
        self.held = lease_seconds is None
        #: set when a batch found the lease gone
        self.lost = asyncio.Event()
        self.outcomes: collections.deque[str | None] = collections.deque(maxlen=_OUTCOMES)
        self.outcome = asyncio.Event()

    async def admit(self, commit: Commit, head: RepoHead | None) -> Judgement | None:
        if not self.hosts_only or (head is None and not touches_index(commit)):
            return None  # a relay's, or of a repository the index neither holds nor would hold: judged as it is
        standing, reason = await self._standing(commit.repo, head)
        if standing is Standing.HOST:
            return None
        if standing is Standing.MOVED_HERE:
            return Judgement(Verdict.RESYNC, reason)  # the did-sync records its new PDS
        return Judgement(Verdict.FOREIGN, reason)

    async def speaks_for(self, did: str, head: RepoHead | None) -> bool:
        """Whether this source may speak for ``did`` (its ``#account``, ``#identity`` and ``#sync`` events as well as
        its commits): a relay always; a PDS for the accounts the registry, or failing it the DID document, puts on
        it."""
        return (await self._standing(did, head))[0] is not Standing.FOREIGN

    async def _standing(self, did: str, head: RepoHead | None) -> tuple[Standing, str]:
        if not self.hosts_only:
            return Standing.HOST, ""
        host = head.pds_url if head is not None else None
        if host == self.source:
            return Standing.HOST, ""
        try:
            identity = await self.identities.resolve(did)
        except (IdentityError, ValueError) as exc:
            return Standing.FOREIGN, f"not hosted here by the registry, and the DID does not resolve: {exc}"
        where = registry_key(identity.pds) if identity.pds else None
        if where != self.source:
            return Standing.FOREIGN, f"hosted by {where or host!r}, not by this source"
        # its DID document puts it here: a repository not held yet is this host's; a held one moved here
        return (Standing.HOST, "") if head is None else (Standing.MOVED_HERE, f"moved here from {host!r}")

    async def fence(self, conn: Conn) -> None:
        if self.lease_seconds is None:
            return
        if not await firehose_leases.hold(
            conn, self.source, self.holder, until=stamp_in(self.lease_seconds), now=now_stamp()
        ):
            self.lost.set()
            raise LeaseLost(f"{self.source}: the lease is no longer {self.holder}'s")

    def connection(self, made: bool, reason: str) -> None:
        self.outcomes.append(None if made else reason or "failed")
        self.outcome.set()


class LiveSources:
    """Every source this process may read, each in a task of its own, until cancelled."""

    def __init__(
        self, db: Database, identities: IdentityResolver, handles: HandleVerifier, engine: Engine, config: LiveConfig
    ) -> None:
        self.db = db
        self.identities = identities
        self.handles = handles
        self.engine = engine
        self.config = config
        #: this process among those sharing the database (the lease rows name it)
        self.holder = f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"
        self.indexers: dict[str, LiveIndexer] = {}
        self.guards: dict[str, SourceGuard] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._capped = False
        #: the relay's indexer, made at once (it exists before ``run``)
        self.relay = self._indexer(config.relay, hosts_only=False) if config.relay else None

    def consuming(self, source: str) -> bool:
        """Whether this process reads ``source`` now (another may hold its lease)."""
        guard = self.guards.get(source)
        return guard is not None and guard.held

    def _indexer(self, source: str, *, hosts_only: bool) -> LiveIndexer:
        config = self.config
        guard = SourceGuard(
            source, self.identities, hosts_only=hosts_only, holder=self.holder, lease_seconds=config.lease_seconds
        )
        indexer = LiveIndexer(
            source,
            self.db,
            self.identities,
            self.handles,
            self.engine,
            allow_private=config.allow_private,
            limits=config.limits,
            policy=guard,
        )
        self.guards[source] = guard
        self.indexers[source] = indexer
        return indexer

    async def run(self) -> None:
        try:
            while True:
                if self.config.relay:
                    self._keep(self.config.relay)
                if self.config.pdses:
                    await self._follow_registry()
                await asyncio.sleep(self.config.poll_seconds)
        finally:
            tasks = list(self._tasks.values())
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _follow_registry(self) -> None:
        try:
            async with self.db.read() as conn:
                # one more than followed: whether some are left out
                hosts = await index.oldest_pds_urls(conn, self.config.max_pdses + 1)
        except Exception as exc:  # the database away: the sources already read go on, the next poll looks again
            log.warning("firehose: cannot read the PDS registry: %s", exc)
            return
        if len(hosts) > self.config.max_pdses:
            hosts = hosts[: self.config.max_pdses]
            if not self._capped:
                log.warning(
                    "firehose: the registry holds over %d PDSes; those registered later are not followed",
                    self.config.max_pdses,
                )
            self._capped = True
        for host in hosts:
            if host in self._tasks or host == self.config.relay:
                self._keep(host)
                continue
            try:
                normalise_service_url(host)
            except ValueError:
                continue  # an endpoint that is no bare origin (kept as a DID document gave it): no firehose there
            log.info("firehose: subscribing to the registered PDS %r", host)
            self._keep(host)

    def _keep(self, source: str) -> None:
        """Start (or restart, had it ended by an error of its own) the task reading ``source``."""
        task = self._tasks.get(source)
        if task is not None and not task.done():
            return
        if task is not None and not task.cancelled() and task.exception() is not None:
            log.error("firehose %r: its reader failed; starting it again", source, exc_info=task.exception())
        if source not in self.indexers:
            self._indexer(source, hosts_only=True)
        self._tasks[source] = asyncio.create_task(self._source(source), name=f"firehose {source}")

    async def _source(self, source: str) -> None:
        guard, indexer = self.guards[source], self.indexers[source]
        async with asyncio.TaskGroup() as group:
            group.create_task(self._record_health(guard), name="firehose-health")
            if self.config.lease_seconds is None:
                group.create_task(indexer.run(), name="firehose-indexer")
            else:
                group.create_task(self._read_while_held(guard, indexer), name="firehose-lease")

    async def _read_while_held(self, guard: SourceGuard, indexer: LiveIndexer) -> None:
        try:
            while True:
                await self._acquire(guard)
                log.info("firehose %r: this process (%s) reads it now", guard.source, guard.holder)
                try:
                    async with asyncio.TaskGroup() as group:
                        group.create_task(indexer.run(), name="firehose-indexer")
                        group.create_task(self._renew(guard), name="firehose-renew")
                except* LeaseLost:
                    log.warning("firehose %r: the lease was lost; another process may read it now", guard.source)
                finally:
                    guard.held = False
                    indexer.stats.flow.down(indexer.clock())
        finally:
            # a clean stop gives the source up at once, not after the lease runs out
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    async with self.db.write() as conn:
                        await firehose_leases.release(conn, guard.source, guard.holder)

    async def _acquire(self, guard: SourceGuard) -> None:
        assert guard.lease_seconds is not None
        while True:
            try:
                async with self.db.write() as conn:
                    now = now_stamp()
                    if await firehose_leases.acquire(
                        conn, guard.source, guard.holder, until=stamp_in(guard.lease_seconds), now=now
                    ):
                        guard.lost.clear()
                        guard.held = True
                        return
            except Exception as exc:
                log.warning("firehose %r: cannot take its lease: %s", guard.source, exc)
            await asyncio.sleep(guard.lease_seconds / 3)

    async def _renew(self, guard: SourceGuard) -> None:
        """Renew the lease every third of its time; raise :class:`LeaseLost` once it is not ours (a batch found it
        gone, or the renewal did). A database out of reach only delays the renewal: no batch commits meanwhile."""
        assert guard.lease_seconds is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(guard.lost.wait(), guard.lease_seconds / 3)
            if guard.lost.is_set():
                raise LeaseLost(guard.source)
            try:
                async with self.db.write() as conn:
                    await guard.fence(conn)
            except LeaseLost:
                raise
            except Exception as exc:
                log.warning("firehose %r: cannot renew its lease: %s", guard.source, exc)

    async def _record_health(self, guard: SourceGuard) -> None:
        while True:
            await guard.outcome.wait()
            guard.outcome.clear()
            while guard.outcomes:
                error = guard.outcomes.popleft()
                try:
                    async with self.db.write() as conn:
                        await index.record_pds_connection(
                            conn, guard.source, now_stamp(), error=error, unhealthy_after=self.config.unhealthy_after
                        )
                except Exception as exc:
                    log.warning("firehose %r: cannot note its health in the registry: %s", guard.source, exc)
