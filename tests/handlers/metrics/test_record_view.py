"""recordView: who may record (metrics-writer and admin keys; not a user without the role, and a metrics writer
nothing else), one view per viewer and hour, 400 NotFound for a uri that is no eprint, nothing raw kept."""

from __future__ import annotations

from datetime import timedelta

import pytest
from support.admin_api import BOOTSTRAP_ADMIN, Api, answer, refusal
from support.engagement import hour_start, index_eprints, seen, series, submission

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.metrics import record_view
from chive_admin.store import audit as audit_store
from chive_admin.store import roles as roles_store

METHOD = ids.PUB_CHIVE_METRICS_RECORD_VIEW
WRITER = "did:plc:metricswriter000000000000000"
USER = "did:plc:metricsuser00000000000000000"
VIEWER = "did:plc:metricsviewer000000000000000"
H = 490_000
PAPER = submission("paper")


async def writer_key(keyed: Api) -> dict[str, str]:
    async with keyed.services.db.write() as conn:
        await roles_store.grant(conn, WRITER, "metrics-writer", BOOTSTRAP_ADMIN, "2026-01-01T00:00:00.000Z")
    return await keyed.key_for(WRITER)


async def test_a_metrics_writer_records_and_does_nothing_else(keyed: Api) -> None:
    await index_eprints(keyed.services.db, PAPER)
    writer = await writer_key(keyed)
    assert answer(await keyed.post(METHOD, {"uri": PAPER.uri}, headers=writer), record_view.Output).success
    for admin_method in (ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS, ids.PUB_CHIVE_ADMIN_GET_VIEW_DOWNLOAD_TIME_SERIES):
        refusal(await keyed.get(admin_method, headers=writer), 403, "AdminRequired")
    body = {"did": WRITER, "role": "admin"}
    refusal(await keyed.post(ids.PUB_CHIVE_ADMIN_ASSIGN_ROLE, body, headers=writer), 403, "AdminRequired")


async def test_an_admin_records_and_a_user_without_the_role_cannot(keyed: Api) -> None:
    await index_eprints(keyed.services.db, PAPER)
    admin, user = await keyed.key_for(BOOTSTRAP_ADMIN), await keyed.key_for(USER)
    assert answer(await keyed.post(METHOD, {"uri": PAPER.uri}, headers=admin), record_view.Output).success
    refusal(await keyed.post(METHOD, {"uri": PAPER.uri}, headers=user), 403, "AdminRequired")
    refusal(await keyed.post(METHOD, {"uri": PAPER.uri}), 401, "AuthenticationRequired")
    await keyed.services.engagement.flush()
    now = keyed.services.engagement.clock()
    hour = int(now.timestamp()) // 3600
    assert await series(keyed.services.db, PAPER.uri, hour - 1, hour + 1) == [(hour, 1, 0)]


async def test_the_role_is_assignable_and_revocable(keyed: Api) -> None:
    await index_eprints(keyed.services.db, PAPER)
    admin, other = await keyed.key_for(BOOTSTRAP_ADMIN), await keyed.key_for(WRITER)
    grant = {"did": WRITER, "role": "metrics-writer"}
    assert (await keyed.post(ids.PUB_CHIVE_ADMIN_ASSIGN_ROLE, grant, headers=admin)).status_code == 200
    assert (await keyed.post(METHOD, {"uri": PAPER.uri}, headers=other)).status_code == 200
    assert (await keyed.post(ids.PUB_CHIVE_ADMIN_REVOKE_ROLE, grant, headers=admin)).status_code == 200
    refusal(await keyed.post(METHOD, {"uri": PAPER.uri}, headers=other), 403, "AdminRequired")


async def test_one_view_per_viewer_and_hour_across_the_boundary(api: Api) -> None:
    await index_eprints(api.services.db, PAPER)
    start = hour_start(H)
    recorder = api.services.engagement
    for minute, viewer in ((0, VIEWER), (59, VIEWER), (59, None), (30, None), (60, VIEWER), (61, None)):
        recorder.clock = lambda m=minute: start + timedelta(minutes=m)
        body = {"uri": PAPER.uri, **({"viewerDid": viewer} if viewer else {})}
        assert answer(await api.post(METHOD, body), record_view.Output).success
    await recorder.flush()
    # hour H: the DID once, the client address once; hour H+1: each once again
    assert await series(api.services.db, PAPER.uri, H - 1, H + 2) == [(H, 2, 0), (H + 1, 2, 0)]
    recorder.clock = lambda: start + timedelta(hours=2)  # the next write prunes the viewers of hours that are over
    assert (await api.post(METHOD, {"uri": PAPER.uri})).status_code == 200
    await recorder.flush()
    assert {hour for hour, *_ in await seen(api.services.db)} == {H + 1, H + 2}


async def test_no_raw_viewer_is_stored_and_allowed_calls_are_not_audited(api: Api) -> None:
    await index_eprints(api.services.db, PAPER)
    assert (await api.post(METHOD, {"uri": PAPER.uri, "viewerDid": VIEWER})).status_code == 200
    assert (await api.post(METHOD, {"uri": PAPER.uri})).status_code == 200
    await api.services.engagement.flush()
    viewers = [viewer for *_, viewer in await seen(api.services.db)]
    assert len(viewers) == 2
    assert all(len(v) == 32 and VIEWER not in v and "127.0.0.1" not in v for v in viewers)
    await api.services.audit.flush()
    async with api.services.db.read() as conn:
        page = await audit_store.audit_page(conn, limit=10, before_id=None, actor_did=None)
    assert [e.method for e in page.entries if e.method == METHOD] == []


@pytest.mark.parametrize(
    "uri", ["at://did:plc:nobody00000000000000000/pub.chive.eprint.submission/x", "at://did:plc:x/app.bsky.feed.post/y"]
)
async def test_a_uri_that_is_no_indexed_eprint_is_not_found(api: Api, uri: str) -> None:
    await index_eprints(api.services.db, PAPER)
    refusal(await api.post(METHOD, {"uri": uri}), 400, "NotFound")
    assert await seen(api.services.db) == []


async def test_bad_bodies_are_invalid_requests(api: Api) -> None:
    for body in ({}, {"uri": "https://example.com/"}, {"uri": PAPER.uri, "viewerDid": "nobody"}):
        refusal(await api.post(METHOD, body), 400, "InvalidRequest")
