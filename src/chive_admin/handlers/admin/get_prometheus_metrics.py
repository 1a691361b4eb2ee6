"""pub.chive.admin.getPrometheusMetrics: the process's Prometheus metrics as JSON."""

from __future__ import annotations

import math

from chive_admin._generated.models.pub.chive.admin import get_prometheus_metrics as api
from chive_admin.clock import now_stamp
from chive_admin.handlers.call import Call
from chive_admin.telemetry import metrics

_TYPES = {"counter", "gauge", "histogram", "summary"}


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(int(value)) if value == int(value) else repr(value)


async def handle(call: Call[api.Params, None]) -> api.Output:
    await metrics.refresh(call.services.db)
    families = []
    for family in metrics.families():
        families.append(
            api.PrometheusMetric(
                name=family.name,
                help=family.documentation,
                type=family.type if family.type in _TYPES else "gauge",
                values=[
                    api.MetricValue(
                        labels=api.LabelSet.model_validate({"__name__": s.name, **s.labels}),
                        value=_number(s.value),
                    )
                    for s in family.samples
                ],
            )
        )
    return api.Output(metrics=families, timestamp=now_stamp())
