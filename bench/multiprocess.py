"""Several ``chive-admin serve`` processes on one PostgreSQL database (issue 23), against the real testnet:

* **sharing** — 50 repositories × 100 records on the second PDS, worked by ONE process vs TWO processes on the
  same database. One operation is worked by one worker from its claim to its end (a pds-scan of the 50 repositories
  is one op, however many processes there are), so what two processes can share is several operations: the 50
  repositories are triggered as 50 did-syncs, all on process A, and the wall time runs from the first trigger until
  the database says all 50 ended. The same 50 as ONE pds-scan are timed too (the ratio shows it does not split).
  Each run gets a fresh database and fresh processes (their start is not timed); every record must be indexed
  exactly once. Beside them, the PDS's ceiling: the same repositories fetched raw by 4 client processes at once.
* **failover** — two processes; a did-sync of one big repository (``--failover-records``) triggered on A; the
  process whose worker runs it (its log says which) is SIGKILLed once the op has made progress, and the seconds
  from the SIGKILL until the op runs again on the survivor (status running, ``attempts`` incremented) are measured,
  then until it completes with every record indexed once. A dead process's ops are taken only when their lease
  expires (``--lease-seconds``, else the server's default), and the survivor looks for expired leases on its own
  schedule, so the figure is the lease plus up to one such look.

The processes are real (``python -m chive_admin.cli.main serve --db postgresql://…`` via ``CHIVE_ADMIN_DB``,
distinct ports, ``--allow-private-network``, ``--admin-did``), called with an API key made by ``chive-admin keys
create``. Every process this bench starts is stopped at the end, also on a failure or Ctrl-C.

    python -m bench.multiprocess [--repos 50] [--records 100] [--repeat 3] [--workers 2]
                                 [--failover-records 20000] [--lease-seconds S] [--only sharing|failover]

Needs the Node testnet (``scripts/install-testnet.sh``) and PostgreSQL (``scripts/install-postgres.sh``). It prints;
it never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench import backends
from bench.harness import grid
from bench.ingest import comment, raw_exports, raw_listing, raw_listing_concurrent
from chive_admin._generated import ids
from chive_admin.settings import DEFAULT_LEASE_SECONDS
from chive_admin.store.target import PostgresUrl
from testnet import records
from testnet.harness import Testnet, locate_install
from testnet.pds_client import Account, PdsClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.server import ServerProcess, cli_command

ADMIN = "did:plc:benchadmin000000000000000"
POLL_S = 0.05
#: how long a batch of ops may take before the bench gives up on it
RUN_TIMEOUT_S = 600.0
ENDED = ("completed", "partial", "failed", "cancelled")
_STARTED = re.compile(r"operation (\S+) \(([a-z-]+)\) started, attempt (\d+)")


def load_average() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


class Fleet:
    """The server processes of one run, all on one database; :meth:`stop_all` stops every one of them."""

    def __init__(self, tmp: Path, url: PostgresUrl, plc_url: str, args: argparse.Namespace) -> None:
        self.tmp = tmp
        self.url = url
        self.plc_url = plc_url
        self.args = args
        self.servers: list[ServerProcess] = []
        self.names: dict[int, str] = {}

    @property
    def env(self) -> dict[str, str]:
        # the URL travels in the environment, not on a command line that ps shows
        env = {"CHIVE_ADMIN_DB": self.url.url}
        if self.args.lease_seconds is not None:
            env["CHIVE_ADMIN_LEASE_SECONDS"] = str(self.args.lease_seconds)
        return env

    async def start(self, name: str) -> ServerProcess:
        workdir = self.tmp / name
        workdir.mkdir(parents=True, exist_ok=True)
        server = ServerProcess(
            args=[
                "--allow-private-network",
                "--plc-url",
                self.plc_url,
                "--admin-did",
                ADMIN,
                "--workers",
                str(self.args.workers),
            ],
            cwd=workdir,
            env=self.env,
        )
        self.servers.append(server)  # before it starts: a start that fails half-way is stopped too
        await asyncio.to_thread(server.start, 60.0)
        self.names[id(server)] = name
        return server

    def name(self, server: ServerProcess) -> str:
        return self.names.get(id(server), "?")

    def api_key(self) -> str:
        made = subprocess.run(
            cli_command("keys", "create", "--did", ADMIN, "--name", "bench"),
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, **self.env},
        )
        return made.stdout.strip()

    def stop_all(self) -> None:
        for server in self.servers:
            server.stop()

    def started(self, op_type: str) -> dict[str, Counter[int]]:
        """Per process: how many times each attempt number of an ``op_type`` op was started (from its log)."""
        found: dict[str, Counter[int]] = {}
        for server in self.servers:
            seen: Counter[int] = Counter()
            for match in _STARTED.finditer(server.output()):
                if match.group(2) == op_type:
                    seen[int(match.group(3))] += 1
            found[self.name(server)] = seen
        return found

    def holder(self, op_id: str, attempt: int) -> ServerProcess | None:
        """The process whose log says it started attempt ``attempt`` of ``op_id``."""
        for server in self.servers:
            if f"operation {op_id} " in server.output():
                for match in _STARTED.finditer(server.output()):
                    if match.group(1) == op_id and int(match.group(3)) == attempt:
                        return server
        return None


_runs = itertools.count()


@contextlib.asynccontextmanager
async def fleet(dbs: backends.Databases, tmp: Path, plc_url: str, args: argparse.Namespace) -> AsyncIterator[Fleet]:
    target = dbs.new("fleet")
    assert isinstance(target, PostgresUrl)
    group = Fleet(tmp / f"run{next(_runs)}", target, plc_url, args)
    try:
        yield group
    finally:
        group.stop_all()


async def trigger(server: ServerProcess, key: str, nsid: str, body: dict[str, Any]) -> str:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        answer = await client.post(f"/xrpc/{nsid}", json=body, headers={"Authorization": f"Bearer {key}"})
    if answer.status_code != 200:
        raise RuntimeError(f"{nsid} answered {answer.status_code}: {answer.text[:300]}")
    return str(answer.json()["operationId"])


async def trigger_many(server: ServerProcess, key: str, nsid: str, bodies: list[dict[str, Any]]) -> list[str]:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:

        async def one(body: dict[str, Any]) -> str:
            answer = await client.post(f"/xrpc/{nsid}", json=body, headers=headers)
            if answer.status_code != 200:
                raise RuntimeError(f"{nsid} answered {answer.status_code}: {answer.text[:300]}")
            return str(answer.json()["operationId"])

        return list(await asyncio.gather(*(one(body) for body in bodies)))


async def wait_ended(conn: asyncpg.Connection, op_ids: list[str]) -> dict[str, int]:
    """Poll until every op ended (for at most ``RUN_TIMEOUT_S``); how many ended in each status."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while True:
        rows = await conn.fetch("SELECT status, count(*) FROM operations WHERE id = ANY($1) GROUP BY status", op_ids)
        counts = {str(r[0]): int(r[1]) for r in rows}
        if sum(n for status, n in counts.items() if status in ENDED) == len(op_ids):
            return counts
        if time.monotonic() > deadline:
            raise RuntimeError(f"ops did not end within {RUN_TIMEOUT_S:.0f} s: {counts}")
        await asyncio.sleep(POLL_S)


@dataclass(frozen=True)
class Run:
    seconds: float
    records: int
    #: process name -> ops of the run it started (first attempts)
    shares: dict[str, int]


async def sharing_run(
    dbs: backends.Databases,
    tmp: Path,
    net: Testnet,
    args: argparse.Namespace,
    processes: int,
    repos: list[Account],
    as_scan: bool,
) -> Run:
    async with fleet(dbs, tmp, net.plc_url, args) as group:
        servers = [await group.start(name) for name in "AB"[:processes]]
        key = await asyncio.to_thread(group.api_key)
        conn = await asyncpg.connect(group.url.url)
        try:
            started = time.perf_counter()
            if as_scan:
                op_ids = [
                    await trigger(servers[0], key, ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN, {"pdsUrl": net.pds2_url})
                ]
            else:
                bodies = [{"did": account.did} for account in repos]
                op_ids = await trigger_many(servers[0], key, ids.PUB_CHIVE_ADMIN_TRIGGER_DID_SYNC, bodies)
            counts = await wait_ended(conn, op_ids)
            seconds = time.perf_counter() - started
            if counts.get("completed") != len(op_ids):
                raise RuntimeError(f"ops ended {counts}")
            stored = await conn.fetchval("SELECT count(*) FROM records")
        finally:
            await conn.close()
        op_type = "pds-scan" if as_scan else "did-sync"
        shares = {name: seen[1] for name, seen in group.started(op_type).items()}
        return Run(seconds, int(stored), shares)


@dataclass(frozen=True)
class Failover:
    killed: str
    survivor: str
    progress_at_kill: int
    to_queued: float
    to_running: float
    to_completed: float
    attempts: int
    records: int


async def failover_run(
    dbs: backends.Databases, tmp: Path, net: Testnet, args: argparse.Namespace, big: Account
) -> Failover:
    async with fleet(dbs, tmp, net.plc_url, args) as group:
        a = await group.start("A")
        await group.start("B")
        key = await asyncio.to_thread(group.api_key)
        conn = await asyncpg.connect(group.url.url)
        try:
            op_id = await trigger(a, key, ids.PUB_CHIVE_ADMIN_TRIGGER_DID_SYNC, {"did": big.did})
            deadline = time.monotonic() + 60
            holder = None
            while holder is None:
                row = await conn.fetchrow("SELECT status, attempts FROM operations WHERE id = $1", op_id)
                if row is not None and row["status"] == "running":
                    holder = group.holder(op_id, 1)
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the did-sync did not start within 60 s: {row}")
                if holder is None:
                    await asyncio.sleep(POLL_S)
            # let it make progress, so that the survivor resumes work already begun (at most a few seconds)
            progress_deadline = time.monotonic() + 5
            progress = 0
            while time.monotonic() < progress_deadline:
                row = await conn.fetchrow("SELECT status, records_processed FROM operations WHERE id = $1", op_id)
                assert row is not None
                if row["status"] != "running":
                    raise RuntimeError(
                        f"the did-sync ended ({row['status']}) before it could be killed: use more records"
                    )
                progress = int(row["records_processed"])
                if progress > 0:
                    break
                await asyncio.sleep(POLL_S)
            holder.stop(signal.SIGKILL)
            killed_at = time.perf_counter()
            to_queued: float | None = None
            to_running: float | None = None
            deadline = time.monotonic() + RUN_TIMEOUT_S
            while to_running is None:
                row = await conn.fetchrow("SELECT status, attempts FROM operations WHERE id = $1", op_id)
                assert row is not None
                now = time.perf_counter() - killed_at
                if row["status"] == "queued" and to_queued is None:
                    to_queued = now
                if row["attempts"] >= 2:
                    if row["status"] == "running":
                        to_running = now
                    elif row["status"] in ENDED:
                        to_running = now  # ran and ended between two polls
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the op did not run again within {RUN_TIMEOUT_S:.0f} s: {dict(row)}")
                await asyncio.sleep(POLL_S)
            counts = await wait_ended(conn, [op_id])
            to_completed = time.perf_counter() - killed_at
            row = await conn.fetchrow("SELECT status, attempts FROM operations WHERE id = $1", op_id)
            assert row is not None
            if row["status"] != "completed":
                raise RuntimeError(f"the resumed op ended {counts}")
            stored = await conn.fetchval("SELECT count(*) FROM records WHERE did = $1", big.did)
        finally:
            await conn.close()
        survivor = next(s for s in group.servers if s is not holder)
        resumed_by = group.holder(op_id, 2)
        return Failover(
            killed=group.name(holder),
            survivor=group.name(resumed_by) if resumed_by is not None else f"{group.name(survivor)}?",
            progress_at_kill=progress,
            to_queued=to_queued if to_queued is not None else to_running,
            to_running=to_running,
            to_completed=to_completed,
            attempts=int(row["attempts"]),
            records=int(stored),
        )


def seed(net: Testnet, args: argparse.Namespace) -> tuple[list[Account], Account | None]:
    pds2 = PdsClient(net.pds2_url, admin_password=net.info.admin_password, handle_domain=net.info.handle_domain)
    try:
        many = [pds2.create_account(prefix=f"bench{i}") for i in range(args.repos)]
        for account in many:
            pds2.bulk_create(account, records.COMMENT, args.records, factory=comment)
    finally:
        pds2.close()
    if args.only == "sharing":
        return many, None
    pds = PdsClient(net.pds_url, admin_password=net.info.admin_password, handle_domain=net.info.handle_domain)
    try:
        big = pds.create_account(prefix="benchbig")
        pds.bulk_create(big, records.COMMENT, args.failover_records, factory=comment)
    finally:
        pds.close()
    return many, big


async def sharing(
    dbs: backends.Databases, tmp: Path, net: Testnet, args: argparse.Namespace, many: list[Account], as_scan: bool
) -> list[str]:
    """One line of the sharing table: the median run by one and by two processes, and the PDS's ceiling."""
    expected = args.repos * args.records
    label = f"{args.repos} did-syncs" if not as_scan else f"1 pds-scan of {args.repos} repos"
    load_before = load_average()
    runs: dict[int, list[Run]] = {1: [], 2: []}
    ceilings = []
    dids = [account.did for account in many]
    for _ in range(args.repeat):
        fetch = raw_listing if as_scan else raw_exports
        ceilings.append(await asyncio.to_thread(raw_listing_concurrent, net.pds2_url, dids, 4, fetch))
        for processes in (1, 2):
            run = await sharing_run(dbs, tmp, net, args, processes, many, as_scan)
            if run.records != expected:
                raise RuntimeError(f"{run.records} records indexed, not {expected}")
            runs[processes].append(run)
    one = statistics.median(r.seconds for r in runs[1])
    two = statistics.median(r.seconds for r in runs[2])
    ceiling = statistics.median(ceilings)
    shares = " / ".join("+".join(f"{name}{n}" for name, n in run.shares.items()) for run in runs[2])
    return [
        f"{label} x {args.records} rec",
        f"{one:.2f} s ({expected / one:,.0f} rec/s)",
        f"{two:.2f} s ({expected / two:,.0f} rec/s)",
        f"{one / two:.2f}x",
        f"{ceiling:.2f} s",
        shares,
        f"{load_before} -> {load_average()}",
    ]


async def measure(args: argparse.Namespace) -> None:
    lines: list[list[str]] = []
    with (
        tempfile.TemporaryDirectory(prefix="chive-mp-") as tmp_name,
        backends.databases(backends.POSTGRESQL, Path(tmp_name)) as dbs,
        Testnet(locate_install()) as net,
    ):
        tmp = Path(tmp_name)
        many, big = await asyncio.to_thread(seed, net, args)
        if args.only in (None, "sharing"):
            for as_scan in (False, True):
                lines.append(await sharing(dbs, tmp, net, args, many, as_scan))
                print(f"[sharing] {lines[-1][0]} done", flush=True)
            print(
                grid(
                    [
                        "work, all triggered on A",
                        "1 process",
                        "2 processes",
                        "ratio",
                        "PDS ceiling",
                        "ops each started (2 processes)",
                        "load",
                    ],
                    lines,
                )
            )
            print(
                "PDS ceiling: the same repositories fetched raw (getRepo for did-sync, listRecords for pds-scan) by 4"
                " client processes at once, no processing: as fast as the testnet's PDS serves them"
            )
        if big is not None and args.only in (None, "failover"):
            load_before = load_average()
            result = await failover_run(dbs, tmp, net, args, big)
            lease = args.lease_seconds if args.lease_seconds is not None else DEFAULT_LEASE_SECONDS
            lease_note = "" if args.lease_seconds is not None else " (the default)"
            print(
                grid(
                    ["failover", "seconds after SIGKILL"],
                    [
                        ["lease", f"{lease:g} s{lease_note}"],
                        [f"killed {result.killed}, at {result.progress_at_kill:,} records", "0"],
                        ["op back in the queue", f"{result.to_queued:.2f}"],
                        [
                            f"op running again on {result.survivor} (attempts {result.attempts})",
                            f"{result.to_running:.2f}",
                        ],
                        [
                            f"op completed, {result.records:,} of {args.failover_records:,} records",
                            f"{result.to_completed:.2f}",
                        ],
                        ["load", f"{load_before} -> {load_average()}"],
                    ],
                )
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repos", type=int, default=50)
    parser.add_argument("--records", type=int, default=100, help="records per repository")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (median shown)")
    parser.add_argument("--workers", type=int, default=2, help="--workers of each process")
    parser.add_argument("--failover-records", type=int, default=20_000)
    parser.add_argument("--lease-seconds", type=int, default=None, help="CHIVE_ADMIN_LEASE_SECONDS of each process")
    parser.add_argument("--only", choices=("sharing", "failover"), help="run one of the two")
    args = parser.parse_args(argv)
    with backends.terminated_as_interrupt():
        asyncio.run(measure(args))


if __name__ == "__main__":
    main()
