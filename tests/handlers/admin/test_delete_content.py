"""deleteContent: an index takedown, checked against the lexicon's rules, idempotent, audited in its own
transaction, and sticky against every write path that ingests the record again."""

from __future__ import annotations

import pytest
from support.admin_api import Api, answer, refusal
from support.auth import ADMIN_DID, USER

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import delete_content
from chive_admin.ingest.write import apply_records, remove_records
from chive_admin.store import audit as audit_store
from chive_admin.store import search, takedowns
from chive_admin.store.index import IndexedRecord

METHOD = ids.PUB_CHIVE_ADMIN_DELETE_CONTENT
DID = "did:plc:author000000000000000000"
EPRINT = search.EPRINT_COLLECTION


def submission(title: str, cid: str = "c1") -> IndexedRecord:
    return IndexedRecord.from_parts(DID, EPRINT, "3kabc", cid, {"title": title})


@pytest.mark.parametrize(
    ("uri", "collection", "message"),
    [
        (f"at://{DID}/{ids.PUB_CHIVE_REVIEW_COMMENT}/3kabc", EPRINT, "another collection"),
        (f"at://{DID}/{EPRINT}", EPRINT, "not the at-uri of one record"),
        (f"at://{DID}", EPRINT, "not the at-uri of one record"),
        (f"at://{DID}/{EPRINT}/3kabc#frag", EPRINT, "uri"),
        (f"at://alice.example.com/{EPRINT}/3kabc", EPRINT, "DID, not a handle"),
        ("at://app.bsky.feed.post/x", EPRINT, "uri"),
        ("https://example.com/x", EPRINT, "uri"),
        (f"at://{DID}/app.bsky.feed.post/3kabc", "app.bsky.feed.post", "collection must be one of"),
        (f"at://{DID}/{EPRINT}/3kabc", "", "collection must be one of"),
    ],
)
async def test_a_uri_or_collection_the_lexicon_does_not_allow_is_refused(
    api: Api, uri: str, collection: str, message: str
) -> None:
    response = await api.post(METHOD, {"uri": uri, "collection": collection, "reason": "x"})
    assert message in refusal(response, 400, "InvalidRequest")
    async with api.services.db.read() as conn:
        assert await takedowns.get(conn, uri) is None


async def test_a_non_admin_is_refused(api: Api) -> None:
    uri = submission("T").uri
    refusal(await api.post(METHOD, {"uri": uri, "collection": EPRINT}, headers=USER), 403, "AdminRequired")
    async with api.services.db.read() as conn:
        assert await takedowns.get(conn, uri) is None


async def test_a_takedown_is_idempotent_audited_and_sticky(api: Api) -> None:
    record = submission("Forbidden theorem")
    db = api.services.db
    async with db.write() as conn:
        await apply_records(conn, [record], "t0")
    async with db.read() as conn:
        assert await search.search(conn, "forbidden") == [record.uri]
    body = {"uri": record.uri, "collection": EPRINT, "reason": "plagiarism"}
    for _ in range(2):
        assert answer(await api.post(METHOD, body), delete_content.Output).success is True
    async with db.read() as conn:
        row = await takedowns.get(conn, record.uri)
        assert row == takedowns.Takedown(record.uri, EPRINT, record.cid, "plagiarism", ADMIN_DID, row.taken_down_at)
        assert await search.search(conn, "forbidden") == []
        assert await search.visible_eprints(conn) == 0
    await api.services.audit.flush()
    async with db.read() as conn:
        page = await audit_store.audit_page(conn, limit=20, before_id=None, actor_did=ADMIN_DID)
    # one entry per call (each written with the takedown, none added by the pipeline), the repeat audited too
    assert [(e.method, e.target, e.detail, e.status) for e in reversed(page.entries) if e.method == METHOD] == [
        (METHOD, record.uri, "taken down: plagiarism", 200),
        (METHOD, record.uri, "already taken down: plagiarism", 200),
    ]
    # a did-sync, pds-scan or freshness-scan writes it again; the author deletes and recreates the same key
    async with db.write() as conn:
        await apply_records(conn, [record], "t1")
        await apply_records(conn, [submission("Forbidden theorem, v2", cid="c2")], "t2")
        await remove_records(conn, [record.uri])
        await apply_records(conn, [submission("Forbidden theorem, again", cid="c3")], "t3")
    async with db.read() as conn:
        assert await search.search(conn, "forbidden") == []
        assert await search.visible_eprints(conn) == 0
        assert (await takedowns.get(conn, record.uri)) == row


async def test_a_uri_not_indexed_yet_is_taken_down_in_advance(api: Api) -> None:
    record = IndexedRecord.from_parts(DID, ids.PUB_CHIVE_EPRINT_USER_TAG, "3ktag", "ct", {"tag": "x"})
    body = {"uri": record.uri, "collection": record.collection}
    assert answer(await api.post(METHOD, body), delete_content.Output).success is True
    async with api.services.db.write() as conn:
        row = await takedowns.get(conn, record.uri)
        assert row is not None
        assert (row.cid, row.reason) == (None, None)
        await apply_records(conn, [record], "t1")
        assert await takedowns.taken_down(conn, [record.uri]) == {record.uri}
