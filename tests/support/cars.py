"""Signed repository exports (CAR files) built in memory, for tests of the readers."""

from __future__ import annotations

from collections.abc import Callable

from atmst.blockstore import MemoryBlockStore
from atmst.blockstore.car_file import encode_varint
from atmst.mst.node_store import NodeStore
from atmst.mst.node_wrangler import NodeWrangler
from cbrrr import CID, encode_dag_cbor

from support.jwts import SigningKey

DID = "did:plc:carcarcarcarcarcarcarcarc"
KEY = SigningKey("ES256K")


def block_cid(data: bytes) -> CID:
    return CID.cidv1_dag_cbor_sha256_32_from(data)


def build_car(
    records: dict[str, object],
    *,
    raw_records: dict[str, bytes] | None = None,
    tamper: Callable[[dict[bytes, bytes]], None] | None = None,
    root_node: object = None,
) -> bytes:
    """A signed repository export holding ``records`` (key → DAG-CBOR value) and ``raw_records`` (key → block);
    with ``root_node``, that value is the MST root instead of the tree atmst builds."""
    state: dict[bytes, bytes] = {}
    blocks = MemoryBlockStore(state)
    nodes = NodeStore(blocks)
    wrangler = NodeWrangler(nodes)
    root = nodes.get_node(None).cid
    encoded = {key: encode_dag_cbor(value) for key, value in records.items()} | (raw_records or {})
    for key, data in encoded.items():
        cid = block_cid(data)
        blocks.put_block(bytes(cid), data)
        root = wrangler.put_record(root, key, cid)
    if root_node is not None:
        root_block = encode_dag_cbor(root_node)
        root = block_cid(root_block)
        state[bytes(root)] = root_block
    unsigned = {"did": DID, "version": 3, "data": root, "rev": "3kabcdefghi22", "prev": None}
    commit = encode_dag_cbor({**unsigned, "sig": KEY.sign(encode_dag_cbor(unsigned))})
    commit_cid = block_cid(commit)
    state[bytes(commit_cid)] = commit
    if tamper is not None:
        tamper(state)
    out = bytearray()
    header = encode_dag_cbor({"version": 1, "roots": [commit_cid]})
    out += encode_varint(len(header)) + header
    for cid_bytes, data in state.items():
        out += encode_varint(len(cid_bytes) + len(data)) + cid_bytes + data
    return bytes(out)
