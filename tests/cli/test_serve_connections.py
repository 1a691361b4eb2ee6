"""Slow and numerous clients against a real ``chive-admin serve``: each is cut off within a bounded wait.

uvicorn alone bounds only the idle time between requests, so a client sending its headers or its body one byte
a second held its connection (and, for a body, the call reading it) for as long as it liked.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.auth import bearer
from support.rawhttp import dribble
from support.server import ServerProcess, create_key

from chive_admin._generated import ids

ADMIN = "did:plc:slowclientadmin000000000"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, str]]:
    tmp = tmp_path_factory.mktemp("slow")
    db = tmp / "slow.db"
    key = create_key(db, ADMIN, "slow")
    server = ServerProcess(args=["--db", str(db), "--admin-did", ADMIN, "--client-timeout", "1"], cwd=tmp).start()
    try:
        yield server, key
    finally:
        server.stop()


def test_headers_one_byte_at_a_time_get_408_and_the_door(served: tuple[ServerProcess, str]) -> None:
    server, _ = served
    request = b"GET /xrpc/_health HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 100 + b"\r\n\r\n"
    ended = dribble("127.0.0.1", server.port, request, every=0.2, within=20)
    assert ended.closed
    assert ended.sent < len(request)
    assert ended.status == 408
    assert json.loads(ended.answer.split(b"\r\n\r\n", 1)[1]) == {
        "error": "InvalidRequest",
        "message": "Request headers did not arrive within 1 s",
    }


def test_a_silent_connection_is_closed_without_a_word(served: tuple[ServerProcess, str]) -> None:
    server, _ = served
    ended = dribble("127.0.0.1", server.port, b"", within=20)
    assert ended.closed
    assert ended.answer == b""


def test_a_chunked_body_one_byte_at_a_time_is_refused_by_the_xrpc_layer(served: tuple[ServerProcess, str]) -> None:
    server, key = served
    head = (
        f"POST /xrpc/{ids.PUB_CHIVE_ADMIN_CANCEL_BACKFILL} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    body = b"".join(b"1\r\n" + bytes([c]) + b"\r\n" for c in b'{"id": "' + b"x" * 100 + b'"}') + b"0\r\n\r\n"
    ended = dribble("127.0.0.1", server.port, body, head=head, every=0.1, within=20)  # only the body is slow
    assert ended.closed
    assert ended.sent < len(body)
    assert ended.status == 400
    assert b"connection: close" in ended.answer.lower()
    assert json.loads(ended.answer.split(b"\r\n\r\n", 1)[1]) == {
        "error": "InvalidRequest",
        "message": "Request body did not arrive within 1 s",
    }


def test_a_body_nobody_reads_is_cut_off_too(served: tuple[ServerProcess, str]) -> None:
    server, _ = served
    head = b"GET /admin/app.css HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n"
    ended = dribble("127.0.0.1", server.port, b"a" * 500, head=head, every=0.02, within=20)
    assert ended.closed
    assert ended.sent < 500
    assert ended.status == 200  # answered at once; the connection went when the body overran its time


def test_prompt_clients_are_untouched(served: tuple[ServerProcess, str]) -> None:
    server, key = served
    with httpx.Client(base_url=server.url, headers=bearer(key)) as client:
        for _ in range(3):
            answer = client.post(f"/xrpc/{ids.PUB_CHIVE_ADMIN_CANCEL_BACKFILL}", json={"id": "nope"})
            assert answer.status_code == 400
            assert answer.json()["error"] == "InvalidRequest"
            assert "nope" in answer.json()["message"]


def test_connections_over_the_cap_are_closed_at_once(tmp_path: Path) -> None:
    server = ServerProcess(args=["--max-connections", "2"], cwd=tmp_path).start()
    try:
        held = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(2)]
        try:
            ended = dribble("127.0.0.1", server.port, b"", within=20)
            assert ended.closed
            assert ended.status == 503
        finally:
            for sock in held:
                sock.close()
        assert httpx.get(f"{server.url}/xrpc/_health").status_code == 200  # a freed slot is taken again
    finally:
        server.stop()
