"""One error type, one name → status table: declared lexicon errors are 400, a 401 says how to authenticate, and the
reason for the audit trail never reaches the body."""

from __future__ import annotations

import pytest

from chive_admin.xrpc.errors import STATUS_BY_NAME, XRPCError


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("InvalidRequest", 400),
        ("AuthenticationRequired", 401),
        ("AdminRequired", 403),
        ("PayloadTooLarge", 413),
        ("UnsupportedMediaType", 415),
        ("RateLimitExceeded", 429),
        ("InternalServerError", 500),
        ("MethodNotImplemented", 501),
        ("UpstreamFailure", 502),
        ("NotEnoughResources", 503),
        ("UpstreamTimeout", 504),
    ],
)
def test_the_reference_servers_names_and_statuses(name: str, status: int) -> None:
    assert STATUS_BY_NAME[name] == status
    assert XRPCError.named(name, "m").status == status


def test_a_name_a_lexicon_declares_is_a_400_under_its_own_name() -> None:
    error = XRPCError.named("InvalidBackfillType", "Unknown backfill type 'x'")
    assert (error.status, error.error) == (400, "InvalidBackfillType")
    assert error.body() == {"error": "InvalidBackfillType", "message": "Unknown backfill type 'x'"}


def test_the_table_cannot_be_changed_at_run_time() -> None:
    with pytest.raises(TypeError):
        STATUS_BY_NAME["InvalidRequest"] = 200  # type: ignore[index]


def test_authentication_required_names_the_scheme_and_keeps_its_reason_out_of_the_body() -> None:
    error = XRPCError.authentication_required(reason="expired")
    assert error.status == 401
    assert error.headers == {"WWW-Authenticate": 'Bearer realm="chive-admin"'}
    assert error.reason == "expired"
    assert error.body() == {"error": "AuthenticationRequired", "message": "Authentication required"}


def test_internal_says_nothing_of_the_cause() -> None:
    assert XRPCError.internal().body() == {"error": "InternalServerError", "message": "Internal Server Error"}
    assert XRPCError.not_implemented().body() == {"error": "MethodNotImplemented", "message": "Method not implemented"}
    assert XRPCError.invalid_request("limit: too big").status == 400


def test_headers_are_the_errors_own_copy() -> None:
    given = {"Retry-After": "5"}
    error = XRPCError.named("RateLimitExceeded", "slow down", headers=given)
    error.headers["Connection"] = "close"
    assert given == {"Retry-After": "5"}
    assert str(error) == "429 RateLimitExceeded: slow down"
