"""getNodeMetrics: facts about the serving process (memory, threads, descriptors, event-loop lag, GC)."""

from __future__ import annotations

import os

from support.admin_api import USER, Api, answer, refusal

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import get_node_metrics

METHOD = ids.PUB_CHIVE_ADMIN_GET_NODE_METRICS


async def test_the_facts_describe_this_process(api: Api) -> None:
    out = answer(await api.get(METHOD), get_node_metrics.Output)
    assert out.process_info.pid == os.getpid()
    assert out.process_info.rss > 1_000_000
    assert out.process_info.heap_total >= out.process_info.heap_used > 0
    names = {m.name: m for m in out.metrics}
    assert int(names["process_threads"].value) >= 1
    assert int(names["process_open_fds"].value) > 0
    assert int(names["asyncio_tasks"].value) >= 1  # this request's own task at least
    assert names["event_loop_lag_microseconds"].unit == "microseconds"
    assert names["python_version"].value.count(".") == 2
    assert {"python_gc_collections_gen0", "python_gc_collections_gen2"} <= set(names)
    assert all(m.type in ("gauge", "counter") for m in out.metrics)


async def test_refused_to_a_caller_without_the_admin_role(api: Api) -> None:
    refusal(await api.get(METHOD, headers=USER), 403, "AdminRequired")
