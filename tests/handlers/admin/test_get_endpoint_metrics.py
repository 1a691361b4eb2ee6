"""getEndpointMetrics: per-endpoint requests, errors (rate in basis points) and recent latency percentiles."""

from __future__ import annotations

from support.admin_api import USER, Api, answer, refusal

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import get_endpoint_metrics

METHOD = ids.PUB_CHIVE_ADMIN_GET_ENDPOINT_METRICS
PDSES = ids.PUB_CHIVE_ADMIN_LIST_PDSES


async def test_each_endpoint_with_its_traffic_and_errors(api: Api) -> None:
    before = answer(await api.get(METHOD), get_endpoint_metrics.Output)  # the figures are the process's own
    old = next((m for m in before.metrics if m.path == f"/xrpc/{PDSES}"), None)
    await api.get(PDSES)
    await api.get(PDSES, {"limit": 0})
    output = answer(await api.get(METHOD), get_endpoint_metrics.Output)
    pdses = next(m for m in output.metrics if m.path == f"/xrpc/{PDSES}")
    assert pdses.method == "GET"
    assert pdses.request_count - (old.request_count if old else 0) == 2
    assert pdses.error_count - (old.error_count if old else 0) == 1
    assert pdses.error_rate == round(pdses.error_count * 10_000 / pdses.request_count)
    assert pdses.p50 is not None
    assert pdses.p99 is not None
    assert 0 < pdses.p50 <= pdses.p99


async def test_refused_to_a_caller_without_the_admin_role(api: Api) -> None:
    refusal(await api.get(METHOD, headers=USER), 403, "AdminRequired")
