"""``chive-admin ops`` and ``dlq`` as an operator runs them: the real CLI against a real server, and the progress
display under a pseudo-terminal."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest
from support.server import ServerProcess, cli_command, count_job_server, create_key

from chive_admin._generated import ids

ADMIN = "did:plc:opsadmin00000000000000000"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, str]]:
    tmp = tmp_path_factory.mktemp("ops")
    db = tmp / "ops.db"
    key = create_key(db, ADMIN, "ops")
    server = count_job_server(
        tmp,
        ["--db", str(db), "--admin-did", ADMIN, "--allow-private-network"],
        {"TEST_JOB_ITEMS": "300", "TEST_JOB_DELAY": "0.02", "TEST_JOB_DLQ_EVERY": "100"},
    ).start()
    try:
        yield server, key
    finally:
        server.stop()


def cli(served: tuple[ServerProcess, str], *args: str) -> subprocess.CompletedProcess[str]:
    server, key = served
    env = {**os.environ, "CHIVE_ADMIN_URL": server.url, "CHIVE_ADMIN_KEY": key}
    return subprocess.run(cli_command(*args), capture_output=True, text=True, env=env, timeout=120, check=False)


def trigger_count(served: tuple[ServerProcess, str], batch: int) -> str:
    server, key = served
    response = httpx.post(
        f"{server.url}/xrpc/{ids.PUB_CHIVE_ADMIN_TRIGGER_BACKFILL}",
        json={"type": "testCount", "batchSize": batch},
        headers={"Authorization": f"Bearer {key}"},
    )
    return str(response.json()["operation"]["id"])


def test_trigger_and_watch_a_completed_op(served: tuple[ServerProcess, str]) -> None:
    done = cli(served, "ops", "trigger", "full-reindex", "--batch-size", "100", "--watch", "--json")
    assert done.returncode == 0, done.stderr
    last = json.loads(done.stdout.strip().splitlines()[-1])
    assert (last["type"], last["status"]) == ("full-reindex", "completed")
    shown = cli(served, "ops", "show", last["id"], "--json")
    assert json.loads(shown.stdout)["operation"]["id"] == last["id"]
    listed = cli(served, "ops", "list", "--status", "completed", "--json")
    assert last["id"] in {op["id"] for op in json.loads(listed.stdout)["operations"]}


def test_a_failed_op_exits_non_zero_with_its_error(served: tuple[ServerProcess, str]) -> None:
    failed = cli(served, "ops", "trigger", "pds-scan", "--pds-url", "http://127.0.0.1:9", "--watch")
    assert failed.returncode == 4
    assert "failed" in failed.stdout
    assert "pds_unreachable" in failed.stdout


def test_cancel_and_watch_a_cancelled_op(served: tuple[ServerProcess, str]) -> None:
    op_id = trigger_count(served, 1)
    cancelled = cli(served, "ops", "cancel", op_id)
    assert cancelled.returncode == 0
    watched = cli(served, "ops", "watch", op_id, "--interval", "0.1")
    assert watched.returncode == 5
    assert "cancelled" in watched.stdout


def test_server_errors_are_one_line(served: tuple[ServerProcess, str]) -> None:
    missing = cli(served, "ops", "cancel", "01NOSUCHOP")
    assert missing.returncode == 1
    assert missing.stderr == "chive-admin: error: InvalidRequest: No operation has id '01NOSUCHOP'\n"
    wrong_key = subprocess.run(
        cli_command("ops", "list", "--url", served[0].url, "--key", "ca_wrong"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert wrong_key.returncode == 1
    assert wrong_key.stderr.startswith("chive-admin: error: AuthenticationRequired")
    unreachable = cli(served, "ops", "list", "--url", "http://127.0.0.1:9")
    assert unreachable.returncode == 1
    assert "cannot reach" in unreachable.stderr
    misuse = cli(served, "ops", "trigger", "governance-sync", "--did", "did:plc:x")
    assert misuse.returncode == 2


def test_dlq_commands(served: tuple[ServerProcess, str]) -> None:
    op_id = trigger_count(served, 50)
    assert cli(served, "ops", "watch", op_id, "--interval", "0.1").returncode == 3  # partial: dead letters
    listed = cli(served, "dlq", "list", "--json")
    total = json.loads(listed.stdout)["total"]
    assert total >= 3
    assert cli(served, "dlq", "dismiss", "0").returncode == 0
    assert json.loads(cli(served, "dlq", "list", "--json").stdout)["total"] == total - 1
    retried = cli(served, "dlq", "retry", "--all", "--json")
    assert json.loads(retried.stdout)["retriedCount"] == total - 1
    human = cli(served, "dlq", "list")
    assert "entries in all" in human.stdout


def test_watch_shows_live_progress_on_a_terminal(served: tuple[ServerProcess, str]) -> None:
    server, key = served
    op_id = trigger_count(served, 1)  # 300 batches of 0.02 s: several polls see it running
    primary, secondary = pty.openpty()
    env = {**os.environ, "CHIVE_ADMIN_URL": server.url, "CHIVE_ADMIN_KEY": key, "COLUMNS": "120", "TERM": "xterm"}
    proc = subprocess.Popen(
        cli_command("ops", "watch", op_id, "--interval", "0.2"),
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env=env,
        close_fds=True,
    )
    os.close(secondary)
    seen = b""
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([primary], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(primary, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                seen += chunk
            elif proc.poll() is not None:
                break
        code = proc.wait(30)
    finally:
        os.close(primary)
        if proc.poll() is None:
            proc.kill()
    text = seen.decode(errors="replace")
    assert code == 3  # partial: every 100th item is dead-lettered
    assert "running" in text
    assert "rec/s" in text
    assert "/300" in text
    assert "\x1b[" in text  # redrawn in place, a live display
    assert f"{op_id} partial" in text
