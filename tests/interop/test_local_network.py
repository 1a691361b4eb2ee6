"""The README's "Try it on a local network", step by step with the same commands: ``scripts/start-testnet``,
``scripts/seed-testnet``, ``chive-admin serve --allow-private-network --plc-url …``, a key, a watched pds-scan; then
Ctrl-C stops the network and nothing of it is left."""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from support.auth import bearer
from support.server import ServerProcess, cli_command, create_key, free_port

from chive_admin._generated import ids
from testnet.harness import REPO_ROOT
from testnet.pds_client import PdsClient

pytestmark = pytest.mark.interop

SCRIPTS = REPO_ROOT / "scripts"


def first_line(proc: subprocess.Popen[bytes], within: float) -> bytes:
    """The first line ``proc`` prints, waiting at most ``within`` seconds."""
    assert proc.stdout is not None
    line = b""
    deadline = time.monotonic() + within
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while not line.endswith(b"\n"):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise AssertionError(f"scripts/start-testnet printed no line (exit {proc.poll()})")
            if selector.select(timeout=0.5):
                chunk = os.read(proc.stdout.fileno(), 1)
                if not chunk:
                    raise AssertionError("scripts/start-testnet closed its output")
                line += chunk
    return line


def listening(url: str) -> bool:
    parts = urlsplit(url)
    with contextlib.suppress(OSError), socket.create_connection((parts.hostname, parts.port), timeout=1):
        return True
    return False


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_try_it_on_a_local_network(tmp_path: Path, testnet_install_dir: Path) -> None:
    env = {**os.environ, "CHIVE_TESTNET_DIR": str(testnet_install_dir), "PYTHON": sys.executable}
    ports = [str(free_port()) for _ in range(3)]
    log = (tmp_path / "testnet.log").open("wb")
    command = [str(SCRIPTS / "start-testnet"), "--plc-port", ports[0], "--pds-port", ports[1], "--pds2-port", ports[2]]
    net = subprocess.Popen(
        [*command, "--json"],
        stdout=subprocess.PIPE,
        stderr=log,
        env=env,
        start_new_session=True,  # as in a terminal of its own: Ctrl-C reaches only it
    )
    try:
        info = json.loads(first_line(net, within=120))
        assert (info["plc"], info["pds"]) == (f"http://localhost:{ports[0]}", f"http://localhost:{ports[1]}")

        seeded = subprocess.run(
            [str(SCRIPTS / "seed-testnet"), "--pds", info["pds"], "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        accounts = json.loads(seeded.stdout)["accounts"]
        assert len(accounts) == 3
        total = 0
        with PdsClient(info["pds"]) as pds:
            for account in accounts:
                for collection, count in account["records"].items():
                    assert collection.startswith("pub.chive.")
                    assert len(pds.list_all_records(account["did"], collection)) == count
                    total += count
        assert total == 12

        # the server as the README starts it, the first seeded account its admin
        admin = accounts[0]["did"]
        db = tmp_path / "chive-admin.db"
        args = [
            *("--db", str(db), "--allow-private-network", "--plc-url", info["plc"]),
            *("--handle-resolver", info["pds"], "--admin-did", admin),
        ]
        server = ServerProcess(args=args, cwd=tmp_path).start()
        try:
            key = create_key(db, admin, "local")
            watched = subprocess.run(
                cli_command("ops", "trigger", "pds-scan", "--pds-url", info["pds"], "--watch"),
                env={**os.environ, "CHIVE_ADMIN_URL": server.url, "CHIVE_ADMIN_KEY": key},
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert watched.returncode == 0, watched.stdout + watched.stderr
            registry = httpx.get(f"{server.url}/xrpc/{ids.PUB_CHIVE_ADMIN_LIST_PDSES}", headers=bearer(key)).json()
            scanned = {item["url"]: item["recordCount"] for item in registry["stats"]["items"]}
            assert scanned == {info["pds"]: total}
            # the accounts' `.test` handles verified through the PDS the README names as the handle resolver
            detail = httpx.get(
                f"{server.url}/xrpc/{ids.PUB_CHIVE_ADMIN_GET_USER_DETAIL}", params={"did": admin}, headers=bearer(key)
            ).json()
            assert detail["handle"] == accounts[0]["handle"]
        finally:
            server.stop()
        assert "--allow-private-network is on" in server.output()

        net.send_signal(signal.SIGINT)  # Ctrl-C
        assert net.wait(60) == 0
        assert not any(listening(info[name]) for name in ("plc", "pds", "pds2"))
        assert not Path(info["dataDir"]).exists()
    finally:
        if net.poll() is None:
            os.killpg(net.pid, signal.SIGKILL)
            net.wait(10)
        deadline = time.monotonic() + 10
        while group_alive(net.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not group_alive(net.pid)  # the node process went with it
        log.close()
