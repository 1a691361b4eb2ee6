"""Sorting fetched records into what is indexed and what is dead-lettered, and writing the first."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chive_admin.ingest.fetch import RepoContents
from chive_admin.ingest.write import apply_records
from chive_admin.store.db import Database
from testnet import records

DID = "did:plc:alice0000000000000000000"
CID = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"
EPRINT = f"at://{DID}/{records.SUBMISSION}/3kabc"


def comment(**extra: Any) -> dict[str, Any]:
    return {**records.review_comment(eprint_uri=EPRINT), **extra}


@pytest.mark.parametrize(
    ("bad", "said"),
    [
        ({"body": [records.text_item("half a pair: \ud800")]}, "surrogates"),  # a field of the lexicon
        ({"futureField": {"note": "\udfff"}}, "surrogates"),  # a field it does not know, kept as is
        ({"futureField": [2**64]}, "64-bit"),
        ({"futureField": -(2**70)}, "64-bit"),
    ],
)
def test_what_json_carries_but_the_data_model_cannot_is_an_invalid_record(bad: dict[str, Any], said: str) -> None:
    # a listing is JSON: a PDS can send a lone surrogate or a 70-bit integer, which no repository can hold
    contents = RepoContents(did=DID)
    contents.add(records.COMMENT, "3kbad", CID, comment(**bad))
    assert contents.records == []
    assert [i.uri for i in contents.invalid] == [f"at://{DID}/{records.COMMENT}/3kbad"]
    assert "atproto data model" in contents.invalid[0].problem
    assert said in contents.invalid[0].problem


@pytest.mark.parametrize("rkey", ["a b", "a\nb", "..", "x" * 513, "é", "a/b", ""])
def test_a_record_whose_key_is_not_a_record_key_is_an_invalid_record(rkey: str) -> None:
    # a listing's URIs and an export's MST keys are the PDS's to spell; neither reaches the index unless valid
    contents = RepoContents(did=DID)
    contents.add(records.COMMENT, rkey, CID, comment())
    contents.add(records.COMMENT, "3k~valid:key.-_", CID, comment())
    assert [r.rkey for r in contents.records] == ["3k~valid:key.-_"]
    assert [i.problem for i in contents.invalid] == [f"{rkey[:100]!r} is not a valid record key"]


async def test_a_record_outside_the_data_model_does_not_fail_its_batch(tmp_path: Path) -> None:
    contents = RepoContents(did=DID)
    contents.add(records.COMMENT, "3kgood", CID, comment())
    contents.add(records.COMMENT, "3kbad", CID, comment(body=[records.text_item("lone \ud800")]))
    assert [r.rkey for r in contents.records] == ["3kgood"]
    assert len(contents.invalid) == 1

    # before, the bad record was kept, and binding it failed the whole batch with a UnicodeEncodeError
    db = await Database.open(tmp_path / "i.db", readers=1)
    try:
        async with db.write() as conn:
            result = await apply_records(conn, contents.records, "2026-11-23T00:00:00.000Z")
        async with db.read() as conn:
            stored = await conn.fetchall("SELECT uri, value FROM records")
    finally:
        await db.close()
    assert result.inserted == 1
    kept = contents.records[0]
    assert [(uri, json.loads(value)) for uri, value in stored] == [(kept.uri, kept.value)]


def test_an_unknown_collection_is_noted_once_in_whatever_order_its_records_come() -> None:
    # an export read as it downloads gives records in the order their blocks arrive: collections interleave
    contents = RepoContents(did="did:plc:x", unknown_collections=["pub.chive.future.a"])
    part = RepoContents(did="did:plc:x")
    for collection in ["pub.chive.future.b", "pub.chive.future.a", "pub.chive.future.b", "pub.chive.future.c"] * 3:
        part.add_unknown(collection)
    contents.extend(part)
    assert part.unknown_collections == ["pub.chive.future.b", "pub.chive.future.a", "pub.chive.future.c"]
    assert contents.unknown_collections == ["pub.chive.future.a", "pub.chive.future.b", "pub.chive.future.c"]
