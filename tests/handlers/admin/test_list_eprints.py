"""listEprints: visible submissions newest first by createdAt then URI, each field from the record and the
submitter's repository, offsets past the end empty, and the total from the counters."""

from __future__ import annotations

from support.admin_api import USER, Api, answer, refusal
from support.auth import ADMIN_DID

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import list_eprints
from chive_admin.store import index, takedowns
from chive_admin.store.index import IndexedRecord

METHOD = ids.PUB_CHIVE_ADMIN_LIST_EPRINTS
VIEW, DOWNLOAD = ids.PUB_CHIVE_METRICS_RECORD_VIEW, ids.PUB_CHIVE_METRICS_RECORD_DOWNLOAD
ALICE = "did:plc:eprintsalice00000000000000"
BOB = "did:plc:eprintsbob0000000000000000"
FIELD = "at://did:plc:eprintsgovernance0000000/pub.chive.graph.node/physics"


def submission(did: str, rkey: str, created: str, **more: object) -> IndexedRecord:
    value = {"title": f"On {rkey}", "submittedBy": ALICE, "createdAt": created, **more}
    return IndexedRecord.from_parts(did, ids.PUB_CHIVE_EPRINT_SUBMISSION, rkey, f"bafy{rkey}", value)


async def test_a_page_field_by_field(api: Api) -> None:
    assert (await api.get(METHOD)).json() == {"items": [], "total": 0}
    full = submission(
        BOB, "full", "2026-03-01T00:00:00.000Z", publicationStatusSlug="published", fieldUris=[FIELD, "at://x/y/z"]
    )
    bare = submission(BOB, "bare", "2026-02-01T00:00:00.000Z", submittedBy=BOB)
    taken = submission(ALICE, "taken", "2026-04-01T00:00:00.000Z")
    async with api.services.db.write() as conn:
        await index.upsert_repo(conn, ALICE, "2026-05-01T00:00:00.000Z", handle="alice.test")
        await index.upsert_records(conn, [full, bare, taken], "2026-05-02T00:00:00.000Z")
        await takedowns.take_down(conn, taken.uri, taken.collection, None, ADMIN_DID, "2026-05-03T00:00:00.000Z")
    response = await api.get(METHOD)
    assert response.json() == {
        "items": [
            {
                "uri": full.uri,
                "cid": "bafyfull",
                "title": "On full",
                "authorDid": ALICE,  # submittedBy, not the repository
                "authorHandle": "alice.test",
                "status": "published",
                "field": FIELD,
                "indexedAt": "2026-05-02T00:00:00.000Z",
            },
            {
                "uri": bare.uri,
                "cid": "bafybare",
                "title": "On bare",
                "authorDid": BOB,  # no handle held for this repository
                "status": "eprint",
                "indexedAt": "2026-05-02T00:00:00.000Z",
            },
        ],
        "total": 2,
    }
    answer(response, list_eprints.Output)


async def test_pages_by_offset_in_a_stable_order(api: Api) -> None:
    # three share a createdAt: the URI breaks the tie
    records = [submission(ALICE, f"e{i:02d}", f"2026-01-{1 + i % 5:02d}T00:00:00Z") for i in range(12)]
    async with api.services.db.write() as conn:
        await index.upsert_records(conn, records, "2026-05-02T00:00:00.000Z")
    expected = [r.uri for r in sorted(records, key=lambda r: (-int(r.value["createdAt"][8:10]), r.uri))]
    seen: list[str] = []
    for offset in range(0, 12, 5):
        page = answer(await api.get(METHOD, {"limit": 5, "offset": offset}), list_eprints.Output)
        assert page.total == 12
        seen += [item.uri for item in page.items]
    assert seen == expected
    past = answer(await api.get(METHOD, {"offset": 12}), list_eprints.Output)
    assert (past.items, past.total) == ([], 12)


async def test_bad_params_and_a_caller_without_the_admin_role(api: Api) -> None:
    for params in ({"limit": 0}, {"limit": 101}, {"limit": "x"}, {"offset": -1}, {"cursor": "1"}):
        refusal(await api.get(METHOD, params), 400, "InvalidRequest")
    refusal(await api.get(METHOD, headers=USER), 403, "AdminRequired")


async def test_views_and_downloads_once_the_deployment_records_any(api: Api) -> None:
    seen, unseen = (
        submission(ALICE, "seen", "2026-03-01T00:00:00.000Z"),
        submission(ALICE, "unseen", "2026-02-01T00:00:00.000Z"),
    )
    async with api.services.db.write() as conn:
        await index.upsert_records(conn, [seen, unseen], "2026-05-02T00:00:00.000Z")
    items = (await api.get(METHOD)).json()["items"]
    assert all("views" not in i and "downloads" not in i for i in items)  # nothing counts them: absent, not 0
    for kind, viewer in ((VIEW, "did:plc:v1"), (VIEW, "did:plc:v2"), (DOWNLOAD, "did:plc:v1")):
        response = await api.post(kind, {"uri": seen.uri, "viewerDid": viewer})
        assert response.status_code == 200, response.text
    await api.services.engagement.flush()
    items = (await api.get(METHOD)).json()["items"]
    assert [(i["uri"], i["views"], i["downloads"]) for i in items] == [(seen.uri, 2, 1), (unseen.uri, 0, 0)]
