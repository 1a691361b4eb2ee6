"""Structured logs of a real server: every line JSON, one line per call with NSID/status/duration/actor, one per
operation transition, and never a credential."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.api import call, started, wait_ended
from support.auth import bearer
from support.scripted import Answer, scripted_server
from support.server import ServerProcess, create_key

from chive_admin._generated import ids

ADMIN = "did:plc:logsadmin0000000000000000"
FAKE_JWT = "eyJhbGciOiJFUzI1NksiLCJ0eXAiOiJKV1QifQ.eyJpc3MiOiJkaWQ6cGxjOnh4eCJ9.c2lnbmF0dXJlLXRoYXQtaXMtbm90"


def test_json_logs_without_secrets(tmp_path: Path) -> None:
    db = tmp_path / "logs.db"
    key = create_key(db, ADMIN, "logs")
    server = ServerProcess(
        args=["--db", str(db), "--admin-did", ADMIN, "--log-format", "json", "--allow-private-network"], cwd=tmp_path
    ).start()
    try:
        with httpx.Client(base_url=server.url) as http:
            status = ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS
            assert call(http, status, headers=bearer(key)).status_code == 200
            assert call(http, status, headers=bearer(FAKE_JWT)).status_code == 401
            assert call(http, status, headers=bearer(f"{key}x")).status_code == 401
            scan = {"pdsUrl": "http://127.0.0.1:9"}
            op_id = started(call(http, ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN, scan, headers=bearer(key)))
            wait_ended(http, op_id, headers=bearer(key))
    finally:
        server.stop()
    output = server.output()
    assert key not in output
    assert FAKE_JWT not in output
    assert FAKE_JWT.split(".")[2] not in output
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    calls = [entry for entry in lines if entry["logger"] == "chive_admin.requests"]
    assert {(c["nsid"], c["status"]) for c in calls} >= {
        (ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS, 200),
        (ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS, 401),
    }
    ok = next(c for c in calls if c["status"] == 200)
    assert ok["actor"] == ADMIN
    assert ok["duration_ms"] >= 0
    refused = [c for c in calls if c["status"] == 401]
    assert {c["reason"] for c in refused} == {"wrong_aud", "unknown_key"}  # the fake JWT names no audience
    transitions = [e["msg"] for e in lines if e["logger"] == "chive_admin.backfill.engine"]
    assert any(op_id in m and "queued" in m for m in transitions)
    assert any(op_id in m and "ended failed" in m for m in transitions)


COLOURED = "\x1b[31mred\x1b[0m \x1b]0;title\x07 \x1b[2J"


@pytest.fixture
def hostile_pds() -> Iterator[str]:
    """A PDS that refuses everything with an error message holding terminal control codes."""
    with scripted_server() as (url, script):
        script.default = Answer(400, json.dumps({"error": "InvalidRequest", "message": COLOURED}).encode())
        yield url


def run_scan(tmp_path: Path, pds_url: str, level: str) -> tuple[list[dict[str, Any]], str]:
    """A JSON-logging server at ``level``: one dashboard-style poll, one plain call, one failing pds-scan."""
    db = tmp_path / "logs.db"
    key = create_key(db, ADMIN, "logs")
    auth = bearer(key)
    polling = {**auth, "Chive-Admin-Poll": "1"}  # as the dashboard polls
    args = ["--db", str(db), "--admin-did", ADMIN, "--allow-private-network", "--log-format", "json"]
    server = ServerProcess(args=[*args, "--log-level", level], cwd=tmp_path).start()
    try:
        with httpx.Client(base_url=server.url) as http:
            assert call(http, ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS, headers=polling).status_code == 200
            assert call(http, ids.PUB_CHIVE_ADMIN_LIST_PDSES, headers=auth).status_code == 200
            op_id = started(call(http, ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN, {"pdsUrl": pds_url}, headers=auth))
            wait_ended(http, op_id, headers=polling)
    finally:
        server.stop()
    return [json.loads(line) for line in server.output().splitlines() if line.strip()], op_id


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def test_json_transitions_are_fields_and_no_field_holds_a_control_code(tmp_path: Path, hostile_pds: str) -> None:
    lines, op_id = run_scan(tmp_path, hostile_pds, "info")
    assert all("color_message" not in entry for entry in lines)  # uvicorn's copy of its message with colour codes
    for entry in lines:
        assert not any(("\x1b" in text or "\x07" in text or "\x9b" in text) for text in strings(entry)), entry
    ended = [e for e in lines if e.get("op_id") == op_id]
    assert [e["status"] for e in ended] == ["queued", "running", "failed"]
    assert {e["type"] for e in ended} == {"pds-scan"}
    failed = ended[-1]
    assert failed["level"] == "info"
    assert failed["error_code"]
    assert (failed["records_processed"], failed["records_failed"]) == (0, 0)
    assert failed["attempt"] == 1
    # an upstream request is detail (DEBUG); a dashboard's poll is not logged at INFO, a plain call is
    assert not [e for e in lines if e["logger"] in ("httpx", "chive_admin.upstream.transport")]
    calls = [e["nsid"] for e in lines if e["logger"] == "chive_admin.requests"]
    assert ids.PUB_CHIVE_ADMIN_LIST_PDSES in calls
    assert ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS not in calls  # the poll, and the test's own polling loop


def test_debug_shows_the_servers_detail_not_every_sql_statement(tmp_path: Path, hostile_pds: str) -> None:
    lines, _ = run_scan(tmp_path, hostile_pds, "debug")
    loggers = {e["logger"] for e in lines}
    assert not {name for name in loggers if name.startswith(("aiosqlite", "asyncio"))}
    # upstream requests: the XRPC calls' own lines, and httpx's (DID documents, handles), both detail
    upstream = [e for e in lines if e["logger"] in ("httpx", "chive_admin.upstream.transport")]
    assert upstream
    assert {e["level"] for e in upstream} == {"debug"}
    assert hostile_pds.removeprefix("http://") in upstream[0]["msg"]
    polled = [e for e in lines if e["logger"] == "chive_admin.requests" and e["level"] == "debug"]
    assert polled
    assert {e["nsid"] for e in polled} == {ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS}
