"""The hold of live commits during a did-sync: in order per repository, bounded by commits and by bytes."""

from __future__ import annotations

from cbrrr import CID

from chive_admin.live.handover import HeldCommits
from chive_admin.upstream.firehose import Commit

A, B = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", "did:plc:bbbbbbbbbbbbbbbbbbbbbbbb"
CID0 = CID.cidv1_dag_cbor_sha256_32_from(b"\xa0")


def commit(did: str, seq: int, size: int = 10) -> Commit:
    return Commit(seq, did, f"3m{seq:011d}", None, CID0, None, b"x" * size, (), False)


def test_released_in_order_per_repository() -> None:
    held = HeldCommits()
    for c in (commit(A, 1), commit(B, 2), commit(A, 3)):
        held.add(c)
    assert held.dids() == {A, B}
    assert held.release(A) == [commit(A, 1), commit(A, 3)]
    assert (held.commits, held.bytes) == (1, 10)
    assert held.release(A) == []
    assert held.release(B) == [commit(B, 2)]
    assert not held


def test_over_the_bytes_the_largest_repository_is_dropped_and_marked() -> None:
    held = HeldCommits(max_bytes=100)
    held.add(commit(A, 1, 60))
    held.add(commit(B, 2, 30))
    held.add(commit(A, 3, 20))  # 110 bytes: A holds the most
    assert (held.commits, held.bytes) == (1, 30)
    held.add(commit(A, 4))  # not taken: A's next sync replaces it all
    assert held.commits == 1
    assert held.dids() == {A, B}
    assert held.release(A) is None  # must be synced again
    assert held.dids() == {B}


def test_over_the_count() -> None:
    held = HeldCommits(max_commits=2)
    for seq in (1, 2, 3):
        held.add(commit(B, seq))
    assert held.release(B) is None
    assert not held
