"""listPDSes over HTTP: lexicon-shaped output from the registry."""

from __future__ import annotations

from conftest import AppFactory, running_client
from support.auth import FixedTokens

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import list_pdses
from chive_admin.store import index

PATH = f"/xrpc/{ids.PUB_CHIVE_ADMIN_LIST_PDSES}"
ADMIN = {"Authorization": "Bearer admin"}


async def test_empty_registry(make_app: AppFactory) -> None:
    async for client in running_client(make_app(authenticator=FixedTokens())):
        response = await client.get(PATH, headers=ADMIN)
    assert response.status_code == 200
    assert response.json() == {"stats": {"total": 0, "healthy": 0, "unhealthy": 0, "withRecords": 0, "items": []}}


async def test_registry_rows_validate_against_the_lexicon(make_app: AppFactory) -> None:
    app = make_app(authenticator=FixedTokens())
    async for client in running_client(app):
        async with app.state.services.db.write() as conn:
            for n in range(5):
                await index.record_pds_scan(conn, f"https://pds{n}.example", f"2026-01-0{n + 1}T00:00:00Z")
            await index.record_pds_scan(conn, "https://down.example", "2026-01-09T00:00:00Z", error="timed out")
        response = await client.get(PATH, params={"limit": "3"}, headers=ADMIN)
        refused = await client.get(PATH, params={"limit": "0"}, headers=ADMIN)
        everything = await client.get(PATH, headers=ADMIN)
    down = next(i for i in everything.json()["stats"]["items"] if i["url"] == "https://down.example")
    assert down == {
        "url": "https://down.example",
        "status": "unknown",
        "recordCount": 0,
        "errorCount": 1,
        "consecutiveErrors": 1,
        "lastError": "timed out",
    }
    assert response.status_code == 200
    output = list_pdses.Output.model_validate(response.json(), strict=True, by_alias=True, by_name=False)
    assert output.stats is not None
    assert output.stats.total == 6
    assert [i.url for i in output.stats.items] == [f"https://pds{n}.example" for n in (4, 3, 2)]
    assert all(i.status == "healthy" for i in output.stats.items)
    assert all(i.last_error is None for i in output.stats.items)
    assert refused.status_code == 400
