"""The network backfill at scale, by simulation: a scripted relay, PLC directory and PDS hosts answering with
latency, a real server (SQLite) running a pds-scan without pdsUrl through all three stages.

    python -m bench.discovery            # 100,000 DIDs, 5,000 with records, over 200 hosts
    python -m bench.discovery --full     # 1,000,000 DIDs, 50,000 with records, over 2,000 hosts
    python -m bench.discovery --dids N --with-records N --hosts N --latency-ms N

The relay lists every DID under one collection, first seen first, a cursor with each full page of 1,000 (as
collectiondir does); all but the DIDs with records are stale (the PLC directory does not know them). Each DID with
records lives on one of the hosts and holds one comment. The simulation is a child process (its own event loop and
memory: what is measured is the server's), one asyncio HTTP/1.1 server on ``1 + hosts`` loopback ports: the
relay and PLC on the first (answers after ``--relay-latency-ms`` / ``--plc-latency-ms``), each host on its own
(an origin of its own, so per-host limits apply as on the network; answers after ``--latency-ms``).

Printed: each stage's wall time and rate, the server's peak RSS (whole process, sampled and ``ru_maxrss``), the
largest checkpoint committed, the database's growth, and a projection for the real network from the measured
per-item costs and the rates ``--plc-rate`` and ``--relay-pages-rate`` (requests a second the operator may make to
the PLC directory and to the relay: set them to the limits your providers publish; the defaults are assumptions).
It prints; it never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import resource
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import httpx
from support.auth import FixedTokens

from bench.harness import grid
from chive_admin._generated import ids
from chive_admin.backfill.engine import EngineConfig
from chive_admin.server.app import create_app
from chive_admin.settings import Settings
from testnet import records

ADMIN = {"Authorization": "Bearer admin"}
PAGE = 1000
STAGES = ("discovering_repos", "resolving_pds", "fetching_records")


@dataclass(frozen=True)
class Shape:
    dids: int
    with_records: int
    hosts: int
    latency: float
    relay_latency: float
    plc_latency: float

    def did(self, n: int) -> str:
        return f"did:plc:bench{n:019d}"

    def has_records(self, n: int) -> bool:
        return n % (self.dids // self.with_records) == 0 and n // (self.dids // self.with_records) < self.with_records

    def host_of(self, n: int) -> int:
        return (n // (self.dids // self.with_records)) % self.hosts


# --- the simulated network (child process) ------------------------------------------------------------------


def _json(body: Any, status: int = 200) -> bytes:
    data = json.dumps(body).encode()
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}[status]
    head = f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(data)}\r\n\r\n"
    return head.encode() + data


def _answer(shape: Shape, ports: list[int], port: int, target: str) -> tuple[bytes, float]:
    parts = urlsplit(target)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    if port == ports[0]:
        if parts.path.startswith("/did:"):
            did = parts.path[1:]
            n = int(did.removeprefix("did:plc:bench")) if did.startswith("did:plc:bench") else -1
            if n < 0 or not shape.has_records(n):
                return _json({"message": f"DID not registered: {did}"}, 404), shape.plc_latency
            document = {
                "id": did,
                "alsoKnownAs": [f"at://u{n}.test"],
                "verificationMethod": [],
                "service": [
                    {
                        "id": "#atproto_pds",
                        "type": "AtprotoPersonalDataServer",
                        "serviceEndpoint": f"http://127.0.0.1:{ports[1 + shape.host_of(n)]}",
                    }
                ],
            }
            return _json(document), shape.plc_latency
        start = int(query.get("cursor", "0"))
        end = min(shape.dids, start + int(query.get("limit", "500")))
        if query.get("collection") != records.COMMENT:
            start = end = 0
        page: dict[str, Any] = {"repos": [{"did": shape.did(n)} for n in range(start, end)]}
        if end - start == int(query.get("limit", "500")):
            page["cursor"] = str(end)
        return _json(page), shape.relay_latency
    did = query.get("repo") or query.get("did") or ""
    nsid = parts.path.removeprefix("/xrpc/")
    if nsid == ids.COM_ATPROTO_REPO_DESCRIBE_REPO:
        described = {"handle": "u.test", "did": did, "didDoc": {}, "collections": [records.COMMENT]}
        return _json(described | {"handleIsCorrect": True}), shape.latency
    if nsid == ids.COM_ATPROTO_REPO_LIST_RECORDS:
        value = records.review_comment(eprint_uri=f"at://{did}/{records.SUBMISSION}/e1")
        value["createdAt"] = "2026-01-01T00:00:00.000Z"
        row = {"uri": f"at://{did}/{records.COMMENT}/3kc1", "cid": _CID, "value": value}
        page = {"records": [], "cursor": None} if "cursor" in query else {"records": [row], "cursor": "3kc1"}
        return _json({k: v for k, v in page.items() if v is not None}), shape.latency
    if nsid == ids.COM_ATPROTO_SYNC_GET_REPO_STATUS:
        return _json({"did": did, "active": True}), shape.latency
    return _json({"error": "MethodNotImplemented"}, 400), shape.latency


_CID = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"


def _network(shape: Shape, sockets: list[socket.socket]) -> None:
    ports = [s.getsockname()[1] for s in sockets]

    async def serve() -> None:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            port = writer.get_extra_info("sockname")[1]
            try:
                while True:
                    head = await reader.readuntil(b"\r\n\r\n")
                    target = head.split(b" ", 2)[1].decode()
                    body, delay = _answer(shape, ports, port, target)
                    await asyncio.sleep(delay)
                    writer.write(body)
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

        servers = [await asyncio.start_server(handle, sock=s, backlog=1024) for s in sockets]
        await asyncio.gather(*(s.serve_forever() for s in servers))

    asyncio.run(serve())


# --- the measured server (this process) ----------------------------------------------------------------------


@dataclass
class Watch:
    stages: dict[str, float] = field(default_factory=dict)
    #: the server's RSS once started, before the backfill
    idle_rss: int = 0
    peak_rss: int = 0
    #: the peak RSS sampled in each stage
    stage_rss: dict[str, int] = field(default_factory=dict)
    largest_checkpoint: int = 0
    last: dict[str, Any] = field(default_factory=dict)


def _rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


async def _run(shape: Shape, relay_url: str, plc_url: str, db: Path) -> tuple[Watch, float]:
    settings = Settings(
        db=db, plc_url=plc_url, relay_url=relay_url, allow_private_network=True, export_readers=0, log_level="warning"
    )
    config = EngineConfig.from_settings(settings)
    app = create_app(settings, authenticator=FixedTokens(), engine_config=config)
    watch = Watch()
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://bench") as client,
    ):
        watch.idle_rss = _rss()
        began = time.monotonic()
        answer = await client.post(
            f"/xrpc/{ids.PUB_CHIVE_ADMIN_TRIGGER_BACKFILL}", json={"type": "pdsScan"}, headers=ADMIN
        )
        op_id = answer.json()["operation"]["id"]
        while True:
            await asyncio.sleep(0.25)
            watch.peak_rss = max(watch.peak_rss, _rss())
            async with app.state.services.db.read() as conn:
                row = await conn.fetchone("SELECT status, stage, checkpoint FROM operations WHERE id = ?", (op_id,))
            status, stage, checkpoint = row
            watch.largest_checkpoint = max(watch.largest_checkpoint, len(checkpoint or ""))
            if stage and stage not in watch.stages:
                watch.stages[stage] = time.monotonic() - began
            if stage:
                watch.stage_rss[stage] = max(watch.stage_rss.get(stage, 0), _rss())
            if status in ("completed", "partial", "failed", "cancelled"):
                view = await client.get(
                    f"/xrpc/{ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS}", params={"id": op_id}, headers=ADMIN
                )
                watch.last = view.json()["operation"]
                return watch, time.monotonic() - began


def _size(db: Path) -> int:
    return sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))


def measure(argv: list[str]) -> tuple[str, list[list[str]]]:
    parser = argparse.ArgumentParser(prog="python -m bench.discovery")
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--dids", type=int)
    parser.add_argument("--with-records", type=int)
    parser.add_argument("--hosts", type=int)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--relay-latency-ms", type=float, default=100)
    parser.add_argument("--plc-latency-ms", type=float, default=20)
    parser.add_argument("--plc-rate", type=float, default=50, help="PLC requests a second allowed (assumed)")
    parser.add_argument("--relay-pages-rate", type=float, default=5, help="relay pages a second allowed (assumed)")
    parser.add_argument("--network-dids", type=int, default=1_000_000, help="DIDs a relay lists for our collections")
    parser.add_argument("--network-with-records", type=int, default=50_000)
    args = parser.parse_args(argv)
    dids = args.dids or (1_000_000 if args.full else 100_000)
    shape = Shape(
        dids=dids,
        with_records=args.with_records or dids // 20,
        hosts=args.hosts or (2000 if args.full else 200),
        latency=args.latency_ms / 1000,
        relay_latency=args.relay_latency_ms / 1000,
        plc_latency=args.plc_latency_ms / 1000,
    )
    sockets = []
    for _ in range(1 + shape.hosts):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(1024)
        sockets.append(s)
    relay_port = sockets[0].getsockname()[1]
    network = multiprocessing.get_context("fork").Process(target=_network, args=(shape, sockets), daemon=True)
    network.start()
    for s in sockets:
        s.close()  # the child holds them
    try:
        with tempfile.TemporaryDirectory(prefix="bench-discovery-") as tmp:
            db = Path(tmp) / "discovery.db"
            url = f"http://127.0.0.1:{relay_port}"  # the relay and the PLC directory
            watch, total = asyncio.run(_run(shape, url, url, db))
            grown = _size(db)
    finally:
        network.terminate()
        network.join(10)
    return _report(shape, args, watch, total, grown)


def _report(
    shape: Shape, args: argparse.Namespace, watch: Watch, total: float, grown: int
) -> tuple[str, list[list[str]]]:
    op = watch.last
    starts = [watch.stages.get(s, total) for s in STAGES]
    spans = [starts[1] - starts[0], starts[2] - starts[1], total - starts[2]]
    counts = op.get("counts", {})
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    per_did = spans[1] / shape.dids
    rows = [
        ["status", op.get("status", "?"), f"{op.get('totalRepos')} repos, {op.get('recordsProcessed')} records"],
        ["discovery", f"{spans[0]:.1f} s", f"{shape.dids / spans[0]:,.0f} DIDs/s ({shape.dids // PAGE} pages)"],
        ["resolution", f"{spans[1]:.1f} s", f"{shape.dids / spans[1]:,.0f} DIDs/s; {counts}"],
        ["fetching", f"{spans[2]:.1f} s", f"{shape.with_records / max(spans[2], 1e-9):,.1f} repos/s"],
        [
            "peak RSS",
            f"{watch.peak_rss / 2**20:.0f} MB",
            f"sampled every 0.25 s ({maxrss / 2**20:.0f} MB ru_maxrss); {watch.idle_rss / 2**20:.0f} MB before the"
            " backfill; goal < 300 MB whatever the DID count",
        ],
        [
            "peak RSS by stage",
            " / ".join(f"{watch.stage_rss.get(s, 0) / 2**20:.0f}" for s in STAGES) + " MB",
            " / ".join(STAGES),
        ],
        ["largest checkpoint", f"{watch.largest_checkpoint} B", "committed with each batch"],
        ["database", f"{grown / 2**20:.1f} MB", f"{grown / shape.dids:.0f} B per discovered DID"],
    ]
    # the real network: discovery and resolution bound by the providers' rates, or by our measured cost if slower
    pages = args.network_dids / PAGE
    discovery = max(pages / args.relay_pages_rate, pages * spans[0] / max(shape.dids / PAGE, 1))
    resolution = max(args.network_dids / args.plc_rate, args.network_dids * per_did)
    fetching = args.network_with_records * spans[2] / shape.with_records
    rows.append(
        [
            "projected (network)",
            f"{(discovery + resolution + fetching) / 3600:,.1f} h",
            f"{args.network_dids:,} DIDs at {args.relay_pages_rate:g} pages/s and {args.plc_rate:g} PLC req/s"
            f" (assumed): discovery {discovery / 3600:.1f} h, resolution {resolution / 3600:.1f} h,"
            f" fetching {fetching / 3600:.1f} h",
        ]
    )
    title = (
        f"network backfill: {shape.dids:,} DIDs, {shape.with_records:,} with records, {shape.hosts:,} hosts,"
        f" latency {shape.latency * 1000:g} ms (relay {shape.relay_latency * 1000:g}, PLC {shape.plc_latency * 1000:g})"
    )
    return title, rows


def main() -> None:
    title, rows = measure(sys.argv[1:])
    print(title)
    print(grid(["figure", "measured", "detail"], rows))


if __name__ == "__main__":
    main()
