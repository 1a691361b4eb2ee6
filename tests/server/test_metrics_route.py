"""``GET /metrics``: the Prometheus text for an admin credential or for the scrape token, for nobody else."""

from __future__ import annotations

import pytest
from conftest import AppFactory
from prometheus_client.parser import text_string_to_metric_families
from support.admin_api import ADMIN, USER, refusal, serving
from support.auth import FixedTokens
from support.clock import ManualClock
from support.firehose import idle_indexer

from chive_admin.server.metrics_route import CONTENT_TYPE
from chive_admin.upstream.firehose import Connected, Passing

TOKEN = "scrape-token-0123456789"


async def test_an_admin_or_the_scrape_token_reads_the_exposition(make_app: AppFactory) -> None:
    async with serving(make_app(authenticator=FixedTokens(), metrics_token=TOKEN)) as api:
        as_admin = await api.client.get("/metrics", headers=ADMIN)
        as_scraper = await api.client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    for response in (as_admin, as_scraper):
        assert response.status_code == 200
        assert response.headers["content-type"] == CONTENT_TYPE
        names = {family.name for family in text_string_to_metric_families(response.text)}
        assert {"chive_admin_requests", "chive_admin_dlq_entries", "process_resident_memory_bytes"} <= names


@pytest.mark.parametrize(
    ("headers", "status", "error"),
    [
        ({}, 401, "AuthenticationRequired"),
        ({"Authorization": "Bearer not-the-token-at-all"}, 401, "AuthenticationRequired"),
        ({"Authorization": f"Bearer {TOKEN}x"}, 401, "AuthenticationRequired"),
        ({"Authorization": TOKEN}, 401, "AuthenticationRequired"),
        (USER, 403, "AdminRequired"),
    ],
)
async def test_anyone_else_is_refused_as_by_an_admin_method(
    make_app: AppFactory, headers: dict[str, str], status: int, error: str
) -> None:
    async with serving(make_app(authenticator=FixedTokens(), metrics_token=TOKEN)) as api:
        refusal(await api.client.get("/metrics", headers=headers), status, error)


async def test_without_a_scrape_token_only_admins_read_it(make_app: AppFactory) -> None:
    async with serving(make_app(authenticator=FixedTokens())) as api:
        for header in ("Bearer ", "Bearer None", "Bearer"):
            refusal(await api.client.get("/metrics", headers={"Authorization": header}), 401, "AuthenticationRequired")
        assert (await api.client.get("/metrics", headers=ADMIN)).status_code == 200


async def test_the_firehose_series_per_source(make_app: AppFactory) -> None:
    async with serving(make_app(authenticator=FixedTokens())) as api:
        text = (await api.client.get("/metrics", headers=ADMIN)).text
        assert "chive_admin_firehose_connected{" not in text  # live indexing off: no series
        clock = ManualClock()
        live = idle_indexer(api.services, "https://relay.example", clock)
        live.stats.flow.received(Connected(None), clock())
        live.stats.flow.received(Passing(4, "#identity", "did:plc:someone", clock() - 3.0), clock())
        live.stats.applied, live.stats.records_deleted, live.stats.cursor = 2, 1, 3
        text = (await api.client.get("/metrics", headers=ADMIN)).text
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        if family.name.startswith("chive_admin_firehose")
        for sample in family.samples
    }
    source = ("source", "https://relay.example")
    assert samples[("chive_admin_firehose_events_total", (("kind", "identity"), source))] == 1
    assert samples[("chive_admin_firehose_events_total", (("kind", "commit"), source))] == 0
    assert samples[("chive_admin_firehose_commits_total", (("outcome", "applied"), source))] == 2
    assert samples[("chive_admin_firehose_records_total", (("change", "deleted"), source))] == 1
    assert samples[("chive_admin_firehose_connected", (source,))] == 1
    assert samples[("chive_admin_firehose_lag_seconds", (source,))] == 3.0
    assert samples[("chive_admin_firehose_cursor", (source,))] == 3
    assert samples[("chive_admin_firehose_reconnects_total", (source,))] == 0
    assert samples[("chive_admin_firehose_frames_refused_total", (("reason", "too_large"), source))] == 0
    # no label value comes from what a source sent
    assert not any("did:plc" in value for _, labels in samples for _, value in labels)
