"""``chive-admin roles`` beside a running server: the first admin of a server started without ``--admin-did``."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import httpx
from support.auth import bearer
from support.server import ServerProcess, cli_command, create_database

from chive_admin._generated import ids

FIRST = "did:plc:firstadmin000000000000000"


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli_command(*args), capture_output=True, text=True, timeout=60, check=False, env={**os.environ, **(env or {})}
    )


def status_within(url: str, key: str, wanted: int, seconds: float = 15.0) -> int:
    """The status ``url`` answers once it is ``wanted`` (a running server caches roles a few seconds), or the last."""
    deadline = time.monotonic() + seconds
    status = 0
    while time.monotonic() < deadline:
        status = httpx.get(url, headers=bearer(key)).status_code
        if status == wanted:
            break
        time.sleep(0.2)
    return status


def audit_trail(server: ServerProcess, key: str) -> list[dict[str, str]]:
    """Every entry of getAuditLog, newest first (the role-cache polls above add many)."""
    entries: list[dict[str, str]] = []
    params: dict[str, str] = {"limit": "100"}
    while True:
        page = httpx.get(
            f"{server.url}/xrpc/{ids.PUB_CHIVE_ADMIN_GET_AUDIT_LOG}",
            params=params,
            headers=bearer(key),
        ).json()
        entries += page["entries"]
        if not page.get("cursor"):
            return entries
        params["cursor"] = page["cursor"]


def test_the_first_admin_beside_a_running_server(tmp_path: Path) -> None:
    db = tmp_path / "roles.db"
    server = ServerProcess(args=["--db", str(db)], cwd=tmp_path).start()  # no --admin-did: nobody is admin
    try:
        created = cli("keys", "create", "--did", FIRST, "--name", "first", "--db", str(db))
        assert created.returncode == 0, created.stderr
        key = created.stdout.strip()
        assert f"warning: {FIRST} has no admin role in this database" in created.stderr
        assert f"chive-admin roles grant {FIRST} admin" in created.stderr
        assert f"--admin-did {FIRST}" in created.stderr
        status_url = f"{server.url}/xrpc/{ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS}"
        refused = httpx.get(status_url, headers=bearer(key))
        assert (refused.status_code, refused.json()["error"]) == (403, "AdminRequired")

        granted = cli("roles", "grant", FIRST, "admin", "--db", str(db))
        assert granted.returncode == 0, granted.stderr
        assert f"granted admin to {FIRST}" in granted.stdout
        assert f"database: {db.resolve()}" in granted.stderr
        assert status_within(status_url, key, 200) == 200
        assert cli("roles", "grant", FIRST, "admin", "--db", str(db)).stdout.startswith(f"{FIRST} already holds admin")

        listed = cli("roles", "list", "--db", str(db))
        assert listed.returncode == 0
        assert listed.stdout.startswith(f"{FIRST}\tadmin\tgranted ")
        second = cli("keys", "create", "--did", FIRST, "--name", "second", "--db", str(db))
        assert "warning" not in second.stderr

        revoked = cli("roles", "revoke", FIRST, "admin", "--db", str(db))
        assert revoked.returncode == 0, revoked.stderr
        assert f"revoked admin from {FIRST}" in revoked.stdout
        assert status_within(status_url, key, 403) == 403
        assert "no admin in this database" in cli("roles", "list", "--db", str(db)).stderr

        # the audit trail holds both changes: read it as an admin again
        cli("roles", "grant", FIRST, "admin", "--db", str(db))
        assert status_within(status_url, key, 200) == 200
        audit = audit_trail(server, key)
        by_cli = [
            (e["action"], e["actorDid"], e["targetUri"], e["details"].split("; ")[1])
            for e in audit
            if "via=cli" in e["details"]
        ]
        assert by_cli == [
            (ids.PUB_CHIVE_ADMIN_ASSIGN_ROLE, FIRST, FIRST, "via=cli"),
            (ids.PUB_CHIVE_ADMIN_REVOKE_ROLE, FIRST, FIRST, "via=cli"),
            (ids.PUB_CHIVE_ADMIN_ASSIGN_ROLE, FIRST, FIRST, "via=cli"),
            (ids.PUB_CHIVE_ADMIN_ASSIGN_ROLE, FIRST, FIRST, "via=cli"),
        ]
        assert "admin revoked" in next(e["details"] for e in audit if e["action"] == ids.PUB_CHIVE_ADMIN_REVOKE_ROLE)
    finally:
        server.stop()


def test_bootstrap_admins_of_the_environment(tmp_path: Path) -> None:
    db = tmp_path / "boot.db"
    create_database(db)
    env = {"CHIVE_ADMIN_DB": str(db), "CHIVE_ADMIN_ADMIN_DIDS": FIRST}
    created = cli("keys", "create", "--did", FIRST, "--name", "boot", env=env)
    assert created.returncode == 0, created.stderr
    assert "warning" not in created.stderr
    listed = cli("roles", "list", env=env)
    assert f"{FIRST}\tadmin\tbootstrap admin (CHIVE_ADMIN_ADMIN_DIDS)" in listed.stdout
    revoked = cli("roles", "revoke", FIRST, "admin", env=env)
    assert revoked.returncode == 0
    assert f"{FIRST} did not hold admin" in revoked.stdout
    assert "stays admin" in revoked.stderr


def test_bad_arguments_are_one_line(tmp_path: Path) -> None:
    db = tmp_path / "bad.db"
    create_database(db)
    for args in (("grant", "nope", "admin"), ("grant", FIRST, "superuser"), ("revoke", FIRST)):
        result = cli("roles", *args, "--db", str(db))
        assert result.returncode == 2, args
        assert "Traceback" not in result.stderr
    assert cli("roles", "grant", "nope", "admin", "--db", str(db)).stderr.count("\n") == 1
