"""Recording views and downloads: answered at once, written in batches.

A call checks that its uri is a visible eprint of the index (a read, remembered a minute for the uris found), then
its event waits in memory and the call is answered. A writer task commits what waits every ``FLUSH_SECONDS`` (or
as soon as ``MAX_BATCH`` events wait) in one transaction: a burst of views costs a few transactions, not one fsync
each, and a caller never waits on one. Events not yet written when the process dies are lost (at most a fraction of
a second of them): these are counts for analytics, which Chive itself keeps in Redis. At most ``MAX_PENDING`` events
wait; past it a call is refused with 503 rather than queued without bound, and a batch the database refuses is
retried, its events dropped (and logged) only when the queue is full.

The viewer is a salted HMAC of the viewer's DID, else of the client address: the raw address is never stored, and
the salt (a server secret in ``server_meta``) keeps the hash of an address from being recomputed by anyone who
reads the database.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from chive_admin.clock import utc_now
from chive_admin.engagement.analytics import hour_of
from chive_admin.flusher import Flusher
from chive_admin.store import engagement
from chive_admin.store.db import Database
from chive_admin.ttl_cache import TtlCache
from chive_admin.xrpc.errors import XRPCError

log = logging.getLogger(__name__)

#: events waiting for a transaction at most (then 503 NotEnoughResources)
MAX_PENDING = 10_000
#: events written per transaction at most
MAX_BATCH = 1_000
#: seconds an event waits for its transaction at most
FLUSH_SECONDS = 0.2
#: eprint uris remembered as found, and for how long (a takedown is seen within that time)
KNOWN_URIS = 100_000
KNOWN_SECONDS = 60.0
#: characters of a search impression id at most (our recordImpression's maxLength)
MAX_IMPRESSION_ID = 128


class Recorded(enum.Enum):
    #: waiting for its transaction: it counts unless the same viewer was counted on that eprint in that hour
    ACCEPTED = "accepted"
    #: the uri is not a visible eprint of the index
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class _Pending:
    uri: str
    kind: engagement.Kind
    hour: int
    viewer: str


class EngagementRecorder:
    def __init__(
        self,
        db: Database,
        *,
        clock: Callable[[], datetime] = utc_now,
        max_pending: int = MAX_PENDING,
        flush_seconds: float = FLUSH_SECONDS,
    ) -> None:
        self._db = db
        #: tests move it across hours, days and weeks
        self.clock = clock
        self._max_pending = max_pending
        self._pending: list[_Pending] = []
        self._flusher = Flusher(self.flush, flush_seconds, "engagement flush", log)
        self._lock = asyncio.Lock()
        self._known: TtlCache[str, bool] = TtlCache(KNOWN_URIS, KNOWN_SECONDS)
        self._key: bytes | None = None
        self._pruned_hour: int | None = None
        #: events counted and found repeated by the transactions so far (tests and logs)
        self.counted = 0
        self.repeats = 0

    async def record(self, uri: str, kind: engagement.Kind, viewer_did: str | None, address: str | None) -> Recorded:
        """Accept a view or download of ``uri`` by the viewer (its DID, else the client address)."""
        if self._known.get(uri) is None:
            async with self._db.read() as conn:
                if uri not in await engagement.indexed_eprints(conn, [uri]):
                    return Recorded.NOT_FOUND
            self._known.put(uri, True)
        if len(self._pending) >= self._max_pending:
            raise XRPCError.named(
                "NotEnoughResources", "Too many events are waiting to be recorded", headers={"Retry-After": "1"}
            )
        viewer = f"did {viewer_did}" if viewer_did else f"address {address or ''}"
        self._pending.append(_Pending(uri, kind, hour_of(self.clock()), viewer))
        if len(self._pending) >= MAX_BATCH:
            self._flusher.due()
        return Recorded.ACCEPTED

    async def flush(self) -> None:
        """Write every event waiting now (the writer does it by itself; tests and shutdown ask)."""
        async with self._lock:
            while self._pending:
                batch = self._pending[:MAX_BATCH]
                await self._write(batch)
                del self._pending[: len(batch)]

    def start(self) -> None:
        self._flusher.start()

    async def stop(self) -> None:
        """Stop the writer and write what waits."""
        try:
            await self._flusher.stop()
        except Exception:
            log.exception("%d engagement events could not be written at shutdown", len(self._pending))

    async def _write(self, batch: list[_Pending]) -> None:
        now_hour = hour_of(self.clock())
        async with self._db.write() as conn:
            key = self._key or bytes.fromhex(await engagement.salt(conn, secrets.token_hex(32)))
            if self._pruned_hour != now_hour:
                await engagement.prune(conn, now_hour)
            counted = await engagement.record(
                conn, [engagement.Event(p.uri, p.kind, p.hour, _viewer_hash(key, p.viewer)) for p in batch]
            )
        self._key, self._pruned_hour = key, now_hour
        self.counted += sum(counted)
        self.repeats += len(counted) - sum(counted)

    async def impression(self, impression_id: str, result_count: int) -> bool:
        """Keep a search impression for a day; whether its id was new."""
        async with self._db.write() as conn:
            return await engagement.record_impression(conn, impression_id, result_count, hour_of(self.clock()))

    async def search_event(self, impression_id: str, kind: engagement.SearchKind, uri: str, dwell_ms: int = 0) -> bool:
        """Count a click, dwell time or download on a result of a kept impression, once per result; 400 for an
        impression id not kept (unknown, or older than a day)."""
        if len(impression_id) > MAX_IMPRESSION_ID:  # Chive's lexicon sets no bound; a UUID is 36 characters
            raise XRPCError.invalid_request(f"impressionId: at most {MAX_IMPRESSION_ID} characters")
        async with self._db.write() as conn:
            if not await engagement.impression_known(conn, impression_id):
                raise XRPCError.invalid_request(f"Unknown search impression {impression_id!r}")
            return await engagement.record_search_event(conn, impression_id, kind, uri, hour_of(self.clock()), dwell_ms)


def _viewer_hash(key: bytes, viewer: str) -> str:
    return hmac.new(key, viewer.encode(), hashlib.sha256).hexdigest()[:32]
