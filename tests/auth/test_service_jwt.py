"""Service-auth tokens through the whole server, issued by a did:web identity served from loopback (real HTTP
resolution, real signatures): every claim is checked, and every refusal is a 401 that says little."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from conftest import AppFactory, running_client
from starlette.applications import Starlette
from support.didweb import DidWebHost, did_web_host
from support.jwts import SigningKey, b64url, service_token

from chive_admin._generated import ids
from chive_admin.auth.replay import ReplayCache

METHOD = ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS
PATH = f"/xrpc/{METHOD}"


@dataclass
class World:
    app: Starlette
    client: httpx.AsyncClient
    host: DidWebHost
    key: SigningKey
    service_did: str

    def token(self, **overrides: Any) -> str:
        claims: dict[str, Any] = {"iss": self.host.did, "aud": self.service_did, "lxm": METHOD}
        claims.update(overrides)
        key = claims.pop("key", self.key)
        return service_token(key, **claims)

    async def call(self, token: str, path: str = PATH) -> httpx.Response:
        return await self.client.get(path, headers={"Authorization": f"Bearer {token}"})

    async def audit_reasons(self) -> list[str]:
        await self.app.state.services.audit.flush()
        async with self.app.state.services.db.read() as conn:
            return [r[0] for r in await conn.fetchall("SELECT reason FROM audit_log ORDER BY id")]


@pytest.fixture(params=["ES256K", "ES256"])
async def world(request: pytest.FixtureRequest, make_app: AppFactory) -> AsyncIterator[World]:
    key = SigningKey(request.param)
    async with did_web_host(key) as host:
        app = make_app(admin_dids=(host.did,), allow_private_network=True)
        async with running_client(app) as client:
            yield World(app, client, host, key, app.state.services.settings.service_did)


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "AuthenticationRequired"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_a_valid_token_of_an_admin_is_accepted(world: World) -> None:
    response = await world.call(world.token())
    assert response.status_code == 200, response.text
    # with a fragment, as some issuers send it
    assert (await world.call(world.token(iss=world.host.did + "#atproto"))).status_code == 200


REFUSALS: dict[str, tuple[dict[str, Any], str]] = {
    "expired": ({"exp": int(time.time()) - 120}, "expired"),
    "exp missing": ({"exp": None}, "missing_exp"),
    "exp not a number": ({"exp": "tomorrow"}, "missing_exp"),
    "exp far away": ({"exp": int(time.time()) + 86400}, "lifetime_too_long"),
    "iat in the future": ({"iat": int(time.time()) + 600}, "iat_future"),
    "wrong aud": ({"aud": "did:web:other.example"}, "wrong_aud"),
    "aud list": ({"aud": ["did:web:other.example"]}, "aud_list"),
    "aud missing": ({"aud": None}, "wrong_aud"),
    "lxm of another method": ({"lxm": ids.PUB_CHIVE_ADMIN_CANCEL_BACKFILL}, "wrong_lxm"),
    "lxm wildcard": ({"lxm": "*"}, "wrong_lxm"),
    "lxm missing": ({"lxm": None}, "missing_lxm"),
    "iss not a DID": ({"iss": "admin.example.test"}, "bad_iss"),
    "iss missing": ({"iss": None}, "missing_iss"),
    "access token": ({"header": {"typ": "at+jwt"}}, "session_token"),
    "refresh token": ({"header": {"typ": "refresh+jwt"}}, "session_token"),
    "dpop token": ({"header": {"typ": "dpop+jwt"}}, "session_token"),
    "alg none": ({"header": {"alg": "none"}, "signature": b""}, "bad_alg"),
    "alg HS256": ({"header": {"alg": "HS256"}}, "bad_alg"),
    "alg RS256": ({"header": {"alg": "RS256"}}, "bad_alg"),
    "unknown issuer": ({"iss": "did:web:localhost%3A1"}, "issuer_unreachable"),
    # without a jti a token could be replayed until it expires (RFC 7519 §4.1.7; getServiceAuth always sets one)
    "jti missing": ({"jti": None}, "missing_jti"),
    "jti not a string": ({"jti": 1234567890}, "bad_jti"),
    "jti empty": ({"jti": ""}, "bad_jti"),
    "jti too long": ({"jti": "j" * 129}, "bad_jti"),
    # RFC 7519 §4.1.5: not to be accepted before nbf (the clock skew allowed)
    "nbf in the future": ({"extra": {"nbf": int(time.time()) + 600}}, "not_yet_valid"),
    "nbf not a number": ({"extra": {"nbf": "later"}}, "not_yet_valid"),
    # RFC 7515 §4.1.11: an extension the recipient does not understand must be refused; we understand none
    "crit header": ({"header": {"crit": ["exp"]}}, "unknown_crit"),
    "crit header empty": ({"header": {"crit": []}}, "unknown_crit"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
async def test_refusals(world: World, case: str) -> None:
    overrides, reason = REFUSALS[case]
    response = await world.call(world.token(**overrides))
    assert_refused(response)
    assert await world.audit_reasons() == [reason]


async def test_a_token_without_jti_is_never_accepted(world: World) -> None:
    token = world.token(jti=None)
    for _ in range(3):
        assert_refused(await world.call(token))
    assert await world.audit_reasons() == ["missing_jti"] * 3


async def test_nbf_in_the_past_or_within_the_skew_is_accepted(world: World) -> None:
    now = int(time.time())
    for nbf in (now - 60, now, now + 10):
        assert (await world.call(world.token(extra={"nbf": nbf}))).status_code == 200


async def test_alg_must_match_the_key(world: World) -> None:
    other = "ES256" if world.key.alg == "ES256K" else "ES256K"
    forged = world.token(header={"alg": other})
    assert_refused(await world.call(forged))
    assert await world.audit_reasons() == ["alg_key_mismatch"]


async def test_a_token_signed_by_another_key_is_refused(world: World) -> None:
    assert_refused(await world.call(world.token(key=SigningKey(world.key.alg))))
    assert_refused(await world.call(world.token(signature=b"\x01" * 64)))
    assert await world.audit_reasons() == ["bad_signature", "bad_signature"]


async def test_a_replayed_token_is_refused(world: World) -> None:
    token = world.token()
    assert (await world.call(token)).status_code == 200
    assert_refused(await world.call(token))
    assert await world.audit_reasons() == [None, "replayed"]


async def test_garbage_tokens(world: World) -> None:
    for token in ("x", "a.b", "a.b.c", "....", b64url(b"{}") + "." + b64url(b"[]") + ".", "é" * 10, "x" * 5000):
        raw = f"Bearer {token}".encode()  # bytes: httpx would refuse to send the non-ASCII one as str
        assert_refused(await world.client.get(PATH, headers={"Authorization": raw}))
    assert set(await world.audit_reasons()) <= {"malformed", "bad_alg"}


async def test_a_token_nesting_deeper_than_the_parser_can_go_is_refused_not_a_500(world: World) -> None:
    # the payload is only parsed after its shape is checked; 1,200 levels fit in the token's 4,096 characters and
    # took Python's JSON parser past the recursion limit
    deep = b"[" * 1200 + b"]" * 1200
    for header, payload in ((b'{"alg":"ES256K","typ":"JWT"}', deep), (deep, b'{"iss":"did:web:x"}')):
        token = f"{b64url(header)}.{b64url(payload)}.{b64url(b'signature')}"
        assert len(token) < 4096
        assert_refused(await world.call(token))
    assert set(await world.audit_reasons()) == {"malformed"}


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer ", "Basic YWRtaW46YWRtaW4=", "bearer", "Token abc", "Bearer a b"],
)
async def test_bad_authorization_headers(world: World, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    assert_refused(await world.client.get(PATH, headers=headers))


async def test_two_authorization_headers_are_refused(world: World) -> None:
    token = world.token()
    response = await world.client.get(
        PATH, headers=[("Authorization", f"Bearer {token}"), ("Authorization", f"Bearer {token}")]
    )
    assert_refused(response)


async def test_key_rotation_is_followed_once_then_cached(world: World) -> None:
    assert (await world.call(world.token())).status_code == 200
    fetched = world.host.requests
    await asyncio.sleep(5.1)  # the resolver honours a forced refresh at most every 5 s per DID
    world.key = world.host.key = SigningKey(world.key.alg)  # the identity rotates its key
    assert (await world.call(world.token())).status_code == 200
    assert world.host.requests == fetched + 1  # one re-resolution
    assert (await world.call(world.token())).status_code == 200
    assert world.host.requests == fetched + 1  # and then the cache again


async def test_identities_are_cached_and_resolved_once_under_concurrency(world: World) -> None:
    responses = await asyncio.gather(*(world.call(world.token()) for _ in range(30)))
    assert [r.status_code for r in responses] == [200] * 30
    assert world.host.requests == 1


async def test_a_valid_identity_without_the_admin_role_gets_403_and_costs_no_replay_memory(
    make_app: AppFactory,
) -> None:
    key = SigningKey()
    async with did_web_host(key) as host:
        app = make_app(allow_private_network=True)  # host.did is no bootstrap admin
        async with running_client(app) as client:
            service_did = app.state.services.settings.service_did
            tokens = [service_token(key, iss=host.did, aud=service_did, lxm=METHOD) for _ in range(40)]
            for token in [*tokens, tokens[0]]:  # a token that was refused stays refused for its role, not replayed
                response = await client.get(PATH, headers={"Authorization": f"Bearer {token}"})
                assert response.status_code == 403
                assert response.json()["error"] == "AdminRequired"
            # only tokens that pass authorization are remembered: anyone can sign tokens for our aud
            assert len(app.state.services.authenticator.verifier.replay) == 0


async def test_a_full_replay_set_refuses_new_tokens_rather_than_forget_old_ones(world: World) -> None:
    verifier = world.app.state.services.authenticator.verifier
    verifier.replay = ReplayCache(max_entries=3, max_per_issuer=2)
    used = [world.token(), world.token()]
    assert [(await world.call(t)).status_code for t in used] == [200, 200]
    over_share = await world.call(world.token())
    assert over_share.status_code == 429, over_share.text
    assert over_share.json()["error"] == "RateLimitExceeded"
    assert int(over_share.headers["Retry-After"]) > 0
    assert over_share.headers["RateLimit-Limit"] == "2"
    assert [(await world.call(t)).status_code for t in used] == [401, 401]  # still replays
    verifier.replay = ReplayCache(max_entries=1, max_per_issuer=2)
    assert (await world.call(world.token())).status_code == 200
    full = await world.call(world.token())
    assert full.status_code == 503
    assert full.json()["error"] == "NotEnoughResources"
    assert await world.audit_reasons() == [None, None, "replay_full", "replayed", "replayed", None, "replay_full"]


async def test_only_the_tokens_of_allowed_callers_are_remembered(world: World) -> None:
    for _ in range(5):
        assert (await world.call(world.token())).status_code == 200
    assert len(world.app.state.services.authenticator.verifier.replay) == 5
