"""The attack corpus, table-driven, against the whole server: forged and misused credentials, header abuse, and SSRF
targets reached through every door that takes a URL or a DID (pdsUrl, rescanPDS, a did:web issuer). Each case must
be refused, and no connection may reach a target: a listener stands on loopback and counts."""

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
from support.auth import bearer
from support.didweb import DidWebHost, did_web_host
from support.jwts import SigningKey, b64url, service_token

from chive_admin._generated import ids
from chive_admin.auth.api_keys import key_hash, new_key, new_key_id
from chive_admin.clock import now_stamp
from chive_admin.store import api_keys as api_keys_store

STATUS = ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS
ADMIN = "did:plc:corpusadmin000000000000000"


class Listener:
    def __init__(self) -> None:
        self.connections = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.close()


@dataclass
class World:
    app: Starlette
    client: httpx.AsyncClient
    host: DidWebHost
    key: SigningKey
    api_key: str

    @property
    def service_did(self) -> str:
        return str(self.app.state.services.settings.service_did)

    def jwt(self, **overrides: Any) -> str:
        claims: dict[str, Any] = {"iss": self.host.did, "aud": self.service_did, "lxm": STATUS}
        claims.update(overrides)
        return service_token(claims.pop("key", self.key), **claims)


@pytest.fixture
async def world(make_app: AppFactory) -> AsyncIterator[World]:
    """A server that trusts a did:web admin served from loopback (hence ``allow_private_network`` here; the SSRF
    cases below run with it off)."""
    key = SigningKey()
    async with did_web_host(key) as host:
        app = make_app(admin_dids=(host.did, ADMIN), allow_private_network=True)
        async with running_client(app) as client:
            api_key = new_key()
            async with app.state.services.db.write() as conn:
                await api_keys_store.create_key(
                    conn, key_id=new_key_id(), did=ADMIN, name="corpus", key_hash=key_hash(api_key), now=now_stamp()
                )
            yield World(app, client, host, key, api_key)


def hs256_with_public_key(world: World) -> str:
    import hashlib
    import hmac
    import json

    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = world.jwt().split(".")[1]
    mac = hmac.new(world.key.did_key.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(mac)}"


TOKEN_CASES: dict[str, Any] = {
    "expired": lambda w: w.jwt(exp=int(time.time()) - 300),
    "no exp": lambda w: w.jwt(exp=None),
    "for another service DID": lambda w: w.jwt(aud="did:web:evil.example"),
    "aud as list with ours": lambda w: w.jwt(aud=[w.service_did]),
    "lxm of cancelBackfill": lambda w: w.jwt(lxm=ids.PUB_CHIVE_ADMIN_CANCEL_BACKFILL),
    "no lxm": lambda w: w.jwt(lxm=None),
    "lxm wildcard": lambda w: w.jwt(lxm="*"),
    "alg none, empty signature": lambda w: w.jwt(header={"alg": "none"}, signature=b""),
    "HS256 keyed with the public key": hs256_with_public_key,
    "RS256": lambda w: w.jwt(header={"alg": "RS256"}),
    "alg of the other curve": lambda w: w.jwt(header={"alg": "ES256"}),
    "signed by another key": lambda w: w.jwt(key=SigningKey()),
    "signature bit-flipped": lambda w: w.jwt()[:-3] + ("A" if w.jwt()[-3] != "A" else "B") + w.jwt()[-2:],
    "access token typ": lambda w: w.jwt(header={"typ": "at+jwt"}),
    "refresh token typ": lambda w: w.jwt(header={"typ": "refresh+jwt"}),
    "dpop typ": lambda w: w.jwt(header={"typ": "dpop+jwt"}),
    "iat far in the future": lambda w: w.jwt(iat=int(time.time()) + 3600),
    "lifetime of a day": lambda w: w.jwt(exp=int(time.time()) + 86400),
    "issuer not a DID": lambda w: w.jwt(iss="https://evil.example"),
    "unresolvable issuer": lambda w: w.jwt(iss="did:web:localhost%3A1"),
    "issuer did:web with a path": lambda w: w.jwt(iss="did:web:localhost%3A1:user:alice"),
    "unknown API key": lambda w: "ca_" + "A" * 43,
    "tampered API key": lambda w: w.api_key[:-2] + ("xx" if not w.api_key.endswith("xx") else "yy"),
    "very long token": lambda w: "a" * 100_000,
    "token with a NUL": lambda w: w.jwt() + "\x00",
}


@pytest.mark.parametrize("case", sorted(TOKEN_CASES))
async def test_token_attacks_are_refused(world: World, case: str) -> None:
    token = TOKEN_CASES[case](world)
    response = await world.client.get(f"/xrpc/{STATUS}", headers={"Authorization": f"Bearer {token}".encode()})
    assert response.status_code in (401, 431), response.text


async def test_a_replayed_token_is_refused(world: World) -> None:
    token = world.jwt()
    first = await world.client.get(f"/xrpc/{STATUS}", headers=bearer(token))
    again = await world.client.get(f"/xrpc/{STATUS}", headers=bearer(token))
    assert (first.status_code, again.status_code) == (200, 401)


HEADER_CASES = {
    "two Authorization headers": [("Authorization", "Bearer {jwt}"), ("Authorization", "Bearer {key}")],
    "scheme smuggled in the value": [("Authorization", "Basic x, Bearer {key}")],
    "tab instead of space": [("Authorization", "Bearer\t{key}")],
    "key then junk": [("Authorization", "Bearer {key} admin")],
}


@pytest.mark.parametrize("case", sorted(HEADER_CASES))
async def test_header_abuse_is_refused(world: World, case: str) -> None:
    headers = [(name, value.format(jwt=world.jwt(), key=world.api_key)) for name, value in HEADER_CASES[case]]
    response = await world.client.get(f"/xrpc/{STATUS}", headers=headers)
    assert response.status_code == 401, response.text


SSRF_HOSTS = [
    "127.0.0.1",
    "[::1]",
    "10.0.0.1",
    "192.168.0.10",
    "172.16.5.5",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "localhost",
    "localhost.",
    "2130706433",
    "0177.0.0.1",
    "0x7f000001",
    "[::ffff:127.0.0.1]",
    "[fe80::1]",
]


@pytest.mark.parametrize("host", SSRF_HOSTS)
async def test_ssrf_targets_are_refused_at_every_door(make_app: AppFactory, host: str) -> None:
    target = Listener()
    server = await asyncio.start_server(target.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        app = make_app(admin_dids=(ADMIN,), allow_private_network=False)
        async with running_client(app) as client:
            key = new_key()
            async with app.state.services.db.write() as conn:
                await api_keys_store.create_key(
                    conn, key_id=new_key_id(), did=ADMIN, name="ssrf", key_hash=key_hash(key), now=now_stamp()
                )
            auth = bearer(key)
            url = f"http://{host}:{port}"
            for nsid, body in (
                (ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN, {"pdsUrl": url}),
                (ids.PUB_CHIVE_ADMIN_RESCAN_PDS, {"pdsUrl": url}),
                (ids.PUB_CHIVE_ADMIN_TRIGGER_BACKFILL, {"type": "pdsScan", "pdsUrl": url}),
            ):
                response = await client.post(f"/xrpc/{nsid}", json=body, headers=auth)
                assert response.status_code == 400, (nsid, response.text)
            # a did:web issuer pointing at the target: resolution is refused before any connection
            did = f"did:web:{host.strip('[]').replace(':', '%3A')}%3A{port}"
            token = service_token(SigningKey(), iss=did, aud=app.state.services.settings.service_did, lxm=STATUS)
            refused = await client.get(f"/xrpc/{STATUS}", headers=bearer(token))
            assert refused.status_code == 401
    assert target.connections == 0
