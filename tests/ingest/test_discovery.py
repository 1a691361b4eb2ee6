"""Resolving discovered DIDs to their PDS against a scripted PLC directory: a gone DID is a normal outcome, one
the directory cannot be asked about a failure, and the directory's 429s hold every resolution until they pass."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from support.pds import ScriptedPds
from support.scripted import Answer

from chive_admin.auth.identity import IdentityResolver
from chive_admin.ingest.discovery import Hosted, Pacer, Stale, Unresolved, resolve_all, resolve_one
from chive_admin.upstream.did_docs import DidDocFetcher
from chive_admin.upstream.guard import upstream_http

HOSTED = "did:plc:hostedonthescriptedpds000"
TOMBSTONED = "did:plc:tombstonedlongago000000000"
UNKNOWN = "did:plc:neverregistered00000000000"
HOMELESS = "did:plc:documentnamesnopds00000000"


@pytest.fixture
async def identities(pds: ScriptedPds) -> AsyncIterator[IdentityResolver]:
    pds.repo(HOSTED)
    pds.repo(HOMELESS)
    homeless = {k: v for k, v in pds.document(HOMELESS).items() if k != "service"}
    pds.overrides[f"/{HOMELESS}"] = Answer(200, json.dumps(homeless).encode())
    pds.overrides[f"/{TOMBSTONED}"] = Answer(404, b'{"message": "DID not available"}')
    async with upstream_http(allow_private=True, timeout=httpx.Timeout(2.0)) as http:
        yield IdentityResolver(DidDocFetcher(http, pds.url, allow_private=True))


async def test_each_did_has_its_outcome(pds: ScriptedPds, identities: IdentityResolver) -> None:
    outcomes = await resolve_all(identities, [HOSTED, TOMBSTONED, UNKNOWN, HOMELESS], Pacer(), concurrency=2)
    assert outcomes[0] == Hosted(HOSTED, pds.url, pds.repo(HOSTED).handle)
    assert [(type(o), getattr(o, "reason", None)) for o in outcomes[1:]] == [
        (Stale, "tombstoned"),
        (Stale, "not_found"),
        (Stale, "no_pds"),
    ]


async def test_an_unreachable_directory_is_a_failure_not_a_stale_did(identities: IdentityResolver) -> None:
    async with upstream_http(allow_private=True, timeout=httpx.Timeout(1.0)) as http:
        nowhere = IdentityResolver(DidDocFetcher(http, "http://127.0.0.1:9", allow_private=True))
        outcome = await resolve_one(nowhere, HOSTED, Pacer())
    assert isinstance(outcome, Unresolved)
    assert outcome.code == "unreachable"


async def test_a_429_of_the_directory_holds_resolution_until_its_reset(
    pds: ScriptedPds, identities: IdentityResolver
) -> None:
    limited = {"left": 1}

    def once(request: object) -> Answer | None:
        del request
        if limited["left"]:
            limited["left"] -= 1
            return Answer(429, b'{"message": "slow down"}', {"content-type": "application/json", "retry-after": "1"})
        return None

    pds.overrides[f"/{HOSTED}"] = once
    pacer = Pacer()
    began = time.monotonic()
    outcome = await resolve_one(identities, HOSTED, pacer)
    assert outcome == Hosted(HOSTED, pds.url, pds.repo(HOSTED).handle)
    assert pds.seen.count(f"/{HOSTED}") == 2
    # the hold was shared: any other resolution starting now would wait for it too
    assert pacer._until >= began + 1


async def test_a_directory_that_keeps_limiting_leaves_the_did_unresolved(
    pds: ScriptedPds, identities: IdentityResolver
) -> None:
    pds.overrides[f"/{HOSTED}"] = Answer(429, b"{}", {"content-type": "application/json", "retry-after": "0"})
    outcome = await resolve_one(identities, HOSTED, Pacer())
    assert isinstance(outcome, Unresolved)
    assert outcome.code == "rate_limited"
