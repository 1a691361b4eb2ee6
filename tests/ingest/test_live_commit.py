"""Judging a firehose commit: signature (with one re-resolution), the ops against the signed tree, rev order and
the prevData chain; what it means for the index."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import pytest
from support.firehose import Repo, block_cid
from support.jwts import SigningKey

from chive_admin.auth.identity import Identity, IdentityResolver
from chive_admin.ingest.live_commit import Judgement, Verdict, judge
from chive_admin.store.index import RepoHead
from chive_admin.upstream.firehose import Commit, decode_frame
from testnet import records

DID = "did:plc:livelivelivelivelivelivel"
EPRINT = "at://did:plc:x/pub.chive.eprint.submission/x"
PATH = "pub.chive.review.comment/a"


@dataclass
class Keys:
    """The DID's key as resolved: ``stale`` is what the cache answers until a current resolution is asked for."""

    key: SigningKey
    stale: SigningKey | None = None
    asked: list[bool] = field(default_factory=list)

    async def resolve(self, did: str, *, current: bool = False) -> Identity:
        self.asked.append(current)
        key = self.stale if self.stale is not None and not current else self.key
        return Identity(did, key.did_key, None, None)


def commit_of(data: bytes) -> Commit:
    event = decode_frame(data)
    assert isinstance(event, Commit)
    return event


def head_of(repo: Repo) -> RepoHead:
    assert repo.data is not None
    return RepoHead(repo.rev, repo.data.encode("base32"), "http://pds.test")


async def judged(repo: Repo, data: bytes, head: RepoHead | None, keys: Keys | None = None) -> Judgement:
    return await judge(commit_of(data), head, cast(IdentityResolver, keys or Keys(repo.key)))


def comment() -> dict[str, object]:
    return records.review_comment(eprint_uri=EPRINT)


async def test_a_chained_commit_applies_its_chive_ops_only() -> None:
    repo = Repo(DID)
    repo.commit(1, put={"app.bsky.feed.post/z": {"text": "x"}})
    head = head_of(repo)
    data = repo.commit(2, put={PATH: comment(), "app.bsky.feed.post/y": {"text": "y"}})
    judgement = await judged(repo, data, head)
    assert judgement.verdict is Verdict.APPLY
    assert [r.uri for r in judgement.upserts] == [f"at://{DID}/{PATH}"]
    assert judgement.rev == repo.rev
    assert repo.data is not None
    assert judgement.data_cid == repo.data.encode("base32")
    delete = await judged(repo, repo.commit(3, delete=(PATH,)), head_of_after(judgement))
    assert delete.verdict is Verdict.APPLY
    assert delete.deletes == [f"at://{DID}/{PATH}"]


def head_of_after(judgement: Judgement) -> RepoHead:
    return RepoHead(judgement.rev, judgement.data_cid, None)


async def test_an_invalid_record_is_set_aside_not_applied() -> None:
    repo = Repo(DID)
    repo.commit(1)
    head = head_of(repo)
    judgement = await judged(repo, repo.commit(2, put={PATH: {"$type": "pub.chive.review.comment", "body": 1}}), head)
    assert judgement.verdict is Verdict.APPLY
    assert judgement.upserts == []
    assert [i.uri for i in judgement.invalid] == [f"at://{DID}/{PATH}"]


async def test_a_commit_signed_by_another_key_is_refused_after_one_fresh_resolution() -> None:
    repo = Repo(DID)
    repo.commit(1)
    head = head_of(repo)
    keys = Keys(repo.key)
    judgement = await judged(repo, repo.commit(2, put={PATH: comment()}, signer=SigningKey()), head, keys)
    assert judgement.verdict is Verdict.REFUSE
    assert "bad_signature" in judgement.reason
    assert keys.asked == [False, True]


async def test_a_rotated_key_is_found_by_the_fresh_resolution() -> None:
    repo = Repo(DID)
    repo.commit(1)
    head = head_of(repo)
    keys = Keys(repo.key, stale=SigningKey())
    judgement = await judged(repo, repo.commit(2, put={PATH: comment()}), head, keys)
    assert judgement.verdict is Verdict.APPLY
    assert keys.asked == [False, True]


async def test_an_op_whose_cid_is_not_the_signed_trees_is_refused() -> None:
    repo = Repo(DID)
    repo.commit(1)
    head = head_of(repo)
    forged = {PATH: block_cid(b"\xa0")}
    judgement = await judged(repo, repo.commit(2, put={PATH: comment()}, op_cids=forged), head)
    assert judgement.verdict is Verdict.REFUSE


async def test_a_replayed_or_older_rev_is_skipped_before_any_verification() -> None:
    repo = Repo(DID)
    old = repo.commit(1, put={PATH: comment()})
    repo.commit(2)
    keys = Keys(repo.key)
    assert (await judged(repo, old, head_of(repo), keys)).verdict is Verdict.REPLAY
    assert keys.asked == []


@pytest.mark.parametrize("stored_root", [True, False])
async def test_a_commit_that_does_not_chain_asks_for_a_resync(stored_root: bool) -> None:
    repo = Repo(DID)
    repo.commit(1)
    head = head_of(repo)
    repo.commit(2, put={PATH: comment()})  # missed
    data = repo.commit(3, put={"pub.chive.review.comment/b": comment()})
    if not stored_root:  # a snapshot's head: the rev chain is what is left to check
        head = RepoHead(head.rev, None, None)
    assert (await judged(repo, data, head)).verdict is Verdict.RESYNC


async def test_a_head_without_a_root_chains_by_since() -> None:
    repo = Repo(DID)
    repo.commit(1)
    data = repo.commit(2, put={PATH: comment()})
    assert (await judged(repo, data, RepoHead(commit_of(data).since, None, None))).verdict is Verdict.APPLY


async def test_too_big_asks_for_a_resync_and_unknown_repositories_too() -> None:
    repo = Repo(DID)
    repo.commit(1)
    head = head_of(repo)
    assert (await judged(repo, repo.commit(2, put={PATH: comment()}, too_big=True), head)).verdict is (Verdict.RESYNC)
    other = Repo("did:plc:otherotherotherotherother")
    assert (await judged(other, other.commit(1, put={PATH: comment()}), None)).verdict is Verdict.RESYNC
    # nothing of pub.chive and not held: not even verified
    keys = Keys(other.key)
    ignored = await judged(other, other.commit(2, put={"app.bsky.feed.post/a": {"t": 1}}), None, keys)
    assert ignored.verdict is Verdict.IGNORE
    assert keys.asked == []


async def test_a_chive_collection_without_a_lexicon_is_neither_indexed_nor_dead_lettered() -> None:
    repo = Repo(DID)
    repo.commit(1)
    head = head_of(repo)
    judgement = await judged(repo, repo.commit(2, put={"pub.chive.future.thing/a": {"x": 1}}), head)
    assert judgement.verdict is Verdict.APPLY
    assert judgement.upserts == []
    assert judgement.invalid == []


async def test_a_repo_that_is_no_did_is_refused_without_a_resolution() -> None:
    repo = Repo("not a did")
    keys = Keys(repo.key)
    judgement = await judged(repo, repo.commit(1, put={PATH: comment()}), None, keys)
    assert judgement.verdict is Verdict.REFUSE
    assert keys.asked == []
