"""Raw HTTP/1.1 on a socket: a minimal keep-alive client connection for load tests, and a slow client.

httpx spends more CPU per request than the server under test does, so 200 httpx clients in one process measure
httpx. ``RawConnection`` writes a request and reads a ``Content-Length`` answer on one socket, nothing else.
``dribble`` sends bytes one at a time, as a slow (or hostile) client does, and reports when the server hung up.
"""

from __future__ import annotations

import asyncio
import json
import select
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")


class RawConnection:
    """One connection; the server closes it after its keep-alive timeout (uvicorn: 5 s idle), so open one per burst."""

    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self._host, self._port = host, port
        self._extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> RawConnection:
        self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._writer is not None:
            self._writer.close()

    async def request(
        self, method: str, path: str, body: object = None, headers: Mapping[str, str] | None = None
    ) -> Answer:
        """One request and its answer; ``headers`` are sent with this request only, after the connection's."""
        assert self._reader is not None, "use it as an async context manager"
        assert self._writer is not None
        payload = b"" if body is None else json.dumps(body).encode()
        extra = self._extra + "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        head = f"{method} {path} HTTP/1.1\r\nHost: {self._host}:{self._port}\r\n{extra}"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        self._writer.write(head.encode() + b"\r\n" + payload)
        answer_head = await self._reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in answer_head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return Answer(int(answer_head.split(b" ", 2)[1]), await self._reader.readexactly(length))


@dataclass(frozen=True)
class Dribbled:
    """How a dribble ended: whether the server closed the connection, and what it had answered by then."""

    closed: bool
    answer: bytes
    sent: int

    @property
    def status(self) -> int | None:
        return int(self.answer.split(b" ", 2)[1]) if self.answer.startswith(b"HTTP/1.1 ") else None


def dribble(
    host: str, port: int, data: bytes, *, head: bytes = b"", every: float = 0.5, within: float = 30.0
) -> Dribbled:
    """Send ``head`` at once, then ``data`` one byte every ``every`` seconds (then wait) until the server closes
    the connection, or until ``within`` seconds have passed; either way, say what happened."""
    answer = b""
    sent = 0
    deadline = time.monotonic() + within
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(head)
        next_byte = time.monotonic()
        while time.monotonic() < deadline:
            if sent < len(data) and time.monotonic() >= next_byte:
                try:
                    sock.sendall(data[sent : sent + 1])
                except OSError:  # reset or broken pipe: the server is gone
                    return Dribbled(True, answer, sent)
                sent += 1
                next_byte += every
            wait = max(0.0, min(next_byte, deadline) - time.monotonic()) if sent < len(data) else 0.2
            readable, _, _ = select.select([sock], [], [], wait)
            if readable:
                try:
                    chunk = sock.recv(65536)
                except OSError:
                    return Dribbled(True, answer, sent)
                if not chunk:
                    return Dribbled(True, answer, sent)
                answer += chunk
    return Dribbled(False, answer, sent)
