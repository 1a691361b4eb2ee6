"""record_rows: an export's records as (collection, rkey, cid, json, problem) rows, in parts."""

from __future__ import annotations

import io

import orjson
from cbrrr import encode_dag_cbor
from support.cars import DID, KEY, block_cid, build_car

from chive_admin.repo.car import open_verified
from chive_admin.repo.rows import record_rows
from chive_admin.store.index import record_json

COMMENT = "pub.chive.review.comment"
# a map whose integer is below -2^63: DAG-CBOR can hold it, the atproto data model (and SQLite) cannot
HUGE_NEGATIVE = bytes([0xA1, 0x61, 0x61, 0x3B]) + (2**64 - 1).to_bytes(8, "big")


def test_rows_come_in_key_order_in_parts_with_the_stored_json() -> None:
    records = {f"{COMMENT}/{i:04d}": {"$type": COMMENT, "z": i, "a": [i, {"b": None}]} for i in range(23)}
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


def test_a_record_that_is_not_a_map_or_not_in_the_data_model_is_a_row_with_a_problem() -> None:
    car = build_car(
        {f"{COMMENT}/a": {"ok": True}},
        raw_records={f"{COMMENT}/b": encode_dag_cbor([1, 2]), f"{COMMENT}/c": HUGE_NEGATIVE},
    )
    repo = open_verified(io.BytesIO(car), did=DID, signing_key=KEY.did_key)

    (rows,) = record_rows(repo, "pub.chive.", 500)

    assert [(rkey, text is None) for _, rkey, _, text, _ in rows] == [("a", False), ("b", True), ("c", True)]
    assert rows[1][4] == "record is not a map"
    assert "not in the atproto data model" in (rows[2][4] or "")


def test_an_empty_range_yields_no_part() -> None:
    car = build_car({"app.bsky.feed.post/x": {"text": "not ours"}})
    repo = open_verified(io.BytesIO(car), did=DID, signing_key=KEY.did_key)
    assert list(record_rows(repo, "pub.chive.", 500)) == []
