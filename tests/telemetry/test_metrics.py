"""Prometheus metrics of this process: requests and refusals counted as they are answered, gauges of the database
brought up to date when read, endpoint percentiles over recent traffic."""

from __future__ import annotations

from conftest import AppFactory
from prometheus_client.parser import text_string_to_metric_families
from support.admin_api import ADMIN, USER, serving
from support.auth import FixedTokens

from chive_admin._generated import ids
from chive_admin.store.operations import STATUSES
from chive_admin.telemetry import metrics
from chive_admin.telemetry.metrics import RESERVOIR, Endpoints


def sample(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return 0.0


async def test_requests_and_refusals_are_counted(make_app: AppFactory) -> None:
    status = ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS
    async with serving(make_app(authenticator=FixedTokens())) as api:
        before = (await api.client.get("/metrics", headers=ADMIN)).text
        for _ in range(3):
            await api.get(status)
        await api.get(status, headers={})
        await api.get(status, headers=USER)
        after = (await api.client.get("/metrics", headers=ADMIN)).text
    for code, delta in (("200", 3), ("401", 1), ("403", 1)):
        got = sample(after, "chive_admin_requests_total", nsid=status, status=code)
        assert got - sample(before, "chive_admin_requests_total", nsid=status, status=code) == delta
    assert sample(after, "chive_admin_request_seconds_count", nsid=status) >= 5
    # by the authenticator's reason code; FixedTokens gives none
    refusals = sample(after, "chive_admin_auth_refusals_total", reason="unknown")
    assert refusals - sample(before, "chive_admin_auth_refusals_total", reason="unknown") == 1
    assert sample(after, "process_resident_memory_bytes") > 0


async def test_database_gauges_are_refreshed_when_read(make_app: AppFactory) -> None:
    async with serving(make_app(authenticator=FixedTokens())) as api:
        await api.stored_op("did-sync", {"did": "did:plc:abcdefghijklmnopqrstuvwx"}, status="failed")
        await api.stored_op("did-sync", {"did": "did:plc:bbcdefghijklmnopqrstuvwx"}, status="queued")
        await metrics.refresh(api.services.db)
        text = metrics.exposition().decode()
    for status in STATUSES:  # every status of a type that exists, zeros included
        expected = 1 if status in ("failed", "queued") else 0
        assert sample(text, "chive_admin_operations", type="did-sync", status=status) == expected
    assert sample(text, "chive_admin_dlq_entries") == 0


def test_upstream_observers_count_by_host_and_by_form() -> None:
    def upstream(name: str, **labels: str) -> float:
        return sample(metrics.exposition().decode(), name, **labels)

    calls = upstream("chive_admin_upstream_calls_total", host="pds.example", outcome="ok")
    wire = upstream("chive_admin_upstream_bytes_total", form="wire")
    metrics.count_upstream_attempt("pds.example", "ok")
    metrics.count_upstream_bytes("wire", 1234)
    assert upstream("chive_admin_upstream_calls_total", host="pds.example", outcome="ok") == calls + 1
    assert upstream("chive_admin_upstream_bytes_total", form="wire") == wire + 1234


def test_endpoint_figures_are_counts_and_percentiles_of_recent_latencies() -> None:
    endpoints = Endpoints()
    for n in range(1, 101):
        endpoints.observe("GET", "/xrpc/a.b.c", 200 if n % 10 else 500, n / 1_000_000)
    endpoints.observe("POST", "/xrpc/a.b.d", 400, 0.5)
    [get, post] = endpoints.figures()
    assert (get.method, get.path, get.requests, get.errors) == ("GET", "/xrpc/a.b.c", 100, 10)
    assert (get.p50_us, get.p95_us, get.p99_us) == (51, 96, 100)
    assert (post.requests, post.errors, post.p50_us, post.p99_us) == (1, 1, 500_000, 500_000)


def test_endpoint_latencies_are_kept_in_bounded_memory() -> None:
    endpoints = Endpoints()
    for _ in range(RESERVOIR):
        endpoints.observe("GET", "/xrpc/a.b.c", 200, 1.0)
    for _ in range(RESERVOIR):
        endpoints.observe("GET", "/xrpc/a.b.c", 200, 0.001)
    [figures] = endpoints.figures()
    assert figures.requests == 2 * RESERVOIR
    assert figures.p99_us == 1000  # the slow requests have left the reservoir
