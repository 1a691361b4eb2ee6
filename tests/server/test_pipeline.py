"""One method's pipeline in-process: HTTP method, params, auth, input, handler, output, in that order; whatever the
outcome, one audit entry. The details of each step are tested at their own module (tests/xrpc, tests/auth)."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator

import pytest
from conftest import AppFactory
from support.admin_api import ADMIN, USER, Api, refusal, serving
from support.auth import ADMIN_DID, FixedTokens

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import list_pdses, trigger_backfill
from chive_admin.handlers.call import Call
from chive_admin.server.pipeline import POLL_HEADER
from chive_admin.store.audit import AuditEntry

LIST_PDSES = ids.PUB_CHIVE_ADMIN_LIST_PDSES
TRIGGER = ids.PUB_CHIVE_ADMIN_TRIGGER_BACKFILL
STATUS = ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS
HISTORY = ids.PUB_CHIVE_ADMIN_GET_BACKFILL_HISTORY

seen: list[object] = []


async def list_pdses_handler(call: Call[list_pdses.Params, None]) -> list_pdses.Output:
    seen.append(call.params)
    call.note.target = "https://pds.example"
    return list_pdses.Output(stats=list_pdses.PdsStats(total=0, items=[]))


async def trigger_handler(call: Call[None, trigger_backfill.Input]) -> trigger_backfill.Output:
    seen.append(call.input)
    op = trigger_backfill.BackfillOperation(
        id="op1", type="pds-scan", status="queued", started_at="2026-01-01T00:00:00Z", records_processed=0
    )
    return trigger_backfill.Output(operation=op)


async def wrong_output_handler(call: Call[object, None]) -> list_pdses.Output:
    return list_pdses.Output()  # getBackfillStatus answers another shape


async def full_disk_handler(call: Call[object, None]) -> None:
    raise sqlite3.OperationalError("database or disk is full")


@pytest.fixture
async def api(make_app: AppFactory) -> AsyncIterator[Api]:
    seen.clear()
    app = make_app(
        authenticator=FixedTokens(),
        handlers={
            LIST_PDSES: list_pdses_handler,
            TRIGGER: trigger_handler,
            STATUS: wrong_output_handler,
            HISTORY: full_disk_handler,
        },
    )
    async with serving(app) as running:
        yield running


async def test_a_query_reaches_its_handler_with_typed_params(api: Api) -> None:
    response = await api.get(LIST_PDSES)
    assert response.status_code == 200
    assert response.json() == {"stats": {"total": 0, "items": []}}
    await api.get(LIST_PDSES, {"limit": 7})
    assert seen == [list_pdses.Params(limit=50), list_pdses.Params(limit=7)]


async def test_head_is_a_query_too(api: Api) -> None:
    assert (await api.client.head(f"/xrpc/{LIST_PDSES}", headers=ADMIN)).status_code == 200


async def test_a_procedure_reaches_its_handler_with_its_input(api: Api) -> None:
    response = await api.post(TRIGGER, {"type": "pdsScan", "pdsUrl": "https://pds.example"})
    assert response.status_code == 200, response.text
    assert response.json()["operation"]["recordsProcessed"] == 0
    assert seen == [trigger_backfill.Input(type="pdsScan", pds_url="https://pds.example")]


async def test_bad_params_or_input_never_reach_the_handler(api: Api) -> None:
    assert "limit" in refusal(await api.get(LIST_PDSES, {"limit": "abc"}), 400, "InvalidRequest")
    assert "type: required" in refusal(await api.post(TRIGGER, {}), 400, "InvalidRequest")
    assert seen == []


async def test_wrong_http_method(api: Api) -> None:
    assert "Incorrect HTTP method" in refusal(await api.post(LIST_PDSES, {}), 400, "InvalidRequest")
    assert "expected POST" in refusal(await api.get(TRIGGER), 400, "InvalidRequest")


async def test_the_apps_body_cap_holds_while_streaming(api: Api) -> None:
    big = b'{"type": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = await api.client.post(
        f"/xrpc/{TRIGGER}", headers={**ADMIN, "Content-Type": "application/json"}, content=big
    )
    refusal(response, 413, "PayloadTooLarge")

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the cap must hold while streaming
        for _ in range(40):
            yield b" " * 65536

    response = await api.client.post(
        f"/xrpc/{TRIGGER}", headers={**ADMIN, "Content-Type": "application/json"}, content=chunks()
    )
    refusal(response, 413, "PayloadTooLarge")


async def test_a_query_with_a_body_is_refused(api: Api) -> None:
    response = await api.client.request("GET", f"/xrpc/{LIST_PDSES}", headers=ADMIN, content=b"{}")
    assert "takes no request body" in refusal(response, 400, "InvalidRequest")


async def test_auth_runs_before_input(api: Api) -> None:
    response = await api.client.post(f"/xrpc/{TRIGGER}", headers={"Content-Type": "text/plain"}, content=b"garbage")
    refusal(response, 401, "AuthenticationRequired")
    assert response.headers["www-authenticate"].startswith("Bearer")
    refusal(await api.post(TRIGGER, {}, headers=USER), 403, "AdminRequired")
    assert seen == []


async def test_an_unbuilt_method_is_501_after_auth(api: Api) -> None:
    refusal(await api.get(ids.PUB_CHIVE_ADMIN_GET_AUDIT_LOG, headers={}), 401, "AuthenticationRequired")
    refusal(await api.get(ids.PUB_CHIVE_ADMIN_GET_AUDIT_LOG), 501, "MethodNotImplemented")


async def test_an_answer_of_another_shape_is_an_opaque_500(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    assert refusal(await api.get(STATUS), 500, "InternalServerError") == "Internal Server Error"
    assert f"handler of {STATUS} returned Output" in caplog.text  # the operator sees which handler


async def test_a_full_disk_is_503_the_caller_may_retry(api: Api) -> None:
    assert "storage is full" in refusal(await api.get(HISTORY), 503, "NotEnoughResources")


async def test_every_call_is_audited_with_its_outcome_and_the_handlers_note(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries: list[AuditEntry] = []
    monkeypatch.setattr(api.services.audit, "record", entries.append)
    await api.get(LIST_PDSES)
    await api.get(LIST_PDSES, headers=USER)
    await api.get(LIST_PDSES, headers={})
    await api.get(HISTORY)
    assert [(e.method, e.outcome, e.status, e.actor_did) for e in entries] == [
        (LIST_PDSES, "allowed", 200, ADMIN_DID),
        (LIST_PDSES, "refused", 403, "did:plc:testuser00000000000000000"),
        (LIST_PDSES, "refused", 401, None),
        (HISTORY, "failed", 503, ADMIN_DID),
    ]
    assert entries[0].target == "https://pds.example"
    assert entries[1].reason == "AdminRequired"
    assert entries[1].via == entries[0].via == "api-key"
    assert entries[2].reason == "AuthenticationRequired"
    assert entries[3].reason == "NotEnoughResources"


async def test_a_polled_success_is_logged_at_debug_its_refusal_at_info(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="chive_admin.requests")
    await api.get(LIST_PDSES, headers={**ADMIN, POLL_HEADER: "1"})
    await api.get(LIST_PDSES, headers={**USER, POLL_HEADER: "1"})
    await api.get(LIST_PDSES)
    lines = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "chive_admin.requests"]
    assert [(level, message.split()[2]) for level, message in lines] == [
        (logging.DEBUG, "200"),
        (logging.INFO, "403"),
        (logging.INFO, "200"),
    ]
    assert all("Bearer" not in message for _, message in lines)
