"""A real ``chive-admin serve`` SIGKILLed in the middle of a pds-scan of a real PDS, then started again: the scan
resumes from its checkpoint, the index ends equal to what the PDS holds, and no record is written twice — once, and
at ten seeded random points of one 5000-record scan."""

from __future__ import annotations

import random
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from interop.ops import expected_index
from support.api import call, started, wait_ended
from support.auth import bearer
from support.server import ServerProcess, create_key

from chive_admin._generated import ids
from chive_admin.store.operations import ENDED
from testnet import records
from testnet.harness import Testnet
from testnet.pds_client import PdsClient

pytestmark = pytest.mark.interop

ADMIN = "did:plc:crashadmin000000000000000"


def read(db: Path, sql: str, *args: object) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        return list(conn.execute(sql, args).fetchall())


def admin_key(db: Path) -> dict[str, str]:
    return bearer(create_key(db, ADMIN, "crash"))


def finish_after_restart(args: list[str], cwd: Path, op_id: str, auth: dict[str, str]) -> None:
    """Start the server again and let the interrupted scan run to its end."""
    server = ServerProcess(args=args, cwd=cwd).start()
    try:
        with httpx.Client(base_url=server.url) as http:
            wait_ended(http, op_id, headers=auth, within=120)
    finally:
        server.stop()


def fill(pds: PdsClient, count: int) -> None:
    account = pds.create_account(prefix="crash")
    comment = records.review_comment(eprint_uri="at://did:plc:x/a.b.c/d")
    pds.bulk_create(account, records.COMMENT, count, factory=lambda i: comment)


def test_sigkill_mid_scan_then_restart(tmp_path: Path, testnet: Testnet, pds2: PdsClient) -> None:
    fill(pds2, 3000)
    db = tmp_path / "crash.db"
    args = ["--db", str(db), "--admin-did", ADMIN, "--allow-private-network", "--plc-url", testnet.plc_url]
    auth = admin_key(db)

    server = ServerProcess(args=args, cwd=tmp_path).start()
    try:
        with httpx.Client(base_url=server.url) as http:
            op_id = started(
                call(http, ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN, {"pdsUrl": testnet.pds2_url}, headers=auth)
            )
        deadline = time.monotonic() + 60
        while read(db, "SELECT records_processed FROM operations WHERE id = ?", op_id)[0][0] < 800:
            assert time.monotonic() < deadline, "the scan made no progress"
            time.sleep(0.02)
    finally:
        server.stop(signal.SIGKILL)
    killed_at = read(db, "SELECT status, records_processed FROM operations WHERE id = ?", op_id)[0]
    assert killed_at[0] == "running"

    finish_after_restart(args, tmp_path, op_id, auth)
    status, attempts, processed = read(
        db, "SELECT status, attempts, records_processed FROM operations WHERE id = ?", op_id
    )[0]
    assert status in ("completed", "partial")
    assert attempts == 2
    indexed = set(read(db, "SELECT uri, cid FROM records WHERE hidden = 0"))
    assert indexed == expected_index(pds2)
    # every row written once: a page re-read after the restart found its records unchanged
    assert read(db, "SELECT max(writes) FROM records")[0][0] == 1
    # the counter counts each record once, re-read pages included at most once more
    assert processed >= len(indexed)


def test_ten_random_kills_during_one_scan(tmp_path: Path, testnet: Testnet, pds2: PdsClient) -> None:
    fill(pds2, 5000)
    expected = expected_index(pds2)
    db = tmp_path / "kills.db"
    args = ["--db", str(db), "--admin-did", ADMIN, "--allow-private-network", "--plc-url", testnet.plc_url]
    auth = admin_key(db)
    # seeded, so a failure names the same kill points on every run
    points = sorted(random.Random(20261123).sample(range(50, len(expected) - 50), 10))
    op_id = ""
    killed_running = 0
    for point in points:
        server = ServerProcess(args=args, cwd=tmp_path).start()
        try:
            if not op_id:
                with httpx.Client(base_url=server.url) as http:
                    scan = {"pdsUrl": testnet.pds2_url}
                    op_id = started(call(http, ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN, scan, headers=auth))
            deadline = time.monotonic() + 60
            while True:
                status, processed = read(db, "SELECT status, records_processed FROM operations WHERE id = ?", op_id)[0]
                if processed >= point or status in ENDED:
                    break
                assert time.monotonic() < deadline, f"no progress towards {point} records"
                time.sleep(0.005)
        finally:
            server.stop(signal.SIGKILL)
        killed_running += read(db, "SELECT status FROM operations WHERE id = ?", op_id)[0][0] == "running"
        assert read(db, "PRAGMA integrity_check") == [("ok",)]

    finish_after_restart(args, tmp_path, op_id, auth)
    status, attempts = read(db, "SELECT status, attempts FROM operations WHERE id = ?", op_id)[0]
    assert status == "completed"
    assert killed_running >= 8  # the kills really landed mid-scan (a fast machine may finish the last stretch)
    assert attempts == killed_running + 1
    assert set(read(db, "SELECT uri, cid FROM records WHERE hidden = 0")) == expected
    assert read(db, "SELECT max(writes) FROM records")[0][0] == 1
