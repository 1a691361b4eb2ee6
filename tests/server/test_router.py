"""``/xrpc/<nsid>`` to its method's pipeline: every name the catalog knows has one, a name that is no NSID is a 400,
an NSID nobody serves a 501, and whatever a handler raises leaves as an opaque 500."""

from __future__ import annotations

import pytest
from conftest import AppFactory
from support.admin_api import refusal, serving
from support.auth import FixedTokens

from chive_admin._generated import ids
from chive_admin._generated.catalog import ROUTES, UPSTREAM
from chive_admin.handlers.call import Call
from chive_admin.server.router import MAX_NSID_LENGTH, UnknownHandlerError, XRPCRouter
from chive_admin.xrpc.errors import XRPCError


async def nothing(call: Call[object, None]) -> None:
    return None


def router() -> XRPCRouter:
    return XRPCRouter(ROUTES, {ids.PUB_CHIVE_ADMIN_LIST_PDSES: nothing}, max_body_bytes=1000, body_seconds=3)


def test_every_catalog_method_has_a_pipeline_handled_or_not() -> None:
    built = router()
    assert set(built.pipelines) == set(ROUTES)
    assert built.pipeline_for(ids.PUB_CHIVE_ADMIN_LIST_PDSES).handler is nothing
    unbuilt = built.pipeline_for(ids.PUB_CHIVE_ADMIN_GET_AUDIT_LOG)
    assert unbuilt.handler is None
    assert (unbuilt.max_body_bytes, unbuilt.body_seconds) == (1000, 3)


def test_a_handler_for_a_method_no_lexicon_defines_is_refused_at_start() -> None:
    with pytest.raises(UnknownHandlerError, match=r"com\.example\.stray"):
        XRPCRouter(ROUTES, {"com.example.stray": nothing}, max_body_bytes=1000)


@pytest.mark.parametrize(
    ("method", "status", "fragment"),
    [
        ("a" * (MAX_NSID_LENGTH + 1), 400, "too long"),
        ("not an nsid", 400, "not an NSID"),
        ("../../etc/passwd", 400, "not an NSID"),
        ("", 400, "not an NSID"),
        ("com.example.unknownMethod", 501, "com.example.unknownMethod"),
    ],
)
def test_names_without_a_pipeline(method: str, status: int, fragment: str) -> None:
    with pytest.raises(XRPCError) as caught:
        router().pipeline_for(method)
    assert caught.value.status == status
    assert fragment in caught.value.message


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
async def test_method_names_on_the_wire(make_app: AppFactory, path: str, status: int, error: str) -> None:
    async with serving(make_app(authenticator=FixedTokens())) as api:
        refusal(await api.client.get(path), status, error)


async def test_upstream_methods_are_modelled_but_never_served(make_app: AppFactory) -> None:
    assert ids.COM_ATPROTO_SYNC_LIST_REPOS in UPSTREAM
    assert not set(UPSTREAM) & set(ROUTES)
    async with serving(make_app(authenticator=FixedTokens())) as api:
        refusal(await api.get(ids.COM_ATPROTO_SYNC_LIST_REPOS), 501, "MethodNotImplemented")


async def broken(call: Call[object, None]) -> None:
    raise RuntimeError("SELECT secret FROM internals")


async def test_an_unhandled_exception_is_an_opaque_500(make_app: AppFactory, caplog: pytest.LogCaptureFixture) -> None:
    app = make_app(authenticator=FixedTokens(), handlers={ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS: broken})
    async with serving(app) as api:
        message = refusal(await api.get(ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS), 500, "InternalServerError")
    assert "SELECT" not in message
    assert "Traceback" not in message
    assert "SELECT secret FROM internals" in caplog.text  # the operator still sees it in the log
