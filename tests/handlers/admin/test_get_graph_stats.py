"""getGraphStats: the indexed knowledge graph counted, nodes by kind and edges by relation; records of a repo that
is hidden (taken down, deactivated) are not counted."""

from __future__ import annotations

from support.admin_api import USER, Api, answer, refusal

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import get_graph_stats
from chive_admin.clock import now_stamp
from chive_admin.store import index
from chive_admin.store.index import IndexedRecord
from testnet import records

METHOD = ids.PUB_CHIVE_ADMIN_GET_GRAPH_STATS
HIDDEN = "did:plc:hiddengraph000000000000000"


async def test_an_empty_graph(api: Api) -> None:
    output = answer(await api.get(METHOD), get_graph_stats.Output)
    assert (output.node_count, output.edge_count, output.nodes_by_kind, output.edges_by_relation) == (0, 0, {}, {})


async def test_nodes_by_kind_and_edges_by_relation(api: Api) -> None:
    nodes = [
        records.graph_node(label="Computer Science"),
        records.graph_node(label="Physics"),
        records.graph_node(label="Distributed Computing", kind="object", subkind="topic"),
    ]
    source, target = (records.node_uri(node["id"]) for node in nodes[1:])
    edges = [
        records.graph_edge(source_uri=source, target_uri=target),
        records.graph_edge(source_uri=target, target_uri=source, relation_slug="related"),
    ]
    rows = [
        IndexedRecord.from_parts(
            records.GOVERNANCE_DID, value["$type"], value["id"], records.raw_cid(str(n).encode()), value
        )
        for n, value in enumerate([*nodes, *edges])
    ]
    hidden = records.graph_node(label="Hidden")
    rows.append(IndexedRecord.from_parts(HIDDEN, records.GRAPH_NODE, hidden["id"], records.raw_cid(b"h"), hidden))
    async with api.services.db.write() as conn:
        await index.upsert_records(conn, rows, now_stamp())
        await index.set_repo_hidden(conn, HIDDEN, True)
    output = answer(await api.get(METHOD), get_graph_stats.Output)
    assert (output.node_count, output.edge_count) == (3, 2)
    assert output.nodes_by_kind == {"object": 1, "type": 2}
    assert output.edges_by_relation == {"broader": 1, "related": 1}


async def test_refused_to_a_caller_without_the_admin_role(api: Api) -> None:
    refusal(await api.get(METHOD, headers=USER), 403, "AdminRequired")
