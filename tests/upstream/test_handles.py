"""Resolving a handle to a DID against hostile hosts: a real loopback server answering from a script stands in for
``https://<handle>/.well-known/atproto-did`` and for the trusted resolver. Whatever comes back that is not one DID
(a huge body, a body that never ends, an error, a redirect) is "no DID", within the deadline."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest
from support.pds import atproto_client
from support.scripted import Answer, Script, scripted_server

from chive_admin._generated import ids
from chive_admin.upstream.guard import upstream_http
from chive_admin.upstream.handles import HandleResolver

DID = "did:plc:handles00000000000000000000"
OTHER = "did:plc:someoneelse000000000000000"
TEXT = {"content-type": "text/plain"}


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    with scripted_server() as running:
        yield running


async def no_txt(name: str, lifetime: float) -> list[bytes]:
    return []


@asynccontextmanager
async def resolver(
    url: str, *, trusted: str | None = None, txt: object = no_txt, deadline: float = 2.0
) -> AsyncIterator[HandleResolver]:
    async with upstream_http(allow_private=True) as http, atproto_client() as client:
        yield HandleResolver(
            http,
            client,
            trusted=trusted,
            deadline=deadline,
            txt=txt,  # type: ignore[arg-type]
            well_known=lambda handle: f"{url}/.well-known/atproto-did?for={handle}",
        )


async def test_the_well_known_did_is_the_answer(server: tuple[str, Script]) -> None:
    url, script = server
    script.default = Answer(200, f"  {DID}\n".encode(), TEXT)
    async with resolver(url) as handles:
        assert await handles.resolve("alice.example.com") == DID
    assert script.seen == ["/.well-known/atproto-did?for=alice.example.com"]


async def test_dns_comes_first_and_must_name_exactly_one_did(server: tuple[str, Script]) -> None:
    url, script = server
    script.default = Answer(200, OTHER.encode(), TEXT)
    asked: list[str] = []

    async def txt(name: str, lifetime: float) -> list[bytes]:
        asked.append(name)
        return {"_atproto.one.example.com": [b"did=" + DID.encode(), b"v=spf1"]}.get(name, [b"did=a", b"did=b"])

    async with resolver(url, txt=txt) as handles:
        assert await handles.resolve("one.example.com") == DID
        assert script.seen == []  # DNS answered: no HTTPS call
        # two did= records are a misconfiguration: treated as none, and HTTPS is asked
        assert await handles.resolve("two.example.com") == OTHER
    assert asked == ["_atproto.one.example.com", "_atproto.two.example.com"]


@pytest.mark.parametrize(
    "answer",
    [
        # huge: a DID and then whitespace, refused past the cap (read whole and stripped, it would be a DID)
        Answer(200, DID.encode() + b" " * 20_000_000, TEXT),
        Answer(200, b"not a did", TEXT),
        Answer(404, DID.encode(), TEXT),
        Answer(302, b"", {"location": "http://127.0.0.1:1/"}),
        Answer(200, DID.encode()[:10], TEXT, truncate_at=5),
    ],
)
async def test_what_is_not_one_did_is_none(server: tuple[str, Script], answer: Answer) -> None:
    url, script = server
    script.default = answer
    async with resolver(url) as handles:
        assert await handles.resolve("hostile.example.com") is None


async def test_a_well_known_that_hangs_or_drips_ends_at_the_deadline(server: tuple[str, Script]) -> None:
    url, script = server
    async with resolver(url, deadline=0.5) as handles:
        for answer in (Answer(200, DID.encode(), TEXT, delay=60), Answer(200, b" " * 10_000, TEXT, drip=0.05)):
            script.default = answer
            async with asyncio.timeout(30):  # the test's own limit: without the deadline, a minute or more
                assert await handles.resolve("slow.example.com") is None


async def test_special_use_names_are_asked_of_the_trusted_resolver_only(server: tuple[str, Script]) -> None:
    url, script = server
    asked: list[str] = []

    async def txt(name: str, lifetime: float) -> list[bytes]:
        asked.append(name)
        return []

    def answer(request: object) -> Answer:
        return Answer(200, f'{{"did": "{DID}"}}'.encode())

    script.default = answer
    async with resolver(url, txt=txt) as handles:
        assert await handles.resolve("alice.test") is None  # no trusted resolver: nothing asked at all
        assert (asked, script.seen) == ([], [])
    async with resolver(url, trusted=url, txt=txt) as handles:
        assert await handles.resolve("alice.test") == DID
    assert asked == []
    assert script.seen == [f"/xrpc/{ids.COM_ATPROTO_IDENTITY_RESOLVE_HANDLE}?handle=alice.test"]


@pytest.mark.parametrize(
    "answer",
    [
        Answer(400, b'{"error":"HandleNotFound","message":"no"}'),
        Answer(200, b'{"did": "not a did"}'),
        Answer(500, b"{}"),
    ],
)
async def test_a_trusted_resolver_that_knows_nothing_is_none(server: tuple[str, Script], answer: Answer) -> None:
    url, script = server
    script.default = answer
    async with resolver(url, trusted=url) as handles:
        assert await handles.resolve("alice.test") is None
