"""getPrometheusMetrics: the process's metric families as JSON, each sample with its labels and a string value."""

from __future__ import annotations

from support.admin_api import USER, Api, answer, refusal

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import get_prometheus_metrics

METHOD = ids.PUB_CHIVE_ADMIN_GET_PROMETHEUS_METRICS


async def test_families_with_labelled_samples(api: Api) -> None:
    await api.get(ids.PUB_CHIVE_ADMIN_LIST_PDSES)
    await api.stored_op("full-reindex", {"batchSize": 10}, status="completed")
    response = await api.get(METHOD)
    output = answer(response, get_prometheus_metrics.Output)
    names = {m.name for m in output.metrics}
    assert {"chive_admin_requests", "chive_admin_operations", "chive_admin_dlq_entries"} <= names
    assert all(m.type in ("counter", "gauge", "histogram", "summary") for m in output.metrics)
    families = {m["name"]: m for m in response.json()["metrics"]}
    requests = families["chive_admin_requests"]["values"]
    assert any(v["labels"].get("nsid") == ids.PUB_CHIVE_ADMIN_LIST_PDSES for v in requests)
    operations = families["chive_admin_operations"]["values"]  # refreshed from the database for this answer
    completed = next(
        v
        for v in operations
        if v["labels"] == {"__name__": "chive_admin_operations", "type": "full-reindex", "status": "completed"}
    )
    assert completed["value"] == "1"
    buckets = [v for v in families["chive_admin_request_seconds"]["values"] if "le" in v["labels"]]
    assert any(v["labels"]["le"] == "+Inf" for v in buckets)
    assert output.timestamp.endswith("Z")


async def test_refused_to_a_caller_without_the_admin_role(api: Api) -> None:
    refusal(await api.get(METHOD, headers=USER), 403, "AdminRequired")
