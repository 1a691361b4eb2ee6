"""API keys, roles and the audit trail through the whole server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from conftest import AppFactory, running_client
from starlette.applications import Starlette

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import get_audit_log
from chive_admin.auth.api_keys import key_hash, new_key, new_key_id
from chive_admin.clock import now_stamp
from chive_admin.store import access

BOOTSTRAP = "did:plc:bootstrapadmin00000000000"
OTHER = "did:plc:someoneelse000000000000000"


@dataclass
class Server:
    app: Starlette
    client: httpx.AsyncClient

    async def key_for(self, did: str, name: str = "test") -> str:
        key = new_key()
        async with self.app.state.services.db.write() as conn:
            await access.create_key(
                conn, key_id=new_key_id(), did=did, name=name, key_hash=key_hash(key), now=now_stamp()
            )
        return key

    async def get(self, nsid: str, key: str, **params: str) -> httpx.Response:
        return await self.client.get(f"/xrpc/{nsid}", params=params, headers={"Authorization": f"Bearer {key}"})

    async def post(self, nsid: str, key: str, body: dict[str, Any]) -> httpx.Response:
        return await self.client.post(f"/xrpc/{nsid}", json=body, headers={"Authorization": f"Bearer {key}"})


@pytest.fixture
async def server(make_app: AppFactory) -> AsyncIterator[Server]:
    app = make_app(admin_dids=(BOOTSTRAP,))
    async for client in running_client(app):
        yield Server(app, client)


async def test_api_keys_are_stored_hashed_and_revocable(server: Server) -> None:
    key = await server.key_for(BOOTSTRAP)
    assert (await server.get(ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS, key)).status_code == 200
    async with server.app.state.services.db.read() as conn:
        stored = [tuple(r) for r in await conn.execute_fetchall("SELECT * FROM api_keys")]
    assert key not in repr(stored)
    assert key_hash(key) in repr(stored)
    [row] = await _keys(server)
    async with server.app.state.services.db.write() as conn:
        assert await access.revoke_key(conn, row.id, now_stamp())
    server.app.state.services.keys.forget()
    refused = await server.get(ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS, key)
    assert refused.status_code == 401
    unknown = await server.get(ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS, "ca_" + "x" * 43)
    assert unknown.status_code == 401
    fresh = await server.key_for(BOOTSTRAP)
    tampered = fresh[:-1] + ("A" if fresh[-1] != "A" else "B")
    assert (await server.get(ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS, tampered)).status_code == 401
    assert (await server.get(ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS, fresh)).status_code == 200


async def _keys(server: Server) -> list[access.ApiKey]:
    async with server.app.state.services.db.read() as conn:
        return await access.list_keys(conn)


async def test_last_use_is_recorded_by_the_batched_flush(server: Server) -> None:
    key = await server.key_for(BOOTSTRAP)
    for _ in range(20):
        await server.get(ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS, key)
    await server.app.state.services.audit.flush()
    assert (await _keys(server))[0].last_used_at is not None


async def test_roles_grant_and_revoke_admin(server: Server) -> None:
    admin = await server.key_for(BOOTSTRAP)
    other = await server.key_for(OTHER)
    assert (await server.get(ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS, other)).status_code == 403
    for _ in range(2):  # idempotent
        granted = await server.post(ids.PUB_CHIVE_ADMIN_ASSIGN_ROLE, admin, {"did": OTHER, "role": "admin"})
        assert granted.json() == {"success": True}
    assert (await server.get(ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS, other)).status_code == 200
    for _ in range(2):
        revoked = await server.post(ids.PUB_CHIVE_ADMIN_REVOKE_ROLE, admin, {"did": OTHER, "role": "admin"})
        assert revoked.json() == {"success": True}
    assert (await server.get(ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS, other)).status_code == 403


async def test_bootstrap_admins_cannot_be_revoked_from_the_api(server: Server) -> None:
    admin = await server.key_for(BOOTSTRAP)
    response = await server.post(ids.PUB_CHIVE_ADMIN_REVOKE_ROLE, admin, {"did": BOOTSTRAP, "role": "admin"})
    assert response.json() == {"success": True}
    assert (await server.get(ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS, admin)).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"did": "not-a-did", "role": "admin"},
        {"did": OTHER, "role": "superuser"},
        {"did": OTHER},
        {"role": "admin"},
        {"did": OTHER, "role": "admin", "extra": 1},
    ],
)
async def test_bad_role_requests(server: Server, body: dict[str, Any]) -> None:
    admin = await server.key_for(BOOTSTRAP)
    response = await server.post(ids.PUB_CHIVE_ADMIN_ASSIGN_ROLE, admin, body)
    assert response.status_code == 400
    assert response.json()["error"] == "InvalidRequest"
    async with server.app.state.services.db.read() as conn:
        assert (await conn.execute_fetchall("SELECT count(*) FROM roles"))[0][0] == 0


async def test_the_audit_trail_records_allowed_and_refused_calls_never_the_token(server: Server) -> None:
    admin = await server.key_for(BOOTSTRAP)
    other = await server.key_for(OTHER)
    await server.get(ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS, admin)
    await server.get(ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS, other)
    await server.get(ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS, "ca_wrongwrongwrong")
    await server.client.get(f"/xrpc/{ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS}")
    await server.post(ids.PUB_CHIVE_ADMIN_CANCEL_BACKFILL, admin, {"id": "01NOPE"})
    await server.post(ids.PUB_CHIVE_ADMIN_ASSIGN_ROLE, admin, {"did": OTHER, "role": "reader"})
    response = await server.get(ids.PUB_CHIVE_ADMIN_GET_AUDIT_LOG, admin)
    assert response.status_code == 200
    output = get_audit_log.Output.model_validate(response.json(), strict=True, by_alias=True, by_name=False)
    # the getAuditLog call itself is recorded after it answers; the two calls refused before any identity was
    # established (unknown key, no credentials) are in the table but not in the answer: Chive's lexicon requires
    # actorDid
    assert output.total == 4
    entries = response.json()["entries"]
    assert [e["action"] for e in entries] == [
        ids.PUB_CHIVE_ADMIN_ASSIGN_ROLE,
        ids.PUB_CHIVE_ADMIN_CANCEL_BACKFILL,
        *[ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS] * 2,
    ]
    assert entries[0]["targetUri"] == OTHER
    assert entries[0]["actorDid"] == BOOTSTRAP
    assert "allowed 200" in entries[0]["details"]
    assert "failed 400" in entries[1]["details"]
    assert entries[2]["actorDid"] == OTHER
    assert "reason=AdminRequired" in entries[2]["details"]
    assert entries[3]["actorDid"] == BOOTSTRAP
    async with server.app.state.services.db.read() as conn:
        anonymous = await conn.execute_fetchall("SELECT reason FROM audit_log WHERE actor_did IS NULL ORDER BY id")
    assert [row[0] for row in anonymous] == ["unknown_key", "no_credentials"]
    text = response.text
    for secret in (admin, other, "ca_wrongwrongwrong"):
        assert secret not in text
    async with server.app.state.services.db.read() as conn:
        dump = repr([tuple(r) for r in await conn.execute_fetchall("SELECT * FROM audit_log")])
    assert admin not in dump
    assert other not in dump


async def test_audit_pages_with_a_stable_cursor_and_actor_filter(server: Server) -> None:
    admin = await server.key_for(BOOTSTRAP)
    other = await server.key_for(OTHER)
    for _ in range(7):
        await server.get(ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS, admin)
    for _ in range(3):
        await server.get(ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS, other)
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": "4", "actorDid": BOOTSTRAP, **({"cursor": cursor} if cursor else {})}
        page = (await server.get(ids.PUB_CHIVE_ADMIN_GET_AUDIT_LOG, admin, **params)).json()
        seen += [e["id"] for e in page["entries"]]
        assert all(e["actorDid"] == BOOTSTRAP for e in page["entries"])
        cursor = page.get("cursor")
        if not cursor:
            break
    assert len(seen) == len(set(seen))
    # 7 reads, plus the getAuditLog pages before the last one (each recorded once it answered)
    assert len(seen) >= 7
    assert seen == sorted(seen, key=int, reverse=True)
    bad = await server.get(ids.PUB_CHIVE_ADMIN_GET_AUDIT_LOG, admin, cursor="abc")
    assert bad.status_code == 400
