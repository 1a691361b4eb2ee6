"""The admin XRPC API as a test calls it: one ``call()``, the op id a trigger answered, and waiting for an operation.

Each helper takes either an in-process ``httpx.AsyncClient`` (then its result is awaited) or an ``httpx.Client`` on
a served process, so a test reads the same whichever server it runs against. Calls are the admin's (``ADMIN``, what
``support.auth.FixedTokens`` accepts) unless ``headers`` say otherwise (``bearer(key)`` for a real API key).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, overload

import httpx
import pytest

from chive_admin._generated import ids
from chive_admin._generated.catalog import ROUTES
from chive_admin._generated.models.pub.chive.admin import get_backfill_status
from chive_admin.store.operations import ENDED
from support.auth import ADMIN

#: one operation as getBackfillStatus shows it (camelCase keys)
Operation = dict[str, Any]
Headers = Mapping[str, str]

#: between two polls of an operation's status
POLL_SECONDS = 0.02


def _request(nsid: str, body: Mapping[str, Any] | None, params: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
    """The HTTP method and request arguments for ``nsid``: a query is a GET with params, a procedure a POST with
    a JSON body (``{}`` when none is given)."""
    url = f"/xrpc/{nsid}"
    if ROUTES[nsid].kind == "query":
        assert body is None, f"{nsid} is a query: it takes params, not a body"
        return "GET", {"url": url, "params": params}
    return "POST", {"url": url, "params": params, "json": {} if body is None else body}


@overload
def call(
    client: httpx.AsyncClient,
    nsid: str,
    body: Mapping[str, Any] | None = None,
    *,
    headers: Headers = ...,
    **params: str,
) -> Awaitable[httpx.Response]: ...


@overload
def call(
    client: httpx.Client, nsid: str, body: Mapping[str, Any] | None = None, *, headers: Headers = ..., **params: str
) -> httpx.Response: ...


def call(
    client: httpx.AsyncClient | httpx.Client,
    nsid: str,
    body: Mapping[str, Any] | None = None,
    *,
    headers: Headers = ADMIN,
    **params: str,
) -> Awaitable[httpx.Response] | httpx.Response:
    """Call one XRPC method the way its lexicon says (GET or POST), as the admin unless ``headers`` say otherwise."""
    method, request = _request(nsid, body, params)
    return client.request(method, headers=headers, **request)


def started(answer: httpx.Response) -> str:
    """The id of the operation a trigger answered with: the dedicated triggers say ``operationId``, triggerBackfill
    (and a reused operation) shows the whole operation."""
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return str(body["operationId"] if "operationId" in body else body["operation"]["id"])


def _operation(answer: httpx.Response) -> Operation:
    assert answer.status_code == 200, answer.text
    get_backfill_status.Output.model_validate(answer.json(), strict=True, by_alias=True, by_name=False)
    op: Operation = answer.json()["operation"]
    return op


@overload
def operation(client: httpx.AsyncClient, op_id: str, *, headers: Headers = ...) -> Awaitable[Operation]: ...


@overload
def operation(client: httpx.Client, op_id: str, *, headers: Headers = ...) -> Operation: ...


def operation(
    client: httpx.AsyncClient | httpx.Client, op_id: str, *, headers: Headers = ADMIN
) -> Awaitable[Operation] | Operation:
    """The operation's state now, through getBackfillStatus (its answer checked against the lexicon)."""
    if isinstance(client, httpx.AsyncClient):

        async def read() -> Operation:
            return _operation(await call(client, ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS, headers=headers, id=op_id))

        return read()
    return _operation(call(client, ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS, headers=headers, id=op_id))


def ended(op: Operation) -> bool:
    """Whether the operation has ended, by the store's own set of ended statuses."""
    return op["status"] in ENDED


def status_in(*statuses: str) -> Callable[[Operation], bool]:
    """``until`` for ``wait_until``: the operation is in one of ``statuses``."""
    return lambda op: op["status"] in statuses


def _settled(op: Operation, until: Callable[[Operation], bool], deadline: float, now: float) -> bool:
    """Whether the wait is over; fails the test when it can no longer be (the op ended elsewhere, or time is up)."""
    if until(op):
        return True
    if ended(op):
        pytest.fail(f"operation {op['id']} ended before the awaited state: {op}")
    if now > deadline:
        pytest.fail(f"operation {op['id']} did not get there in time: {op}")
    return False


@overload
def wait_until(
    client: httpx.AsyncClient,
    op_id: str,
    until: Callable[[Operation], bool],
    *,
    headers: Headers = ...,
    within: float = ...,
) -> Awaitable[Operation]: ...


@overload
def wait_until(
    client: httpx.Client, op_id: str, until: Callable[[Operation], bool], *, headers: Headers = ..., within: float = ...
) -> Operation: ...


def wait_until(
    client: httpx.AsyncClient | httpx.Client,
    op_id: str,
    until: Callable[[Operation], bool],
    *,
    headers: Headers = ADMIN,
    within: float = 60.0,
) -> Awaitable[Operation] | Operation:
    """Poll the operation until ``until(op)`` holds; its state then. ``within`` seconds bound the test (it fails
    after them), they claim nothing about speed."""
    if isinstance(client, httpx.AsyncClient):
        aclient = client

        async def poll() -> Operation:
            deadline = time.monotonic() + within
            while not _settled(
                op := await operation(aclient, op_id, headers=headers), until, deadline, time.monotonic()
            ):
                await asyncio.sleep(POLL_SECONDS)
            return op

        return poll()
    deadline = time.monotonic() + within
    while True:
        op = operation(client, op_id, headers=headers)
        if _settled(op, until, deadline, time.monotonic()):
            return op
        time.sleep(POLL_SECONDS)


@overload
def wait_ended(
    client: httpx.AsyncClient, op_id: str, *, headers: Headers = ..., within: float = ...
) -> Awaitable[Operation]: ...


@overload
def wait_ended(client: httpx.Client, op_id: str, *, headers: Headers = ..., within: float = ...) -> Operation: ...


def wait_ended(
    client: httpx.AsyncClient | httpx.Client, op_id: str, *, headers: Headers = ADMIN, within: float = 60.0
) -> Awaitable[Operation] | Operation:
    """Poll the operation until it has ended (completed, partial, failed or cancelled); its last state."""
    return wait_until(client, op_id, ended, headers=headers, within=within)
