"""recordDownload: counted apart from views, once per downloader and hour; 400 NotFound for a uri that is no
eprint."""

from __future__ import annotations

from support.admin_api import Api, answer, refusal
from support.engagement import index_eprints, series, submission

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.metrics import record_download

METHOD = ids.PUB_CHIVE_METRICS_RECORD_DOWNLOAD
PAPER = submission("paper")


async def test_downloads_count_once_per_downloader_and_hour(api: Api) -> None:
    await index_eprints(api.services.db, PAPER)
    for viewer in ("did:plc:downloader0000000000000000", "did:plc:downloader0000000000000000", None):
        body = {"uri": PAPER.uri, **({"viewerDid": viewer} if viewer else {})}
        assert answer(await api.post(METHOD, body), record_download.Output).success
    await api.services.engagement.flush()
    hour = int(api.services.engagement.clock().timestamp()) // 3600
    assert await series(api.services.db, PAPER.uri, hour - 1, hour + 1) == [(hour, 0, 2)]
    refusal(await api.post(METHOD, {"uri": PAPER.uri.replace("paper", "other")}), 400, "NotFound")
