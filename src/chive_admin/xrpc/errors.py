"""The one error type of the XRPC layer and the one table from error name to HTTP status.

Names and statuses follow the atproto reference ``xrpc-server``. Errors a lexicon declares for a method
(``InvalidBackfillType``, ``NotFound``…) are 400 with their own name, as the spec says.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

STATUS_BY_NAME: Final[Mapping[str, int]] = MappingProxyType(
    {
        "InvalidRequest": 400,
        "ExpiredToken": 400,
        "InvalidToken": 400,
        "AuthenticationRequired": 401,
        "AdminRequired": 403,
        "Forbidden": 403,
        "NotFound": 404,
        "PayloadTooLarge": 413,
        "UnsupportedMediaType": 415,
        "RateLimitExceeded": 429,
        "InternalServerError": 500,
        "MethodNotImplemented": 501,
        "UpstreamFailure": 502,
        "NotEnoughResources": 503,
        "UpstreamTimeout": 504,
    }
)


class XRPCError(Exception):
    """An error answered to the client as ``{"error": name, "message": message}``.

    ``message`` is shown to the client, so it must never carry internals (SQL, paths, tokens, stack traces).
    """

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(f"{status} {error}: {message}")
        self.status = status
        self.error = error
        self.message = message
        self.headers: dict[str, str] = dict(headers or {})
        #: why, for the log and the audit trail only (e.g. "expired", "wrong_lxm"); never sent to the client
        self.reason = reason

    @classmethod
    def named(cls, error: str, message: str, *, headers: Mapping[str, str] | None = None) -> XRPCError:
        """An error by name; a name outside the table is a lexicon-declared error, answered 400."""
        return cls(STATUS_BY_NAME.get(error, 400), error, message, headers=headers)

    @classmethod
    def declared(cls, error: str, message: str) -> XRPCError:
        """An error the method's lexicon declares: 400 with its name, even one the table answers otherwise at the
        HTTP level (``NotFound`` is 404 for an unknown path, 400 from getUserDetail)."""
        return cls(400, error, message)

    @classmethod
    def invalid_request(cls, message: str) -> XRPCError:
        return cls.named("InvalidRequest", message)

    @classmethod
    def authentication_required(
        cls, message: str = "Authentication required", *, reason: str | None = None
    ) -> XRPCError:
        error = cls.named("AuthenticationRequired", message, headers={"WWW-Authenticate": 'Bearer realm="chive-admin"'})
        error.reason = reason
        return error

    @classmethod
    def rate_limited(cls, message: str, *, limit: int, reset_in: float) -> XRPCError:
        """429 with the headers the reference sends: ``RateLimit-Reset`` in epoch seconds, ``Retry-After`` in
        seconds."""
        wait = max(1, math.ceil(reset_in))
        headers = {
            "RateLimit-Limit": str(limit),
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": str(math.ceil(time.time()) + wait),
            "Retry-After": str(wait),
        }
        return cls.named("RateLimitExceeded", message, headers=headers)

    @classmethod
    def not_implemented(cls, message: str = "Method not implemented") -> XRPCError:
        return cls.named("MethodNotImplemented", message)

    @classmethod
    def internal(cls) -> XRPCError:
        return cls.named("InternalServerError", "Internal Server Error")

    def body(self) -> dict[str, str]:
        return {"error": self.error, "message": self.message}
