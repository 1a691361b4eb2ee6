"""Listing a collection from both ends against the reference PDS: it honours ``reverse`` and orders by record key
as the two-ended listing checks, so the second listing is used (never dropped) and every record comes once."""

from __future__ import annotations

from contextlib import aclosing

import pytest

from chive_admin.ingest.listing import Position, Upward, collection_pages, rkey
from chive_admin.upstream.atproto import AtprotoClient
from testnet import records
from testnet.harness import Testnet
from testnet.pds_client import Account, PdsClient

pytestmark = pytest.mark.interop

EPRINT = "at://did:plc:listlistlistlistlistlistl/pub.chive.eprint.submission/x"


async def listing(client: AtprotoClient, url: str, did: str) -> tuple[list[str], Position | None]:
    got: list[str] = []
    last: Position | None = None
    async with aclosing(collection_pages(client, url, did, records.COMMENT)) as pages:
        async for page, position in pages:
            got += [rkey(r) for r in page]
            last = position
    return got, last


async def test_both_ends_meet_with_every_record_once(
    testnet: Testnet, pds: PdsClient, account: Account, client: AtprotoClient
) -> None:
    made = pds.bulk_create(account, records.COMMENT, 1234, factory=lambda i: records.review_comment(eprint_uri=EPRINT))
    got, position = await listing(client, testnet.pds_url, account.did)
    assert sorted(got) == sorted(ref.uri.rpartition("/")[2] for ref in made)
    assert len(got) == len(set(got))
    assert position is not None
    assert position.up is Upward.RUNNING  # the second listing was used to the end, not dropped for a wrong order
    assert position.done
