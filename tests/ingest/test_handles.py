"""Verified handles: a DID document's handle is stored only when it resolves back to the same DID; a claim that
resolves to another DID, nowhere, or is no handle at all stores no handle (never the claimed one). Resolutions
are cached with a bound and a lifetime, like identities."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from conftest import AppFactory, running_client
from starlette.requests import Request
from support.auth import FixedTokens
from support.clock import ManualClock
from support.pds import ScriptedPds, atproto_client
from support.scripted import Answer, Script, scripted_server
from support.served import FAST, Served

from chive_admin._generated import ids
from chive_admin.ingest.handles import HandleVerifier
from chive_admin.upstream.guard import upstream_http
from chive_admin.upstream.handles import HandleResolver
from testnet import records

ALICE = "did:plc:alicehandle0000000000000000"
MALLORY = "did:plc:mallory000000000000000000000"


@pytest.fixture
def names() -> Iterator[tuple[str, Script]]:
    """A trusted resolver that answers from a script (``{"did": …}`` for every handle by default: Mallory's)."""
    with scripted_server() as (url, script):
        script.default = Answer(200, f'{{"did": "{MALLORY}"}}'.encode())
        yield url, script


@pytest.fixture
async def verifier(names: tuple[str, Script]) -> AsyncIterator[tuple[HandleVerifier, ManualClock]]:
    url, _ = names
    clock = ManualClock()
    async with upstream_http(allow_private=True) as http, atproto_client() as client:
        yield HandleVerifier(HandleResolver(http, client, trusted=url), max_entries=3, clock=clock), clock


def answers(script: Script, did: str) -> None:
    script.default = Answer(200, f'{{"did": "{did}"}}'.encode())


async def test_a_handle_that_names_another_did_is_no_handle(
    verifier: tuple[HandleVerifier, ManualClock], names: tuple[str, Script]
) -> None:
    handles, _ = verifier
    _, script = names
    assert await handles.verified(ALICE, "alice.test") is None  # it resolves to Mallory
    answers(script, ALICE)
    assert await handles.verified(ALICE, "Bob.TEST") == "bob.test"  # lowercased
    assert await handles.verified(MALLORY, "bob.test") is None  # cached: Alice's
    for claim in (None, "not a handle", "127.0.0.1", ""):
        assert await handles.verified(ALICE, claim) is None
    assert len(script.seen) == 2  # a claim that is no handle is never resolved


async def test_the_cache_is_bounded_and_expires(
    verifier: tuple[HandleVerifier, ManualClock], names: tuple[str, Script]
) -> None:
    handles, clock = verifier
    _, script = names
    answers(script, ALICE)
    for n in range(10):
        await handles.verified(ALICE, f"h{n}.test")
    assert len(handles) == 3
    assert await handles.verified(ALICE, "h9.test") == "h9.test"
    assert len(script.seen) == 10  # h9 was cached
    answers(script, MALLORY)  # h9 moves to Mallory: seen once its entry has expired
    clock.now += handles._cache.ttl + 1
    assert await handles.verified(ALICE, "h9.test") is None
    # a handle that resolves nowhere is remembered a short while only: set up after a failed sync, it verifies at
    # the next one
    script.default = Answer(400, b'{"error": "HandleNotFound", "message": "no"}')
    assert await handles.verified(ALICE, "h0.test") is None
    answers(script, ALICE)
    assert await handles.verified(ALICE, "h0.test") is None
    clock.now += 60
    assert await handles.verified(ALICE, "h0.test") == "h0.test"


@pytest.fixture
async def served(make_app: AppFactory, pds: ScriptedPds) -> AsyncIterator[Served]:
    app = make_app(
        authenticator=FixedTokens(), engine_config=FAST, plc_url=pds.url, handle_resolver=pds.url, upstream_attempts=1
    )
    async with running_client(app) as client:
        yield Served(app, client)


async def test_a_did_sync_stores_the_handle_only_once_it_resolves_back(served: Served, pds: ScriptedPds) -> None:
    pds.repo(ALICE, "Alice.Test")
    pds.put(ALICE, records.COMMENT, "c1", records.review_comment(eprint_uri="at://did:plc:x/a.b.c/d"))
    named = {"did": MALLORY}

    def resolve(request: Request) -> Answer:
        assert request.query_params["handle"] == "alice.test"
        return Answer(200, f'{{"did": "{named["did"]}"}}'.encode())

    pds.overrides[ids.COM_ATPROTO_IDENTITY_RESOLVE_HANDLE] = resolve
    # the document claims alice.test, and alice.test names Mallory: no handle
    assert (await served.run(ids.PUB_CHIVE_ADMIN_TRIGGER_DID_SYNC, {"did": ALICE}))["status"] == "completed"
    assert await served.rows("SELECT handle FROM repos WHERE did = ?", ALICE) == [(None,)]
    named["did"] = ALICE
    assert (await served.run(ids.PUB_CHIVE_ADMIN_TRIGGER_DID_SYNC, {"did": ALICE}))["status"] == "completed"
    assert await served.rows("SELECT handle FROM repos WHERE did = ?", ALICE) == [("alice.test",)]
    # the handle moves to someone else: the next sync (which resolves again, whatever is cached) drops it rather
    # than keep what no longer verifies
    named["did"] = MALLORY
    assert (await served.run(ids.PUB_CHIVE_ADMIN_TRIGGER_DID_SYNC, {"did": ALICE}))["status"] == "completed"
    assert await served.rows("SELECT handle FROM repos WHERE did = ?", ALICE) == [(None,)]


async def test_a_pds_scan_stores_the_documents_handle_only_once_verified(served: Served, pds: ScriptedPds) -> None:
    pds.repo(ALICE, "alice.test")
    pds.put(ALICE, records.COMMENT, "c1", records.review_comment(eprint_uri="at://did:plc:x/a.b.c/d"))
    named = {"did": MALLORY}
    pds.overrides[ids.COM_ATPROTO_IDENTITY_RESOLVE_HANDLE] = lambda request: Answer(
        200, f'{{"did": "{named["did"]}"}}'.encode()
    )
    scan = {"pdsUrl": pds.url}
    # describeRepo says alice.test (handleIsCorrect: true): the PDS's word is not what is stored
    assert (await served.run(ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN, scan))["status"] == "completed"
    assert await served.rows("SELECT handle FROM repos WHERE did = ?", ALICE) == [(None,)]
    served.app.state.services.handles._cache.clear()
    named["did"] = ALICE
    assert (await served.run(ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN, scan))["status"] == "completed"
    assert await served.rows("SELECT handle FROM repos WHERE did = ?", ALICE) == [("alice.test",)]
