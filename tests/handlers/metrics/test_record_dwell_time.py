"""recordDwellTime: the dwell time on a result of a recorded impression is summed once per result."""

from __future__ import annotations

from support.admin_api import Api, answer

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.metrics import record_dwell_time

METHOD = ids.PUB_CHIVE_METRICS_RECORD_DWELL_TIME
URI = "at://did:plc:dwellauthor00000000000000/pub.chive.eprint.submission/p"


async def test_a_dwell_time_counts_once_per_result(api: Api) -> None:
    shown = {"impressionId": "imp-d", "query": "q", "resultCount": 1, "at": "2026-01-01T00:00:00Z"}
    assert (await api.post(ids.DEV_CHIVEADMIN_SEARCH_RECORD_IMPRESSION, shown)).status_code == 200
    dwell = {"impressionId": "imp-d", "uri": URI, "dwellTimeMs": 4200}
    assert answer(await api.post(METHOD, dwell), record_dwell_time.Output).success is True
    assert answer(await api.post(METHOD, dwell), record_dwell_time.Output).success is False
    async with api.services.db.read() as conn:
        row = await conn.fetchone("SELECT count, total_ms FROM search_hourly WHERE kind = 'dwell'")
    assert row is not None
    assert (int(row[0]), int(row[1])) == (1, 4200)
