"""pub.chive.admin.getGraphStats: the indexed knowledge graph's size and shape."""

from __future__ import annotations

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import get_graph_stats as api
from chive_admin.handlers.call import Call
from chive_admin.store import index


async def handle(call: Call[api.Params, None]) -> api.Output:
    async with call.services.db.read() as conn:
        nodes = await index.counts_by(conn, ids.PUB_CHIVE_GRAPH_NODE, "kind")
        edges = await index.counts_by(conn, ids.PUB_CHIVE_GRAPH_EDGE, "relationSlug")
    return api.Output(
        node_count=sum(nodes.values()), edge_count=sum(edges.values()), nodes_by_kind=nodes, edges_by_relation=edges
    )
