"""Ingest speed against the real testnet, each beside a raw baseline measured in the same run:

* pds-scan of one 5,000-record repo vs a raw listRecords fetch of it (plain httpx, no processing) — goal ≥ 100 %;
* pds-scan of 50 repos × 100 records vs a raw fetch of the same listings through as many connections as the scan
  uses (``--upstream-concurrency``'s default) — goal ≥ 100 %;
* did-sync (verified CAR) of the 5,000-record repo vs a raw getRepo download — goal ≥ 80 % (≥ 90 % with the PDS
  ``--rtt-ms`` away); with ``--full`` the same for a repo of 50,000 records;
* a batch of 50 did-syncs (the 50 × 100 repos, at the engine's concurrency) vs the same 50 exports fetched raw
  over as many connections — goal ≥ 90 %; beside it, the CPU an op took of the server, its export readers and the
  testnet (which also answers the PLC lookups and handle checks a did-sync makes), and how busy the cores were
  (:mod:`bench.cpu`): on loopback the PDS shares the cores, so a batch near 100 % busy is as fast as this machine
  allows;
* with ``--full``: peak RSS of the server process during a pds-scan of 100,000 records (goal < 150 MB).

The PDS is a single Node process on the same (2-core) machine, so on loopback no client can go much faster than it
serves: the 50-repo row also prints the ceiling, the same listings fetched by 4 raw client processes at once, and
what the protocol alone costs a scan (:func:`raw_scan_calls`: besides the listings, listRepos, each repository's
describeRepo and its DID document, raw, with nothing written; the testnet's PLC directory shares the PDS's Node
process, so on loopback those lookups take the PDS's core too). With
``--rtt-ms``, both scans and the did-syncs are measured again through a relay adding that round-trip time to every
request (a PDS at network distance, where concurrency and read-ahead pay), raw baselines included; the relay sends
as a TCP sender in slow start does (:mod:`bench.latency_relay`), so a large export takes the round trips it takes
at that distance instead of arriving at loopback speed. A did-sync
follows the DID document to the PDS itself: the bench routes the server's calls to the PDS through the relay
(:func:`routed`, bench only). Each figure is the median of ``--repeat`` runs (a fresh database each), a scan's runs
alternating with its baseline's (the machine's load changes under both alike). ``--db-backend postgresql`` runs the
server on a throwaway PostgreSQL
cluster instead of SQLite (``both``: one run each, side by side).

    python -m bench.ingest [--full] [--repeat N] [--rtt-ms MS] [--only scan|sync] [--db-backend sqlite|postgresql|both]

Needs the Node testnet (``scripts/install-testnet.sh``). It prints; it never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import functools
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit

import httpx

from bench import backends
from bench.cpu import CpuMeter, CpuSplit, cpu_seconds

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.auth import FixedTokens

from chive_admin._generated import ids
from chive_admin.server.app import create_app
from chive_admin.settings import DEFAULT_UPSTREAM_CONCURRENCY, Settings
from chive_admin.store import operations
from chive_admin.store.target import PostgresUrl
from testnet import records
from testnet.harness import Testnet, locate_install
from testnet.pds_client import PdsClient

ADMIN = {"Authorization": "Bearer admin"}


def comment(i: int) -> dict[str, Any]:
    # every record differs, as real ones do (identical ones would share one block in the export, and one CID)
    return records.review_comment(
        eprint_uri="at://did:plc:bench/pub.chive.eprint.submission/x",
        text=f"Comment {i}: the cancellation semantics in section 3 deserve a worked example.",
    )


LIST_RECORDS = "/xrpc/com.atproto.repo.listRecords"
LIST_REPOS = "/xrpc/com.atproto.sync.listRepos"
DESCRIBE_REPO = "/xrpc/com.atproto.repo.describeRepo"


def page_params(did: str, cursor: str | None) -> dict[str, str | int | None]:
    return {"repo": did, "collection": records.COMMENT, "limit": 100, "cursor": cursor}


def next_cursor(page: dict[str, Any]) -> str | None:
    """The cursor to follow after ``page``, ``None`` at the end (as the scan ends a listing)."""
    cursor = page.get("cursor")
    return cursor if cursor and page.get("records") else None


def raw_listing(pds: str, dids: list[str]) -> float:
    started = time.perf_counter()
    with httpx.Client(base_url=pds, timeout=30) as http:
        for did in dids:
            cursor: str | None = None
            while True:
                cursor = next_cursor(http.get(LIST_RECORDS, params=page_params(did, cursor)).json())
                if cursor is None:
                    break
    return time.perf_counter() - started


async def list_repo(http: httpx.AsyncClient, did: str) -> None:
    """Every page of ``did``'s listing, one after the other (as :func:`raw_listing` reads each repo)."""
    cursor: str | None = None
    while True:
        cursor = next_cursor((await http.get(LIST_RECORDS, params=page_params(did, cursor))).json())
        if cursor is None:
            return


def raw_listing_connections(pds: str, dids: list[str], connections: int) -> float:
    """The same listings as :func:`raw_listing`, ``connections`` of them at once over as many connections, from one
    process (as the server is): each repo's pages in order, the next repo taken by whichever connection is free."""

    async def listings() -> float:
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        async with httpx.AsyncClient(base_url=pds, timeout=30, limits=limits) as http:
            todo = iter(dids)

            async def worker() -> None:
                for did in todo:
                    await list_repo(http, did)

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(connections)))
            return time.perf_counter() - started

    return asyncio.run(listings())


def raw_scan_calls(pds: str, plc: str, connections: int) -> float:
    """Every call a pds-scan of ``pds`` must make, raw and with nothing written: its listRepos pages, then for each
    repository (``connections`` at once, over as many connections to each host) the DID document from the PLC
    directory (the check that the repository lives there) beside describeRepo (which collections to list), then the
    listing. What the protocol costs a scan, beside what the bare listings cost."""

    async def calls() -> float:
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        async with (
            httpx.AsyncClient(base_url=pds, timeout=30, limits=limits) as http,
            httpx.AsyncClient(base_url=plc, timeout=30, limits=limits) as directory,
        ):
            started = time.perf_counter()
            dids: list[str] = []
            cursor: str | None = None
            while True:
                page = (await http.get(LIST_REPOS, params={"limit": 1000, "cursor": cursor})).json()
                dids += [repo["did"] for repo in page["repos"]]
                cursor = page.get("cursor")
                if not cursor or not page["repos"]:
                    break
            todo = iter(dids)

            async def worker() -> None:
                for did in todo:
                    document = asyncio.ensure_future(directory.get(f"/{did}"))
                    (await http.get(DESCRIBE_REPO, params={"repo": did})).raise_for_status()
                    await list_repo(http, did)
                    (await document).raise_for_status()

            await asyncio.gather(*(worker() for _ in range(connections)))
            return time.perf_counter() - started

    return asyncio.run(calls())


def raw_listing_concurrent(
    pds: str, dids: list[str], clients: int = 4, fetch: Callable[[str, list[str]], float] | None = None
) -> float:
    """The same listings (or another raw ``fetch`` of each repo) by ``clients`` raw clients at once, each its own
    process (threads would share one GIL): as fast as the PDS serves them."""
    fetch = raw_listing if fetch is None else fetch
    with ProcessPoolExecutor(clients) as pool:
        list(pool.map(fetch, [pds] * clients, [[]] * clients))  # started and imported before the clock
        started = time.perf_counter()
        list(pool.map(fetch, [pds] * clients, [dids[i::clients] for i in range(clients)]))
        return time.perf_counter() - started


@contextlib.contextmanager
def latency_relay(upstream: str, rtt_ms: float) -> Iterator[str]:
    """``upstream`` (an http origin) behind :mod:`bench.latency_relay`, ``rtt_ms`` further away."""
    parts = urlsplit(upstream)
    relay = subprocess.Popen(
        [sys.executable, "-m", "bench.latency_relay", "--upstream", parts.netloc, "--delay-ms", str(rtt_ms / 2)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        assert relay.stdout is not None
        port = json.loads(relay.stdout.readline())["port"]
        yield f"http://127.0.0.1:{port}"
    finally:
        assert relay.stdin is not None
        relay.stdin.close()
        try:
            relay.wait(10)
        except subprocess.TimeoutExpired:
            relay.kill()
            relay.wait()


def median(runs: int, once: Callable[[], float]) -> float:
    return statistics.median(once() for _ in range(runs))


def alternating(runs: int, *measures: Callable[[], float]) -> list[float]:
    """The median of each of ``measures``, run in turn ``runs`` times (one of each, then again)."""
    seen: list[list[float]] = [[] for _ in measures]
    for _ in range(runs):
        for values, once in zip(seen, measures, strict=True):
            values.append(once())
    return [statistics.median(values) for values in seen]


def raw_export(pds: str, did: str) -> float:
    started = time.perf_counter()
    httpx.get(f"{pds}/xrpc/com.atproto.sync.getRepo", params={"did": did}, timeout=60).raise_for_status()
    return time.perf_counter() - started


def raw_exports(pds: str, dids: list[str]) -> float:
    """Every repo's getRepo, one after another (no processing)."""
    return sum(raw_export(pds, did) for did in dids)


def raw_exports_at_once(pds: str, dids: list[str], connections: int) -> float:
    """Every repo's getRepo, ``connections`` at a time over as many connections (plain httpx, no processing)."""

    async def fetch_all() -> float:
        limits = httpx.Limits(max_connections=connections)
        async with httpx.AsyncClient(base_url=pds, timeout=60, limits=limits) as http:
            slots = asyncio.Semaphore(connections)

            async def one(did: str) -> None:
                async with slots:
                    answer = await http.get("/xrpc/com.atproto.sync.getRepo", params={"did": did})
                    answer.raise_for_status()

            started = time.perf_counter()
            await asyncio.gather(*(one(did) for did in dids))
            return time.perf_counter() - started

    return asyncio.run(fetch_all())


@contextlib.contextmanager
def routed(ports: dict[int, str]) -> Iterator[None]:
    """The servers this process starts send their upstream calls for a loopback port in ``ports`` to that origin
    instead (a PDS named by DID documents, put behind the latency relay): bench only, by patching the app's client."""
    import chive_admin.server.app as app_module

    made = app_module.upstream_http  # type: ignore[attr-defined]

    def relay_for(host: str | None, port: int | None) -> SplitResult | None:
        """The origin to send a call for ``host:port`` to instead, if any."""
        to = ports.get(port or 0)
        return urlsplit(to) if to is not None and host in ("localhost", "127.0.0.1") else None

    def rerouting(**kwargs: Any) -> Any:
        client = made(**kwargs)

        async def reroute(request: httpx.Request) -> None:
            target = relay_for(request.url.host, request.url.port)
            if target is not None:
                request.url = request.url.copy_with(host=target.hostname, port=target.port)
                request.headers["Host"] = str(target.netloc)

        client.event_hooks["request"].append(reroute)
        # the XRPC calls' path past httpx's models has no event hooks (and a "before" checkout under bench.ab may not
        # have it at all)
        answer = getattr(client, "answer", None)
        if answer is not None:

            def rerouted(url: str, params: Any, **kwargs: Any) -> Any:
                parts = urlsplit(url)
                target = relay_for(parts.hostname, parts.port)
                if target is not None:
                    url = parts._replace(netloc=target.netloc).geturl()
                return answer(url, params, **kwargs)

            client.answer = rerouted  # type: ignore[method-assign]
        return client

    app_module.upstream_http = rerouting  # type: ignore[attr-defined]
    try:
        yield
    finally:
        app_module.upstream_http = made  # type: ignore[attr-defined]


async def timed_ops(
    settings: Settings, nsid: str, bodies: list[dict[str, Any]], cpu: CpuMeter | None = None
) -> tuple[float, list[dict[str, Any]]]:
    """Seconds from triggering an op of each of ``bodies`` at once until every one has ended, and the ops; ``cpu``
    measures the same window."""
    # the default engine: a trigger wakes a worker at once, and no idle worker claims 100×/s beside the job
    app = create_app(settings, authenticator=FixedTokens())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            db = app.state.services.db
            # the end is read from the database when the engine says an operation changed state, not on a timer:
            # even a bare row read every 10 ms took ~1 ms of the event loop each (~70 ms of a 0.7 s did-sync), which
            # a real client, polling once a second, does not take
            changed = asyncio.Event()
            engine = app.state.services.engine
            note_change = engine.on_change

            def changed_and_noted() -> None:
                note_change()
                changed.set()

            engine.on_change = changed_and_noted
            started = time.perf_counter()
            if cpu is not None:
                cpu.begin(started)
            op_ids = []
            for body in bodies:
                op_ids.append((await client.post(f"/xrpc/{nsid}", json=body, headers=ADMIN)).json()["operationId"])
            # all must end, so only the first still waiting is read at each change (reading all 50 of a batch at
            # every change was a tenth of the batch's event-loop time, the bench's, not the server's)
            waiting = collections.deque(op_ids)
            while waiting:
                changed.clear()  # before the read: a change during it is seen by the next one
                async with db.read() as conn:
                    while waiting:
                        row = await operations.get(conn, waiting[0])
                        if row and row.status in ("queued", "running"):
                            break
                        waiting.popleft()
                if waiting:
                    await changed.wait()
            seconds = time.perf_counter() - started
            if cpu is not None:
                cpu.end(started + seconds)
            ops = []
            for op_id in op_ids:
                status = f"/xrpc/{ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS}"
                ops.append((await client.get(status, params={"id": op_id}, headers=ADMIN)).json()["operation"])
            return seconds, ops


async def timed_op(settings: Settings, nsid: str, body: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    seconds, (op,) = await timed_ops(settings, nsid, [body])
    return seconds, op


def settings_for(dbs: backends.Databases, net: Testnet, name: str) -> Settings:
    return Settings(db=dbs.new(name), plc_url=net.plc_url, allow_private_network=True)


class DidSyncRows:
    """The did-sync rows: one repo of 5k (and 50k) records, and a batch of 50, each beside its raw download."""

    def __init__(
        self,
        repeat: int,
        settings: Callable[[], Settings],
        rows: list[tuple[str, str, str, str, str]],
        testnet_pid: int,
    ):
        self.repeat = repeat
        self.settings = settings
        self.rows = rows
        self.testnet_pid = testnet_pid

    def row(
        self, name: str, raw: Callable[[], float], dids: list[str], baseline: str, goal: str, cpu: bool = False
    ) -> None:
        """Time did-syncs of ``dids`` triggered at once against ``raw``, and add their row; with ``cpu``, a row of
        where the cores went in the median run, per op, beside the testnet's CPU for the raw downloads."""
        raw_cpu: list[tuple[float, float]] = []

        def raw_once() -> float:
            before = cpu_seconds(self.testnet_pid)
            seconds = raw()
            raw_cpu.append((seconds, cpu_seconds(self.testnet_pid) - before))
            return seconds

        raw_seconds = median(self.repeat, raw_once)
        splits: list[CpuSplit] = []

        def synced() -> float:
            bodies = [{"did": did} for did in dids]
            meter = CpuMeter(self.testnet_pid)
            seconds, ops = asyncio.run(timed_ops(self.settings(), ids.PUB_CHIVE_ADMIN_TRIGGER_DID_SYNC, bodies, meter))
            if {op["status"] for op in ops} != {"completed"}:
                raise RuntimeError(f"bench did-syncs ended {sorted({op['status'] for op in ops})}")
            assert meter.split is not None
            splits.append(meter.split)
            return seconds

        ours = median(self.repeat, synced)
        self.rows.append(
            (name, f"{ours:.2f} s", f"{raw_seconds:.2f} s ({baseline})", f"{raw_seconds / ours:.0%}", goal)
        )
        if cpu:
            split = sorted(splits, key=lambda s: s.seconds)[len(splits) // 2]
            _, raw_testnet = sorted(raw_cpu)[len(raw_cpu) // 2]
            per_op = 1000 / len(dids)
            self.rows.append(
                (
                    "  CPU an op: server + readers, testnet",
                    f"{split.server * per_op:.1f} + {split.readers * per_op:.1f} ms, {split.testnet * per_op:.1f} ms",
                    f"testnet {raw_testnet * per_op:.1f} ms (raw)",
                    f"{split.busy():.0%} of the cores busy",
                    "",
                )
            )

    def measure(self, label: str, one_url: str, many_url: str, big: str, huge: str | None, many: list[str]) -> None:
        goal = ">= 90%" if label else ">= 80%"
        for what, did in (("5k", big), ("50k", huge)):
            if did is not None:
                self.row(
                    f"did-sync, {what} repo (verified CAR){label}",
                    functools.partial(raw_export, one_url, did),
                    [did],
                    "raw getRepo",
                    goal,
                )
        workers = self.settings().workers
        self.row(
            f"did-sync, 50 repos x 100{label}",
            lambda: raw_exports_at_once(many_url, many, workers),
            many,
            f"raw getRepo, {workers} at once",
            ">= 90%",
            cpu=True,
        )


def measure(argv: list[str] | None = None) -> tuple[str, list[tuple[str, str, str, str, str]]]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rtt-ms", type=float, default=0.0)
    parser.add_argument("--only", choices=("scan", "sync"), help="only the pds-scan rows, or only the did-sync rows")
    backends.add_option(parser)
    args = parser.parse_args(argv)
    if args.db_backend == backends.BOTH:
        parser.error("--db-backend both is for main(), which runs this once per backend")
    rows: list[tuple[str, str, str, str, str]] = []
    runs = iter(range(1_000_000))

    def op_seconds(
        dbs: backends.Databases, net: Testnet, nsid: str, body: dict[str, Any], records: int | None = None
    ) -> float:
        """One op's seconds; it must complete, having processed ``records`` when given (a scan that skipped its
        repositories would be fast and wrong)."""
        seconds, op = asyncio.run(timed_op(settings_for(dbs, net, f"run{next(runs)}"), nsid, body))
        if op["status"] != "completed" or (records is not None and op.get("recordsProcessed") != records):
            raise RuntimeError(f"bench op ended {op['status']}: {op}")
        return seconds

    with (
        tempfile.TemporaryDirectory() as tmp_name,
        backends.databases(args.db_backend, Path(tmp_name)) as dbs,
        Testnet(locate_install()) as net,
    ):
        pds = PdsClient(net.pds_url, admin_password=net.info.admin_password, handle_domain=net.info.handle_domain)
        big = pds.create_account(prefix="benchbig")
        pds.bulk_create(big, records.COMMENT, 5000, factory=comment)
        pds2 = PdsClient(net.pds2_url, admin_password=net.info.admin_password, handle_domain=net.info.handle_domain)
        many = [pds2.create_account(prefix=f"bench{i}") for i in range(50)]
        for account in many:
            pds2.bulk_create(account, records.COMMENT, 100, factory=comment)

        def scans(label: str, one_url: str, many_url: str) -> None:
            """The raw listings from ``one_url`` and ``many_url``; the scans of the PDSes themselves (a scan writes
            only what a DID document's own PDS says), their calls routed to those URLs by the caller."""
            scan_one = {"pdsUrl": net.pds_url}
            raw, seconds = alternating(
                args.repeat,
                lambda: raw_listing(one_url, [big.did]),
                lambda: op_seconds(dbs, net, ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN, scan_one, 5000),
            )
            rate, raw_rate = 5000 / seconds, 5000 / raw
            rows.append(
                (
                    f"pds-scan, one 5k repo{label}",
                    f"{rate:,.0f} rec/s",
                    f"{raw_rate:,.0f} rec/s (raw listing)",
                    f"{rate / raw_rate:.0%}",
                    ">= 100%",
                )
            )
            dids = [a.did for a in many]
            connections = DEFAULT_UPSTREAM_CONCURRENCY  # the per-host bound of the scan's requests
            scan_many = {"pdsUrl": net.pds2_url}
            raw_many, ceiling, own_calls, seconds_many = alternating(
                args.repeat,
                lambda: raw_listing_connections(many_url, dids, connections),
                lambda: raw_listing_concurrent(many_url, dids),
                lambda: raw_scan_calls(many_url, net.plc_url, connections),
                lambda: op_seconds(dbs, net, ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN, scan_many, 5000),
            )
            rows.append(
                (
                    f"pds-scan, 50 repos x 100{label}",
                    f"{seconds_many:.2f} s",
                    f"{raw_many:.2f} s (raw, {connections} connections)",
                    f"{raw_many / seconds_many:.0%}",
                    ">= 100%",
                )
            )
            rows.append(
                (
                    f"  the same, against the PDS's ceiling{label}",
                    f"{seconds_many:.2f} s",
                    f"{ceiling:.2f} s (4 raw processes at once)",
                    f"{ceiling / seconds_many:.0%}",
                    "",
                )
            )
            rows.append(
                (
                    f"  the same, against the scan's own calls{label}",
                    f"{seconds_many:.2f} s",
                    f"{own_calls:.2f} s (raw, {connections} connections)",
                    f"{own_calls / seconds_many:.0%}",
                    "",
                )
            )

        with_scans, with_syncs = args.only != "sync", args.only != "scan"
        if with_scans:
            scans("", net.pds_url, net.pds2_url)

        syncs = DidSyncRows(args.repeat, lambda: settings_for(dbs, net, f"run{next(runs)}"), rows, net.pid)
        huge_did = None
        if args.full and with_syncs:
            huge = pds.create_account(prefix="benchsync50k")
            pds.bulk_create(huge, records.COMMENT, 50_000, factory=comment)
            huge_did = huge.did
        if with_syncs:
            syncs.measure("", net.pds_url, net.pds2_url, big.did, huge_did, [a.did for a in many])
        if args.rtt_ms > 0:
            with latency_relay(net.pds_url, args.rtt_ms) as one, latency_relay(net.pds2_url, args.rtt_ms) as other:
                far = {urlsplit(net.pds_url).port or 0: one, urlsplit(net.pds2_url).port or 0: other}
                label = f", RTT {args.rtt_ms:g} ms"
                with routed(far):
                    if with_scans:
                        scans(label, one, other)
                    if with_syncs:
                        syncs.measure(label, one, other, big.did, huge_did, [a.did for a in many])
        if args.full:
            huge = pds.create_account(prefix="benchhuge")
            pds.bulk_create(huge, records.COMMENT, 100_000, factory=comment)
            from bench.profile_ingest import child_answer  # it imports this module

            # a fresh process that serves the app and runs only the scan: its peak is the server's, not the bench's
            rss_db = dbs.new("rss")
            spec = {
                "db": rss_db.url if isinstance(rss_db, PostgresUrl) else str(rss_db),
                "plc": net.plc_url,
                "nsid": ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN,
                "body": {"pdsUrl": net.pds_url},
            }
            answer = child_answer(sys.executable, None, spec)
            rows.append(
                (
                    "peak RSS of the server, pds-scan of 105k records",
                    f"{answer['peak'] / 2**20:.0f} MB",
                    f"{answer['records']:,} records in {answer['seconds']:.1f} s",
                    "",
                    "< 150 MB",
                )
            )
        pds.close()
        pds2.close()
    return f"ingest against the testnet, on {args.db_backend}", rows


def main() -> None:
    backends.report(measure)


if __name__ == "__main__":
    main()
