"""Throttling of failed authentication per client address: 429 with the rate-limit headers once an address has
failed too often, and never a refusal of a valid credential (an API key, or a token of an issuer holding a role)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from conftest import AppFactory, running_client
from starlette.applications import Starlette
from support.clock import ManualClock
from support.didweb import DidWebHost, did_web_host
from support.jwts import SigningKey, service_token

from chive_admin._generated import ids
from chive_admin.auth.api_keys import key_hash, new_key, new_key_id
from chive_admin.auth.throttle import LIMIT, FailureThrottle, address_key
from chive_admin.clock import now_stamp
from chive_admin.store import api_keys as api_keys_store

STATUS = f"/xrpc/{ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS}"


def test_an_address_is_throttled_for_the_rest_of_its_window_once_over_the_limit() -> None:
    clock = ManualClock()
    throttle = FailureThrottle(limit=3, window=60, clock=clock)
    for _ in range(2):
        throttle.failed("192.0.2.1")
    assert throttle.refusal("192.0.2.1") is None
    throttle.failed("192.0.2.1")
    clock.now += 20
    refusal = throttle.refusal("192.0.2.1")
    assert refusal is not None
    assert (refusal.status, refusal.error, refusal.reason) == (429, "RateLimitExceeded", "throttled")
    assert refusal.headers["Retry-After"] == "40"
    assert refusal.headers["RateLimit-Limit"] == "3"
    assert refusal.headers["RateLimit-Remaining"] == "0"
    assert abs(int(refusal.headers["RateLimit-Reset"]) - (time.time() + 40)) <= 2  # epoch seconds
    assert throttle.refusal("192.0.2.2") is None  # per address
    clock.now += 40
    assert throttle.refusal("192.0.2.1") is None  # a new window


def test_the_table_of_addresses_is_bounded() -> None:
    throttle = FailureThrottle(limit=1, max_addresses=100)
    for n in range(1000):
        throttle.failed(f"10.0.{n // 256}.{n % 256}")
    assert len(throttle._windows) == 100
    assert throttle.refusal("10.0.3.231") is not None  # the most recent are still counted


def test_an_ipv6_host_counts_for_its_slash_64() -> None:
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::2") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert address_key("192.0.2.7") == "192.0.2.7"
    assert address_key(None) == "-"
    assert address_key("x" * 500) == "x" * 64


@dataclass
class World:
    app: Starlette
    client: httpx.AsyncClient
    admin: DidWebHost
    admin_key: SigningKey
    api_key: str

    @property
    def aud(self) -> str:
        return str(self.app.state.services.settings.service_did)

    async def get(self, token: str, client: httpx.AsyncClient | None = None) -> httpx.Response:
        return await (client or self.client).get(STATUS, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
async def world(make_app: AppFactory) -> AsyncIterator[World]:
    key = SigningKey()
    async with did_web_host(key) as host:
        app = make_app(admin_dids=(host.did,), allow_private_network=True)
        async with running_client(app) as client:
            api_key = new_key()
            async with app.state.services.db.write() as conn:
                await api_keys_store.create_key(
                    conn, key_id=new_key_id(), did=host.did, name="t", key_hash=key_hash(api_key), now=now_stamp()
                )
            yield World(app, client, host, key, api_key)


async def test_bad_keys_are_throttled_and_a_valid_credential_never_is(world: World) -> None:
    bad = [await world.get(f"ca_wrong{n:040d}") for n in range(LIMIT)]
    assert {r.status_code for r in bad} == {401}
    throttled = await world.get("ca_" + "w" * 43)
    assert throttled.status_code == 429, throttled.text
    assert throttled.json()["error"] == "RateLimitExceeded"
    for header in ("Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"):
        assert throttled.headers[header].isdigit()
    assert (await world.client.get(STATUS)).status_code == 429  # no credentials at all: throttled alike
    # a valid API key and a valid token of the admin still work from the throttled address
    assert (await world.get(world.api_key)).status_code == 200
    token = service_token(
        world.admin_key, iss=world.admin.did, aud=world.aud, lxm=ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS
    )
    assert (await world.get(token)).status_code == 200
    # a forged token naming the admin is verified (its key is cached) and refused, still as throttled
    forged = service_token(
        SigningKey(), iss=world.admin.did, aud=world.aud, lxm=ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS
    )
    assert (await world.get(forged)).status_code == 429
    # another address is not held back
    other = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=world.app, client=("198.51.100.7", 4321)), base_url="http://t.test"
    )
    async with other:
        assert (await world.get("ca_" + "w" * 43, other)).status_code == 401
    await world.app.state.services.audit.flush()
    async with world.app.state.services.db.read() as conn:
        reasons = [r[0] for r in await conn.fetchall("SELECT reason FROM audit_log WHERE status = 429")]
    assert reasons
    assert set(reasons) == {"throttled"}


async def test_a_throttled_address_gets_no_resolution_of_an_unknown_issuer(world: World) -> None:
    for n in range(LIMIT):
        await world.get(f"ca_wrong{n:040d}")
    stranger_key = SigningKey()
    async with did_web_host(stranger_key) as stranger:
        token = service_token(
            stranger_key, iss=stranger.did, aud=world.aud, lxm=ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS
        )
        assert (await world.get(token)).status_code == 429
        assert stranger.requests == 0  # refused before any resolution
