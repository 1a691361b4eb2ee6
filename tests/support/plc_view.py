"""A loopback view of a real PLC directory whose documents name another PDS endpoint.

did-sync finds a repository's PDS in the DID's PLC document, so to put a fault-injecting proxy in front of a real
PDS the test must make the (real, unchanged otherwise) document point at the proxy. This forwards every GET to the
PLC and rewrites one endpoint URL in the answer; nothing else is invented.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx


@dataclass
class PlcView:
    plc_url: str
    old_endpoint: str
    new_endpoint: str
    port: int = 0
    served: int = 0
    _http: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=10), repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
            if method != "GET":
                body, status, kind = b"", 405, "text/plain"
            else:
                answer = await self._http.get(f"{self.plc_url}{target}")
                text = answer.text.replace(self.old_endpoint, self.new_endpoint)
                body, status = text.encode(), answer.status_code
                kind = answer.headers.get("content-type", "application/json")
                self.served += 1
            writer.write(
                f"HTTP/1.1 {status} X\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, ConnectionError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def plc_view(plc_url: str, old_endpoint: str, new_endpoint: str) -> AsyncIterator[PlcView]:
    view = PlcView(plc_url.rstrip("/"), old_endpoint, new_endpoint)
    server = await asyncio.start_server(view._serve, "127.0.0.1", 0)
    view.port = server.sockets[0].getsockname()[1]
    try:
        async with server:
            yield view
    finally:
        await view._http.aclose()
