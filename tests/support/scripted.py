"""A real HTTP server on loopback that answers from a script: for tests of how clients handle faults."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from support.server import free_port


@dataclass
class Answer:
    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": "application/json"})
    delay: float = 0.0
    #: stream the body slowly, or cut it short after this many bytes
    truncate_at: int | None = None
    #: send the head at once, then the body ``drip_bytes`` at a time every ``drip`` seconds (a hostile server's drip)
    drip: float | None = None
    drip_bytes: int = 1


@dataclass
class Script:
    answers: deque[Answer | Callable[[Request], Answer]] = field(default_factory=deque)
    default: Answer | Callable[[Request], Answer] = field(default_factory=lambda: Answer(404, b'{"error":"NotFound"}'))
    seen: list[str] = field(default_factory=list)
    #: requests the server is answering now, and the most it has answered at once
    in_flight: int = 0
    peak_in_flight: int = 0
    #: set when the server stops: a body still dripping ends
    closed: bool = False

    def push(self, *answers: Answer | Callable[[Request], Answer]) -> None:
        self.answers.extend(answers)


def _app(script: Script) -> Starlette:
    async def endpoint(request: Request) -> Response:
        script.seen.append(f"{request.url.path}?{request.url.query}")
        planned = script.answers.popleft() if script.answers else script.default
        answer = planned(request) if callable(planned) else planned
        script.in_flight += 1
        script.peak_in_flight = max(script.peak_in_flight, script.in_flight)
        try:
            # a long delay ends when the server stops: a test's teardown does not wait it out
            until = time.monotonic() + answer.delay
            while not script.closed and (left := until - time.monotonic()) > 0:
                await asyncio.sleep(min(left, 0.1))
        finally:
            script.in_flight -= 1
        if answer.drip is not None:
            interval, body, step = answer.drip, answer.body, answer.drip_bytes

            async def dripping() -> AsyncIterator[bytes]:
                for index in range(0, len(body), step):
                    if script.closed:
                        return
                    yield body[index : index + step]
                    await asyncio.sleep(interval)

            return StreamingResponse(dripping(), status_code=answer.status, headers=answer.headers)
        if answer.truncate_at is not None:
            cut = answer.body[: answer.truncate_at]

            async def partial() -> Iterator[bytes]:  # type: ignore[misc]
                yield cut
                raise ConnectionResetError("truncated on purpose")

            headers = {**answer.headers, "content-length": str(len(answer.body))}
            return StreamingResponse(partial(), status_code=answer.status, headers=headers)
        return Response(answer.body, status_code=answer.status, headers=answer.headers)

    return Starlette(routes=[Route("/{path:path}", endpoint, methods=["GET", "POST"])])


@contextmanager
def scripted_server() -> Iterator[tuple[str, Script]]:
    """``(base_url, script)`` of a server running in a thread until the block ends."""
    script = Script()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(_app(script), host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("scripted server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}", script
    finally:
        script.closed = True
        server.should_exit = True
        thread.join(10)
