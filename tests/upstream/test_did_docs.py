"""Fetching DID documents from a PLC directory or a did:web host, here a real loopback server that answers from a
script: what comes back that is not a document is a typed upstream error, never an escape."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.scripted import Answer, Script, scripted_server

from chive_admin.upstream import errors
from chive_admin.upstream.did_docs import DidDocFetcher
from chive_admin.upstream.guard import upstream_http

DID = "did:plc:diddocs000000000000000000"
JSON = {"content-type": "application/json"}


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    with scripted_server() as running:
        yield running


async def fetched(url: str) -> dict[str, object]:
    async with upstream_http(allow_private=True) as http:
        return await DidDocFetcher(http, url, allow_private=True).fetch(DID)


async def test_a_document_is_returned(server: tuple[str, Script]) -> None:
    url, script = server
    script.default = Answer(200, b'{"id": "' + DID.encode() + b'", "service": []}', JSON)
    assert await fetched(url) == {"id": DID, "service": []}
    assert script.seen[-1] == f"/{DID}?"


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"{not json", "not JSON"),
        (b'{"id": NaN}', "not JSON"),
        (b"[" * 5000 + b"]" * 5000, "not JSON"),  # past the parser's recursion limit: a RecursionError, before
        (b'{"id": "did:plc:someoneelse0000000000000"}', "not the document of"),
    ],
)
async def test_what_is_not_the_document_is_a_bad_response(server: tuple[str, Script], body: bytes, said: str) -> None:
    url, script = server
    script.default = Answer(200, body, JSON)
    with pytest.raises(errors.BadResponse, match=said):
        await fetched(url)
