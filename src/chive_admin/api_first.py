"""The event loop's one priority: a request being answered goes before backfill work.

The API and the backfill jobs share one event loop, and asyncio runs ready callbacks in the order they became
ready: each step of a request (its handler started, its database read returned, its answer written) waits behind
every backfill step queued before it. A pds-scan lists tens of repositories at once and a did-sync writes parts of
hundreds of records, each step a millisecond or more of parsing, checking and binding rows, so a dashboard's poll
under ingest waited tens of milliseconds in that queue while its own work took one.

The server counts the requests it is answering (:func:`answering`); a backfill step calls :func:`api_first` before a
slice of work, outside any transaction, and while a request is in flight it waits for the last one to end. The wait
is bounded: at most :data:`HOLD` seconds, and after a hold that ran out (requests never stopped coming) the gate
stays open for as long again, so a steady stream of requests slows a backfill to about half its pace at worst and
never stops it. One gate per event loop, made on first use.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Iterator
from contextvars import ContextVar

#: the longest one hold lasts (and how long the gate then stays open)
HOLD = 0.02


class _Gate:
    # no reference to its loop: the loop is the weak key it is kept under, and would never be freed
    def __init__(self) -> None:
        self.in_flight = 0
        self.idle = asyncio.Event()
        self.idle.set()
        self.open_until = 0.0

    def enter(self) -> None:
        self.in_flight += 1
        self.idle.clear()

    def leave(self) -> None:
        self.in_flight -= 1
        if not self.in_flight:
            self.idle.set()


#: set while a request is answered (and in the tasks it starts): a request's own work is never held behind itself
_answering: ContextVar[bool] = ContextVar("answering", default=False)
_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Gate] = weakref.WeakKeyDictionary()


def _gate() -> _Gate:
    loop = asyncio.get_running_loop()
    gate = _gates.get(loop)
    if gate is None:
        gate = _gates[loop] = _Gate()
    return gate


@contextlib.contextmanager
def answering() -> Iterator[None]:
    """Around a request's handling: backfill steps wait while it is in flight."""
    gate = _gate()
    gate.enter()
    token = _answering.set(True)
    try:
        yield
    finally:
        _answering.reset(token)
        gate.leave()


async def api_first() -> None:
    """Before a slice of backfill work: wait while requests are being answered (at most :data:`HOLD`). Called
    while answering a request (an upstream call of its own, say), it returns at once."""
    loop = asyncio.get_running_loop()
    gate = _gates.get(loop)
    if gate is None or not gate.in_flight or _answering.get() or loop.time() < gate.open_until:
        return
    try:
        async with asyncio.timeout(HOLD):
            await gate.idle.wait()
    except TimeoutError:
        gate.open_until = loop.time() + HOLD
