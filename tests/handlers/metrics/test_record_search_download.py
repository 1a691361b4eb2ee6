"""recordSearchDownload: a download from a result of a recorded impression counts once; an unknown one is 400."""

from __future__ import annotations

from support.admin_api import Api, answer, refusal

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.metrics import record_search_download

METHOD = ids.PUB_CHIVE_METRICS_RECORD_SEARCH_DOWNLOAD
URI = "at://did:plc:sdlauthor000000000000000/pub.chive.eprint.submission/p"


async def test_a_search_download_counts_once_per_result(api: Api) -> None:
    body = {"impressionId": "imp-s", "uri": URI}
    refusal(await api.post(METHOD, body), 400, "InvalidRequest")
    shown = {"impressionId": "imp-s", "query": "q", "resultCount": 1, "at": "2026-01-01T00:00:00Z"}
    assert (await api.post(ids.DEV_CHIVEADMIN_SEARCH_RECORD_IMPRESSION, shown)).status_code == 200
    assert answer(await api.post(METHOD, body), record_search_download.Output).success is True
    assert answer(await api.post(METHOD, body), record_search_download.Output).success is False
