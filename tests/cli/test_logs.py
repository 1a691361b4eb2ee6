"""Structured logs of a real server: every line JSON, one line per call with NSID/status/duration/actor, one per
operation transition, and never a credential."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
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
        status = f"{server.url}/xrpc/{ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS}"
        assert httpx.get(status, headers={"Authorization": f"Bearer {key}"}).status_code == 200
        assert httpx.get(status, headers={"Authorization": f"Bearer {FAKE_JWT}"}).status_code == 401
        assert httpx.get(status, headers={"Authorization": f"Bearer {key}x"}).status_code == 401
        trigger = httpx.post(
            f"{server.url}/xrpc/{ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN}",
            json={"pdsUrl": "http://127.0.0.1:9"},
            headers={"Authorization": f"Bearer {key}"},
        )
        op_id = trigger.json()["operationId"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            op = httpx.get(status, params={"id": op_id}, headers={"Authorization": f"Bearer {key}"}).json()
            if op["operation"]["status"] == "failed":
                break
            time.sleep(0.1)
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
