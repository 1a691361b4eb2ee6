"""Fetching a repository's pub.chive.* records from a real PDS, by listing and by verified CAR export."""

from __future__ import annotations

import os
from contextlib import aclosing
from typing import IO, Any

import pytest

from chive_admin.ingest.export_readers import ExportReaders
from chive_admin.ingest.fetch import fetch_by_export, fetch_by_listing, stream_by_export, stream_by_listing
from chive_admin.upstream.atproto import AtprotoClient
from testnet import records
from testnet.harness import Testnet
from testnet.pds_client import Account, PdsClient

pytestmark = pytest.mark.interop

EPRINT = "at://did:plc:fetchfetchfetchfetchfetchf/pub.chive.eprint.submission/x"


async def test_listing_and_export_agree_and_sort_invalid_records(
    testnet: Testnet, pds: PdsClient, account: Account, client: AtprotoClient
) -> None:
    eprint = pds.create_record(
        account,
        records.SUBMISSION,
        records.eprint_submission(
            submitted_by=account.did, document=pds.upload_blob(account, records.minimal_pdf(), "application/pdf")
        ),
    )
    pds.bulk_create(account, records.COMMENT, 230, factory=lambda i: records.review_comment(eprint_uri=eprint.uri))
    # the PDS does not know Chive's lexicons, so it stores an invalid record as it is given
    bad = pds.create_record(account, records.COMMENT, {"$type": records.COMMENT, "body": "not a list"}, validate=False)
    pds.create_record(account, "pub.chive.future.thing", {"$type": "pub.chive.future.thing"}, validate=False)
    pds.create_record(
        account, "app.bsky.feed.post", {"$type": "app.bsky.feed.post", "text": "x", "createdAt": records.now_iso()}
    )

    listed = await fetch_by_listing(client, testnet.pds_url, account.did)
    key = testnet.signing_key(account.did)
    exported = await fetch_by_export(client, testnet.pds_url, account.did, key)
    readers = ExportReaders(1)
    try:
        in_a_reader = await fetch_by_export(client, testnet.pds_url, account.did, key, readers=readers)
    finally:
        await readers.close()
    assert in_a_reader == exported  # read in a reader process or on a thread, the same contents

    for contents in (listed, exported):
        assert len(contents.records) == 231
        assert [i.uri for i in contents.invalid] == [bad.uri]
        assert "body" in contents.invalid[0].problem
        assert contents.unknown_collections == ["pub.chive.future.thing"]
    assert {(r.uri, r.cid) for r in listed.records} == {(r.uri, r.cid) for r in exported.records}
    assert listed.handle == account.handle
    assert exported.rev


async def test_profiles_endorsements_and_tags_come_through_listing_and_export(
    testnet: Testnet, pds: PdsClient, account: Account, client: AtprotoClient
) -> None:
    # what getOverview counts besides eprints, reviews and graph nodes: valid ones indexed, invalid ones refused
    profile = pds.create_record(account, records.PROFILE, records.actor_profile(), rkey="self")
    endorsement = pds.create_record(account, records.ENDORSEMENT, records.review_endorsement(eprint_uri=EPRINT))
    tag = pds.create_record(account, records.USER_TAG, records.user_tag(eprint_uri=EPRINT))
    bad_tag = pds.create_record(
        account, records.USER_TAG, {"$type": records.USER_TAG, "eprintUri": EPRINT, "tag": 7}, validate=False
    )
    bad_profile = pds.create_record(
        account, records.PROFILE, {"$type": records.PROFILE, "displayName": ["x"]}, rkey="other", validate=False
    )
    listed = await fetch_by_listing(client, testnet.pds_url, account.did)
    exported = await fetch_by_export(client, testnet.pds_url, account.did, testnet.signing_key(account.did))
    for contents in (listed, exported):
        assert {(r.uri, r.cid) for r in contents.records} == {(ref.uri, ref.cid) for ref in (profile, endorsement, tag)}
        assert sorted(i.uri for i in contents.invalid) == sorted([bad_tag.uri, bad_profile.uri])


@pytest.mark.parametrize("in_readers", [False, True], ids=["thread", "reader"])
async def test_an_export_stream_is_released_when_closed_read_or_not(
    testnet: Testnet, pds: PdsClient, account: Account, client: AtprotoClient, in_readers: bool
) -> None:
    pds.bulk_create(account, records.COMMENT, 1200, factory=lambda i: records.review_comment(eprint_uri=EPRINT))
    spools: list[IO[bytes]] = []
    fetch = client.get_repo

    async def get_repo(pds_url: str, did: str, **kwargs: Any) -> IO[bytes]:
        spools.append(await fetch(pds_url, did, **kwargs))
        return spools[-1]

    client.get_repo = get_repo  # type: ignore[method-assign]
    key = testnet.signing_key(account.did)
    readers = ExportReaders(1) if in_readers else None
    try:
        never_read = await stream_by_export(client, testnet.pds_url, account.did, key, size=500, readers=readers)
        async with aclosing(never_read):
            pass
        partly_read = await stream_by_export(client, testnet.pds_url, account.did, key, size=500, readers=readers)
        async with aclosing(partly_read):
            first = await anext(partly_read.parts)
        assert len(first.records) == 500
        assert [spool.closed for spool in spools] == [True, True]
        assert not any(os.path.exists(spool.name) for spool in spools)  # the named exports are deleted
        if readers is not None:
            assert len(readers._idle) == 1  # both sessions ended cleanly: the reader is kept
    finally:
        if readers is not None:
            await readers.close()


@pytest.mark.parametrize("in_readers", [False, True], ids=["thread", "reader"])
async def test_a_short_part_says_it_is_the_last_and_no_other_part_does(
    testnet: Testnet, pds: PdsClient, account: Account, client: AtprotoClient, in_readers: bool
) -> None:
    # did-sync commits a part that says it is the last with the sync's end (a small repository: one transaction)
    pds.bulk_create(account, records.COMMENT, 1200, factory=lambda i: records.review_comment(eprint_uri=EPRINT))
    key = testnet.signing_key(account.did)
    readers = ExportReaders(1) if in_readers else None
    try:
        for size, expected in ((500, [(500, False), (500, False), (200, True)]), (400, [(400, False)] * 3)):
            stream = await stream_by_export(client, testnet.pds_url, account.did, key, size=size, readers=readers)
            async with aclosing(stream):
                parts = [(len(part.records), part.last) async for part in stream.parts]
            assert parts == expected  # 3 x 400: the last part is full, so it cannot know it is the last
    finally:
        if readers is not None:
            await readers.close()
    listed = await stream_by_listing(client, testnet.pds_url, account.did)
    async with aclosing(listed):
        assert [(len(part.records), part.last) async for part in listed.parts] == [(1200, True)]


async def test_a_listing_takes_only_the_collections_under_its_prefix(
    testnet: Testnet, pds: PdsClient, account: Account, client: AtprotoClient
) -> None:
    # governance-sync's fallback lists the graph collections alone, not every pub.chive.* one
    nodes = pds.bulk_create(account, records.GRAPH_NODE, 3, factory=lambda i: records.graph_node(label=f"n{i}"))
    pds.bulk_create(account, records.COMMENT, 5, factory=lambda i: records.review_comment(eprint_uri=EPRINT))
    graph = await fetch_by_listing(client, testnet.pds_url, account.did, prefix="pub.chive.graph.")
    assert sorted(r.uri for r in graph.records) == sorted(ref.uri for ref in nodes)
    assert graph.invalid == []
    everything = await fetch_by_listing(client, testnet.pds_url, account.did)
    assert len(everything.records) == 8
