"""Typed upstream failures: an XRPC error answer decoded to its type, each type's stable code and retry decision."""

from __future__ import annotations

import pytest

from chive_admin.upstream import errors
from chive_admin.upstream.errors import from_xrpc

HOST = "https://pds.example"


@pytest.mark.parametrize(
    ("status", "name", "kind"),
    [
        (400, "RecordNotFound", errors.RecordNotFound),
        (400, "RepoNotFound", errors.RepoNotFound),
        (400, "RepoTakendown", errors.RepoTakendown),
        (400, "RepoDeactivated", errors.RepoDeactivated),
        (400, "RepoSuspended", errors.RepoSuspended),
        (400, "BlobNotFound", errors.BlobNotFound),
        (501, "MethodNotImplemented", errors.MethodNotImplemented),
        (404, "MethodNotImplemented", errors.MethodNotImplemented),  # the name decides, whatever the status
    ],
)
def test_a_declared_error_name_gives_its_type(status: int, name: str, kind: type[errors.XrpcCallError]) -> None:
    error = from_xrpc(HOST, status, name, "said the PDS")
    assert type(error) is kind
    assert (error.host, error.status, error.error) == (HOST, status, name)
    assert str(error) == f"{name}: said the PDS"


def test_a_deactivated_repos_generic_400_is_read_from_its_message() -> None:
    # what a PDS answers to listRecords on a deactivated repo: no name of its own, only the message says it
    error = from_xrpc(HOST, 400, "InvalidRequest", "Could not find repo: did:plc:abc")
    assert type(error) is errors.RepoNotFound
    assert type(from_xrpc(HOST, 400, "InvalidRequest", "Invalid cursor")) is errors.XrpcCallError
    assert type(from_xrpc(HOST, 404, None, "could not find repo")) is errors.XrpcCallError  # a 400 only


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (501, errors.MethodNotImplemented),
        (500, errors.ServerError),
        (502, errors.ServerError),
        (503, errors.ServerError),
        (400, errors.XrpcCallError),
        (401, errors.XrpcCallError),
        (404, errors.XrpcCallError),
        (413, errors.XrpcCallError),
    ],
)
def test_an_unnamed_error_is_typed_by_its_status(status: int, kind: type[errors.XrpcCallError]) -> None:
    error = from_xrpc(HOST, status, None, None)
    assert type(error) is kind
    assert str(error) == str(status)


def test_the_message_is_cut_short_and_never_required() -> None:
    long = from_xrpc(HOST, 400, "InvalidRequest", "x" * 10_000)
    assert str(long) == "InvalidRequest: " + "x" * 300
    assert str(from_xrpc(HOST, 400, "InvalidRequest", "")) == "InvalidRequest"


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (errors.ServerError(HOST, "503"), True),  # the server may recover
        (errors.RateLimited(HOST, "429", wait_s=2.5), True),
        (errors.Unreachable(HOST, "reset"), True),
        (errors.BadResponse(HOST, "not JSON"), True),  # a truncated body may come whole next time
        (errors.DeadlineExceeded(HOST, "drip"), False),  # a drip is the server's way, not a hiccup
        (errors.TooLarge(HOST, "50 MB"), False),
        (errors.RefusedContent(HOST, "not a CAR"), False),  # the same request brings the same answer
        (errors.XrpcCallError(HOST, "400"), False),  # 4xx: asking again changes nothing
        (errors.RecordNotFound(HOST, "gone"), False),
        (errors.MethodNotImplemented(HOST, "501"), False),
        (errors.HostUnhealthy(HOST, "breaker open"), False),
        (errors.UpstreamError(HOST, "other"), False),
    ],
)
def test_only_failures_that_may_pass_on_a_second_try_are_retried(error: errors.UpstreamError, retryable: bool) -> None:
    assert error.retryable is retryable


def test_a_rate_limit_carries_the_wait_the_host_asked_for() -> None:
    limited = errors.RateLimited(HOST, "slow down", wait_s=12.0)
    assert (limited.wait_s, limited.status, limited.error, limited.code) == (
        12.0,
        429,
        "RateLimitExceeded",
        "rate_limited",
    )


#: operations store these codes (errorCode) and operators filter on them: renaming one is a breaking change
CODES = {
    "UpstreamError": "upstream_error",
    "XrpcCallError": "upstream_xrpc_error",
    "RecordNotFound": "record_not_found",
    "RepoNotFound": "repo_not_found",
    "RepoTakendown": "repo_takendown",
    "RepoDeactivated": "repo_deactivated",
    "RepoSuspended": "repo_suspended",
    "BlobNotFound": "blob_not_found",
    "MethodNotImplemented": "method_not_implemented",
    "RateLimited": "rate_limited",
    "ServerError": "upstream_server_error",
    "Unreachable": "upstream_unreachable",
    "DeadlineExceeded": "upstream_deadline_exceeded",
    "BadResponse": "upstream_bad_response",
    "TooLarge": "upstream_too_large",
    "AnswerChanged": "upstream_answer_changed",
    "RefusedContent": "upstream_refused_content",
    "HostUnhealthy": "host_unhealthy",
}


def test_codes_are_stable_and_distinct() -> None:
    declared = {
        name: kind.code
        for name, kind in vars(errors).items()
        if isinstance(kind, type) and issubclass(kind, errors.UpstreamError)
    }
    assert declared == CODES
    assert len(set(CODES.values())) == len(CODES)
