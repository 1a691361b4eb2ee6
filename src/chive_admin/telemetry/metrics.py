"""Prometheus metrics of this process, and per-endpoint latency figures for getEndpointMetrics.

One registry per process (one server per process). Gauges that mirror the database (operations by type and status,
dead-letter queue size) are refreshed when metrics are read, not kept in step on every write. So are the firehose
series: the live indexer keeps plain counters, and :class:`FirehoseCollector` turns them into families per source
when metrics are read (nothing on the indexer's hot path).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector

from chive_admin.store import dead_letters
from chive_admin.store.db import Database
from chive_admin.store.operations import STATUSES, counts_by_type_and_status

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)

REQUESTS = Counter(
    "chive_admin_requests",
    "XRPC requests answered, by method NSID and HTTP status",
    ["nsid", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "chive_admin_request_seconds",
    "Time to answer an XRPC request, by method NSID",
    ["nsid"],
    registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
AUTH_REFUSALS = Counter(
    "chive_admin_auth_refusals", "Admin calls refused by authentication, by reason code", ["reason"], registry=REGISTRY
)
UPSTREAM_CALLS = Counter(
    "chive_admin_upstream_calls",
    "Upstream call attempts (PDS, PLC), by host and outcome",
    ["host", "outcome"],
    registry=REGISTRY,
)
#: not by host: DID documents are fetched from hosts that anyone can name in a token (one series each, unbounded)
UPSTREAM_BYTES = Counter(
    "chive_admin_upstream_bytes",
    "Bytes of upstream answers, as received (wire) and as inflated from compressed answers",
    ["form"],
    registry=REGISTRY,
)
RECORDS_INGESTED = Counter(
    "chive_admin_records_ingested",
    "Records written to the index (new or changed), by collection",
    ["collection"],
    registry=REGISTRY,
)
OPERATIONS = Gauge(
    "chive_admin_operations",
    "Backfill operations in the database, by type and status",
    ["type", "status"],
    registry=REGISTRY,
)
DLQ_SIZE = Gauge("chive_admin_dlq_entries", "Entries in the dead-letter queue", registry=REGISTRY)


@dataclass(frozen=True)
class SourceFigures:
    """One firehose source's counters since this process started consuming it. Label values come from fixed sets
    (kinds, outcomes) and the operator's configured URL, never from what a source sends."""

    source: str
    connected: bool
    #: events received, by kind
    events: Mapping[str, int]
    #: commits judged, by outcome (applied, replayed, ignored, resynced, refused, foreign, held)
    commits: Mapping[str, int]
    #: records written and deleted
    records: Mapping[str, int]
    dead_lettered: int
    #: frames that were no event (undecodable, too large)
    frames_refused: Mapping[str, int]
    lag_seconds: float | None
    cursor: int | None
    reconnects: int


class FirehoseCollector:
    """The ``chive_admin_firehose_*`` families of the sources given at the last :func:`refresh`."""

    def __init__(self) -> None:
        self.sources: Sequence[SourceFigures] = ()

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        prefix = "chive_admin_firehose"
        events = CounterMetricFamily(
            f"{prefix}_events", "Events received from a source, by kind", labels=["source", "kind"]
        )
        commits = CounterMetricFamily(f"{prefix}_commits", "Commits judged, by outcome", labels=["source", "outcome"])
        records = CounterMetricFamily(f"{prefix}_records", "Records written or deleted", labels=["source", "change"])
        dead = CounterMetricFamily(
            f"{prefix}_dead_lettered", "Invalid records sent to the dead-letter queue", labels=["source"]
        )
        refused = CounterMetricFamily(
            f"{prefix}_frames_refused", "Frames that were no event, by reason", labels=["source", "reason"]
        )
        reconnects = CounterMetricFamily(
            f"{prefix}_reconnects", "Connections lost or not made (each is dialled again)", labels=["source"]
        )
        connected = GaugeMetricFamily(f"{prefix}_connected", "1 while the source's stream is open", labels=["source"])
        lag = GaugeMetricFamily(
            f"{prefix}_lag_seconds",
            "Age of the oldest event received and not yet committed (0 when all are)",
            labels=["source"],
        )
        cursor = GaugeMetricFamily(f"{prefix}_cursor", "The last sequence committed", labels=["source"])
        for figures in self.sources:
            url = figures.source
            for kind, n in figures.events.items():
                events.add_metric([url, kind], n)
            for outcome, n in figures.commits.items():
                commits.add_metric([url, outcome], n)
            for change, n in figures.records.items():
                records.add_metric([url, change], n)
            for reason, n in figures.frames_refused.items():
                refused.add_metric([url, reason], n)
            dead.add_metric([url], figures.dead_lettered)
            reconnects.add_metric([url], figures.reconnects)
            connected.add_metric([url], int(figures.connected))
            if figures.lag_seconds is not None:
                lag.add_metric([url], figures.lag_seconds)
            if figures.cursor is not None:
                cursor.add_metric([url], figures.cursor)
        yield from (events, commits, records, dead, refused, reconnects, connected, lag, cursor)


FIREHOSE = FirehoseCollector()
REGISTRY.register(FIREHOSE)

RESERVOIR = 2048


@dataclass
class _Endpoint:
    requests: int = 0
    errors: int = 0
    #: the most recent latencies, in microseconds: percentiles of recent traffic, in bounded memory
    recent: deque[int] = field(default_factory=lambda: deque(maxlen=RESERVOIR))


@dataclass(frozen=True)
class EndpointFigures:
    method: str
    path: str
    requests: int
    errors: int
    p50_us: int | None
    p95_us: int | None
    p99_us: int | None


class Endpoints:
    def __init__(self) -> None:
        self._stats: dict[tuple[str, str], _Endpoint] = {}

    def observe(self, method: str, path: str, status: int, seconds: float) -> None:
        stats = self._stats.setdefault((method, path), _Endpoint())
        stats.requests += 1
        stats.errors += status >= 400
        stats.recent.append(int(seconds * 1_000_000))

    def figures(self) -> list[EndpointFigures]:
        out = []
        for (method, path), stats in sorted(self._stats.items()):
            ordered = sorted(stats.recent)

            def pick(q: float, ordered: list[int] = ordered) -> int | None:
                return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else None

            out.append(EndpointFigures(method, path, stats.requests, stats.errors, pick(0.5), pick(0.95), pick(0.99)))
        return out


ENDPOINTS = Endpoints()


def count_upstream_attempt(host: str, outcome: str) -> None:
    """The upstream client's ``on_attempt`` observer."""
    UPSTREAM_CALLS.labels(host, outcome).inc()


def count_upstream_bytes(form: str, n: int) -> None:
    """The upstream transport's ``on_bytes`` observer."""
    UPSTREAM_BYTES.labels(form).inc(n)


def observe_request(nsid: str, method: str, status: int, started: float) -> None:
    elapsed = time.perf_counter() - started
    REQUESTS.labels(nsid, str(status)).inc()
    LATENCY.labels(nsid).observe(elapsed)
    ENDPOINTS.observe(method, f"/xrpc/{nsid}", status, elapsed)


async def refresh(db: Database, firehose: Sequence[SourceFigures] = ()) -> None:
    """Bring the database-backed gauges, and the firehose series of the sources given, up to date before metrics are
    read."""
    FIREHOSE.sources = tuple(firehose)
    async with db.read() as conn:
        rows = await counts_by_type_and_status(conn)
        size = await dead_letters.count(conn)
    OPERATIONS.clear()
    seen = {(str(r[0]), str(r[1])) for r in rows}
    for op_type in {t for t, _ in seen}:
        for status in STATUSES:  # every status of a known type, zeros included, so rates and alerts work
            OPERATIONS.labels(op_type, status).set(0)
    for op_type, status, count in rows:
        OPERATIONS.labels(str(op_type), str(status)).set(int(count))
    DLQ_SIZE.set(size)


def exposition() -> bytes:
    return generate_latest(REGISTRY)


def families() -> list[Metric]:
    return list(REGISTRY.collect())
