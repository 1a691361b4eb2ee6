"""Typed failures of upstream calls, decoded from XRPC error bodies and transport errors."""

from __future__ import annotations


class UpstreamError(Exception):
    """An upstream call failed. ``code`` is stable and safe to store and show (no URLs with secrets, no bodies)."""

    code = "upstream_error"

    def __init__(self, host: str, message: str, *, status: int | None = None, error: str | None = None) -> None:
        super().__init__(message)
        self.host = host
        self.status = status
        self.error = error

    @property
    def retryable(self) -> bool:
        return False


class XrpcCallError(UpstreamError):
    """The server answered with an XRPC error body (or a non-2xx status)."""

    code = "upstream_xrpc_error"


class RecordNotFound(XrpcCallError):
    code = "record_not_found"


class RepoNotFound(XrpcCallError):
    code = "repo_not_found"


class RepoTakendown(XrpcCallError):
    code = "repo_takendown"


class RepoDeactivated(XrpcCallError):
    code = "repo_deactivated"


class RepoSuspended(XrpcCallError):
    code = "repo_suspended"


class BlobNotFound(XrpcCallError):
    code = "blob_not_found"


class MethodNotImplemented(XrpcCallError):
    code = "method_not_implemented"


class RateLimited(XrpcCallError):
    code = "rate_limited"

    def __init__(
        self, host: str, message: str, *, wait_s: float, asked_s: float | None = None, status: int = 429
    ) -> None:
        super().__init__(host, message, status=status, error="RateLimitExceeded")
        #: what we wait (capped)
        self.wait_s = wait_s
        #: what the host asked for, uncapped
        self.asked_s = wait_s if asked_s is None else asked_s

    @property
    def retryable(self) -> bool:
        return True


class ServerError(XrpcCallError):
    """5xx other than 501: the server may recover."""

    code = "upstream_server_error"

    @property
    def retryable(self) -> bool:
        return True


class Unreachable(UpstreamError):
    """Connect error, reset or timeout: nothing usable came back."""

    code = "upstream_unreachable"

    @property
    def retryable(self) -> bool:
        return True


class DeadlineExceeded(Unreachable):
    """The server answered, but the exchange ran past its total deadline (a drip, not a hiccup): not retried, and
    counted against the host's health."""

    code = "upstream_deadline_exceeded"

    @property
    def retryable(self) -> bool:
        return False


class BadResponse(UpstreamError):
    """A 2xx answer that is not what the method promises (not JSON, truncated, wrong type, too large)."""

    code = "upstream_bad_response"

    @property
    def retryable(self) -> bool:
        return True


class TooLarge(BadResponse):
    code = "upstream_too_large"

    @property
    def retryable(self) -> bool:
        return False


class AnswerChanged(BadResponse):
    """An answer read as it arrived broke off, and the same request, sent again, answered other bytes (the
    repository changed meanwhile): what was read of the first cannot be continued, so it is not retried."""

    code = "upstream_answer_changed"

    @property
    def retryable(self) -> bool:
        return False


class RefusedContent(BadResponse):
    """A 2xx answer refused for what it holds (not the CAR asked for, an encoding not asked for or broken): the same
    request would bring the same answer, so it is not retried."""

    code = "upstream_refused_content"

    @property
    def retryable(self) -> bool:
        return False


class HostUnhealthy(UpstreamError):
    """The host failed too many times in a row; calls to it are refused for a while without trying."""

    code = "host_unhealthy"


_BY_NAME: dict[str, type[XrpcCallError]] = {
    "RecordNotFound": RecordNotFound,
    "RepoNotFound": RepoNotFound,
    "RepoTakendown": RepoTakendown,
    "RepoDeactivated": RepoDeactivated,
    "RepoSuspended": RepoSuspended,
    "BlobNotFound": BlobNotFound,
    "MethodNotImplemented": MethodNotImplemented,
}


def from_xrpc(host: str, status: int, error: str | None, message: str | None) -> XrpcCallError:
    """The typed error for an XRPC error answer. The PDS answers some conditions as a generic 400 (a
    deactivated repo's listRecords says ``InvalidRequest: Could not find repo``), so the message is read too."""
    text = (message or "")[:300]
    kind = _BY_NAME.get(error or "")
    if kind is None and status == 400 and "could not find repo" in text.lower():
        kind = RepoNotFound
    if kind is None and status == 501:
        kind = MethodNotImplemented
    if kind is None and status >= 500:
        kind = ServerError
    if kind is None:
        kind = XrpcCallError
    return kind(host, f"{error or status}: {text}" if text else str(error or status), status=status, error=error)
