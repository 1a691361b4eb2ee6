"""A did:web identity served from loopback: a real HTTP host for ``/.well-known/did.json`` whose key can rotate."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from support.jwts import SigningKey


@dataclass
class DidWebHost:
    key: SigningKey
    port: int = 0
    requests: int = 0
    legacy_key_type: bool = False
    _server: asyncio.Server | None = field(default=None, repr=False)

    @property
    def did(self) -> str:
        return f"did:web:localhost%3A{self.port}"

    def document(self) -> dict[str, object]:
        method: dict[str, str] = {"id": f"{self.did}#atproto", "controller": self.did}
        method |= {"type": "Multikey", "publicKeyMultibase": self.key.multikey}
        return {
            "@context": ["https://www.w3.org/ns/did/v1"],
            "id": self.did,
            "alsoKnownAs": ["at://admin.example.test"],
            "verificationMethod": [method],
            "service": [
                {"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": "https://pds.example"}
            ],
        }

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            writer.close()
            return
        self.requests += 1
        if request.startswith(b"GET /.well-known/did.json "):
            body = json.dumps(self.document()).encode()
            head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        else:
            body, head = b"", "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
        writer.write(head.encode() + body)
        await writer.drain()
        writer.close()


@asynccontextmanager
async def did_web_host(key: SigningKey) -> AsyncIterator[DidWebHost]:
    host = DidWebHost(key)
    server = await asyncio.start_server(host._serve, "127.0.0.1", 0)
    host.port = server.sockets[0].getsockname()[1]
    host._server = server
    async with server:
        yield host
