"""record_rows and page_rows: an export's records, in parts, and a listing page's, as checked (collection, rkey,
cid, json, problem) rows."""

from __future__ import annotations

import io
import json
from typing import Any

import orjson
import pytest
from cbrrr import encode_dag_cbor
from pydantic import ValidationError
from support.cars import DID, KEY, block_cid, build_car

from chive_admin.ingest.fetch import RepoContents
from chive_admin.lex.data_model import record_json
from chive_admin.repo.car import open_verified
from chive_admin.repo.rows import page_rows, record_rows
from chive_admin.untrusted_json import NotJson
from testnet import records as lexicon_records

COMMENT = lexicon_records.COMMENT
EPRINT = f"at://{DID}/{lexicon_records.SUBMISSION}/3kabc"


def comment(**extra: Any) -> dict[str, Any]:
    return {**lexicon_records.review_comment(eprint_uri=EPRINT), **extra}


def test_rows_come_in_key_order_in_parts_with_the_stored_json() -> None:
    # fields the lexicon does not name are kept, as stored, in key order
    records: dict[str, object] = {f"{COMMENT}/{i:04d}": comment(z=i, a=[i, {"b": None}]) for i in range(23)}
    records["app.bsky.feed.post/x"] = {"text": "not ours"}
    car = build_car(records)
    repo = open_verified(io.BytesIO(car), did=DID, signing_key=KEY.did_key)

    parts = list(record_rows(repo, "pub.chive.", 10))

    assert [len(part) for part in parts] == [10, 10, 3]
    rows = [row for part in parts for row in part]
    assert [f"{c}/{k}" for c, k, _, _, _ in rows] == sorted(k for k in records if k.startswith("pub.chive."))
    for collection, rkey, cid, text, problem in rows:
        value = records[f"{collection}/{rkey}"]
        assert problem is None
        assert text == record_json(value)  # sorted keys, as the index stores it
        assert orjson.loads(text or "") == value
        assert cid == block_cid(encode_dag_cbor(value)).encode("base32")


def huge_negative(value: dict[str, Any]) -> bytes:
    """``value`` with an "a" below -2^63: DAG-CBOR can hold it, the atproto data model (and SQLite) cannot."""
    encoded = encode_dag_cbor(value)
    # a short map, and a one-letter key sorts first
    assert 0xA0 <= encoded[0] < 0xB7
    assert "a" not in value
    return bytes([encoded[0] + 1, 0x61, 0x61, 0x3B]) + (2**64 - 1).to_bytes(8, "big") + encoded[1:]


def test_a_record_that_is_not_a_map_or_not_in_the_data_model_is_a_row_with_a_problem() -> None:
    car = build_car(
        {f"{COMMENT}/a": comment()},
        raw_records={f"{COMMENT}/b": encode_dag_cbor([1, 2]), f"{COMMENT}/c": huge_negative(comment())},
    )
    repo = open_verified(io.BytesIO(car), did=DID, signing_key=KEY.did_key)

    (rows,) = record_rows(repo, "pub.chive.", 500)

    assert [(rkey, text is None) for _, rkey, _, text, _ in rows] == [("a", False), ("b", True), ("c", True)]
    assert rows[1][4] == "record is not a map"
    assert "not in the atproto data model" in (rows[2][4] or "")


def test_rows_are_checked_against_the_lexicons_where_they_are_read() -> None:
    # in a reader process this is the reader's work: the server only sorts the rows
    good = comment()
    car = build_car(
        {
            f"{COMMENT}/good": good,
            f"{COMMENT}/strict": comment(schemaRevision="1"),  # a string where the lexicon says integer
            f"{COMMENT}/mistyped": {**comment(), "$type": lexicon_records.SUBMISSION},
            f"{COMMENT}/a b": comment(),  # MST keys are the PDS's to spell
            "pub.chive.future.thing/x": {"$type": "pub.chive.future.thing"},  # no lexicon of ours: noted only
        }
    )
    repo = open_verified(io.BytesIO(car), did=DID, signing_key=KEY.did_key)

    (rows,) = record_rows(repo, "pub.chive.", 500)

    by_key = {f"{c}/{k}": (text, problem) for c, k, _, text, problem in rows}
    assert by_key[f"{COMMENT}/good"] == (record_json(good), None)
    assert by_key["pub.chive.future.thing/x"] == (None, None)
    assert by_key[f"{COMMENT}/a b"] == (None, "'a b' is not a valid record key")
    strict, mistyped = by_key[f"{COMMENT}/strict"], by_key[f"{COMMENT}/mistyped"]
    assert strict[0] is None
    assert "schemaRevision" in (strict[1] or "")
    assert mistyped == (None, f"$type is {lexicon_records.SUBMISSION!r}, expected {COMMENT}")


def test_an_empty_range_yields_no_part() -> None:
    car = build_car({"app.bsky.feed.post/x": {"text": "not ours"}})
    repo = open_verified(io.BytesIO(car), did=DID, signing_key=KEY.did_key)
    assert list(record_rows(repo, "pub.chive.", 500)) == []


def listing(records: list[dict[str, Any]], cursor: str | None = "next") -> bytes:
    """A listRecords answer's body (with the standard library: orjson refuses integers beyond 64 bits)."""
    return json.dumps({"records": records, "cursor": cursor}).encode()


def listed(rkey: str, value: object) -> dict[str, Any]:
    return {"uri": f"at://{DID}/{COMMENT}/{rkey}", "cid": CID, "value": value}


CID = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"
LONG_KEY = "k" * 600


def test_a_listing_page_is_decoded_into_its_cursor_and_checked_rows_in_its_order() -> None:
    good, other = comment(), comment(z=1)
    body = listing(
        [
            listed("3kz", good),
            listed("3ky", comment(schemaRevision="1")),  # a string where the lexicon says integer
            listed("3kx", {**comment(), "$type": lexicon_records.SUBMISSION}),
            listed(LONG_KEY, comment()),  # an AT-URI may hold it; a record key is at most 512 characters
            listed("3kw", {**comment(), "n": 2**64}),  # beyond the data model: orjson refuses it
            listed("3kv", other),
        ]
    )

    cursor, rows = page_rows(body, COMMENT)

    assert cursor == "next"
    assert [row[1] for row in rows] == ["3kz", "3ky", "3kx", LONG_KEY, "3kw", "3kv"]  # the PDS's order, kept
    assert rows[0] == (COMMENT, "3kz", CID, record_json(good), None)
    assert rows[5] == (COMMENT, "3kv", CID, record_json(other), None)
    problems = [problem or "" for _, _, _, text, problem in rows[1:5] if text is None]
    assert len(problems) == 4
    assert "schemaRevision" in problems[0]
    assert problems[1] == f"$type is {lexicon_records.SUBMISSION!r}, expected {COMMENT}"
    assert problems[2] == f"{LONG_KEY[:100]!r} is not a valid record key"
    assert "not in the atproto data model" in problems[3]


def test_a_listing_page_checks_as_the_listing_path_checked_each_record_before() -> None:
    # the rows are what RepoContents.add makes of the same records, valid and invalid alike
    values: list[object] = [comment(), comment(schemaRevision="1"), {"$type": COMMENT}, comment(n=2**64)]
    _, rows = page_rows(listing([listed(f"3k{i}", v) for i, v in enumerate(values)]), COMMENT)
    one_by_one = RepoContents(did=DID)
    for i, value in enumerate(values):
        one_by_one.add(COMMENT, f"3k{i}", CID, value)
    from_rows = RepoContents(did=DID)
    from_rows.add_rows(rows)
    assert (from_rows.records, from_rows.invalid) == (one_by_one.records, one_by_one.invalid)


@pytest.mark.parametrize(
    "body",
    [b"{", b'{"records": [NaN]}', b"\xff", b"[" * 5000 + b"]" * 5000],
    ids=["truncated", "nan", "not utf-8", "too deep"],
)
def test_a_listing_body_that_is_not_json_is_not_json(body: bytes) -> None:
    with pytest.raises(NotJson):
        page_rows(body, COMMENT)


@pytest.mark.parametrize(
    "answer",
    [
        {"cursor": "x"},  # no records
        {"records": [{"uri": "not an at-uri", "cid": CID, "value": {}}]},
        {"records": [{"uri": f"at://{DID}/{COMMENT}/3k", "cid": CID, "value": [1]}]},  # a value that is no object
        {"records": "many"},
    ],
)
def test_a_listing_body_that_is_not_the_lexicons_answer_fails_validation(answer: object) -> None:
    with pytest.raises(ValidationError):
        page_rows(orjson.dumps(answer), COMMENT)
