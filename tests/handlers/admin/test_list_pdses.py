"""listPDSes: the PDS registry as the lexicon shapes it, most recently scanned first, with its health."""

from __future__ import annotations

from support.admin_api import Api, answer, refusal

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import list_pdses
from chive_admin.store import index

METHOD = ids.PUB_CHIVE_ADMIN_LIST_PDSES


async def test_an_empty_registry(api: Api) -> None:
    response = await api.get(METHOD)
    assert response.status_code == 200
    assert response.json() == {"stats": {"total": 0, "healthy": 0, "unhealthy": 0, "withRecords": 0, "items": []}}


async def test_registry_rows_validate_against_the_lexicon(api: Api) -> None:
    async with api.services.db.write() as conn:
        for n in range(5):
            await index.record_pds_scan(conn, f"https://pds{n}.example", f"2026-01-0{n + 1}T00:00:00Z")
        await index.record_pds_scan(conn, "https://down.example", "2026-01-09T00:00:00Z", error="timed out")
    page = await api.get(METHOD, {"limit": 3})
    everything = await api.get(METHOD)
    down = next(i for i in everything.json()["stats"]["items"] if i["url"] == "https://down.example")
    assert down == {
        "url": "https://down.example",
        "status": "unknown",
        "recordCount": 0,
        "errorCount": 1,
        "consecutiveErrors": 1,
        "lastError": "timed out",
    }
    output = answer(page, list_pdses.Output)
    assert output.stats is not None
    assert output.stats.total == 6
    assert [i.url for i in output.stats.items] == [f"https://pds{n}.example" for n in (4, 3, 2)]
    assert all(i.status == "healthy" for i in output.stats.items)
    assert all(i.last_error is None for i in output.stats.items)


async def test_the_limit_is_the_lexicons_1_to_100(api: Api) -> None:
    for limit in (0, 101):
        assert "limit" in refusal(await api.get(METHOD, {"limit": limit}), 400, "InvalidRequest")
    assert (await api.get(METHOD, {"limit": 100})).status_code == 200
