"""pub.chive.admin.getEndpointMetrics: per-endpoint traffic, errors and recent latency percentiles."""

from __future__ import annotations

from chive_admin._generated.models.pub.chive.admin import get_endpoint_metrics as api
from chive_admin.handlers.call import Call
from chive_admin.telemetry import metrics


async def handle(call: Call[api.Params, None]) -> api.Output:
    return api.Output(
        metrics=[
            api.EndpointMetric(
                method=f.method,
                path=f.path,
                request_count=f.requests,
                error_count=f.errors,
                error_rate=round(f.errors * 10_000 / f.requests) if f.requests else 0,
                p50=f.p50_us,
                p95=f.p95_us,
                p99=f.p99_us,
            )
            for f in metrics.ENDPOINTS.figures()
        ]
    )
