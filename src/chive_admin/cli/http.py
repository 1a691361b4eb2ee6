"""A small XRPC client for a chive-admin server, authenticated with an API key."""

from __future__ import annotations

import errno
import socket
from typing import Any
from urllib.parse import urlsplit

import httpx

from chive_admin.cli.terminal import visible

#: answers that mean "the server is (re)starting or behind a proxy that lost it", worth another try
_TRANSIENT_STATUSES = frozenset({502, 503, 504})


class ServerError(Exception):
    """An XRPC error answered by the server, or no answer at all; its text is one line for the terminal."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def transient(self) -> bool:
        """No answer at all (refused, timed out, cut off) or a gateway's 502/503/504: a restart looks like this."""
        return self.status is None or self.status in _TRANSIENT_STATUSES


def url_problem(url: str) -> str | None:
    """What is wrong with a server URL, in words; ``None`` when it is usable."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        return "not a valid URL"
    if parts.scheme not in ("http", "https"):
        return "the URL needs http:// or https://"
    if not parts.hostname:
        return "the URL has no host"
    return None


def _os_error(exc: BaseException) -> OSError | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def describe(exc: httpx.HTTPError) -> str:
    """Why no answer came, in words (never an httpx class name)."""
    if isinstance(exc, httpx.UnsupportedProtocol):
        return "the URL needs http:// or https://"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    cause = _os_error(exc)
    text = str(exc).lower()
    if isinstance(cause, socket.gaierror) or "name or service not known" in text or "nodename nor servname" in text:
        return "host name not found"
    if (cause is not None and cause.errno == errno.ECONNREFUSED) or "refused" in text:
        return "connection refused"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect ({cause.strerror.lower()})" if cause and cause.strerror else "cannot connect"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the server closed the connection without an answer"
    if isinstance(exc, httpx.NetworkError):
        return "the connection broke"
    return "no answer"


class AdminClient:
    def __init__(self, url: str, key: str | None, *, timeout: float = 30.0) -> None:
        problem = url_problem(url)
        if problem:
            raise ValueError(problem)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def query(self, nsid: str, **params: Any) -> dict[str, Any]:
        return self._send("GET", nsid, params={k: str(v) for k, v in params.items() if v is not None})

    def procedure(self, nsid: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._send("POST", nsid, json={k: v for k, v in body.items() if v is not None})

    def _send(self, method: str, nsid: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._http.request(method, f"/xrpc/{nsid}", **kwargs)
        except httpx.HTTPError as exc:
            raise ServerError(f"cannot reach {self._http.base_url}: {describe(exc)}") from None
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code >= 400:
            if isinstance(data, dict) and "error" in data:
                message = f"{visible(data['error'])}: {visible(data.get('message', ''))}"
                raise ServerError(message, status=response.status_code)
            raise ServerError(f"HTTP {response.status_code} from the server", status=response.status_code)
        if not isinstance(data, dict):
            raise ServerError("the server answered something other than a JSON object", status=response.status_code)
        return data
