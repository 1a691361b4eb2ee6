"""Work that unauthenticated requests make the server do: tokens naming issuers nobody here vouches for.

Their issuers are resolved out of a small budget of their own, with a total deadline per DID document, so they can
neither lock admins out (slow did:web hosts holding every upstream connection) nor turn the server into an
amplifier against the PLC directory. The hostile hosts here are real sockets on loopback: did:web hosts that answer
a byte at a time, and a PLC directory that counts what reaches it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from conftest import AppFactory, running_client
from starlette.requests import Request
from support.didweb import did_web_host
from support.jwts import SigningKey, service_token
from support.scripted import Answer, Script, scripted_server

from chive_admin._generated import ids
from chive_admin.auth.budget import ResolutionBudget
from chive_admin.clock import now_stamp
from chive_admin.store import roles as roles_store

STATUS = ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS
#: more than the upstream pool's 64 connections
DRIPPING_HOSTS = 70


@dataclass
class DrippingHosts:
    """did:web hosts whose ``/.well-known/did.json`` comes one byte at a time, forever: every byte resets a read
    timeout, so only a total deadline ends such a fetch."""

    ports: list[int] = field(default_factory=list)
    connections: int = 0
    open: int = 0
    stopping: bool = False
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def dids(self) -> list[str]:
        return [f"did:web:localhost%3A{port}" for port in self.ports]

    async def drip(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self.connections += 1
        self.open += 1
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n{")
            while not self.stopping:
                await asyncio.sleep(0.2)
                writer.write(b" ")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self.open -= 1
            writer.close()
            self._handlers.discard(task)


@contextlib.asynccontextmanager
async def dripping_hosts(count: int) -> AsyncIterator[DrippingHosts]:
    hosts = DrippingHosts()
    servers = [await asyncio.start_server(hosts.drip, "127.0.0.1", 0) for _ in range(count)]
    hosts.ports = [server.sockets[0].getsockname()[1] for server in servers]
    try:
        yield hosts
    finally:
        hosts.stopping = True  # each handler ends at its next byte (a cancelled one would be logged as an error)
        for server in servers:
            server.close()
        await asyncio.wait_for(asyncio.gather(*hosts._handlers, return_exceptions=True), 10)


async def call(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get(f"/xrpc/{STATUS}", headers={"Authorization": f"Bearer {token}"})


async def until(condition: object, limit: float) -> None:
    deadline = asyncio.get_running_loop().time() + limit
    while not condition():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def test_slow_did_web_issuers_cannot_lock_admins_out(make_app: AppFactory) -> None:
    admin_key, granted_key, stranger_key = SigningKey(), SigningKey(), SigningKey()
    async with (
        did_web_host(admin_key) as admin,
        did_web_host(granted_key) as granted,
        dripping_hosts(DRIPPING_HOSTS) as drips,
    ):
        app = make_app(admin_dids=(admin.did,), allow_private_network=True)
        async with running_client(app) as client:
            async with app.state.services.db.write() as conn:  # an admin from the roles table, not the flag
                await roles_store.grant(conn, granted.did, "admin", None, now_stamp())
            aud = app.state.services.settings.service_did
            attack = [
                asyncio.create_task(call(client, service_token(stranger_key, iss=did, aud=aud, lxm=STATUS)))
                for did in drips.dids
            ]
            await until(lambda: drips.open > 0, 10)
            # neither admin has been resolved yet: both need a DID document while the attack goes on
            for host, key in ((admin, admin_key), (granted, granted_key)):
                token = service_token(key, iss=host.did, aud=aud, lxm=STATUS)
                answered = await asyncio.wait_for(call(client, token), 10)
                assert answered.status_code == 200, answered.text
            assert drips.open <= ResolutionBudget().concurrency  # strangers hold a few connections, not the pool
            refused = await asyncio.wait_for(asyncio.gather(*attack), 30)
            statuses = {r.status_code for r in refused}
            assert statuses <= {401, 429, 503}, statuses
            shed = [r for r in refused if r.status_code == 503]
            assert shed
            assert all(r.json()["error"] == "NotEnoughResources" and r.headers["Retry-After"] for r in shed)
            # an ended attack leaves nothing behind that refuses the admin
            token = service_token(admin_key, iss=admin.did, aud=aud, lxm=STATUS)
            assert (await call(client, token)).status_code == 200


def counted_plc(request: Request) -> Answer:
    return Answer(404, json.dumps({"message": f"DID not registered: {request.url.path[1:]}"}).encode())


@pytest.fixture
def plc() -> Iterator[tuple[str, Script]]:
    with scripted_server() as (url, script):
        script.default = counted_plc
        yield url, script


async def test_new_did_plc_issuers_cannot_make_the_server_hammer_the_directory(
    make_app: AppFactory, plc: tuple[str, Script]
) -> None:
    url, script = plc
    app = make_app(plc_url=url, allow_private_network=True)
    stranger = SigningKey()
    async with running_client(app) as client:
        budget = ResolutionBudget(rate=0.001, burst=10)  # the default burst, and next to no refill during the test
        app.state.services.identities.budget = budget
        aud = app.state.services.settings.service_did
        statuses = []
        for n in range(200):
            token = service_token(stranger, iss=f"did:plc:flood{n:019d}", aud=aud, lxm=STATUS)
            statuses.append((await call(client, token)).status_code)
        assert len(script.seen) == 10  # the directory saw the burst, not the flood
        assert statuses[:10] == [401] * 10
        assert set(statuses[10:]) <= {429, 503}
        assert len(app.state.services.identities._cache) == 10
