"""pub.chive.admin.getNodeMetrics: facts about the serving process (Python's, not Node's)."""

from __future__ import annotations

import asyncio

from chive_admin._generated.models.pub.chive.admin import get_node_metrics as api
from chive_admin.handlers.call import Call
from chive_admin.telemetry.health import event_loop_lag_us, process_facts, python_version


async def handle(call: Call[api.Params, None]) -> api.Output:
    facts = process_facts()
    lag = await event_loop_lag_us()
    metrics = [
        api.NodeMetric(name="process_resident_memory_bytes", value=str(facts.rss_bytes), type="gauge", unit="bytes"),
        api.NodeMetric(name="process_threads", value=str(facts.threads), type="gauge"),
        api.NodeMetric(name="process_open_fds", value=str(facts.open_fds), type="gauge"),
        api.NodeMetric(name="asyncio_tasks", value=str(len(asyncio.all_tasks())), type="gauge"),
        api.NodeMetric(name="event_loop_lag_microseconds", value=str(lag), type="gauge", unit="microseconds"),
        *(
            api.NodeMetric(name=f"python_gc_collections_gen{generation}", value=str(count), type="counter")
            for generation, count in enumerate(facts.gc_collections)
        ),
        api.NodeMetric(name="python_version", value=python_version(), type="gauge"),
    ]
    return api.Output(
        metrics=metrics,
        process_info=api.ProcessInfo(
            pid=facts.pid,
            uptime=facts.uptime_s,
            heap_used=facts.heap_used_bytes,
            heap_total=facts.heap_total_bytes,
            rss=facts.rss_bytes,
            cpu_user=facts.cpu_user_us,
            cpu_system=facts.cpu_system_us,
            event_loop_lag=lag,
        ),
    )
