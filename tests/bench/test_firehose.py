"""The firehose bench: its commits are ones the live indexer applies (valid, signed, each chaining from the last,
their diffs proving their paths), so it measures the apply path and not resyncs; a small run prints both rows."""

from __future__ import annotations

from support.jwts import SigningKey

from bench import firehose
from chive_admin.auth.identity import Identity
from chive_admin.ingest.live_commit import Verdict, judge
from chive_admin.store.index import RepoHead
from chive_admin.upstream.firehose import Commit, decode_frame


class Keys:
    def __init__(self, keys: dict[str, SigningKey]) -> None:
        self.keys = keys

    async def resolve(self, did: str, *, current: bool = False) -> Identity:
        return Identity(did, self.keys[did].did_key, None, None)


async def test_every_built_commit_applies_in_order() -> None:
    work = firehose.build(120, 3)
    heads = {did: RepoHead(rev, data, None) for did, rev, data in work.heads}
    keys = Keys({chain.did: chain.key for chain in work.chains})
    for frame in work.frames:
        commit = decode_frame(frame)
        assert isinstance(commit, Commit)
        judgement = await judge(commit, heads[commit.repo], keys)  # type: ignore[arg-type]
        assert judgement.verdict is Verdict.APPLY, judgement.reason
        assert len(judgement.upserts) == 1
        heads[commit.repo] = RepoHead(judgement.rev, judgement.data_cid, None)


def test_a_small_run_reports_the_ratio_and_the_lag() -> None:
    title, rows = firehose.measure(["--commits", "60", "--repos", "2", "--rate", "100", "--seconds", "0.5"])
    assert "60 commits" in title
    assert [row[0] for row in rows] == ["applied commits/s (SQLite)", "lag at 100 commits/s"]
    assert rows[0][1].endswith("commits/s")
    assert rows[1][1].startswith("p50 ")
