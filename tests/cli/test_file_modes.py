"""The database, its lock and its -wal/-shm files are private (0600) whatever the umask: they hold key hashes,
roles and client addresses. Made by a real ``serve`` and used by the real ``keys`` beside it."""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
from support.auth import bearer
from support.server import ServerProcess, cli_command

from chive_admin._generated import ids

ADMIN = "did:plc:modesadmin000000000000000"


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    """The umask of the processes started inside (an operator's usual 022 lets new files be world-readable)."""
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def modes(db: Path) -> dict[str, str]:
    files = [db, *(db.with_name(db.name + suffix) for suffix in ("-wal", "-shm", ".lock"))]
    return {f.name: oct(stat.S_IMODE(f.stat().st_mode)) for f in files if f.exists()}


def test_server_and_keys_create_private_files(tmp_path: Path) -> None:
    db = tmp_path / "modes.db"
    server = ServerProcess(args=["--db", str(db), "--admin-did", ADMIN], cwd=tmp_path)
    with umask(0o022):
        server.start()
    try:
        with umask(0o022):
            made = subprocess.run(
                cli_command("keys", "create", "--did", ADMIN, "--name", "modes", "--db", str(db)),
                capture_output=True,
                text=True,
                check=True,
            )
        key = made.stdout.strip()
        answer = httpx.get(f"{server.url}/xrpc/{ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS}", headers=bearer(key))
        assert answer.status_code == 200  # the server writes its audit trail too
        private = "0o600"
        assert modes(db) == {name: private for name in ("modes.db", "modes.db-wal", "modes.db-shm", "modes.db.lock")}
    finally:
        server.stop()
    with umask(0o022):  # the server is gone: the command opens (and SQLite re-creates) the -wal and -shm itself
        subprocess.run(cli_command("keys", "list", "--db", str(db)), capture_output=True, check=True)
    assert set(modes(db).values()) == {"0o600"}
