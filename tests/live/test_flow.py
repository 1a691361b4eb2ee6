"""A source's flow: connection state that only moves on a change, events by kind (a fixed set), lag as the age of
the oldest event the index does not show yet, and the events of the last minute."""

from __future__ import annotations

from cbrrr import CID

from chive_admin.live.flow import EVENT_KINDS, Flow, event_kind
from chive_admin.upstream.firehose import (
    Commit,
    Connected,
    Disconnected,
    Info,
    Passing,
    StreamError,
    Undecodable,
)

CID0 = CID.cidv1_dag_cbor_sha256_32_from(b"x")


def commit(seq: int, time: float | None) -> Commit:
    return Commit(seq, "did:plc:x", "r", None, CID0, None, b"", (), False, time)


def test_events_are_counted_by_a_fixed_set_of_kinds() -> None:
    flow = Flow(since=0.0)
    for event in (
        commit(1, 1.0),
        Passing(2, "#identity", "did:plc:x"),
        Passing(3, "#account", None),
        Passing(4, "#sync", None),
        Passing(5, "#whatever-a-source-invents", None),
        Info("OutdatedCursor", None),
        StreamError("FutureCursor", None),
        Undecodable("bad"),
        Connected(None),
    ):
        flow.received(event, 10.0)
    assert set(flow.events) == set(EVENT_KINDS)
    assert all(count == 1 for count in flow.events.values())
    assert event_kind(Undecodable("x")) is None


def test_the_connection_age_moves_only_when_the_state_changes() -> None:
    flow = Flow(since=100.0)
    flow.received(Disconnected("cannot connect"), 110.0)  # never connected: still down since the start
    assert (flow.connected, flow.since, flow.reconnects) == (False, 100.0, 1)
    flow.received(Connected(None), 120.0)
    assert (flow.connected, flow.since, flow.connections) == (True, 120.0, 1)
    flow.received(Disconnected("closed"), 130.0)
    flow.received(Disconnected("cannot connect"), 140.0)
    assert (flow.connected, flow.since, flow.reconnects) == (False, 130.0, 3)


def test_lag_is_the_age_of_the_oldest_event_not_committed() -> None:
    flow = Flow(since=0.0)
    assert flow.lag(50.0) == 0.0
    flow.received(Connected(None), 1.0)
    assert flow.lag(50.0) == 0.0  # a connection is no event the index misses
    flow.received(commit(1, 10.0), 11.0)
    flow.received(commit(2, 20.0), 21.0)
    assert flow.lag(25.0) == 15.0
    flow.done(2)  # Connected and seq 1
    assert (flow.lag(25.0), flow.applied_event_at) == (5.0, 10.0)
    flow.done(1)
    assert (flow.lag(1000.0), flow.applied_event_at, flow.newest_event_at) == (0.0, 20.0, 20.0)


def test_an_idle_source_reads_no_lag_when_it_wakes() -> None:
    flow = Flow(since=0.0)
    flow.received(commit(1, 10.0), 10.0)
    flow.done(1)
    flow.received(commit(2, 3600.0), 3600.0)
    assert flow.lag(3600.5) == 0.5


def test_a_source_clock_ahead_is_no_negative_lag_and_a_missing_time_is_unknown() -> None:
    flow = Flow(since=0.0)
    flow.received(commit(1, 99.0), 10.0)
    assert flow.lag(10.0) == 0.0
    flow.done(1)
    flow.received(commit(2, None), 11.0)
    assert flow.lag(12.0) is None


def test_a_restart_drops_what_was_pending() -> None:
    flow = Flow(since=0.0)
    flow.received(commit(1, 1.0), 1.0)
    flow.restart()
    assert flow.lag(100.0) == 0.0


def test_events_of_the_last_minute() -> None:
    flow = Flow(since=0.0)
    for n in range(120):
        flow.received(commit(n, float(n)), 1000.0 + n / 2)  # two a second for a minute
    assert flow.events_last_minute(1059.9) == 120
    assert flow.events_last_minute(1089.0) == 60  # seconds 1030 to 1059
    assert flow.events_last_minute(2000.0) == 0
    assert len(flow._seconds) == 0  # nothing kept past the window
