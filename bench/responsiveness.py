"""Is the API responsive while ingest runs? getBackfillStatus latency under an open-loop load, idle and during a
did-sync of a big repository plus a pds-scan, in the same run; and a closed-loop throughput beside the bare route's.

* A real server process (``chive-admin serve``), on SQLite or ``--db-backend postgresql``, against the testnet.
* An open-loop client: ``--rate`` requests a second (200: a few dashboards polling) sent on a fixed schedule, each
  on a free keep-alive connection (a new one when none is free), its latency measured from the time it was
  *scheduled*, so that time spent queued behind a stalled server counts. First idle for ``--seconds``, then from the
  triggers until both operations have ended: a did-sync of one repository of ``--records`` records and a pds-scan
  of a second PDS holding ``--scan-repos`` repositories of ``--scan-records`` each. The client stands for
  dashboards on other machines, so it runs at niceness -20 where permitted (root): on two shared cores a client at
  the server's priority sent its requests up to 70 ms late, which the latencies then counted as the server's. How
  late it sent is printed (p99 and max), and beside it the machine's own stalls over the same window
  (:mod:`bench.stalls`): the floor the machine puts under any maximum latency measured on it.
* A closed loop of ``--clients`` (200) connections back to back, idle: at 2 cores this measures queueing, so its
  throughput is printed beside the bare Starlette route's (``bench/baseline.py``) rather than its p99.

With ``--split`` (PostgreSQL) the client calls a process started with ``--workers 0`` while a second process runs
the operations; ``--worker-nice`` and ``--api-nice`` start them under ``nice -n``: the shape the README gives
operators whose ingest fills the machine, and ``--api-cpus 0`` keeps the API's process to core 0 and every other
process of the run (the working one and its readers, the testnet, PostgreSQL) to the other cores, as the README
advises them. ``--pds-nice`` renices the testnet (both PDSes and the PLC directory, one
Node process) once it is seeded: in production the PDSes are other machines, and here the one serving a 100k-record
export takes a core at the server's own priority.

With ``--against SRC`` (another checkout's ``src``) each run is made with that code's server too, alternately, on
the same testnet and repositories, and both are printed (medians of ``--repeat`` runs). ``--full`` is the goal's
size: a 100,000-record did-sync and a 20,000-record pds-scan.

    python -m bench.responsiveness [--full] [--repeat N] [--against SRC] [--db-backend sqlite|postgresql|both]
        [--split [--worker-nice N] [--api-nice N] [--api-cpus LIST]] [--pds-nice N]

Needs the Node testnet (``scripts/install-testnet.sh``). It prints; it never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench import backends
from bench.baseline import bare_app
from bench.cpu import pin, renice
from bench.harness import Row, Served, drive, free_port, grid
from bench.stalls import StallProbe, Stalls, favoured, quantile

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.rawhttp import RawConnection

from chive_admin._generated import ids
from chive_admin.store.target import DbTarget, PostgresUrl
from testnet import records
from testnet.harness import Testnet, locate_install
from testnet.pds_client import Account, PdsClient

ADMIN = "did:plc:benchadmin000000000000000"
_CLI = (sys.executable, "-m", "chive_admin.cli.main")
_SRC = Path(__file__).resolve().parent.parent / "src"


def comment(i: int) -> dict[str, object]:
    # every record differs, as real ones do (identical ones would share one block in the export, and one CID)
    return records.review_comment(
        eprint_uri="at://did:plc:bench/pub.chive.eprint.submission/x",
        text=f"Comment {i}: the cancellation semantics in section 3 deserve a worked example.",
    )


def accounts(pds: PdsClient, prefix: str, repos: int, each: int) -> list[Account]:
    """``repos`` new repositories of ``each`` records (made once a bench: every run syncs and scans the same)."""
    made = []
    for _ in range(repos):
        account = pds.create_account(prefix=prefix)
        pds.bulk_create(account, records.COMMENT, each, factory=comment)
        made.append(account)
    return made


@dataclass
class Latencies:
    """Open-loop latencies (ms, from each request's scheduled time) and the requests that failed."""

    ms: list[float] = field(default_factory=list)
    #: how late each request left the client (ms): the bench's own share of the latencies, on a busy machine
    late_ms: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0
    #: seconds the server's event-loop thread spent runnable but waiting for a core (Linux schedstat)
    server_runqueue: float = float("nan")
    #: the machine's own stalls over the same window (:mod:`bench.stalls`)
    stalls: Stalls | None = None

    def quantile(self, q: float) -> float:
        return quantile(self.ms, q)

    def figures(self) -> dict[str, float]:
        return {
            "p50": self.quantile(0.5),
            "p99": self.quantile(0.99),
            "p99.9": self.quantile(0.999),
            "max": max(self.ms, default=float("nan")),
        }


def runqueue_seconds(pid: int) -> float:
    """Seconds thread ``pid`` (a process's main thread: the server's event loop) has waited on a run queue."""
    try:
        with open(f"/proc/{pid}/task/{pid}/schedstat") as stat:
            return int(stat.read().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return float("nan")


class OpenLoop:
    """Requests to one path at a fixed rate, whatever the answers' pace: a request waits for no earlier one."""

    def __init__(self, port: int, path: str, headers: dict[str, str], rate: float) -> None:
        self.port, self.path, self.headers, self.rate = port, path, headers, rate
        self._idle: collections.deque[RawConnection] = collections.deque()  # FIFO: none idles into a server timeout
        self._open: list[RawConnection] = []

    async def _one(self, scheduled: float, into: Latencies) -> None:
        connection = self._idle.popleft() if self._idle else None
        try:
            if connection is None:
                connection = RawConnection("127.0.0.1", self.port, {})
                await connection.__aenter__()
                self._open.append(connection)
            into.late_ms.append((time.perf_counter() - scheduled) * 1000)
            answer = await connection.request("GET", self.path, headers=self.headers)
        except (OSError, asyncio.IncompleteReadError) as exc:
            into.errors += 1
            print(f"  open loop: {type(exc).__name__}: {exc}", flush=True)
            return
        into.ms.append((time.perf_counter() - scheduled) * 1000)
        if answer.status != 200:
            into.errors += 1
            print(f"  open loop: {answer.status} {answer.text[:200]}", flush=True)
            return
        self._idle.append(connection)

    async def run(self, until: asyncio.Future[None] | float, server_pid: int | None = None) -> Latencies:
        """Until ``until`` (seconds, or a future that ends the run when done); with ``server_pid``, how long its loop
        waited for a core and how the machine itself stalled meanwhile."""
        if server_pid is None:
            return await self._run(until, None)
        with StallProbe() as probe:
            into = await self._run(until, server_pid)
        into.stalls = probe.result
        return into

    async def _run(self, until: asyncio.Future[None] | float, server_pid: int | None) -> Latencies:
        into = Latencies()
        waited = runqueue_seconds(server_pid) if server_pid else float("nan")
        tasks: set[asyncio.Task[None]] = set()
        began = time.perf_counter()
        end = began + until if isinstance(until, float) else None
        n = 0
        while True:
            now = time.perf_counter()
            if (end is not None and now >= end) or (not isinstance(until, float) and until.done()):
                break
            scheduled = began + n / self.rate
            if scheduled > now:
                await asyncio.sleep(scheduled - now)
                continue
            task = asyncio.create_task(self._one(scheduled, into))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            n += 1
        into.seconds = time.perf_counter() - began
        if tasks:
            await asyncio.wait(tasks)
        if server_pid:
            into.server_runqueue = runqueue_seconds(server_pid) - waited
        return into

    async def close(self) -> None:
        for connection in self._open:
            await connection.__aexit__(None, None, None)


@dataclass(frozen=True)
class Setup:
    net: Testnet
    big: Account
    scan_pds: str
    rate: float
    seconds: float
    clients: int
    #: the API served by a process of its own (``--workers 0``) beside one that runs the operations (PostgreSQL)
    split: bool = False
    #: the niceness of that second process, and of the API's (what ``nice -n`` gives them)
    worker_nice: int = 0
    api_nice: int = 0
    #: with ``split``: the cores the API's process is kept to, every other process of the run to the rest (none: all
    #: of them anywhere)
    api_cpus: frozenset[int] = frozenset()

    @property
    def ingest_cpus(self) -> frozenset[int]:
        """The cores every process but the API's is kept to; none (anywhere) when the API's is not kept."""
        return frozenset(os.sched_getaffinity(0) - self.api_cpus) if self.api_cpus else frozenset()


class Server:
    """``chive-admin serve`` in a child process, with ``src`` first on its path."""

    def __init__(
        self,
        src: Path,
        db: DbTarget,
        plc_url: str,
        workers: int | None = None,
        nice: int = 0,
        cpus: frozenset[int] = frozenset(),
    ) -> None:
        self.src, self.port = src, free_port()
        self.db = db.url if isinstance(db, PostgresUrl) else str(db)
        # first on the path, before what the caller's PYTHONPATH adds (a profiler's sitecustomize, say)
        self.env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, (str(src), os.environ.get("PYTHONPATH")))))
        self.process = subprocess.Popen(
            [
                *(("nice", "-n", str(nice)) if nice else ()),
                *_CLI,
                "serve",
                "--db",
                self.db,
                "--port",
                str(self.port),
                "--plc-url",
                plc_url,
                "--allow-private-network",
                "--admin-did",
                ADMIN,
                "--log-level",
                "warning",
                *(() if workers is None else ("--workers", str(workers))),
            ],
            env=self.env,
        )
        if cpus:
            pin(self.process.pid, cpus)  # before it starts its export readers, which keep to its cores
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/", timeout=0.5)
                break
            except httpx.HTTPError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("bench server did not start") from None
                time.sleep(0.1)
        made = subprocess.run(
            [
                sys.executable,
                "-m",
                "chive_admin.cli.main",
                "keys",
                "create",
                "--db",
                self.db,
                "--did",
                ADMIN,
                "--name",
                "bench",
            ],
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        )
        found = re.search(r"ca_\S+", made.stdout)
        if found is None:
            self.stop()
            raise RuntimeError(f"no key printed: {made.stdout!r} {made.stderr!r}")
        self.headers = {"Authorization": f"Bearer {found.group(0)}"}

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextlib.contextmanager
def serving(src: Path, db: DbTarget, setup: Setup) -> Iterator[Server]:
    """The server the client calls; with ``setup.split``, an API-only one (``--workers 0``) beside one that works."""
    plc_url = setup.net.plc_url
    with contextlib.ExitStack() as stack:
        if setup.split:
            stack.callback(Server(src, db, plc_url, nice=setup.worker_nice, cpus=setup.ingest_cpus).stop)
        server = Server(src, db, plc_url, workers=0 if setup.split else None, nice=setup.api_nice, cpus=setup.api_cpus)
        stack.callback(server.stop)
        yield server


@dataclass(frozen=True)
class Run:
    idle: Latencies
    ingest: Latencies
    #: seconds from the triggers until both operations ended, and the records they processed
    ingest_seconds: float
    ingested: int
    closed_rate: float
    #: the open-loop client ran at niceness -20
    client_favoured: bool = False


async def _trigger(connection: RawConnection, headers: dict[str, str], nsid: str, body: object) -> str:
    answer = await connection.request("POST", f"/xrpc/{nsid}", body, headers=headers)
    if answer.status != 200:
        raise RuntimeError(f"trigger {nsid}: {answer.status} {answer.text[:300]}")
    return str(answer.json()["operationId"])


async def _watch(port: int, headers: dict[str, str], op_ids: list[str], done: asyncio.Future[None]) -> int:
    """Poll the operations (4 times a second, not counted) until all have ended; the records they processed."""
    status = f"/xrpc/{ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS}"
    try:
        async with RawConnection("127.0.0.1", port, {}) as connection:
            while True:
                ops = [
                    (await connection.request("GET", f"{status}?id={op_id}", headers=headers)).json()["operation"]
                    for op_id in op_ids
                ]
                if all(op["status"] not in ("queued", "running") for op in ops):
                    for op in ops:
                        if op["status"] != "completed":
                            print(f"  operation ended {op['status']}: {op}", flush=True)
                    return sum(int(op.get("recordsProcessed", 0)) for op in ops)
                await asyncio.sleep(0.25)
    finally:
        done.set_result(None)


async def _loads(server: Server, setup: Setup) -> tuple[Latencies, Latencies, float, int]:
    status = f"/xrpc/{ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS}"
    loop = OpenLoop(server.port, status, server.headers, setup.rate)
    try:
        await loop.run(1.0)  # warm-up: connections opened, code paths and caches warm; not counted
        idle = await loop.run(setup.seconds, server.process.pid)
        async with RawConnection("127.0.0.1", server.port, {}) as connection:
            started = time.perf_counter()
            op_ids = [
                await _trigger(
                    connection, server.headers, ids.PUB_CHIVE_ADMIN_TRIGGER_DID_SYNC, {"did": setup.big.did}
                ),
                await _trigger(
                    connection, server.headers, ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN, {"pdsUrl": setup.scan_pds}
                ),
            ]
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        watcher = asyncio.create_task(_watch(server.port, server.headers, op_ids, done))
        ingest = await loop.run(done, server.process.pid)
        ingested = await watcher
        return idle, ingest, time.perf_counter() - started, ingested
    finally:
        await loop.close()


def one_run(src: Path, dbs: backends.Databases, setup: Setup) -> Run:
    with serving(src, dbs.new("responsive"), setup) as server:
        # for py-spy or a profiler to attach to
        print(f"  server pid {server.process.pid} ({src})", flush=True)
        # the client stands for dashboards on other machines: favoured over everything here (where permitted), so
        # the time it would wait for a core is not counted as the server's (how late it sent is printed all the same)
        with favoured() as client_favoured:
            idle, ingest, seconds, ingested = asyncio.run(_loads(server, setup))
        status = f"http://127.0.0.1:{server.port}/xrpc/{ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS}"
        closed = drive(status, lambda _: server.headers, concurrency=setup.clients, seconds=min(setup.seconds, 5.0))
    return Run(idle, ingest, seconds, ingested, closed.rate, client_favoured)


def _ms(value: float) -> str:
    return f"{value:.1f} ms"


def _stalled(runs: list[Run], phase: str) -> tuple[float, float]:
    """The median over ``runs`` of the machine's p99.9 and largest stall in ``phase`` (ms)."""
    seen = [s for s in (getattr(run, phase).stalls for run in runs) if s is not None]
    if not seen:
        return float("nan"), float("nan")
    return statistics.median(s.p999_ms for s in seen), statistics.median(s.max_ms for s in seen)


def _median(runs: list[Run], phase: str, figure: str) -> float:
    return float(statistics.median(getattr(run, phase).figures()[figure] for run in runs))


GOALS = {"p99": "< 10 ms", "max": "< 25 ms"}


def rows_for(runs: list[Run], bare_rate: float, label: str = "") -> list[Row]:
    rows: list[Row] = []
    for figure in ("p50", "p99", "p99.9", "max"):
        under, idle = _median(runs, "ingest", figure), _median(runs, "idle", figure)
        rows.append(
            (
                f"{figure} under ingest{label} (idle same run)",
                _ms(under),
                _ms(idle),
                f"{under / idle:.1f}x",
                GOALS.get(figure, ""),
            )
        )
    late = [statistics.median(quantile(r.ingest.late_ms, q) for r in runs) for q in (0.99, 1.0)]
    late_idle = [statistics.median(quantile(r.idle.late_ms, q) for r in runs) for q in (0.99, 1.0)]
    queued = statistics.median(r.ingest.server_runqueue / r.ingest.seconds for r in runs)
    queued_idle = statistics.median(r.idle.server_runqueue / r.idle.seconds for r in runs)
    stalled, stalled_idle = _stalled(runs, "ingest"), _stalled(runs, "idle")
    favoured = all(r.ingest.stalls is not None and r.ingest.stalls.favoured for r in runs)
    sleeper = "a 1 ms sleeper at nice -20" if favoured else "a 1 ms sleeper, NOT favoured: run as root"
    client = "at nice -20" if all(r.client_favoured for r in runs) else "NOT favoured: run as root"
    rows += [
        (
            f"  of it, the client sending late{label} ({client}: p99 / max)",
            f"{late[0]:.1f} / {late[1]:.1f} ms",
            f"{late_idle[0]:.1f} / {late_idle[1]:.1f} ms",
            "",
            "",
        ),
        (f"  server loop thread waiting for a core{label}", f"{queued:.1%} of the time", f"{queued_idle:.1%}", "", ""),
        (
            f"  the machine's own stalls{label} ({sleeper}: p99.9 / max oversleep)",
            f"{stalled[0]:.1f} / {stalled[1]:.1f} ms",
            f"{stalled_idle[0]:.1f} / {stalled_idle[1]:.1f} ms",
            "",
            "",
        ),
    ]
    seconds = statistics.median(r.ingest_seconds for r in runs)
    ingested = statistics.median(r.ingested for r in runs)
    errors = sum(r.idle.errors + r.ingest.errors for r in runs)
    closed = statistics.median(r.closed_rate for r in runs)
    rows += [
        (
            f"ingest while polled{label}",
            f"{ingested / seconds:,.0f} rec/s",
            f"{ingested:,.0f} records in {seconds:.1f} s",
            "",
            "",
        ),
        (
            f"closed loop, idle{label}",
            f"{closed:,.0f} req/s",
            f"{bare_rate:,.0f} req/s (bare route)",
            f"{closed / bare_rate:.0%}",
            "",
        ),
        (f"errors{label}", str(errors), "", "", "0"),
    ]
    return rows


def _cpu_list(text: str) -> frozenset[int]:
    try:
        return frozenset(int(cpu) for cpu in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of core numbers: {text!r}") from None


def _cpus(cpus: frozenset[int]) -> str:
    return ",".join(map(str, sorted(cpus)))


def measure(argv: list[str] | None = None) -> tuple[str, list[Row]]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="the goal's size: 100k-record did-sync, 20k pds-scan")
    parser.add_argument("--records", type=int, help="records of the did-synced repository (default 10k, full 100k)")
    parser.add_argument("--scan-repos", type=int, help="repositories the pds-scan reads (default 10, full 20)")
    parser.add_argument("--scan-records", type=int, help="records of each (default 500, full 1000)")
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=5.0, help="of the idle open loop")
    parser.add_argument("--clients", type=int, default=200, help="of the closed loop")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--against", type=Path, help="another checkout's src: its server is measured alternately")
    parser.add_argument(
        "--split",
        action="store_true",
        help="PostgreSQL: the API answered by a process with --workers 0, the operations run by a second process",
    )
    parser.add_argument("--worker-nice", type=int, default=0, help="with --split: the working process's niceness")
    parser.add_argument("--api-nice", type=int, default=0, help="the niceness of the process the client calls")
    parser.add_argument(
        "--pds-nice",
        type=int,
        default=0,
        help="the testnet's niceness once seeded: a PDS on another machine takes none of the server's cores",
    )
    parser.add_argument(
        "--api-cpus",
        type=_cpu_list,
        default=frozenset(),
        help="with --split: keep the API's process to these cores (0 or 0,1) and the rest of the run (the working"
        " process, its readers, the testnet, PostgreSQL) to the others",
    )
    backends.add_option(parser)
    args = parser.parse_args(argv)
    if args.db_backend == backends.BOTH:
        parser.error("--db-backend both is for main(), which runs this once per backend")
    if args.split and args.db_backend != backends.POSTGRESQL:
        parser.error("--split needs --db-backend postgresql: an SQLite database has one process")
    if args.api_cpus and not args.split:
        parser.error("--api-cpus needs --split: it gives the API's process cores the working one does not use")
    if args.api_cpus and not args.api_cpus < os.sched_getaffinity(0):
        parser.error(f"--api-cpus must leave a core for the rest, of the cores {sorted(os.sched_getaffinity(0))}")
    big_records = args.records or (100_000 if args.full else 10_000)
    scan_repos = args.scan_repos or (20 if args.full else 10)
    scan_records = args.scan_records or (1000 if args.full else 500)
    with (
        tempfile.TemporaryDirectory() as tmp_name,
        backends.databases(args.db_backend, Path(tmp_name)) as dbs,
        Testnet(locate_install()) as net,
    ):
        with (
            PdsClient(net.pds_url, admin_password=net.info.admin_password, handle_domain=net.info.handle_domain) as pds,
            PdsClient(
                net.pds2_url, admin_password=net.info.admin_password, handle_domain=net.info.handle_domain
            ) as pds2,
        ):
            print(
                f"  seeding {big_records:,} records, and {scan_repos} x {scan_records:,} on the second PDS", flush=True
            )
            (big,) = accounts(pds, "respbig", 1, big_records)
            accounts(pds2, "respscan", scan_repos, scan_records)
        if args.pds_nice:
            renice(net.pid, args.pds_nice)
        setup = Setup(
            net,
            big,
            net.pds2_url,
            args.rate,
            args.seconds,
            args.clients,
            args.split,
            args.worker_nice,
            args.api_nice,
            args.api_cpus,
        )
        if args.api_cpus:
            pin(net.pid, setup.ingest_cpus)
            assert dbs.cluster is not None  # --split is PostgreSQL's
            postmaster = dbs.cluster.postmaster_pid()
            assert postmaster is not None
            pin(postmaster, setup.ingest_cpus)
        with Served(bare_app) as bare:
            bare_rate = drive(bare.url + "/json", concurrency=args.clients, seconds=min(args.seconds, 5.0)).rate
        ours: list[Run] = []
        theirs: list[Run] = []
        for _ in range(args.repeat):
            if args.against is not None:
                theirs.append(one_run(args.against, dbs, setup))
            ours.append(one_run(_SRC, dbs, setup))
            print(f"  uptime: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} (1, 5 min load)", flush=True)
    rows = rows_for(ours, bare_rate)
    if theirs:
        rows += rows_for(theirs, bare_rate, label=" [against]")
        print(ab_table(ours, theirs))
    title = (
        f"getBackfillStatus at {args.rate:g}/s open loop, idle and during a {big_records:,}-record did-sync and a"
        f" {scan_repos * scan_records:,}-record pds-scan, on {args.db_backend}"
        f"{f', the API in a process of its own (the other at nice {args.worker_nice})' if args.split else ''}"
        f"{f', the API at nice {args.api_nice}' if args.api_nice else ''}"
        f"{f', the testnet at nice {args.pds_nice}' if args.pds_nice else ''}"
        f"{f', the API on cores {_cpus(args.api_cpus)}, all else on the rest' if args.api_cpus else ''}"
        f" (medians of {args.repeat})"
    )
    return title, rows


def ab_table(ours: list[Run], theirs: list[Run]) -> str:
    lines = []
    for phase in ("idle", "ingest"):
        for figure in ("p50", "p99", "p99.9", "max"):
            a, b = _median(ours, phase, figure), _median(theirs, phase, figure)
            each = " ".join(f"{getattr(r, phase).figures()[figure]:.1f}" for r in ours)
            each_b = " ".join(f"{getattr(r, phase).figures()[figure]:.1f}" for r in theirs)
            lines.append([f"{figure} {phase}", _ms(a), _ms(b), f"{a / b:.2f}", f"{each} | {each_b}"])
    return grid(["figure", "ours", "against", "ratio", "each run (ours | against)"], lines)


def main() -> None:
    backends.report(measure)


if __name__ == "__main__":
    main()
