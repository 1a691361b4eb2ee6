"""The CLI's client: why no answer came, in words; which failures a watch waits out."""

from __future__ import annotations

import errno
import socket

import httpx
import pytest

from chive_admin.cli.http import AdminClient, ServerError, describe, url_problem


def failure(kind: type[httpx.HTTPError], cause: BaseException | None = None) -> httpx.HTTPError:
    exc = kind("details that name httpx internals")
    exc.__cause__ = cause
    return exc


@pytest.mark.parametrize(
    ("exc", "words"),
    [
        (
            failure(httpx.ConnectError, ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")),
            "connection refused",
        ),
        (failure(httpx.ConnectError, socket.gaierror(-2, "Name or service not known")), "host name not found"),
        (
            failure(httpx.ConnectError, OSError(errno.ENETUNREACH, "Network is unreachable")),
            "cannot connect (network is unreachable)",
        ),
        (failure(httpx.ConnectTimeout), "timed out"),
        (failure(httpx.ReadTimeout), "timed out"),
        (failure(httpx.UnsupportedProtocol), "the URL needs http:// or https://"),
        (failure(httpx.RemoteProtocolError), "the server closed the connection without an answer"),
        (failure(httpx.ReadError), "the connection broke"),
    ],
)
def test_failures_are_described_in_words(exc: httpx.HTTPError, words: str) -> None:
    assert describe(exc) == words


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://127.0.0.1:8590", None),
        ("https://admin.example", None),
        ("localhost:8590", "the URL needs http:// or https://"),
        ("ftp://x", "the URL needs http:// or https://"),
        ("http://", "the URL has no host"),
        ("http://h:port", "not a valid URL"),
    ],
)
def test_url_problems(url: str, problem: str | None) -> None:
    assert url_problem(url) == problem
    if problem:
        with pytest.raises(ValueError, match=problem):
            AdminClient(url, None)


def test_only_no_answer_and_gateway_errors_are_transient() -> None:
    assert ServerError("refused").transient
    assert ServerError("gateway", status=503).transient
    assert not ServerError("AuthenticationRequired", status=401).transient
    assert not ServerError("InternalServerError", status=500).transient
