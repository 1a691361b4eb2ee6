"""Firehose frames made here: signed commits of an in-memory repository, and a scripted WebSocket source on
loopback that sends what a test tells it (forged, replayed, oversized or error frames included)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, cast

from aiohttp import WSMsgType, web
from atmst.blockstore import MemoryBlockStore
from atmst.blockstore.car_file import encode_varint
from atmst.mst.node_store import NodeStore
from atmst.mst.node_wrangler import NodeWrangler
from cbrrr import CID, encode_dag_cbor

from chive_admin._generated import ids
from chive_admin.ingest.handles import HandleVerifier
from chive_admin.live.indexer import LiveIndexer
from chive_admin.services import Services
from chive_admin.upstream.handles import HandleResolver
from support.jwts import SigningKey


def block_cid(data: bytes) -> CID:
    return CID.cidv1_dag_cbor_sha256_32_from(data)


def frame(header: dict[str, Any], body: Any) -> bytes:
    return encode_dag_cbor(header) + encode_dag_cbor(body)


def error_frame(error: str, message: str = "") -> bytes:
    return frame({"op": -1}, {"error": error, "message": message})


def info_frame(name: str) -> bytes:
    return frame({"op": 1, "t": "#info"}, {"name": name, "message": "test"})


@dataclass
class Repo:
    """A repository built commit by commit; each commit's frame carries every block (a superset of the diff)."""

    did: str
    key: SigningKey = field(default_factory=SigningKey)
    records: dict[str, bytes] = field(default_factory=dict)
    rev_counter: int = 0
    data: CID | None = None
    rev: str | None = None

    def _tree(self) -> tuple[dict[bytes, bytes], CID]:
        state: dict[bytes, bytes] = {}
        blocks = MemoryBlockStore(state)
        nodes = NodeStore(blocks)
        wrangler = NodeWrangler(nodes)
        root = nodes.get_node(None).cid
        for key, data in sorted(self.records.items()):
            cid = block_cid(data)
            blocks.put_block(bytes(cid), data)
            root = wrangler.put_record(root, key, cid)
        return state, root

    def commit(
        self,
        seq: int,
        *,
        put: dict[str, object] | None = None,
        delete: tuple[str, ...] = (),
        signer: SigningKey | None = None,
        rev: str | None = None,
        op_cids: dict[str, CID] | None = None,
        too_big: bool = False,
        time: str = "2026-12-06T00:00:00.000Z",
    ) -> bytes:
        """The #commit frame of applying ``put`` and ``delete``; ``signer`` forges it, ``op_cids`` lies in the ops."""
        ops: list[dict[str, Any]] = []
        for path, value in (put or {}).items():
            data = encode_dag_cbor(value)
            action = "update" if path in self.records else "create"
            self.records[path] = data
            cid = (op_cids or {}).get(path, block_cid(data))
            ops.append({"action": action, "path": path, "cid": cid, "prev": None})
        for path in delete:
            self.records.pop(path, None)
            ops.append({"action": "delete", "path": path, "cid": None, "prev": None})
        state, root = self._tree()
        self.rev_counter += 1
        new_rev = rev or f"3m{self.rev_counter:011d}"
        unsigned = {"did": self.did, "version": 3, "data": root, "rev": new_rev, "prev": None}
        commit = encode_dag_cbor({**unsigned, "sig": (signer or self.key).sign(encode_dag_cbor(unsigned))})
        commit_cid = block_cid(commit)
        state[bytes(commit_cid)] = commit
        car = bytearray()
        header = encode_dag_cbor({"version": 1, "roots": [commit_cid]})
        car += encode_varint(len(header)) + header
        for cid_bytes, data in state.items():
            car += encode_varint(len(cid_bytes) + len(data)) + cid_bytes + data
        body = {
            "seq": seq,
            "rebase": False,
            "tooBig": too_big,
            "repo": self.did,
            "commit": commit_cid,
            "rev": new_rev,
            "since": self.rev,
            "blocks": bytes(car),
            "ops": ops,
            "blobs": [],
            "prevData": self.data,
            "time": time,
        }
        self.data, self.rev = root, new_rev
        return frame({"op": 1, "t": "#commit"}, body)


@dataclass
class ScriptedSource:
    """A subscribeRepos endpoint on loopback: each connection is answered by ``script(cursor)``, a list of frames
    (bytes) sent in order, after which the connection is closed (or held open with ``hold``)."""

    script: Callable[[int | None], list[bytes]]
    hold: bool = False
    #: the ``cursor`` parameter of each connection, in order
    cursors: list[int | None] = field(default_factory=list)
    url: str = ""
    connected: asyncio.Event = field(default_factory=asyncio.Event)

    async def handler(self, request: web.Request) -> web.WebSocketResponse:
        raw = request.query.get("cursor")
        cursor = int(raw) if raw is not None else None
        self.cursors.append(cursor)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.connected.set()
        for data in self.script(cursor):
            await ws.send_bytes(data)
        if self.hold:
            async for message in ws:
                if message.type is WSMsgType.CLOSE:
                    break
        await ws.close()
        return ws


@asynccontextmanager
async def scripted_source(source: ScriptedSource, port: int = 0) -> AsyncIterator[ScriptedSource]:
    app = web.Application()
    app.router.add_get(f"/xrpc/{ids.COM_ATPROTO_SYNC_SUBSCRIBE_REPOS}", source.handler)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    port = runner.addresses[0][1]
    source.url = f"http://127.0.0.1:{port}"
    try:
        yield source
    finally:
        await runner.cleanup()


class _Handles:
    def __init__(self, handles: dict[str, str]) -> None:
        self.handles = handles

    async def resolve(self, handle: str) -> str | None:
        return self.handles.get(handle)


def handle_verifier(handles: dict[str, str] | None = None) -> HandleVerifier:
    """A verifier whose handles resolve as ``handles`` says (handle → DID; the dict may change later)."""
    return HandleVerifier(cast(HandleResolver, _Handles({} if handles is None else handles)))


def idle_indexer(services: Services, source: str, clock: Callable[[], float]) -> LiveIndexer:
    """A live indexer of ``source`` that is not running, on a test's clock, as the server's: what status, health
    and metrics report of it is what the test feeds its flow."""
    live = LiveIndexer(
        source,
        services.db,
        services.identities,
        services.handles,
        services.engine,
        allow_private=True,
        clock=clock,
    )
    services.live = live
    return live
