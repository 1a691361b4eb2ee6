"""dev.chiveadmin.search.recordImpression: an impression is kept once (a repeated id is success false), the query
never stored, its fields bounded by our lexicon, and only metrics writers and admins may record."""

from __future__ import annotations

from support.admin_api import USER, Api, answer, refusal

from chive_admin._generated import ids
from chive_admin._generated.models.dev.chiveadmin.search import record_impression

METHOD = ids.DEV_CHIVEADMIN_SEARCH_RECORD_IMPRESSION
SHOWN = {"impressionId": "imp-1", "query": "private words", "resultCount": 7, "at": "2026-01-01T00:00:00Z"}


async def test_an_impression_is_kept_once_without_its_query(api: Api) -> None:
    assert answer(await api.post(METHOD, SHOWN), record_impression.Output).success is True
    assert answer(await api.post(METHOD, SHOWN), record_impression.Output).success is False
    async with api.services.db.read() as conn:
        rows = await conn.fetchall("SELECT * FROM search_impressions")
    assert len(rows) == 1
    assert "private words" not in repr([tuple(r) for r in rows])
    refusal(await api.post(METHOD, SHOWN, headers=USER), 403, "AdminRequired")


async def test_bad_impressions_are_invalid_requests(api: Api) -> None:
    for change in ({"impressionId": ""}, {"resultCount": -1}, {"at": "yesterday"}, {"query": "q" * 1001}):
        refusal(await api.post(METHOD, {**SHOWN, **change}), 400, "InvalidRequest")
