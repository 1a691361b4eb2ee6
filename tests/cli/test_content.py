"""``chive-admin content`` beside a running server: a takedown made over XRPC is lifted from the command line, the
record is searchable again at once, and the change is in the audit trail (on both backends)."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import httpx
import pytest
from support.auth import bearer
from support.server import ServerProcess, cli_command, create_key, db_arg

from chive_admin._generated import ids
from chive_admin.cli.local_db import opened
from chive_admin.ingest.write import apply_records
from chive_admin.store import search, takedowns
from chive_admin.store.index import IndexedRecord
from chive_admin.store.target import DbTarget

pytestmark = pytest.mark.both_backends

ADMIN = "did:plc:contentadmin00000000000000"
RECORD = IndexedRecord.from_parts(
    "did:plc:author000000000000000000", search.EPRINT_COLLECTION, "3kabc", "c1", {"title": "Disputed lemma"}
)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli_command(*args), capture_output=True, text=True, timeout=60, check=False, env=os.environ)


def index_record(db: DbTarget) -> None:
    async def write() -> None:
        async with opened(db) as database, database.write() as conn:
            await apply_records(conn, [RECORD], "2026-01-01T00:00:00.000Z")

    asyncio.run(write())


def searchable(db: DbTarget) -> tuple[list[str], takedowns.Takedown | None]:
    async def read() -> tuple[list[str], takedowns.Takedown | None]:
        async with opened(db) as database, database.read() as conn:
            return await search.search(conn, "disputed"), await takedowns.get(conn, RECORD.uri)

    return asyncio.run(read())


def test_restore_beside_a_running_server(tmp_path: Path, db_target: DbTarget) -> None:
    key = create_key(db_target, ADMIN)
    index_record(db_target)
    server = ServerProcess(args=["--db", db_arg(db_target), "--admin-did", ADMIN], cwd=tmp_path).start()
    try:
        url = f"{server.url}/xrpc/{ids.PUB_CHIVE_ADMIN_DELETE_CONTENT}"
        body = {"uri": RECORD.uri, "collection": RECORD.collection, "reason": "under dispute"}
        assert httpx.post(url, json=body, headers=bearer(key)).json() == {"success": True}
        found, row = searchable(db_target)
        assert found == []
        assert row is not None
        assert (row.taken_down_by, row.reason) == (ADMIN, "under dispute")

        listed = cli("content", "list", "--db", db_arg(db_target))
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.startswith(f"{RECORD.uri}\ttaken down ")
        assert f"by {ADMIN}\tunder dispute" in listed.stdout

        restored = cli("content", "restore", RECORD.uri, "--db", db_arg(db_target))
        assert restored.returncode == 0, restored.stderr
        assert restored.stdout.startswith(f"restored {RECORD.uri} (taken down ")
        assert searchable(db_target) == ([RECORD.uri], None)
        again = cli("content", "restore", RECORD.uri, "--db", db_arg(db_target))
        assert again.stdout.strip() == f"{RECORD.uri} was not taken down"
        bad = cli("content", "restore", "at://did:plc:x/only-a-collection", "--db", db_arg(db_target))
        assert bad.returncode == 2
        assert "is not a record's at-uri" in bad.stderr

        # the running server sees the restore at once: a new takedown is a new one, not a repeat
        assert httpx.post(url, json=body, headers=bearer(key)).json() == {"success": True}
        log = httpx.get(
            f"{server.url}/xrpc/{ids.PUB_CHIVE_ADMIN_GET_AUDIT_LOG}", params={"limit": "100"}, headers=bearer(key)
        ).json()["entries"]
        mine = [e for e in reversed(log) if e["action"] == ids.PUB_CHIVE_ADMIN_DELETE_CONTENT]
        assert [(e["actorDid"], e["targetUri"]) for e in mine] == [(ADMIN, RECORD.uri)] + [
            (RECORD.did, RECORD.uri)
        ] * 2 + [(ADMIN, RECORD.uri)]
        details = [e["details"] for e in mine]
        assert "taken down: under dispute" in details[0]
        assert "via=cli; takedown lifted (chive-admin content restore" in details[1]
        assert "via=cli; was not taken down" in details[2]
        assert "taken down: under dispute" in details[3]
        assert "already" not in details[3]
    finally:
        server.stop()
