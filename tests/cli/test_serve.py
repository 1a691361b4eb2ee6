"""``chive-admin serve`` as an operator runs it: a real process, a real port, a real database file."""

from __future__ import annotations

import http.client
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.server import ServerProcess, cli_command

from chive_admin._generated import ids


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess(args=[], cwd=tmp_path)
    try:
        yield proc.start()
    finally:
        proc.stop()


def raw_get(port: int, path: str) -> tuple[int, bytes]:
    """A GET whose path goes on the wire byte for byte (httpx would normalise ``..``)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_starts_with_no_configuration_and_answers_401(server: ServerProcess, tmp_path: Path) -> None:
    assert (tmp_path / "chive-admin.db").exists()  # the embedded default: ./chive-admin.db
    response = httpx.get(f"{server.url}/xrpc/{ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS}")
    assert response.status_code == 401
    assert response.json()["error"] == "AuthenticationRequired"
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "path",
    ["/xrpc/../../etc/passwd", "/xrpc/..%2F..%2Fetc", "/xrpc/" + "m" * 10_000, "/xrpc/pub.chive.admin.x/../y"],
)
def test_hostile_method_paths_are_xrpc_errors(server: ServerProcess, path: str) -> None:
    status, body = raw_get(server.port, path)
    assert 400 <= status < 500
    assert b'"error"' in body


def test_second_server_on_the_same_database_is_refused(server: ServerProcess, tmp_path: Path) -> None:
    result = subprocess.run(
        cli_command("serve", "--port", "1"), cwd=tmp_path, capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 2
    assert "in use by another chive-admin process" in result.stderr
    assert "Traceback" not in result.stderr


def test_sigterm_stops_cleanly(tmp_path: Path) -> None:
    proc = ServerProcess(args=[], cwd=tmp_path).start()
    # uvicorn re-raises the signal once it has shut down gracefully, so the exit status says "terminated by
    # SIGTERM", as service managers expect; what matters is that the lifespan shutdown ran to completion
    assert proc.stop(signal.SIGTERM) in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in proc.output()


@pytest.mark.parametrize(
    ("args", "env", "fragment"),
    [
        (["--admin-did", "not-a-did"], {}, "--admin-did: 'not-a-did' is not a valid DID"),
        (["--service-did", "did:web:"], {}, "--service-did"),
        (["--plc-url", "ftp://plc"], {}, "--plc-url: 'ftp://plc' is not an http(s) URL"),
        (["--port", "99999"], {}, "--port: 99999 is out of range"),
        (["--workers", "many"], {}, "--workers: 'many' is not a whole number"),
        (["--db", "/nonexistent-dir/x.db"], {}, "--db: directory /nonexistent-dir does not exist"),
        (["--db", "/proc/chive.db"], {}, "--db"),
        ([], {"CHIVE_ADMIN_ADMIN_DIDS": "did:plc:ok,bad"}, "--admin-did: 'bad' is not a valid DID"),
        ([], {"CHIVE_ADMIN_PORT": "eighty"}, "--port"),
        (["--bogus"], {}, "unrecognized arguments: --bogus"),
    ],
)
def test_bad_configuration_is_one_line_and_exit_2(
    tmp_path: Path, args: list[str], env: dict[str, str], fragment: str
) -> None:
    import os

    result = subprocess.run(
        cli_command("serve", *args),
        cwd=tmp_path,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2  # argparse adds a usage line; ours is one line
    assert not (tmp_path / "chive-admin.db").exists()


def test_help_lists_every_flag() -> None:
    result = subprocess.run(cli_command("serve", "--help"), capture_output=True, text=True, timeout=30, check=True)
    for flag in (
        "--host",
        "--port",
        "--db",
        "--service-did",
        "--admin-did",
        "--plc-url",
        "--governance-did",
        "--workers",
        "--allow-private-network",
    ):
        assert flag in result.stdout
    assert (
        "CHIVE_ADMIN_"
        in subprocess.run(cli_command("--help"), capture_output=True, text=True, timeout=30, check=True).stdout
    )
