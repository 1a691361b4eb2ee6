"""What the multi-process tests share: real ``chive-admin serve`` processes on one database, every one of them
stopped when the test ends whatever happened; a scripted PDS filled with records; and what the database holds."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from support.db_rows import rows
from support.pds import ScriptedPds, cid_of
from support.server import ServerProcess, db_arg

from chive_admin.store.target import DbTarget
from testnet import records

ADMIN_DID = "did:plc:multiadmin00000000000000"
#: a short lease, so that a test waits seconds for a dead process's op, not the default's half minute
LEASE_SECONDS = 3


@dataclass
class Fleet:
    """Servers on ``db``, one worker each unless told (two ops then need two processes), the admin's DID a
    bootstrap admin, loopback upstreams allowed."""

    cwd: Path
    db: DbTarget
    servers: list[ServerProcess] = field(default_factory=list)

    def start(self, *args: str, workers: int = 1) -> ServerProcess:
        server = ServerProcess(
            args=[
                *("--db", db_arg(self.db), "--lease-seconds", str(LEASE_SECONDS), "--workers", str(workers)),
                *("--admin-did", ADMIN_DID, "--allow-private-network", *args),
            ],
            cwd=self.cwd,
        )
        self.servers.append(server)  # before it starts: one that fails to start is reaped too
        return server.start()

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


def fill(pds: ScriptedPds, name: str, repos: int, per_repo: int) -> set[tuple[str, str]]:
    """``repos`` repositories on ``pds`` of ``per_repo`` review comments each; the (uri, cid) the index should hold."""
    expected = set()
    for r in range(repos):
        did = f"did:plc:{name}{r:0{24 - len(name)}d}"
        for n in range(per_repo):
            value = records.review_comment(
                eprint_uri=records.at_uri(did, records.SUBMISSION, "e1"), text=f"comment {n} on {did}"
            )
            expected.add((pds.put(did, records.COMMENT, f"3kc{n:010d}", value), cid_of(value)))
    return expected


def indexed(db: DbTarget) -> set[tuple[str, str]]:
    return {(str(uri), str(cid)) for uri, cid in rows(db, "SELECT uri, cid FROM records WHERE hidden = 0")}


def assert_each_record_once(db: DbTarget, expected: set[tuple[str, str]]) -> None:
    """The index holds exactly ``expected``, none lost, and each row was written once: a page re-read by a resumed
    op found its records unchanged."""
    assert indexed(db) == expected
    assert rows(db, "SELECT count(*), max(writes) FROM records") == [(len(expected), 1)]


@dataclass(frozen=True)
class OpRow:
    status: str
    attempts: int
    records_processed: int
    lease_owner: str | None

    @property
    def engine(self) -> str | None:
        """The engine (one per process) whose worker holds the lease: an owner is ``engine/worker/claim``."""
        return self.lease_owner.split("/", 1)[0] if self.lease_owner else None


def op_row(db: DbTarget, op_id: str) -> OpRow:
    found = rows(db, "SELECT status, attempts, records_processed, lease_owner FROM operations WHERE id = ?", op_id)
    assert found, f"no operation {op_id}"
    status, attempts, processed, owner = found[0]
    return OpRow(str(status), int(attempts), int(processed), None if owner is None else str(owner))


def wait_row(db: DbTarget, op_id: str, until: Any, *, within: float, what: str) -> OpRow:
    """Poll the op's row until ``until(row)``; ``within`` seconds bound the test, they claim nothing."""
    deadline = time.monotonic() + within
    while True:
        row = op_row(db, op_id)
        if until(row):
            return row
        if time.monotonic() > deadline:
            pytest.fail(f"operation {op_id}: {what} not within {within:.0f} s: {row}")
        time.sleep(0.05)


def starters(servers: Iterable[ServerProcess], op_id: str) -> list[ServerProcess]:
    """The servers whose log says a worker of theirs started ``op_id`` (each start of it: one per attempt)."""
    started = re.compile(rf"operation {re.escape(op_id)} \([a-z-]+\) started")
    return [server for server in servers for _ in started.findall(server.output())]
