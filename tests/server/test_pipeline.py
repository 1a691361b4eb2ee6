"""The XRPC pipeline end to end in-process: every bad input is a 4xx XRPC error body, never a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from conftest import AppFactory, running_client
from support.auth import ADMIN_DID, FixedTokens

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import list_pdses, trigger_backfill
from chive_admin.handlers.call import Call

ADMIN = {"Authorization": "Bearer admin"}
LIST_PDSES = f"/xrpc/{ids.PUB_CHIVE_ADMIN_LIST_PDSES}"
TRIGGER = f"/xrpc/{ids.PUB_CHIVE_ADMIN_TRIGGER_BACKFILL}"
STATUS = f"/xrpc/{ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS}"

seen: list[object] = []


async def list_pdses_handler(call: Call[list_pdses.Params, None]) -> list_pdses.Output:
    seen.append(call.params)
    return list_pdses.Output(stats=list_pdses.PdsStats(total=0, items=[]))


async def trigger_handler(call: Call[list_pdses.Params, trigger_backfill.Input]) -> trigger_backfill.Output:
    seen.append(call.input)
    op = trigger_backfill.BackfillOperation(
        id="op1", type="pds-scan", status="queued", started_at="2026-01-01T00:00:00Z", records_processed=0
    )
    return trigger_backfill.Output(operation=op)


async def broken_handler(call: Call[object, None]) -> None:
    raise RuntimeError("SELECT secret FROM internals")


@pytest.fixture
async def api(make_app: AppFactory) -> AsyncIterator[httpx.AsyncClient]:
    seen.clear()
    app = make_app(
        authenticator=FixedTokens(),
        handlers={
            ids.PUB_CHIVE_ADMIN_LIST_PDSES: list_pdses_handler,
            ids.PUB_CHIVE_ADMIN_TRIGGER_BACKFILL: trigger_handler,
            ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS: broken_handler,
        },
    )
    async for client in running_client(app):
        yield client


def assert_xrpc_error(response: httpx.Response, status: int, error: str) -> dict[str, str]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "message"}
    assert body["error"] == error
    assert isinstance(body["message"], str)
    assert body["message"]
    return body


async def test_valid_query_reaches_handler_with_typed_defaults(api: httpx.AsyncClient) -> None:
    response = await api.get(LIST_PDSES, headers=ADMIN)
    assert response.status_code == 200
    assert response.json() == {"stats": {"total": 0, "items": []}}
    assert seen == [list_pdses.Params(limit=50)]
    response = await api.get(LIST_PDSES, params={"limit": "7"}, headers=ADMIN)
    assert seen[-1] == list_pdses.Params(limit=7)


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("limit=abc", "limit: expected an integer"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=1.0", "limit: expected an integer"),
        ("limit=", "limit: expected an integer"),
        ("limit=99999999999999999999999", "limit: expected an integer"),
        ("limit=5&limit=6", "limit: given more than once"),
        ("stauts=running", "unknown parameter 'stauts'"),
    ],
)
async def test_bad_params_are_invalid_request(api: httpx.AsyncClient, query: str, fragment: str) -> None:
    body = assert_xrpc_error(await api.get(f"{LIST_PDSES}?{query}", headers=ADMIN), 400, "InvalidRequest")
    assert fragment in body["message"]
    assert seen == []


async def test_repeated_scalar_id_param(api: httpx.AsyncClient) -> None:
    body = assert_xrpc_error(await api.get(f"{STATUS}?id=a&id=b", headers=ADMIN), 400, "InvalidRequest")
    assert "id: given more than once" in body["message"]


async def test_wrong_http_method(api: httpx.AsyncClient) -> None:
    body = assert_xrpc_error(await api.post(LIST_PDSES, headers=ADMIN, json={}), 400, "InvalidRequest")
    assert "Incorrect HTTP method" in body["message"]
    body = assert_xrpc_error(await api.get(TRIGGER, headers=ADMIN), 400, "InvalidRequest")
    assert "expected POST" in body["message"]


async def test_valid_procedure(api: httpx.AsyncClient) -> None:
    response = await api.post(TRIGGER, headers=ADMIN, json={"type": "pdsScan", "pdsUrl": "https://pds.example"})
    assert response.status_code == 200, response.text
    assert response.json()["operation"]["recordsProcessed"] == 0
    assert seen == [trigger_backfill.Input(type="pdsScan", pds_url="https://pds.example")]


@pytest.mark.parametrize(
    ("content", "content_type", "status", "error", "fragment"),
    [
        (b"[]", "application/json", 400, "InvalidRequest", "must be a JSON object"),
        (b'"x"', "application/json", 400, "InvalidRequest", "must be a JSON object"),
        (b"\xff\xfe{}", "application/json", 400, "InvalidRequest", "not valid UTF-8"),
        (b"{", "application/json", 400, "InvalidRequest", "not valid JSON"),
        (b'{"type": NaN}', "application/json", 400, "InvalidRequest", "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", 400, "InvalidRequest", "not valid JSON"),
        (b'{"type": "pdsScan"}', "text/plain", 415, "UnsupportedMediaType", "application/json"),
        (b"", "application/json", 400, "InvalidRequest", "not valid JSON"),
        (b"{}", "application/json", 400, "InvalidRequest", "type: required"),
        (b'{"type": 5}', "application/json", 400, "InvalidRequest", "type"),
        (b'{"type": "pdsScan", "batchSize": "10"}', "application/json", 400, "InvalidRequest", "batchSize"),
        (b'{"type": "pdsScan", "batch_size": 10}', "application/json", 400, "InvalidRequest", "batch_size"),
        (
            b'{"type": "pdsScan", "extra": 1}',
            "application/json",
            400,
            "InvalidRequest",
            "extra: unknown field",
        ),
        (b'{"type": "didSync", "did": "not-a-did"}', "application/json", 400, "InvalidRequest", "did"),
        # Python's "$" matches before a final newline: the SDK's DID pattern took this one
        (
            b'{"type": "didSync", "did": "did:plc:abcdefghijklmnopqrstuvwx\\n"}',
            "application/json",
            400,
            "InvalidRequest",
            "ends in a line break",
        ),
        (b'{"type": "x", "uri": "https://nope"}', "application/json", 400, "InvalidRequest", "uri"),
    ],
)
async def test_bad_bodies(
    api: httpx.AsyncClient, content: bytes, content_type: str, status: int, error: str, fragment: str
) -> None:
    response = await api.post(TRIGGER, headers={**ADMIN, "Content-Type": content_type}, content=content)
    body = assert_xrpc_error(response, status, error)
    assert fragment in body["message"]
    assert seen == []


async def test_missing_body_and_content_type(api: httpx.AsyncClient) -> None:
    body = assert_xrpc_error(await api.post(TRIGGER, headers=ADMIN), 400, "InvalidRequest")
    assert "body is required" in body["message"]


async def test_oversize_body_is_refused_before_reading_it_all(api: httpx.AsyncClient) -> None:
    big = b'{"type": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = await api.post(TRIGGER, headers={**ADMIN, "Content-Type": "application/json"}, content=big)
    assert_xrpc_error(response, 413, "PayloadTooLarge")

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the cap must hold while streaming
        for _ in range(40):
            yield b" " * 65536

    response = await api.post(TRIGGER, headers={**ADMIN, "Content-Type": "application/json"}, content=chunks())
    assert_xrpc_error(response, 413, "PayloadTooLarge")


async def test_query_with_a_body_is_refused(api: httpx.AsyncClient) -> None:
    response = await api.request("GET", LIST_PDSES, headers=ADMIN, content=b"{}")
    assert_xrpc_error(response, 400, "InvalidRequest")


@pytest.mark.parametrize(
    ("path", "status", "error"),
    [
        ("/xrpc/" + "a" * 10_000, 400, "InvalidRequest"),
        ("/xrpc/a." * 2000 + "b", 400, "InvalidRequest"),
        ("/xrpc/not an nsid", 400, "InvalidRequest"),
        ("/xrpc/..%2F..%2Fetc%2Fpasswd", 400, "InvalidRequest"),
        ("/xrpc/com.example.unknownMethod", 501, "MethodNotImplemented"),
        ("/xrpc/", 400, "InvalidRequest"),
    ],
)
async def test_method_names(api: httpx.AsyncClient, path: str, status: int, error: str) -> None:
    assert_xrpc_error(await api.get(path, headers=ADMIN), status, error)


async def test_auth_runs_before_input(api: httpx.AsyncClient) -> None:
    response = await api.post(TRIGGER, headers={"Content-Type": "text/plain"}, content=b"garbage")
    assert_xrpc_error(response, 401, "AuthenticationRequired")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert_xrpc_error(await api.post(TRIGGER, headers={"Authorization": "Bearer user"}, json={}), 403, "AdminRequired")


async def test_unhandled_exception_is_an_opaque_500(api: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    body = assert_xrpc_error(await api.get(STATUS, headers=ADMIN), 500, "InternalServerError")
    assert "SELECT" not in body["message"]
    assert "Traceback" not in body["message"]
    assert "SELECT secret FROM internals" in caplog.text  # the operator still sees it in the log


async def test_unbuilt_method_is_501_after_auth(api: httpx.AsyncClient) -> None:
    path = f"/xrpc/{ids.PUB_CHIVE_ADMIN_GET_AUDIT_LOG}"
    assert_xrpc_error(await api.get(path), 401, "AuthenticationRequired")
    assert_xrpc_error(await api.get(path, headers=ADMIN), 501, "MethodNotImplemented")


async def test_non_xrpc_paths_answer_json_errors(api: httpx.AsyncClient) -> None:
    assert_xrpc_error(await api.get("/nothing-here"), 404, "NotFound")


async def test_health(api: httpx.AsyncClient) -> None:
    from chive_admin import __version__

    response = await api.get("/xrpc/_health")
    assert response.status_code == 200
    assert response.json() == {"version": __version__}


async def test_handler_principal_is_the_caller(make_app: AppFactory) -> None:
    got: list[str] = []

    async def whoami(call: Call[object, None]) -> list_pdses.Output:
        got.append(call.principal.did)
        return list_pdses.Output()

    app = make_app(authenticator=FixedTokens(), handlers={ids.PUB_CHIVE_ADMIN_LIST_PDSES: whoami})
    async for client in running_client(app):
        assert (await client.get(LIST_PDSES, headers=ADMIN)).status_code == 200
    assert got == [ADMIN_DID]


async def test_upstream_methods_are_modelled_but_never_served(api: httpx.AsyncClient) -> None:
    from chive_admin._generated.catalog import ROUTES, UPSTREAM

    assert ids.COM_ATPROTO_SYNC_LIST_REPOS in UPSTREAM
    assert not set(UPSTREAM) & set(ROUTES)
    response = await api.get(f"/xrpc/{ids.COM_ATPROTO_SYNC_LIST_REPOS}", headers=ADMIN)
    assert_xrpc_error(response, 501, "MethodNotImplemented")
