"""A real ``chive-admin serve`` SIGKILLed in the middle of a pds-scan of a real PDS, then started again: the scan
resumes from its checkpoint, the index ends equal to what the PDS holds, and no record is written twice."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from interop import records
from interop.ops import expected_index
from interop.pds_client import PdsClient
from interop.testnet_harness import Testnet
from support.server import ServerProcess, cli_command

from chive_admin._generated import ids

pytestmark = pytest.mark.interop

ADMIN = "did:plc:crashadmin000000000000000"


def read(db: Path, sql: str, *args: object) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        return list(conn.execute(sql, args).fetchall())


def test_sigkill_mid_scan_then_restart(tmp_path: Path, testnet: Testnet, pds2: PdsClient) -> None:
    big = pds2.create_account(prefix="crash")
    pds2.bulk_create(
        big, records.COMMENT, 3000, factory=lambda i: records.review_comment(eprint_uri="at://did:plc:x/a.b.c/d")
    )
    db = tmp_path / "crash.db"
    args = ["--db", str(db), "--admin-did", ADMIN, "--allow-private-network", "--plc-url", testnet.plc_url]
    created = subprocess.run(
        cli_command("keys", "create", "--did", ADMIN, "--name", "crash", "--db", str(db)),
        capture_output=True,
        text=True,
        check=True,
    )
    auth = {"Authorization": f"Bearer {created.stdout.strip()}"}

    server = ServerProcess(args=args, cwd=tmp_path).start()
    try:
        answer = httpx.post(
            f"{server.url}/xrpc/{ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN}", json={"pdsUrl": testnet.pds2_url}, headers=auth
        )
        assert answer.status_code == 200, answer.text
        op_id = answer.json()["operationId"]
        deadline = time.monotonic() + 60
        while read(db, "SELECT records_processed FROM operations WHERE id = ?", op_id)[0][0] < 800:
            assert time.monotonic() < deadline, "the scan made no progress"
            time.sleep(0.02)
    finally:
        server.stop(signal.SIGKILL)
    killed_at = read(db, "SELECT status, records_processed FROM operations WHERE id = ?", op_id)[0]
    assert killed_at[0] == "running"

    server = ServerProcess(args=args, cwd=tmp_path).start()
    try:
        deadline = time.monotonic() + 120
        while read(db, "SELECT status FROM operations WHERE id = ?", op_id)[0][0] in ("queued", "running"):
            assert time.monotonic() < deadline, "the resumed scan did not finish"
            time.sleep(0.1)
    finally:
        server.stop()
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
