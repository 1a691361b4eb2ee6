"""The harness starts and stops the node network cleanly and leaves no process behind."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from support.processes import pid_alive

from testnet.harness import REPO_ROOT, TESTNET_SCRIPT, Testnet, node_binary

pytestmark = pytest.mark.interop


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields: state ppid pgrp ...
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def _port_open(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=1):
            return True
    except OSError:
        return False


def _wait_gone(pid: int, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.1)
    return False


def _assert_network_gone(net: Testnet) -> None:
    assert net.pgid is not None
    assert not pid_alive(net.pid)
    assert _group_members(net.pgid) == []
    with pytest.raises(ProcessLookupError):
        os.killpg(net.pgid, 0)
    for url in (net.plc_url, net.pds_url, net.pds2_url):
        assert not _port_open(url), f"{url} still accepts connections"
    assert not Path(net.info.data_dir).exists()


def test_close_via_stdin_exits_cleanly_and_leaves_no_orphans(testnet_install_dir: Path) -> None:
    net = Testnet(testnet_install_dir).start()
    assert net.pgid == net.pid  # its own process group
    assert os.getpgid(net.pid) == net.pid
    assert _group_members(net.pgid) == [net.pid]
    for url in (net.plc_url, net.pds_url, net.pds2_url):
        assert _port_open(url)
    log = net.log_path
    assert log is not None
    os.environ["CHIVE_TESTNET_KEEP_LOG"] = "1"
    try:
        code = net.close(timeout=20)
    finally:
        os.environ.pop("CHIVE_TESTNET_KEEP_LOG")
    assert code == 0
    text = log.read_text()
    log.unlink()
    assert "shutting down (stdin closed)" in text
    assert "[testnet] closed" in text
    _assert_network_gone(net)
    assert net.close() == 0  # idempotent


def test_sigterm_exits_cleanly(testnet_install_dir: Path) -> None:
    net = Testnet(testnet_install_dir).start()
    try:
        assert net.proc is not None
        os.kill(net.pid, signal.SIGTERM)
        assert net.proc.wait(timeout=30) == 0
        text = net.stderr_tail(100)
        assert "shutting down (SIGTERM)" in text
        assert "[testnet] closed" in text
    finally:
        net.close()
    _assert_network_gone(net)


def test_sigint_exits_cleanly(testnet_install_dir: Path) -> None:
    net = Testnet(testnet_install_dir).start()
    try:
        assert net.proc is not None
        os.kill(net.pid, signal.SIGINT)
        assert net.proc.wait(timeout=30) == 0
        assert "shutting down (SIGINT)" in net.stderr_tail(100)
    finally:
        net.close()
    _assert_network_gone(net)


def test_network_stops_when_the_python_parent_dies(testnet_install_dir: Path) -> None:
    """If the test process is killed without closing, stdin EOF still stops the network."""
    code = textwrap.dedent(
        f"""
        import os, sys
        sys.path.insert(0, {str(REPO_ROOT)!r})
        from pathlib import Path
        from testnet.harness import Testnet
        net = Testnet(Path({str(testnet_install_dir)!r})).start()
        print(net.pid, net.info.pds_url, net.info.data_dir, net.log_path, flush=True)
        os._exit(0)  # no close(), no atexit: as if killed
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    ).stdout.split()
    pid, pds_url, data_dir, log_path = int(out[0]), out[1], out[2], Path(out[3])
    try:
        assert _wait_gone(pid, 30), f"node {pid} still running after its parent died"
        assert not _port_open(pds_url)
        assert not Path(data_dir).exists()
        assert "shutting down (stdin closed)" in log_path.read_text()
    finally:
        log_path.unlink(missing_ok=True)


def test_start_failure_reports_stderr_tail(testnet_install_dir: Path) -> None:
    net = Testnet(testnet_install_dir, extra_env={"TESTNET_PLC_PORT": "not-a-port"})
    with pytest.raises(Exception, match="not a TCP port") as info:
        net.start()
    assert "node stderr tail" in str(info.value)
    net.close()
    assert not pid_alive(net.pid)
    if net.log_path is not None:  # kept after a failure, for debugging
        net.log_path.unlink(missing_ok=True)


def test_stdout_is_one_json_line_even_with_logging_on(testnet_install_dir: Path, tmp_path: Path) -> None:
    """dev-env logging (LOG_ENABLED) goes to stderr; stdout carries the JSON line and nothing else."""
    env = dict(os.environ, LOG_ENABLED="true", TESTNET_NODE_MODULES=str(testnet_install_dir))
    env.pop("LOG_DESTINATION", None)
    with (tmp_path / "stderr.log").open("ab") as err:
        proc = subprocess.Popen(
            [str(node_binary(testnet_install_dir)), str(TESTNET_SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            env=env,
            start_new_session=True,
        )
    try:
        assert proc.stdout is not None
        assert proc.stdin is not None
        info = json.loads(proc.stdout.readline())
        # Make the PDS and PLC log something.
        with httpx.Client(timeout=10) as http:
            http.get(f"{info['pds']}/xrpc/com.atproto.server.describeServer").raise_for_status()
            http.get(f"{info['plc']}/did:plc:doesnotexist000000000000")
        proc.stdin.close()
        rest = proc.stdout.read()
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    assert rest == b""
    stderr = (tmp_path / "stderr.log").read_text()
    assert '"level"' in stderr  # pino JSON logs arrived on stderr
    assert "[testnet] closed" in stderr
