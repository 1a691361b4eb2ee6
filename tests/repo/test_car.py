"""The repository CAR reader on exports built here: the MST range walk against atmst's own walker, malformed
nodes and records, and the commit checks. (tests/interop/repo/test_car.py reads real PDS exports.)"""

from __future__ import annotations

import contextlib
import io
import random
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from atmst.blockstore import MemoryBlockStore
from atmst.blockstore.car_file import ReadOnlyCARBlockStore, encode_varint
from atmst.mst.node import MSTNode
from atmst.mst.node_store import NodeStore
from atmst.mst.node_walker import NodeWalker
from cbrrr import decode_dag_cbor, encode_dag_cbor
from hypothesis import given, settings
from hypothesis import strategies as st
from support.cars import DID, KEY, block_cid, build_car

from chive_admin.repo import blocks
from chive_admin.repo.car import RepoVerificationError, VerifiedRepo, open_verified

PREFIX = "pub.chive."


def opened(car: bytes) -> VerifiedRepo:
    return open_verified(io.BytesIO(car), did=DID, signing_key=KEY.did_key)


keys = st.sampled_from(["app.bsky.feed.post", "pub.chive.review.comment", "pub.chive.eprint.submission", "pub.chivf.x"])


@settings(max_examples=40, deadline=None)
@given(st.sets(st.tuples(keys, st.integers(0, 10**6)), max_size=300), st.randoms())
def test_range_walk_equals_atmsts_walker(entries: set[tuple[str, int]], rnd: random.Random) -> None:
    records = {f"{collection}/{rkey:07d}": {"i": rkey} for collection, rkey in entries}
    car = build_car(records)
    repo = opened(car)
    theirs = NodeStore(ReadOnlyCARBlockStore(io.BytesIO(car)))  # atmst reads the same CAR its own way
    low, high = PREFIX, PREFIX + "\uffff"
    expected = [(k, bytes(v)) for k, v in NodeWalker(theirs, repo._data).iter_kv_range(low, high)]
    assert list(repo.keys_in_range(low, high)) == expected
    assert [k for k, _ in expected] == sorted(k for k in records if k.startswith(PREFIX))
    # any other range too: a prefix of one collection, and bounds falling between keys
    some = sorted(records)
    if some:
        a, b = sorted(rnd.choice(some) + suffix for suffix in ("", "0"))
        walker = NodeWalker(theirs, repo._data)
        assert list(repo.keys_in_range(a, b)) == [(k, bytes(v)) for k, v in walker.iter_kv_range(a, b)]


def test_records_are_given_in_their_json_form_with_base32_cids() -> None:
    link = block_cid(b"\xa0")
    value = {"$type": "pub.chive.review.comment", "doc": {"ref": link, "raw": b"\x00\x01"}, "n": 1}
    repo = opened(build_car({"pub.chive.review.comment/3kaaaaaaaaa22": value, "app.bsky.feed.post/a": {"x": 1}}))
    [record] = list(repo.records(PREFIX))
    assert (record.collection, record.rkey, record.problem) == ("pub.chive.review.comment", "3kaaaaaaaaa22", None)
    assert record.value == {
        "$type": "pub.chive.review.comment",
        "doc": {"ref": {"$link": link.encode("base32")}, "raw": {"$bytes": "AAE"}},
        "n": 1,
    }
    assert record.cid == block_cid(encode_dag_cbor(value)).encode("base32")


def test_a_record_that_is_not_a_map_or_not_dag_cbor_is_an_invalid_record_not_a_broken_export() -> None:
    repo = opened(
        build_car(
            {"pub.chive.review.comment/b": {"ok": True}},
            raw_records={
                "pub.chive.review.comment/a": encode_dag_cbor([1, 2]),
                "pub.chive.review.comment/c": encode_dag_cbor({"$link": "reserved"}),
            },
        )
    )
    got = {r.rkey: (r.value, r.problem) for r in repo.records(PREFIX)}
    assert got["a"] == (None, "record is not a map")
    assert got["b"] == ({"ok": True}, None)
    assert got["c"][0] is None
    assert "not valid DAG-CBOR" in str(got["c"][1])


def test_a_missing_mst_node_fails_verification() -> None:
    records = {f"pub.chive.review.comment/{i:04d}": {"i": i} for i in range(200)}

    def drop_a_subtree(state: dict[bytes, bytes]) -> None:
        commit = next(decode_dag_cbor(data) for data in state.values() if b"sig" in data)
        root = decode_dag_cbor(state[bytes(commit["data"])])
        child = root["l"] or next(e["t"] for e in root["e"] if e["t"] is not None)
        del state[bytes(child)]

    with pytest.raises(RepoVerificationError) as missing:
        list(opened(build_car(records, tamper=drop_a_subtree)).records(PREFIX))
    assert missing.value.code == "missing_block"


@pytest.mark.parametrize(
    "entries",
    [
        [{"k": b"pub.chive.x/b", "p": 0, "t": None}, {"k": b"a", "p": 12, "t": None}],  # out of order
        [{"k": b"pub.chive.x/b", "p": 0, "t": None}, {"k": b"c", "p": 40, "t": None}],  # prefix past the key
        [{"k": b"pub.chive.x/b", "p": 0, "t": None}, {"k": b"pub.chive.x/b", "p": 0, "t": None}],  # duplicate
        [{"k": "pub.chive.x/b", "p": 0, "t": None}],  # key as text
        [{"k": b"pub.chive.x/b", "p": 0}],  # no subtree field
        [{"k": b"\xff", "p": 0, "t": None}],  # not UTF-8
        [{"k": b"pub.chive.x/" + b"a" * 1013, "p": 0, "t": None}],  # 1,025 bytes: past the spec's 1,024
        # each key extending the one before: refused at the first too long, before it is built
        [{"k": b"pub.chive.x/" + b"a" * 600, "p": 0, "t": None}]
        + [{"k": b"b" * 600, "p": 612 + 600 * i, "t": None} for i in range(2000)],
    ],
)
def test_a_malformed_mst_node_fails_verification(entries: list[dict[str, object]]) -> None:
    value = block_cid(encode_dag_cbor({"ok": True}))
    node = {"l": None, "e": [{**entry, "v": value} for entry in entries]}
    with pytest.raises(RepoVerificationError) as bad:
        list(opened(build_car({}, root_node=node)).records(PREFIX))
    assert bad.value.code == "bad_mst"


@pytest.mark.parametrize("target", ["record", "node"])
def test_a_block_that_does_not_match_its_cid_fails_verification(target: str) -> None:
    records = {f"pub.chive.review.comment/{i:04d}": {"i": i} for i in range(50)}

    def forge(state: dict[bytes, bytes]) -> None:
        commit = next(decode_dag_cbor(data) for data in state.values() if b"sig" in data)
        root = bytes(commit["data"])
        cid = root if target == "node" else bytes(decode_dag_cbor(state[root])["e"][0]["v"])
        state[cid] = state[cid][:-1] + bytes([state[cid][-1] ^ 1])

    with pytest.raises(RepoVerificationError) as forged:
        list(opened(build_car(records, tamper=forge)).records(PREFIX))
    assert forged.value.code == "bad_block"


def test_an_export_of_more_blocks_than_the_cap_fails_verification(monkeypatch: pytest.MonkeyPatch) -> None:
    car = build_car({f"pub.chive.review.comment/{i:04d}": {"i": i} for i in range(50)})
    assert len(list(opened(car).records(PREFIX))) == 50
    monkeypatch.setattr(blocks, "MAX_BLOCKS", 50)  # 50 records, their MST nodes and the commit are more
    with pytest.raises(RepoVerificationError) as refused:
        opened(car)
    assert refused.value.code == "too_many_blocks"
    assert "more than 50 blocks" in str(refused.value)


def test_a_header_claiming_more_than_a_header_fails_verification() -> None:
    car = build_car({"pub.chive.review.comment/0001": {"i": 1}})
    _, at = blocks._varint(car, 0)
    huge = encode_varint(len(car) - at) + car[at:]  # the header "spans" the whole export
    with pytest.raises(RepoVerificationError) as refused:
        opened(huge)
    assert refused.value.code == "bad_car"
    assert "header" in str(refused.value)


def test_an_exact_lookup_needs_only_the_path_to_its_key() -> None:
    # a firehose commit's CAR holds the path to each op's key; a key in an inner node has a left neighbour subtree
    # that no lookup of it needs (reading it would fail a commit that carries only the path)
    keys = [f"pub.chive.review.comment/{n:05d}" for n in range(300)]
    inner = next(k for k in keys if MSTNode.key_height(k) >= 1 and k != keys[0])
    kept: set[bytes] = set()

    def only_the_path(state: dict[bytes, bytes]) -> None:
        commit = next(cid for cid, data in state.items() if b"sig" in data and b"version" in data)
        nodes = NodeStore(MemoryBlockStore(state))
        cid = decode_dag_cbor(state[commit])["data"]
        kept.add(commit)
        while cid is not None:
            kept.add(bytes(cid))
            node = nodes.get_node(cid)
            at = node.gte_index(inner)
            if at < len(node.keys) and node.keys[at] == inner:
                kept.add(bytes(node.vals[at]))
                break
            cid = node.subtrees[at]
        for cid in set(state) - kept:
            del state[cid]

    car = build_car({key: {"n": n} for n, key in enumerate(keys)}, tamper=only_the_path)
    repo = open_verified(io.BytesIO(car), did=DID, signing_key=KEY.did_key)
    try:
        assert repo.cid_at(inner) == bytes(block_cid(encode_dag_cbor({"n": keys.index(inner)})))
    finally:
        repo.close()


def sections(car: bytes) -> tuple[bytes, list[bytes]]:
    """A CAR's header (with its length) and its sections (each with its length), as written."""
    length, at = blocks._varint(car, 0)
    head, at = car[: at + length], at + length
    out = []
    while at < len(car):
        length, start = blocks._varint(car, at)
        out.append(car[at : start + length])
        at = start + length
    return head, out


@contextlib.contextmanager
def growing(car: bytes, step: int) -> Iterator[tuple[VerifiedRepo, list[int]]]:
    """``car`` opened while it is written ``step`` bytes at a time (each wait of the reader writes the next step);
    the sizes it was told are recorded."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "growing.car"
        written = min(step, len(car))
        path.write_bytes(car[:written])
        told: list[int] = []

        def grow() -> tuple[int, bool]:
            nonlocal written
            with path.open("ab") as out:
                out.write(car[written : written + step])
            written = min(len(car), written + step)
            told.append(written)
            return written, written == len(car)

        with path.open("rb") as file:  # open while it grows: each wait maps it again
            repo = open_verified(file, did=DID, signing_key=KEY.did_key, grow=grow, size=written)
            try:
                yield repo, told
            finally:
                repo.close()


@settings(max_examples=30, deadline=None)
@given(st.sets(st.tuples(keys, st.integers(0, 10**6)), max_size=200), st.randoms(), st.integers(1, 4000))
def test_a_growing_export_gives_the_same_records_in_any_block_order(
    entries: set[tuple[str, int]], rnd: random.Random, step: int
) -> None:
    records = {f"{collection}/{rkey:07d}": {"i": rkey} for collection, rkey in entries}
    car = build_car(records)
    head, parts = sections(car)
    rnd.shuffle(parts)  # a PDS may send the blocks in any order (the reference one: records newest first)
    shuffled = head + b"".join(parts)
    with growing(shuffled, step) as (repo, told):
        got = sorted(repo.records(PREFIX))
        repo.finish()
    assert got == sorted(opened(car).records(PREFIX))
    assert told == sorted(told)
    assert not told or told[-1] == len(shuffled)


def test_a_growing_export_hands_out_records_as_their_blocks_arrive() -> None:
    records = {f"pub.chive.review.comment/{i:04d}": {"i": i} for i in range(300)}
    car = build_car(records)
    head, parts = sections(car)
    newest_first = head + b"".join(reversed(parts))  # the order the reference PDS sends
    with growing(newest_first, 1024) as (repo, told):
        walk = repo.records(PREFIX)
        next(walk)
        assert told[-1] < len(newest_first) // 2  # the first record came with less than half of the export
        assert len(list(walk)) == 299


def test_a_subtree_holding_keys_outside_its_place_fails_a_growing_walk() -> None:
    record = encode_dag_cbor({"ok": True})
    value = block_cid(record)
    child = encode_dag_cbor({"l": None, "e": [{"k": b"pub.chive.x/z", "p": 0, "t": None, "v": value}]})
    # the left subtree of key m holds z: each node is in order, the tree is not
    root = {"l": block_cid(child), "e": [{"k": b"pub.chive.x/m", "p": 0, "t": None, "v": value}]}
    car = build_car(
        {}, root_node=root, tamper=lambda state: state.update({bytes(block_cid(child)): child, bytes(value): record})
    )
    with pytest.raises(RepoVerificationError) as whole:
        list(opened(car).records(PREFIX))
    with growing(car, 64) as (repo, _), pytest.raises(RepoVerificationError) as grown:
        list(repo.records(PREFIX))
    assert whole.value.code == grown.value.code == "bad_mst"


def test_a_growing_export_missing_a_node_or_cut_short_fails_once_it_has_ended() -> None:
    records = {f"pub.chive.review.comment/{i:04d}": {"i": i} for i in range(200)}

    def drop_a_subtree(state: dict[bytes, bytes]) -> None:
        commit = next(decode_dag_cbor(data) for data in state.values() if b"sig" in data)
        root = decode_dag_cbor(state[bytes(commit["data"])])
        del state[bytes(root["l"] or next(e["t"] for e in root["e"] if e["t"] is not None))]

    with (
        growing(build_car(records, tamper=drop_a_subtree), 512) as (repo, told),
        pytest.raises(RepoVerificationError) as missing,
    ):
        list(repo.records(PREFIX))
    assert missing.value.code == "missing_block"
    assert told[-1] == len(build_car(records, tamper=drop_a_subtree))  # waited for the end before saying so
    car = build_car(records)

    def read_cut() -> None:
        with growing(car[:-10], 512) as (repo, _):
            list(repo.records(PREFIX))
            repo.finish()

    with pytest.raises(RepoVerificationError) as cut:
        read_cut()
    assert cut.value.code == "bad_car"
