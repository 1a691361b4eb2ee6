"""The disk fills up under a real ``chive-admin serve`` in the middle of a pds-scan of a real PDS: the scan's batch
rolls back and the op waits in the queue with ``errorCode: storage_full``; the server keeps answering (writes get
503 NotEnoughResources, never a 500; getSystemHealth says degraded, with the free bytes); the database stays intact
(``PRAGMA integrity_check``); and once space returns the same op resumes on its own and completes with an index
equal to upstream, no record written twice.

The disk is a real tmpfs of 64 MB (mounting needs root, as in CI) filled with a ballast file. Its size is the room
the resumed scan has once the ballast goes: the scan indexes every repository of the session's second PDS (some
9,000 records by the time this test runs in the whole suite), and 16 MB filled up again with them now and then (the
op then rightly waited for space until the test gave up).
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from interop.ops import expected_index
from support.api import call, started, wait_ended, wait_until
from support.auth import bearer
from support.server import ServerProcess, create_key
from support.unavailable import unavailable

from chive_admin._generated import ids
from testnet import records
from testnet.harness import Testnet
from testnet.pds_client import PdsClient

pytestmark = pytest.mark.interop

ADMIN = "did:plc:diskfulladmin0000000000000"
LEFT_FREE = 160 * 1024


def read(db: Path, sql: str, *args: object) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        return list(conn.execute(sql, args).fetchall())


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        unavailable(f"cannot mount a small tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill_disk(path: Path, leave: int) -> None:
    """Write ``path`` until the disk is full (ENOSPC), then give back ``leave`` bytes."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for chunk in (1 << 20, 1 << 12):
            block = b"\0" * chunk
            while True:
                try:
                    os.write(fd, block)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
        size = os.lseek(fd, 0, os.SEEK_CUR)
    finally:
        os.close(fd)
    os.truncate(path, max(0, size - leave))
    probe = os.statvfs(path.parent)
    assert probe.f_bavail * probe.f_frsize <= leave + (1 << 16)


def test_disk_full_mid_scan_then_space_returns(
    tmp_path: Path, small_disk: Path, testnet: Testnet, pds2: PdsClient
) -> None:
    account = pds2.create_account(prefix="diskfull")
    comment = records.review_comment(eprint_uri="at://did:plc:x/a.b.c/d")
    pds2.bulk_create(account, records.COMMENT, 3000, factory=lambda i: comment)
    expected = expected_index(pds2)
    db = small_disk / "full.db"
    key = create_key(db, ADMIN, "disk")
    auth = bearer(key)
    args = ["--db", str(db), "--admin-did", ADMIN, "--allow-private-network", "--plc-url", testnet.plc_url]
    server = ServerProcess(args=args, cwd=tmp_path).start()
    ballast = small_disk / "ballast"
    try:
        fill_disk(ballast, LEFT_FREE)
        with httpx.Client(base_url=server.url) as http:
            op_id = started(
                call(http, ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN, {"pdsUrl": testnet.pds2_url}, headers=auth)
            )
            # reads keep working on a full disk (every poll is answered), and the op is never failed for it
            op = wait_until(http, op_id, lambda op: op.get("errorCode") == "storage_full", headers=auth)
            assert op["status"] in ("queued", "running")
            stuck_at = op["recordsProcessed"]
            assert stuck_at < len(expected)

            # a write while the disk is full: either it fits, or a clear 503 — never a 500
            other = call(http, ids.PUB_CHIVE_ADMIN_TRIGGER_FULL_REINDEX, {"batchSize": 100}, headers=auth)
            assert other.status_code in (200, 503), other.text
            if other.status_code == 503:
                assert other.json()["error"] == "NotEnoughResources"
            assert read(db, "PRAGMA integrity_check") == [("ok",)]
            health = call(http, ids.PUB_CHIVE_ADMIN_GET_SYSTEM_HEALTH, headers=auth).json()
            assert health["status"] == "degraded"
            assert health["databases"][0]["diskFreeBytes"] < 1 << 20

            ballast.unlink()  # space returns: the same op resumes by itself
            try:
                op = wait_ended(http, op_id, headers=auth, within=120)
            except pytest.fail.Exception as stuck:  # seen once in CI, not since: what the server did is the clue
                pytest.fail(f"{stuck}\n--- the server's log, its end ---\n{server.output()[-8000:]}")
    finally:
        with contextlib.suppress(FileNotFoundError):
            ballast.unlink()
        server.stop()
    assert op["status"] == "completed", op
    assert "errorCode" not in op
    assert op["attempts"] >= 2
    assert read(db, "PRAGMA integrity_check") == [("ok",)]
    assert set(read(db, "SELECT uri, cid FROM records WHERE hidden = 0")) == expected
    assert read(db, "SELECT max(writes) FROM records")[0][0] == 1
