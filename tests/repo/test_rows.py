"""record_rows: an export's records as checked (collection, rkey, cid, json, problem) rows, in parts."""

from __future__ import annotations

import io
from typing import Any

import orjson
from cbrrr import encode_dag_cbor
from support.cars import DID, KEY, block_cid, build_car

from chive_admin.lex.data_model import record_json
from chive_admin.repo.car import open_verified
from chive_admin.repo.rows import record_rows
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
