"""``chive-admin serve`` as an operator runs it: a real process, a real port, a real database file."""

from __future__ import annotations

import argparse
import http.client
import os
import re
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.server import ServerProcess, cli_command, create_key, free_port

from chive_admin._generated import ids
from chive_admin.cli import main
from chive_admin.settings import DECLARATIONS
from testnet.postgres import PostgresCluster


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


def refused_at_start(
    cwd: Path, args: list[str], fragment: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``serve`` with ``args``, which must stop at once: exit 2 and ``fragment``, no traceback."""
    result = subprocess.run(
        cli_command("serve", *args),
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr
    return result


@pytest.mark.parametrize(
    ("args", "env", "fragment"),
    [
        (["--admin-did", "not-a-did"], {}, "--admin-did: 'not-a-did' is not a valid DID"),
        (["--service-did", "did:web:"], {}, "--service-did"),
        (["--plc-url", "ftp://plc"], {}, "--plc-url: 'ftp://plc' is not an http(s) URL"),
        (["--port", "99999"], {}, "--port: 99999 is out of range"),
        (["--workers", "many"], {}, "--workers: 'many' is not a whole number"),
        # an API-only process needs processes beside it that run the work: only PostgreSQL can be shared
        (["--workers", "0"], {}, "--workers 0: an SQLite database is worked by the one process that owns it"),
        (["--db", "/nonexistent-dir/x.db"], {}, "--db: directory /nonexistent-dir does not exist"),
        (["--db", "/proc/chive.db"], {}, "--db"),
        ([], {"CHIVE_ADMIN_ADMIN_DIDS": "did:plc:ok,bad"}, "CHIVE_ADMIN_ADMIN_DIDS: 'bad' is not a valid DID"),
        ([], {"CHIVE_ADMIN_PORT": "eighty"}, "CHIVE_ADMIN_PORT: 'eighty' is not a whole number"),
        ([], {"CHIVE_ADMIN_WORKERS": "abc"}, "CHIVE_ADMIN_WORKERS: 'abc' is not a whole number"),
        ([], {"CHIVE_ADMIN_TRUSTED_PROXIES": "10.0.0.0/8,proxy"}, "CHIVE_ADMIN_TRUSTED_PROXIES: 'proxy' is not"),
        (["--trusted-proxy", "*"], {}, "--trusted-proxy: '*' is not an IP address or CIDR block"),
        (["--client-timeout", "0"], {}, "--client-timeout: 0 is out of range"),
        (["--bogus"], {}, "unrecognized arguments: --bogus"),
    ],
)
def test_bad_configuration_is_one_line_and_exit_2(
    tmp_path: Path, args: list[str], env: dict[str, str], fragment: str
) -> None:
    result = refused_at_start(tmp_path, args, fragment, env=env)
    assert len(result.stderr.strip().splitlines()) <= 2  # argparse adds a usage line; ours is one line
    assert not (tmp_path / "chive-admin.db").exists()


def serve_parser() -> argparse.ArgumentParser:
    commands = next(a for a in main._parser()._actions if isinstance(a, argparse._SubParsersAction))
    parser: argparse.ArgumentParser = commands.choices["serve"]
    return parser


def test_serve_has_one_flag_per_declared_setting_and_no_other() -> None:
    flags = [flag for action in serve_parser()._actions for flag in action.option_strings if flag != "-h"]
    assert flags == ["--help", *(declared.flag for declared in DECLARATIONS)]
    assert {action.dest for action in serve_parser()._actions} == {"help"} | {d.name for d in DECLARATIONS}


def test_help_lists_every_flag_with_its_default() -> None:
    wide = {**os.environ, "COLUMNS": "1000"}  # one line per flag
    result = subprocess.run(
        cli_command("serve", "--help"), env=wide, capture_output=True, text=True, timeout=30, check=True
    )
    options = result.stdout.split("options:\n", 1)[1]
    lines = {entry.split()[0]: " ".join(entry.split()) for entry in re.split(r"\n(?=  -)", options)}
    for declared in DECLARATIONS:
        shown = re.escape(declared.documented_default.replace("`", ""))
        # a default computed on this machine is said as it came out, then how: "(default 3: one per core …)"
        assert re.search(rf"default (\d+: )?{shown}\)$", lines[declared.flag]), lines[declared.flag]
    assert "(default 8590)" in lines["--port"]
    assert "CHIVE_ADMIN_ADMIN_DIDS, comma-separated" in lines["--admin-did"]
    assert (
        "CHIVE_ADMIN_"
        in subprocess.run(cli_command("--help"), capture_output=True, text=True, timeout=30, check=True).stdout
    )


def test_busy_port_is_one_line_and_exit_2_before_the_database_exists(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            cli_command("serve", "--port", str(port), "--db", str(tmp_path / "new.db")),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"chive-admin: error: cannot listen on 127.0.0.1:{port}: the port is in use (another server?); "
        "choose another with --port"
    ]
    assert sorted(tmp_path.iterdir()) == []  # neither the database nor its lock file


ADMIN = "did:plc:banneradmin000000000000"


def test_banner_warns_when_nobody_can_administer(tmp_path: Path) -> None:
    server = ServerProcess(args=[], cwd=tmp_path).start()
    server.stop()
    out = server.output()
    assert "admins: none" in out
    assert re.search(r"WARNING .*no admin exists: .*--admin-did", out)


def test_unknown_variables_are_warnings_naming_them(tmp_path: Path) -> None:
    env = {
        "CHIVE_ADMIN_ADMIN_DID": ADMIN,  # the typo: CHIVE_ADMIN_ADMIN_DIDS is the setting
        "CHIVE_ADMIN_FROBNICATE": "1",
        "CHIVE_ADMIN_URL": "http://127.0.0.1:1",  # the client commands' variables are known
        "CHIVE_ADMIN_KEY": "ca_x",
        "CHIVE_ADMIN_WORKERS": "3",
    }
    server = ServerProcess(args=[], cwd=tmp_path, env=env).start()
    server.stop()
    warnings = [line for line in server.output().splitlines() if " WARNING " in line and "CHIVE_ADMIN_" in line]
    assert len(warnings) == 2, warnings
    assert warnings[0].endswith(
        "CHIVE_ADMIN_ADMIN_DID is not a chive-admin setting and is ignored (did you mean CHIVE_ADMIN_ADMIN_DIDS?)"
    )
    assert warnings[1].endswith("CHIVE_ADMIN_FROBNICATE is not a chive-admin setting and is ignored")
    assert "admins: none" in server.output()  # the typo really was ignored


def test_root_redirects_to_the_dashboard(server: ServerProcess) -> None:
    response = httpx.get(f"{server.url}/")
    assert response.status_code == 308
    assert response.headers["location"] == "/admin/"


def audited_ips(server: ServerProcess, key: str) -> list[str | None]:
    """The client address of each audited getBackfillStatus call, oldest first (None where none was kept)."""
    log = httpx.get(
        f"{server.url}/xrpc/{ids.PUB_CHIVE_ADMIN_GET_AUDIT_LOG}", headers={"Authorization": f"Bearer {key}"}
    ).json()
    found = []
    for entry in reversed(log["entries"]):
        if entry["action"] == ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS:
            match = re.search(r"; ip=(.*)$", entry["details"])
            found.append(match[1] if match else None)
    return found


HOSTILE_XFF = "<script>alert(1)</script>;ip=1.2.3.4"


@pytest.mark.parametrize(
    ("args", "forwarded", "expected"),
    [
        ([], HOSTILE_XFF, "127.0.0.1"),  # no trusted proxy: forwarded headers are ignored, even from loopback
        ([], "203.0.113.7", "127.0.0.1"),
        (["--trusted-proxy", "127.0.0.1"], "203.0.113.7", "203.0.113.7"),
        (["--trusted-proxy", "127.0.0.0/8"], "198.51.100.1, 203.0.113.7", "203.0.113.7"),  # the proxy's own peer
        (["--trusted-proxy", "127.0.0.1"], HOSTILE_XFF, None),  # believed, but not an address: not stored
        (["--trusted-proxy", "10.0.0.1"], "203.0.113.7", "127.0.0.1"),  # loopback is not that proxy
    ],
)
def test_forwarded_for_is_believed_only_from_trusted_proxies(
    tmp_path: Path, args: list[str], forwarded: str, expected: str | None
) -> None:
    db = tmp_path / "proxy.db"
    key = create_key(db, ADMIN, "proxy")
    server = ServerProcess(args=["--db", str(db), "--admin-did", ADMIN, *args], cwd=tmp_path).start()
    try:
        status = httpx.get(
            f"{server.url}/xrpc/{ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS}",
            headers={"Authorization": f"Bearer {key}", "X-Forwarded-For": forwarded},
        )
        assert status.status_code == 200
        assert audited_ips(server, key) == [expected]
    finally:
        server.stop()


def test_a_postgresql_database_that_cannot_be_used_is_one_line_and_exit_2(
    tmp_path: Path, postgres_cluster: PostgresCluster, postgres_template: str
) -> None:
    """A wrong password, a missing database, a closed port, a schema from a newer version: one line each, the
    password never shown, and the server never listens."""
    newer = postgres_cluster.create_database(template=postgres_template)
    postgres_cluster.run_sql("INSERT INTO schema_migrations VALUES (999, 'future', 'now')", dbname=newer)
    cases = {
        postgres_cluster.url("postgres", password="wrong-s3cret"): "password authentication failed for user 'chive'",
        postgres_cluster.url("no_such_db"): "database 'no_such_db' does not exist",
        f"postgresql://chive:{postgres_cluster.password}@127.0.0.1:{free_port()}/x": "cannot reach 127.0.0.1:",
        postgres_cluster.url(newer): "[999] that this version does not know",
    }
    for url, fragment in cases.items():
        result = refused_at_start(tmp_path, ["--db", url, "--port", str(free_port())], fragment)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "wrong-s3cret" not in result.stderr
        assert postgres_cluster.password not in result.stderr
    postgres_cluster.drop_database(newer)


def test_the_served_app_freezes_its_start_up_heap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``serve`` is the one app of its process: it asks for the start-up heap to be frozen (see ``settle_heap``)."""
    import uvicorn

    from chive_admin.server import app as app_module

    made: list[dict[str, object]] = []
    real = app_module.create_app

    def recording(*args: object, **kwargs: object) -> object:
        made.append(kwargs)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(app_module, "create_app", recording)
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: None)
    from chive_admin.cli import serve
    from chive_admin.settings import Settings

    assert serve.run(Settings(db=tmp_path / "x.db", port=free_port())) == 0
    assert [kwargs.get("freeze_heap") for kwargs in made] == [True]
