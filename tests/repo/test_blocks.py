"""The CAR block index: the same blocks atmst's reader finds, every read checked against its CID, and malformed
files refused as such, whether the file is read into memory or mapped."""

from __future__ import annotations

import contextlib
import io
import tempfile
import tracemalloc
from pathlib import Path

import pytest
from atmst.blockstore.car_file import ReadOnlyCARBlockStore, encode_varint
from cbrrr import CID, encode_dag_cbor
from hypothesis import given, settings
from hypothesis import strategies as st

from chive_admin.repo import blocks
from chive_admin.repo.blocks import BadBlock, BadCar, CarBlocks, TooManyBlocks


def car(values: list[object], *, header: object = None, raw: list[tuple[bytes, bytes]] = ()) -> tuple[bytes, list[CID]]:
    """A CAR of ``values`` as DAG-CBOR blocks (and ``raw`` (cid, data) sections as given), rooted at the first."""
    sections = [(bytes(CID.cidv1_dag_cbor_sha256_32_from(data)), data) for data in map(encode_dag_cbor, values)]
    sections += list(raw)
    cids = [CID(cid) for cid, _ in sections]
    head = encode_dag_cbor(header if header is not None else {"version": 1, "roots": cids[:1]})
    out = [encode_varint(len(head)), head]
    for cid, data in sections:
        out += [encode_varint(len(cid) + len(data)), cid, data]
    return b"".join(out), cids


scalars = st.integers(-(2**63), 2**63 - 1) | st.text(max_size=300)
values = st.lists(st.dictionaries(st.text(max_size=5), scalars), min_size=1, max_size=40)


@settings(max_examples=50, deadline=None)
@given(values)
def test_same_blocks_as_atmsts_reader(contents: list[object]) -> None:
    data, cids = car(contents)
    ours, theirs = CarBlocks(io.BytesIO(data)), ReadOnlyCARBlockStore(io.BytesIO(data))
    assert ours.root == theirs.car_root
    for cid in cids:
        assert ours.get(bytes(cid)) == theirs.get_block(bytes(cid))
    with pytest.raises(KeyError):
        ours.get(bytes(CID.cidv1_dag_cbor_sha256_32_from(b"not a block of this CAR")))


def test_a_block_that_does_not_hash_to_its_cid_is_refused() -> None:
    data, [cid] = car([{"text": "hello"}])
    forged = data.replace(b"hello", b"jello")
    store = CarBlocks(io.BytesIO(forged))  # the index does not hash: a block is checked when it is read
    with pytest.raises(BadBlock):
        store.get(bytes(cid))


def test_a_large_export_is_mapped_not_copied(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(blocks, "IN_MEMORY_MAX", 100)
    data, cids = car([{"n": i, "pad": "x" * 50} for i in range(20)])
    with tempfile.TemporaryFile(dir=tmp_path) as file:
        file.write(data)
        store = CarBlocks(file)
        assert not isinstance(store._buf, bytes)
        assert [store.get(bytes(c)) for c in cids] == [encode_dag_cbor({"n": i, "pad": "x" * 50}) for i in range(20)]
        store.close()
    # an in-memory file is read as it is, whatever its size
    assert isinstance(CarBlocks(io.BytesIO(data))._buf, bytes)


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda data: data[:-5], "past the end"),
        (lambda data: data + b"\x80", "varint"),
        (lambda data: b"\x05" + data[1:], "not DAG-CBOR|CAR v1|one root"),
    ],
)
def test_truncated_or_garbled_cars_are_refused(mangle: object, message: str) -> None:
    data, _ = car([{"a": 1}, {"b": 2}])
    with pytest.raises(BadCar, match=message):
        CarBlocks(io.BytesIO(mangle(data)))  # type: ignore[operator]


@pytest.mark.parametrize(
    "header",
    [
        {"version": 2, "roots": []},
        {"version": 1, "roots": []},
        {"version": 1, "roots": [CID.cidv1_dag_cbor_sha256_32_from(b"\xa0")] * 2},
        {"version": 1, "roots": ["not a cid"]},
        [1],
    ],
)
def test_headers_other_than_one_root_car_v1_are_refused(header: object) -> None:
    data, _ = car([{"a": 1}], header=header)
    with pytest.raises(BadCar):
        CarBlocks(io.BytesIO(data))


def test_a_block_addressed_by_another_kind_of_cid_is_refused() -> None:
    raw_cid = b"\x01\x55\x12\x20" + bytes(32)  # CIDv1, raw codec, sha2-256
    data, _ = car([{"a": 1}], raw=[(raw_cid, b"bytes")])
    with pytest.raises(BadCar, match="CIDv1 DAG-CBOR"):
        CarBlocks(io.BytesIO(data))


def test_the_index_costs_a_few_bytes_a_block_not_a_dict_entry(tmp_path: Path) -> None:
    # a dict of CID bytes to offsets was about 220 bytes a block: 12 GB for a hostile 2 GB export of tiny blocks
    data, _ = car([{"n": i} for i in range(20_000)])
    path = tmp_path / "export.car"
    path.write_bytes(data)
    with path.open("rb") as file:
        tracemalloc.start()
        try:
            store = CarBlocks(file)  # reads the file into one new buffer
            held, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert store.count == 20_000
    assert held > len(data)
    assert (held - len(data)) / store.count < 40  # the table: 12-24 bytes a block


def test_an_index_that_outgrows_its_first_size_still_finds_every_block(tmp_path: Path) -> None:
    # blocks of a few bytes: the table is sized for 200-byte blocks, so it regrows several times
    data, cids = car([{"n": i} for i in range(30_000)])
    for store in (CarBlocks(io.BytesIO(data)), _mapped(data, tmp_path)):
        assert store.count == 30_000
        assert [store.get(bytes(c)) for c in cids[::97]] == [encode_dag_cbor({"n": i}) for i in range(0, 30_000, 97)]
        with pytest.raises(KeyError):
            store.get(bytes(CID.cidv1_dag_cbor_sha256_32_from(encode_dag_cbor({"n": 30_000}))))
        store.close()


def _mapped(data: bytes, tmp_path: Path) -> CarBlocks:
    path = tmp_path / "export.car"
    path.write_bytes(data)
    with path.open("rb") as file:
        return CarBlocks(file)


def test_a_block_met_again_is_indexed_once_and_read_from_its_first_copy() -> None:
    block = encode_dag_cbor({"text": "hello"})
    cid = bytes(CID.cidv1_dag_cbor_sha256_32_from(block))
    # each copy of a CID is found in the slot of the first (probing past every earlier copy would be quadratic)
    data, _ = car([{"root": True}], raw=[(cid, block)] * 5_000)
    store = CarBlocks(io.BytesIO(data))
    assert store.count == 2
    assert store.get(cid) == block
    forged_first, _ = car([{"root": True}], raw=[(cid, b"\xa0"), (cid, block)])
    with pytest.raises(BadBlock):
        CarBlocks(io.BytesIO(forged_first)).get(cid)


def test_an_export_of_more_blocks_than_the_cap_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(blocks, "MAX_BLOCKS", 2_000)
    data, _ = car([{"n": i} for i in range(2_000)])
    assert CarBlocks(io.BytesIO(data)).count == 2_000
    data, _ = car([{"n": i} for i in range(2_001)])
    with pytest.raises(TooManyBlocks, match="more than 2,000 blocks"):
        CarBlocks(io.BytesIO(data))
    # a file of few large blocks is not given a table larger than the cap needs (here 2,048 slots)
    data, _ = car([{"pad": "x" * 10_000, "n": i} for i in range(100)])
    assert len(CarBlocks(io.BytesIO(data))._table) == 2_048


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.integers(0, 10_000))
def test_any_bytes_after_a_header_are_indexed_or_refused_as_a_bad_car(tail: bytes, cut: int) -> None:
    data, cids = car([{"a": 1}, {"b": "x" * 200}])
    spliced = data[: min(cut, len(data))] + tail
    try:
        store = CarBlocks(io.BytesIO(spliced))
    except BadCar:
        return
    for cid in cids:
        with contextlib.suppress(KeyError, BadBlock):
            store.get(bytes(cid))


sections = st.lists(
    st.tuples(st.integers(0, 20_000), st.binary(max_size=33), st.sampled_from([blocks.CID_PREFIX, b"\x01q\x12\x21"])),
    max_size=20,
)


@settings(max_examples=300, deadline=None)
@given(sections)
def test_sections_of_any_claimed_length_are_indexed_or_refused_as_a_bad_car(
    parts: list[tuple[int, bytes, bytes]],
) -> None:
    data, _ = car([{"a": 1}])
    for claimed, digest, prefix in parts:  # a length that may disagree with what follows it
        data += encode_varint(claimed) + prefix + digest.ljust(32, b"\0") + bytes(min(claimed, 300))
    try:
        store = CarBlocks(io.BytesIO(data))
    except BadCar:
        return
    assert store.count >= 1


@pytest.mark.parametrize("claimed", ["all that follows", "more than remains", "past any varint"])
def test_a_header_claiming_a_huge_length_is_refused_without_copying_the_export(claimed: str, tmp_path: Path) -> None:
    # a 20 MB export, mapped: its header's length used to be sliced out of the mapping whole (a copy of the export)
    body, _ = car([{"pad": "x" * 10_000, "n": i} for i in range(2_000)])
    head_length, at = blocks._varint(body, 0)
    rest = body[at:]
    length = {
        "all that follows": len(rest),
        "more than remains": len(rest) + 1_000,
        "past any varint": 2**62,
    }[claimed]
    path = tmp_path / "export.car"
    path.write_bytes(encode_varint(length) + rest)
    with path.open("rb") as file:
        tracemalloc.start()
        try:
            with pytest.raises(BadCar, match="header"):
                CarBlocks(file)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 1024 * 1024
    assert head_length < blocks.MAX_HEADER_BYTES  # a real header is tiny
