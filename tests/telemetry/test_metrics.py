"""Prometheus metrics: /metrics (admin or scrape token), getPrometheusMetrics, getEndpointMetrics — real counts."""

from __future__ import annotations

import pytest
from conftest import AppFactory, running_client
from prometheus_client.parser import text_string_to_metric_families
from support.auth import FixedTokens

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import get_endpoint_metrics, get_prometheus_metrics

ADMIN = {"Authorization": "Bearer admin"}
TOKEN = "scrape-token-0123456789"


def sample(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return 0.0


async def test_metrics_count_requests_and_refusals(make_app: AppFactory) -> None:
    app = make_app(authenticator=FixedTokens(), metrics_token=TOKEN)
    status = ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS
    async for client in running_client(app):
        before = (await client.get("/metrics", headers=ADMIN)).text
        for _ in range(3):
            await client.get(f"/xrpc/{status}", headers=ADMIN)
        await client.get(f"/xrpc/{status}")
        await client.get(f"/xrpc/{status}", headers={"Authorization": "Bearer user"})
        after = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        refused = await client.get("/metrics")
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer not-the-token-at-all"})
    assert after.status_code == 200
    assert after.headers["content-type"].startswith("text/plain")
    text = after.text
    for code, delta in (("200", 3), ("401", 1), ("403", 1)):
        got = sample(text, "chive_admin_requests_total", nsid=status, status=code)
        assert got - sample(before, "chive_admin_requests_total", nsid=status, status=code) == delta
    assert sample(text, "chive_admin_request_seconds_count", nsid=status) >= 5
    assert sample(text, "chive_admin_dlq_entries") == 0
    assert sample(text, "process_resident_memory_bytes") > 0
    assert (refused.status_code, wrong.status_code) == (401, 401)


async def test_prometheus_and_endpoint_metrics_as_json(make_app: AppFactory) -> None:
    async for client in running_client(make_app(authenticator=FixedTokens())):
        await client.get(f"/xrpc/{ids.PUB_CHIVE_ADMIN_LIST_PDSES}", headers=ADMIN)
        await client.get(f"/xrpc/{ids.PUB_CHIVE_ADMIN_LIST_PDSES}", params={"limit": "0"}, headers=ADMIN)
        prom = await client.get(f"/xrpc/{ids.PUB_CHIVE_ADMIN_GET_PROMETHEUS_METRICS}", headers=ADMIN)
        endpoints = await client.get(f"/xrpc/{ids.PUB_CHIVE_ADMIN_GET_ENDPOINT_METRICS}", headers=ADMIN)
    output = get_prometheus_metrics.Output.model_validate(prom.json(), strict=True, by_alias=True, by_name=False)
    names = {m.name for m in output.metrics}
    assert {"chive_admin_requests", "chive_admin_operations", "chive_admin_dlq_entries"} <= names
    requests = next(m for m in prom.json()["metrics"] if m["name"] == "chive_admin_requests")
    assert any(v["labels"].get("nsid") == ids.PUB_CHIVE_ADMIN_LIST_PDSES for v in requests["values"])
    figures = get_endpoint_metrics.Output.model_validate(endpoints.json(), strict=True, by_alias=True, by_name=False)
    pdses = next(m for m in figures.metrics if m.path == f"/xrpc/{ids.PUB_CHIVE_ADMIN_LIST_PDSES}")
    assert pdses.request_count >= 2
    assert pdses.error_count >= 1
    assert pdses.p50 is not None
    assert pdses.p50 > 0


@pytest.mark.parametrize("token", ["short", "has space in it 12345", ""])
def test_metrics_token_is_checked(token: str) -> None:
    from chive_admin.settings import SettingsError, build

    kwargs = dict.fromkeys(
        (
            "host",
            "port",
            "db",
            "service_did",
            "admin_dids",
            "plc_url",
            "governance_did",
            "workers",
            "allow_private_network",
            "log_level",
        ),
    )
    if token:
        with pytest.raises(SettingsError, match="--metrics-token"):
            build(**kwargs, metrics_token=token, environ={})  # type: ignore[arg-type]
    else:
        assert build(**kwargs, metrics_token=token, environ={}).metrics_token is None  # type: ignore[arg-type]
