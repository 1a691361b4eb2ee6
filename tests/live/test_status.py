"""A source makes the server degraded only past its bounds (down for more than a minute, lagging by more than a
minute), and its Prometheus figures are the indexer's counters under fixed labels."""

from __future__ import annotations

from typing import cast

from support.clock import ManualClock
from support.engine import engine_config
from support.firehose import handle_verifier

from chive_admin.auth.identity import IdentityResolver
from chive_admin.backfill.engine import Engine
from chive_admin.backfill.job_types import build_registry
from chive_admin.backfill.jobs import BUILTIN_JOBS
from chive_admin.live import status
from chive_admin.live.indexer import LiveIndexer
from chive_admin.settings import FIREHOSE_DOWN_DEGRADED_S, FIREHOSE_LAG_DEGRADED_S
from chive_admin.store.db import Database
from chive_admin.upstream.firehose import Connected, Disconnected, Passing

SOURCE = "https://relay.example"


def indexer(db: Database, clock: ManualClock) -> LiveIndexer:
    engine = Engine(db, build_registry(BUILTIN_JOBS, ()), engine_config())
    return LiveIndexer(
        SOURCE, db, cast(IdentityResolver, object()), handle_verifier(), engine, allow_private=True, clock=clock
    )


async def test_down_for_more_than_the_bound_is_a_problem(db: Database) -> None:
    clock = ManualClock()
    live = indexer(db, clock)
    clock.now += FIREHOSE_DOWN_DEGRADED_S
    assert status.problem(live, clock()) is None  # never connected, but not for long yet
    clock.now += 1
    assert "disconnected for 61 s" in (status.problem(live, clock()) or "")
    live.stats.flow.received(Connected(None), clock())
    clock.now += 3600
    assert status.problem(live, clock()) is None  # connected and nothing pending
    live.stats.flow.received(Disconnected("closed"), clock())
    clock.now += 30
    live.stats.flow.received(Disconnected("cannot connect"), clock())  # a failed redial does not reset the age
    clock.now += 31
    assert status.problem(live, clock()) is not None


async def test_lagging_more_than_the_bound_is_a_problem(db: Database) -> None:
    clock = ManualClock()
    live = indexer(db, clock)
    flow = live.stats.flow
    flow.received(Connected(None), clock())
    flow.received(Passing(1, "#identity", None, clock() - FIREHOSE_LAG_DEGRADED_S), clock())
    assert status.problem(live, clock()) is None
    clock.now += 1
    assert "lags the source by 61 s" in (status.problem(live, clock()) or "")
    flow.done(2)
    assert status.problem(live, clock()) is None


async def test_figures_are_the_counters_under_fixed_labels(db: Database) -> None:
    clock = ManualClock()
    live = indexer(db, clock)
    stats = live.stats
    stats.flow.received(Connected(None), clock())
    stats.flow.received(Passing(9, "#made-up-by-a-source", None, clock() - 2.5), clock())
    stats.applied, stats.refused, stats.records_written, stats.cursor = 3, 1, 7, 8
    stats.foreign, stats.held = 2, 5
    figures = status.figures(live)
    assert figures.source == SOURCE
    assert figures.connected
    assert figures.events["other"] == 1
    assert figures.commits == {
        "applied": 3,
        "replayed": 0,
        "ignored": 0,
        "resynced": 0,
        "refused": 1,
        "foreign": 2,
        "held": 5,
    }
    assert figures.records == {"written": 7, "deleted": 0}
    assert (figures.lag_seconds, figures.cursor, figures.reconnects) == (2.5, 8, 0)
