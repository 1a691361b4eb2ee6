"""``chive-admin keys`` against a database a real server is using: create, use, list, revoke."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
from support.auth import bearer
from support.server import ServerProcess, cli_command, create_database

from chive_admin._generated import ids

ADMIN = "did:plc:keysadmin0000000000000000"


def keys(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli_command("keys", *args, "--db", str(db)), capture_output=True, text=True, timeout=60, check=False
    )


def test_keys_beside_a_running_server(tmp_path: Path) -> None:
    db = tmp_path / "keys.db"
    server = ServerProcess(args=["--db", str(db), "--admin-did", ADMIN], cwd=tmp_path).start()
    try:
        created = keys("create", "--did", ADMIN, "--name", "ci-nightly", db=db)
        assert created.returncode == 0, created.stderr
        key = created.stdout.strip()
        assert key.startswith("ca_")
        assert "shown once" in created.stderr
        url = f"{server.url}/xrpc/{ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS}"
        assert httpx.get(url, headers=bearer(key)).status_code == 200

        listed = keys("list", db=db)
        assert listed.returncode == 0
        assert "ci-nightly" in listed.stdout
        assert ADMIN in listed.stdout
        assert key not in listed.stdout
        key_id = listed.stdout.split("\t")[0]

        revoked = keys("revoke", key_id, db=db)
        assert revoked.returncode == 0, revoked.stderr
        deadline = time.monotonic() + 15
        status = 200
        while time.monotonic() < deadline and status == 200:  # cached lookups expire within 5 s
            status = httpx.get(url, headers=bearer(key)).status_code
            time.sleep(0.2)
        assert status == 401
        assert keys("revoke", key_id, db=db).returncode == 1
    finally:
        server.stop()
    assert key not in server.output()
    listed = keys("list", db=db).stdout
    assert "last used 20" in listed  # the batched last-use write landed before shutdown


def test_bad_arguments_are_one_line(tmp_path: Path) -> None:
    db = tmp_path / "k.db"
    create_database(db)
    bad_did = keys("create", "--did", "nope", "--name", "x", db=db)
    assert bad_did.returncode == 2
    assert bad_did.stderr.count("\n") == 1
    bad_name = keys("create", "--did", ADMIN, "--name", " ", db=db)
    assert bad_name.returncode == 2


def test_a_metrics_writer_key_records_and_administers_nothing(tmp_path: Path) -> None:
    db = tmp_path / "writer.db"
    writer = "did:plc:keysmetricswriter000000000"
    server = ServerProcess(args=["--db", str(db)], cwd=tmp_path).start()
    try:
        granted = subprocess.run(
            cli_command("roles", "grant", writer, "metrics-writer", "--db", str(db)),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert granted.returncode == 0, granted.stderr
        created = keys("create", "--did", writer, "--name", "front-end", db=db)
        assert created.returncode == 0, created.stderr
        assert "warning" not in created.stderr  # the role it needs is held
        key = created.stdout.strip()
        deadline = time.monotonic() + 15
        view = {"uri": "at://did:plc:nobody00000000000000000/pub.chive.eprint.submission/x"}
        recorded = httpx.post(f"{server.url}/xrpc/{ids.PUB_CHIVE_METRICS_RECORD_VIEW}", json=view, headers=bearer(key))
        while recorded.status_code == 403 and time.monotonic() < deadline:  # the role cache: within 5 s
            time.sleep(0.2)
            recorded = httpx.post(
                f"{server.url}/xrpc/{ids.PUB_CHIVE_METRICS_RECORD_VIEW}", json=view, headers=bearer(key)
            )
        assert (recorded.status_code, recorded.json()["error"]) == (400, "NotFound")  # allowed; no such eprint
        status = httpx.get(f"{server.url}/xrpc/{ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS}", headers=bearer(key))
        assert status.status_code == 403
        without = keys("create", "--did", "did:plc:keysnobody0000000000000000", "--name", "x", db=db)
        assert "metrics-writer" in without.stderr
    finally:
        server.stop()
