"""The live indexer against a scripted firehose source, beside the ceiling of the same frames read without indexing:

* the ceiling: N pre-built valid signed commits received and decoded by ``FirehoseClient`` alone (commits/s);
* ours: the same N frames through ``LiveIndexer`` on SQLite: verified (signature, MST proofs, record CIDs, the
  prevData chain), applied, heads and cursor committed in batches (commits/s, and the ratio to the ceiling);
* lag under a steady rate (500 commits/s by default): for each commit, from its event time (stamped by the source
  as it sends it) to the commit of its batch (p50/p99/max seconds).

    python -m bench.firehose [--commits 5000] [--repos 10] [--rate 500] [--seconds 10] [--full]

The source runs in a child process (its sending does not share the indexer's event loop), on loopback, and sends
every frame as fast as the socket takes it (or at the rate asked). Each commit creates one
``pub.chive.review.comment`` in one of a few repositories whose heads the index holds, and chains from the one before
(prevData), carrying only the blocks of its diff, as a PDS sends them. Signatures are checked against keys held in
memory (no DID resolution over the network). It prints; it never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import struct
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from aiohttp import WSMsgType, web
from atmst.blockstore import MemoryBlockStore
from atmst.blockstore.car_file import encode_varint
from atmst.mst.node_store import NodeStore
from atmst.mst.node_wrangler import NodeWrangler
from cbrrr import CID, encode_dag_cbor

from bench.harness import Row, report

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.engine import engine_config
from support.firehose import handle_verifier
from support.jwts import SigningKey

from chive_admin._generated import ids
from chive_admin.auth.identity import Identity, IdentityResolver
from chive_admin.backfill.engine import Engine
from chive_admin.backfill.job_types import build_registry
from chive_admin.backfill.jobs import BUILTIN_JOBS
from chive_admin.clock import now_stamp
from chive_admin.live.indexer import LiveIndexer
from chive_admin.store import index
from chive_admin.store.db import Database
from chive_admin.upstream.firehose import Commit, Event, FirehoseClient, Sequenced
from testnet import records

#: the event time a frame is built with; the source overwrites it (same length) with the moment it sends the frame
PLACEHOLDER = b"2000-01-01T00:00:00.000Z"
EPRINT = "at://did:plc:benchfirehoseauthor0000000/pub.chive.eprint.submission/e1"


def _cid(data: bytes) -> CID:
    return CID.cidv1_dag_cbor_sha256_32_from(data)


class _Recording(MemoryBlockStore):
    """A block store that remembers the blocks each commit adds: a commit's frame carries its diff, not the repo."""

    def __init__(self) -> None:
        self.state: dict[bytes, bytes] = {}
        super().__init__(self.state)
        self.fresh: list[tuple[bytes, bytes]] = []

    def put_block(self, key: bytes, value: bytes) -> None:
        if key not in self.state:
            self.fresh.append((key, value))
        super().put_block(key, value)


@dataclass
class Chain:
    """One repository, committed to one record at a time, each commit chaining from the one before."""

    did: str
    key: SigningKey = field(default_factory=SigningKey)
    commits: int = 0
    rev: str = ""

    def __post_init__(self) -> None:
        self._blocks = _Recording()
        self._nodes = NodeStore(self._blocks)
        self._wrangler = NodeWrangler(self._nodes)
        self.root: CID = self._nodes.get_node(None).cid
        self.rev = self._next_rev()

    def _next_rev(self) -> str:
        self.commits += 1
        return f"3m{self.commits:011d}"

    def _walk(self, path: str) -> list[bytes]:
        """The MST nodes from the root to ``path``: the least a reader needs to prove it."""
        out: list[bytes] = []
        cid: CID | None = self.root
        while cid is not None:
            out.append(bytes(cid))
            node = self._nodes.get_node(cid)
            at = node.gte_index(path)
            cid = None if at < len(node.keys) and node.keys[at] == path else node.subtrees[at]
        return out

    def frame(self, seq: int, text: str) -> bytes:
        self._blocks.fresh.clear()
        record = encode_dag_cbor(cast(Any, records.review_comment(eprint_uri=EPRINT, text=text)))
        record_cid = _cid(record)
        self._blocks.put_block(bytes(record_cid), record)
        path = f"{records.COMMENT}/{seq:013d}"
        prev_data, since = self.root, self.rev
        self.root = self._wrangler.put_record(self.root, path, record_cid)
        self.rev = self._next_rev()
        unsigned: dict[str, Any] = {"did": self.did, "version": 3, "data": self.root, "rev": self.rev, "prev": None}
        commit = encode_dag_cbor({**unsigned, "sig": self.key.sign(encode_dag_cbor(unsigned))})
        commit_cid = _cid(commit)
        header = encode_dag_cbor({"version": 1, "roots": [commit_cid]})
        car = bytearray(encode_varint(len(header)) + header)
        blocks = dict([(bytes(commit_cid), commit), *self._blocks.fresh])
        # and the path from the root to the new key (new nodes all, unless the key landed in an existing node)
        blocks.update((cid, self._blocks.get_block(cid)) for cid in self._walk(path))
        for key, data in blocks.items():
            car += encode_varint(len(key) + len(data)) + key + data
        body: dict[str, Any] = {
            "seq": seq,
            "rebase": False,
            "tooBig": False,
            "repo": self.did,
            "commit": commit_cid,
            "rev": self.rev,
            "since": since,
            "blocks": bytes(car),
            "ops": [{"action": "create", "path": path, "cid": record_cid}],
            "blobs": [],
            "prevData": prev_data,
            "time": PLACEHOLDER.decode(),
        }
        return encode_dag_cbor({"op": 1, "t": "#commit"}) + encode_dag_cbor(body)


@dataclass
class Workload:
    chains: list[Chain]
    frames: list[bytes]
    #: each repository's head before the first frame: (did, rev, data root)
    heads: list[tuple[str, str, str]]


def build(commits: int, repos: int, first_seq: int = 1) -> Workload:
    chains = [Chain(f"did:plc:benchfirehose{n:013d}") for n in range(repos)]
    heads = [(c.did, c.rev, c.root.encode("base32")) for c in chains]
    frames = [
        chains[n % repos].frame(first_seq + n, f"comment {n} on the cancellation semantics") for n in range(commits)
    ]
    return Workload(chains, frames, heads)


# --- the source, in a child process ------------------------------------------------------------------------------


def _moment() -> bytes:
    return (datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z").encode()


async def _serve(frames: list[bytes], rate: float, ports: Any) -> None:
    async def subscribe(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        if rate <= 0:
            for frame in frames:
                await ws.send_bytes(frame)
        else:
            loop = asyncio.get_running_loop()
            began, sent = loop.time(), 0
            while sent < len(frames):
                due = min(len(frames), int((loop.time() - began) * rate) + 1)
                stamp = _moment()
                for frame in frames[sent:due]:
                    await ws.send_bytes(frame.replace(PLACEHOLDER, stamp, 1))
                sent = due
                await asyncio.sleep(0.001)
        async for message in ws:  # held open: the reader ends it
            if message.type is WSMsgType.CLOSE:
                break
        return ws

    app = web.Application()
    app.router.add_get(f"/xrpc/{ids.COM_ATPROTO_SYNC_SUBSCRIBE_REPOS}", subscribe)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    ports.put(runner.addresses[0][1])
    await asyncio.Event().wait()


def _source_main(frames_file: str, rate: float, ports: Any) -> None:
    data = Path(frames_file).read_bytes()
    frames: list[bytes] = []
    at = 0
    while at < len(data):
        (size,) = struct.unpack_from(">I", data, at)
        frames.append(data[at + 4 : at + 4 + size])
        at += 4 + size
    asyncio.run(_serve(frames, rate, ports))


class Source:
    """The frames served from a child process; ``rate`` 0 sends them as fast as the socket takes them."""

    def __init__(self, frames: list[bytes], rate: float, tmp: Path) -> None:
        path = tmp / f"frames-{id(self)}.bin"
        path.write_bytes(b"".join(struct.pack(">I", len(f)) + f for f in frames))
        context = multiprocessing.get_context("spawn")
        self._ports = context.Queue()
        self.process = context.Process(target=_source_main, args=(str(path), rate, self._ports), daemon=True)
        self.url = ""

    def __enter__(self) -> Source:
        self.process.start()
        self.url = f"http://127.0.0.1:{self._ports.get(timeout=60)}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.join(10)


# --- the readers -------------------------------------------------------------------------------------------------


async def ceiling(url: str, commits: int) -> float:
    """Commits/s of ``FirehoseClient`` alone: received, decoded into typed events, taken from the queue."""
    queue: asyncio.Queue[Event] = asyncio.Queue(1000)
    first: list[float] = []

    def received(event: Event) -> None:
        if not first:
            first.append(time.perf_counter())

    async def no_cursor() -> int | None:
        return None

    client = FirehoseClient(url, queue, no_cursor, allow_private=True, received=received)
    task = asyncio.create_task(client.run())
    try:
        taken = 0
        while taken < commits:
            event = await queue.get()
            queue.task_done()
            taken += isinstance(event, Commit)
        return commits / (time.perf_counter() - first[0])
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


class _Keys:
    def __init__(self, chains: list[Chain]) -> None:
        self._keys = {chain.did: chain.key.did_key for chain in chains}

    async def resolve(self, did: str, *, current: bool = False) -> Identity:
        return Identity(did, self._keys[did], None, None)


class TimedIndexer(LiveIndexer):
    """The live indexer, noting when the first event arrived and each commit's lag when its batch commits."""

    def __init__(self, *args: Any, last_seq: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.first: float | None = None
        #: seconds from the first event received to the commit of the last
        self.elapsed = 0.0
        self.lags: list[float] = []
        self.last_seq = last_seq
        self.finished = asyncio.Event()

    def _received(self, event: Event) -> None:
        if self.first is None:
            self.first = time.perf_counter()
        super()._received(event)

    async def _commit(self, commits: list[Sequenced], last_seq: int | None) -> None:
        await super()._commit(commits, last_seq)
        now = time.time()
        self.lags.extend(now - c.time for c in commits if c.time is not None)
        if last_seq == self.last_seq:
            self.finished.set()


async def index_all(url: str, work: Workload, db_path: Path) -> TimedIndexer:
    """Index every frame of ``work`` from ``url`` into a fresh SQLite database holding the repositories' heads."""
    db = await Database.open(db_path)
    try:
        now = now_stamp()
        async with db.write() as conn:
            for did, rev, data in work.heads:
                await index.upsert_repo(conn, did, now, pds_url="http://127.0.0.1:1", rev=rev)
                await index.set_repo_head(conn, did, rev, data, now)
        engine = Engine(db, build_registry(BUILTIN_JOBS, ()), engine_config())
        keys = cast(IdentityResolver, _Keys(work.chains))
        handles = handle_verifier()  # the bench's events are commits only: no handle is asked
        live = TimedIndexer(url, db, keys, handles, engine, allow_private=True, last_seq=len(work.frames))
        task = asyncio.create_task(live.run())
        try:
            await live.finished.wait()
            live.elapsed = time.perf_counter() - (live.first or 0.0)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        stats = live.stats
        if stats.applied != len(work.frames):
            print(f"  not all applied: {stats}", file=sys.stderr)
        return live
    finally:
        await db.close()


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def measure(argv: list[str] | None = None) -> tuple[str, list[Row]]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commits", type=int, default=5000, help="commits replayed as fast as possible")
    parser.add_argument("--repos", type=int, default=10, help="repositories the commits are spread over")
    parser.add_argument("--rate", type=float, default=500.0, help="commits/s of the steady run")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the steady run")
    parser.add_argument("--full", action="store_true", help="50,000 commits, and 30 s at the steady rate")
    args = parser.parse_args(argv)
    commits = 50_000 if args.full else args.commits
    steady = int(args.rate * (30.0 if args.full else args.seconds))
    blast = build(commits, args.repos)
    paced = build(steady, args.repos)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        with Source(blast.frames, 0, tmp) as source:
            top = asyncio.run(ceiling(source.url, commits))
        with Source(blast.frames, 0, tmp) as source:
            live = asyncio.run(index_all(source.url, blast, tmp / "blast.db"))
        ours = commits / live.elapsed
        with Source(paced.frames, args.rate, tmp) as source:
            lags = asyncio.run(index_all(source.url, paced, tmp / "paced.db")).lags
    p50, p99, worst = statistics.median(lags), _quantile(lags, 0.99), max(lags)
    return (
        f"live indexing from a scripted firehose: {commits:,} commits over {args.repos} repositories, "
        f"then {steady:,} at {args.rate:,.0f}/s",
        [
            (
                "applied commits/s (SQLite)",
                f"{ours:,.0f} commits/s",
                f"{top:,.0f} commits/s (receive + decode)",
                f"{ours / top:.0%}",
                ">= 50%",
            ),
            (
                f"lag at {args.rate:,.0f} commits/s",
                f"p50 {p50:.3f} s, p99 {p99:.3f} s, max {worst:.3f} s",
                "",
                "",
                "< 2 s",
            ),
        ],
    )


def main() -> None:
    report(measure)


if __name__ == "__main__":
    main()
