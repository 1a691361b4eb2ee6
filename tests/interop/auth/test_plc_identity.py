"""A did:plc of our own on the testnet PLC: tokens follow a key rotation after one re-resolution, and a tombstoned
DID is refused."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from conftest import running_client
from support import api
from support.auth import bearer
from support.jwts import SigningKey, b64url, service_token
from support.plc import PlcIdentity

from chive_admin._generated import ids
from chive_admin.server.app import create_app
from chive_admin.settings import Settings
from chive_admin.store.target import DbTarget
from testnet.harness import Testnet

pytestmark = pytest.mark.interop

SERVICE_DID = "did:web:chive-admin.test"
METHOD = ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS


@pytest.fixture
def identity(testnet: Testnet) -> PlcIdentity:
    return PlcIdentity(testnet.plc_url).create()


@pytest.fixture
async def client(
    db_target: DbTarget, tmp_path: Path, testnet: Testnet, identity: PlcIdentity
) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        db=db_target,
        service_did=SERVICE_DID,
        admin_dids=(identity.did,),
        plc_url=testnet.plc_url,
        allow_private_network=True,
    )
    async with running_client(create_app(settings)) as c:
        c.app_state = c._transport.app.state  # type: ignore[attr-defined]
        yield c


async def call(client: httpx.AsyncClient, token: str) -> int:
    return (await api.call(client, METHOD, headers=bearer(token))).status_code


def token(identity: PlcIdentity, key: SigningKey | None = None, **claims: object) -> str:
    return service_token(key or identity.signing, iss=identity.did, aud=SERVICE_DID, lxm=METHOD, **claims)  # type: ignore[arg-type]


async def reasons(client: httpx.AsyncClient) -> list[str | None]:
    state = client.app_state  # type: ignore[attr-defined]
    await state.services.audit.flush()
    async with state.services.db.read() as conn:
        return [r[0] for r in await conn.fetchall("SELECT reason FROM audit_log ORDER BY id")]


async def test_key_rotation_on_the_plc(identity: PlcIdentity, client: httpx.AsyncClient) -> None:
    old_key = identity.signing
    assert await call(client, token(identity)) == 200
    await asyncio.sleep(5.1)  # forced re-resolutions are rate-limited to one per 5 s per DID
    new_key = identity.rotate_signing_key()
    assert await call(client, token(identity, new_key)) == 200  # re-resolved once, then accepted
    assert await call(client, token(identity, old_key)) == 401  # the old key no longer verifies
    assert await reasons(client) == [None, None, "bad_signature"]


async def test_a_tombstoned_did_is_refused(identity: PlcIdentity, client: httpx.AsyncClient) -> None:
    identity.tombstone()
    assert await call(client, token(identity)) == 401
    assert await reasons(client) == ["issuer_tombstoned"]


async def test_an_unknown_did_is_refused(identity: PlcIdentity, client: httpx.AsyncClient) -> None:
    stranger = PlcIdentity(identity.plc_url)
    stranger.did = "did:plc:" + "a" * 24  # never registered
    assert await call(client, token(stranger)) == 401
    assert await reasons(client) == ["issuer_not_found"]


async def test_hs256_signed_with_the_public_key_is_refused(identity: PlcIdentity, client: httpx.AsyncClient) -> None:
    """The classic confusion attack: HMAC with the verifier's public key as the secret."""
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = token(identity).split(".")[1]  # the claims of a valid token
    for secret in (identity.signing.did_key.encode(), identity.signing.public_bytes):
        mac = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        assert await call(client, f"{header}.{payload}.{b64url(mac)}") == 401
    assert await reasons(client) == ["bad_alg", "bad_alg"]
