"""getTrendingVelocity: known answers on a constructed history (velocity, acceleration, daily averages in
thousandths), each window against its baseline ending with the last complete hour, the limit, and an unknown window
refused."""

from __future__ import annotations

from support.admin_api import USER, Api, answer, refusal
from support.engagement import hour_start, index_eprints, submission, views

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import get_trending_velocity as api_model

METHOD = ids.PUB_CHIVE_ADMIN_GET_TRENDING_VELOCITY
H = 490_000
A, B, C = submission("a"), submission("b"), submission("c")


async def test_velocity_and_acceleration_on_a_constructed_history(api: Api) -> None:
    assert (await api.get(METHOD)).json() == {"items": []}
    await index_eprints(api.services.db, A, B, C)
    await views(
        api.services.db,
        {
            # window (H-23 … H]: 10; baseline (H-167 … H]: 16; previous window: 2; its baseline (H-191 … H-24]: 10
            A.uri: {H: 6, H - 23: 4, H - 100: 4, H - 30: 2, H - 180: 4},
            B.uri: {H - 1: 7},  # every view of the baseline in the window
            C.uri: {H - 50: 9},  # not viewed in the window
        },
    )
    await views(api.services.db, {B.uri: {H: 3}}, kind="download")
    api.services.engagement.clock = lambda: hour_start(H + 1)  # H is the last complete hour
    api.services.hourly_answers.clear()  # the empty answer above was for the same hour
    output = answer(await api.get(METHOD, {"window": "24h"}), api_model.Output)
    assert output.model_dump(by_alias=True, exclude_none=True)["items"] == [
        {
            "uri": B.uri,
            "title": "On b",
            "authorDid": "did:plc:engagementauthor00000000000",
            "velocity": 7000,  # 7 a day against 1 a day
            "dailyAvgCurrent": 7000,
            "dailyAvgBaseline": 1000,
            "views": 7,
            "downloads": 3,
        },
        {
            "uri": A.uri,
            "title": "On a",
            "authorDid": "did:plc:engagementauthor00000000000",
            "velocity": 4375,  # 10 a day against 16/7 a day
            "acceleration": 2975,  # from 2 a day against 10/7 a day: 1400
            "dailyAvgCurrent": 10000,
            "dailyAvgBaseline": 2285,
            "views": 10,
            "downloads": 0,
        },
    ]
    assert [i.uri for i in answer(await api.get(METHOD, {"limit": 1}), api_model.Output).items] == [B.uri]
    # 7 days against 30: C counts now, A's 16 views against 20 in 30 days
    week = answer(await api.get(METHOD, {"window": "7d"}), api_model.Output).items
    velocities = {i.uri: (i.velocity, i.views) for i in week}
    assert velocities == {B.uri: (30 * 1000 // 7, 7), A.uri: (16 * 30 * 1000 // (20 * 7), 16), C.uri: (30000 // 7, 9)}
    assert [i.uri for i in week] == [C.uri, B.uri, A.uri]  # equal velocity: more views first


async def test_bad_windows_and_callers_are_refused(api: Api) -> None:
    refusal(await api.get(METHOD, {"window": "1y"}), 400, "InvalidRequest")
    refusal(await api.get(METHOD, {"limit": 0}), 400, "InvalidRequest")
    refusal(await api.get(METHOD, headers=USER), 403, "AdminRequired")
