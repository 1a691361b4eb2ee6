"""What a dashboard reads of one firehose source: its connection, its events by kind, how far the index lags.

Fed from two sides: :meth:`Flow.received` sees each event as it leaves the socket (before the bounded queue, where
it may wait behind a backlog), :meth:`Flow.done` is told how many the indexer has finished with (committed, or
skipped as replays). The events between the two are the ones the index does not show yet; ``pending`` mirrors them
in order, so it holds no more than the queue's bound plus one batch and one event being put.

**Lag** is how stale the index is: now minus the event time of the oldest event received and not yet committed,
zero when every received event is committed. (Not "now minus the last committed event": after an idle hour, that
would read an hour the moment one new event arrives.) Event times are the source's clock; a source ahead of ours
reads as no lag, never a negative one.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from chive_admin.upstream.firehose import (
    Account,
    Commit,
    Connected,
    Disconnected,
    Event,
    Identity,
    Info,
    Passing,
    Sequenced,
    StreamError,
    Sync,
)

#: events by kind, as counted and labelled: a fixed set (a kind named by a source is never a label)
EVENT_KINDS = ("commit", "identity", "account", "sync", "info", "error", "other")
#: the window ``events_last_minute`` counts over, in seconds
RATE_WINDOW = 60
#: in ``pending``, what is no stream event (a connection made or lost): it holds the place, never the lag
NOT_AN_EVENT = math.inf


def event_kind(event: Event) -> str | None:
    """The kind an event is counted under; ``None`` for what is no stream event (connections, bad frames)."""
    if isinstance(event, Commit):
        return "commit"
    if isinstance(event, Identity):
        return "identity"
    if isinstance(event, Account):
        return "account"
    if isinstance(event, Sync):
        return "sync"
    if isinstance(event, Passing):
        kind = event.kind.removeprefix("#")
        return kind if kind in EVENT_KINDS else "other"
    if isinstance(event, Info):
        return "info"
    if isinstance(event, StreamError):
        return "error"
    return None


def _time(event: Event) -> float | None:
    return event.time if isinstance(event, Sequenced) else None


@dataclass
class Flow:
    #: when (epoch seconds) the connection last came up or went down; first, when the indexer started
    since: float
    connected: bool = False
    connections: int = 0
    #: connections that ended or could not be made (each is followed by a new dial, after the backoff)
    reconnects: int = 0
    events: dict[str, int] = field(default_factory=lambda: dict.fromkeys(EVENT_KINDS, 0))
    #: event times of the newest sequenced event received and of the last one the indexer finished with
    newest_event_at: float | None = None
    applied_event_at: float | None = None
    #: the event time (``None``: none given) of every event received and not yet done with, oldest first
    pending: deque[float | None] = field(default_factory=deque)
    #: (second, events received in it), the last ``RATE_WINDOW`` seconds
    _seconds: deque[list[int]] = field(default_factory=deque)

    def received(self, event: Event, now: float) -> None:
        kind = event_kind(event)
        moment = _time(event)
        self.pending.append(NOT_AN_EVENT if kind is None else moment)
        if isinstance(event, Connected):
            self.connected, self.since = True, now
            self.connections += 1
        elif isinstance(event, Disconnected):
            self.reconnects += 1
            self.down(now)
        if kind is None:
            return
        self.events[kind] += 1
        if moment is not None:
            self.newest_event_at = moment if self.newest_event_at is None else max(self.newest_event_at, moment)
        second = int(now)
        if self._seconds and self._seconds[-1][0] == second:
            self._seconds[-1][1] += 1
        else:
            self._seconds.append([second, 1])
            self._forget(now)

    def down(self, now: float) -> None:
        """The connection is gone (or the indexer stopped); a failed re-dial does not move ``since``."""
        if self.connected:
            self.connected, self.since = False, now

    def done(self, count: int) -> None:
        """The indexer has committed (or skipped) the next ``count`` events received."""
        for _ in range(min(count, len(self.pending))):
            moment = self.pending.popleft()
            if moment is not None and moment != NOT_AN_EVENT:
                self.applied_event_at = moment

    def restart(self) -> None:
        """What was received and not done with is dropped (the indexer starts again from its cursor)."""
        self.pending.clear()

    def lag(self, now: float) -> float | None:
        """Seconds the index is behind the source; ``None`` when the oldest pending event carries no time."""
        for moment in self.pending:
            if moment != NOT_AN_EVENT:
                return None if moment is None else max(0.0, now - moment)
        return 0.0

    def events_last_minute(self, now: float) -> int:
        self._forget(now)
        return sum(count for _, count in self._seconds)

    def _forget(self, now: float) -> None:
        while self._seconds and self._seconds[0][0] <= now - RATE_WINDOW:
            self._seconds.popleft()
