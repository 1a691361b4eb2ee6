"""getActivityCorrelation: per category and hour, intents by outcome, the rate in basis points and the latencies
in microseconds (mean, nearest-rank p95), on a constructed history; empty when nothing was logged."""

from __future__ import annotations

from datetime import UTC, datetime

from support.admin_api import Api, answer

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import get_activity_correlation as api_model
from chive_admin.clock import micros
from chive_admin.store import activity

METHOD = ids.PUB_CHIVE_ADMIN_GET_ACTIVITY_CORRELATION
NOW = datetime(2026, 3, 4, 10, 30, tzinfo=UTC)
US = micros(NOW)
HOUR = activity.HOUR_US
DID = "did:plc:correlation000000000000000"


async def test_outcomes_and_latencies_per_category_and_hour(api: Api) -> None:
    api.services.activity.clock = lambda: NOW
    assert answer(await api.get(METHOD), api_model.Output).metrics == []
    this_hour = US - US % HOUR
    async with api.services.db.write() as conn:
        # 20 reviews in this hour, confirmed after 1 … 20 ms; one failed, one pending
        for n in range(1, 21):
            await activity.add(
                conn,
                activity.Intent(
                    f"r{n}", DID, "pub.chive.review.comment", f"k{n}", "create", "review_create", this_hour + n
                ),
            )
            await activity.confirm(
                conn, [f"at://{DID}/pub.chive.review.comment/k{n}"], ["create"], this_hour + n + n * 1000
            )
        for name in ("failed", "waiting"):
            await activity.add(
                conn, activity.Intent(name, DID, "pub.chive.review.comment", name, "create", "review_create", US - 5)
            )
        await activity.mark_failed(conn, DID, "pub.chive.review.comment", "failed", "E")
        # two hours ago: one eprint never confirmed (timed out)
        await activity.add(
            conn,
            activity.Intent("old", DID, "pub.chive.eprint.submission", "e", "create", "eprint_submit", US - 2 * HOUR),
        )
    metrics = answer(await api.get(METHOD), api_model.Output).model_dump(by_alias=True, exclude_none=True)["metrics"]
    assert metrics == [
        {
            "category": "review_create",
            "hour": "2026-03-04T10:00:00.000Z",
            "totalActivities": 22,
            "confirmed": 20,
            "failed": 1,
            "timeout": 0,
            "pending": 1,
            "confirmationRate": 9090,
            "avgLatency": 10_500,
            "p95Latency": 19_000,
        },
        {
            "category": "eprint_submit",
            "hour": "2026-03-04T08:00:00.000Z",
            "totalActivities": 1,
            "confirmed": 0,
            "failed": 0,
            "timeout": 1,
            "pending": 0,
            "confirmationRate": 0,
        },
    ]
