"""The live indexer end to end against a scripted source on loopback: verified commits applied with the cursor in
one transaction, forged and replayed ones not, a restart resuming from the committed cursor, FutureCursor
forgetting it, an unknown repository queued for a did-sync."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import cast

from support.engine import engine_config
from support.firehose import Repo, ScriptedSource, error_frame, frame, info_frame, scripted_source
from support.jwts import SigningKey

from chive_admin.auth.identity import Identity, IdentityResolver
from chive_admin.backfill.engine import Engine
from chive_admin.backfill.job_types import build_registry
from chive_admin.backfill.jobs import BUILTIN_JOBS
from chive_admin.clock import now_stamp
from chive_admin.ingest.handles import HandleVerifier
from chive_admin.live.handover import HeldCommits
from chive_admin.live.indexer import LiveIndexer
from chive_admin.store import firehose_cursors, index, operations
from chive_admin.store.db import Database
from chive_admin.upstream.firehose import FirehoseLimits
from chive_admin.upstream.handles import HandleResolver
from testnet import records

DID = "did:plc:indexerindexerindexerinde"
EPRINT = "at://did:plc:x/pub.chive.eprint.submission/x"
LIMITS = FirehoseLimits(backoff_base=0.01, backoff_cap=0.05, connect_deadline=5)


class Keys:
    """The identities of ``repos``, and the handles that resolve back to them."""

    def __init__(self, *repos: Repo) -> None:
        self.keys = {repo.did: repo.key for repo in repos}
        self.documents: dict[str, tuple[str | None, str | None]] = {}
        #: handle -> the DID it resolves to
        self.handles: dict[str, str] = {}

    async def resolve(self, did: str, *, current: bool = False) -> Identity:
        handle, pds = self.documents.get(did, (None, None))
        return Identity(did, self.keys[did].did_key, handle, pds)


class Handles:
    def __init__(self, keys: Keys) -> None:
        self.keys = keys

    async def resolve(self, handle: str) -> str | None:
        return self.keys.handles.get(handle)


def comment(text: str = "x") -> dict[str, object]:
    return records.review_comment(eprint_uri=EPRINT, text=text)


async def hold(db: Database, repo: Repo) -> None:
    """The repository as a did-sync would leave it: held, at its current rev, no data root."""
    async with db.write() as conn:
        await index.upsert_repo(conn, repo.did, now_stamp(), pds_url="http://pds.test", rev=repo.rev)


@asynccontextmanager
async def indexing(
    db: Database,
    source: ScriptedSource,
    *repos: Repo,
    keys: Keys | None = None,
    limits: FirehoseLimits = LIMITS,
    held: HeldCommits | None = None,
) -> AsyncIterator[LiveIndexer]:
    """A live indexer of ``source`` (its engine is not started: the ops it queues stay queued)."""
    engine = Engine(db, build_registry(BUILTIN_JOBS, ()), engine_config())
    keys = keys or Keys(*repos)
    live = LiveIndexer(
        source.url,
        db,
        cast(IdentityResolver, keys),
        HandleVerifier(cast(HandleResolver, Handles(keys))),
        engine,
        allow_private=True,
        limits=limits,
        held=held,
    )
    task = asyncio.create_task(live.run())
    try:
        yield live
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def until(check: Callable[[], bool]) -> None:
    for _ in range(1000):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition did not hold within 10 s")


async def held(db: Database, did: str) -> dict[str, tuple[str, int]]:
    async with db.read() as conn:
        rows = await conn.fetchall("SELECT uri, cid, writes FROM records WHERE did = ?", (did,))
    return {str(r[0]): (str(r[1]), int(r[2])) for r in rows}


async def queued(db: Database) -> list[tuple[str, dict[str, object]]]:
    async with db.read() as conn:
        return [(op.type, op.params) for op in await operations.list_active(conn, 10)]


def from_cursor(frames: dict[int, bytes]) -> Callable[[int | None], list[bytes]]:
    return lambda cursor: [data for seq, data in sorted(frames.items()) if cursor is None or seq > cursor]


async def test_commits_apply_forged_and_replayed_ones_do_not(db: Database) -> None:
    repo = Repo(DID)
    repo.commit(0)
    await hold(db, repo)
    first = repo.commit(1, put={"pub.chive.review.comment/a": comment()})
    forged_repo = Repo(
        DID, key=SigningKey(), records=dict(repo.records), rev_counter=repo.rev_counter, data=repo.data, rev=repo.rev
    )
    forged = forged_repo.commit(2, put={"pub.chive.review.comment/evil": comment("evil")})
    second = repo.commit(3, put={"pub.chive.review.comment/b": comment(), "app.bsky.feed.post/p": {"t": 1}})
    replayed = first[:]  # the same commit again, under a later sequence: its rev is not after the head's
    frames = [first, forged, second, replayed.replace(b"seq\x01", b"seq\x04")]
    source = ScriptedSource(lambda cursor: frames if cursor is None else [], hold=True)
    async with scripted_source(source), indexing(db, source, repo) as live:
        await until(lambda: live.stats.cursor == 4)
        assert live.stats.applied == 2
        assert live.stats.refused == 1
        assert live.stats.replayed == 1
    assert set(await held(db, DID)) == {
        f"at://{DID}/pub.chive.review.comment/a",
        f"at://{DID}/pub.chive.review.comment/b",
    }
    async with db.read() as conn:
        assert await firehose_cursors.get(conn, source.url) == 4
        head = (await index.repo_heads(conn, [DID]))[DID]
    assert repo.data is not None
    assert (head.rev, head.data_cid) == (repo.rev, repo.data.encode("base32"))


async def test_a_restart_resumes_from_the_committed_cursor_and_applies_nothing_twice(db: Database) -> None:
    repo = Repo(DID)
    repo.commit(0)
    await hold(db, repo)
    frames = {seq: repo.commit(seq, put={f"pub.chive.review.comment/{seq}": comment()}) for seq in (1, 2, 3)}
    source = ScriptedSource(from_cursor(frames), hold=True)
    async with scripted_source(source):
        async with indexing(db, source, repo) as live:
            await until(lambda: live.stats.cursor == 3)
        frames.update({seq: repo.commit(seq, put={"pub.chive.review.comment/1": comment(str(seq))}) for seq in (4, 5)})
        async with indexing(db, source, repo) as live:
            await until(lambda: live.stats.cursor == 5)
            assert live.stats.applied == 2
            assert live.stats.replayed == 0
    assert source.cursors == [None, 3]
    rows = await held(db, DID)
    assert len(rows) == 3
    assert rows[f"at://{DID}/pub.chive.review.comment/1"][1] == 3  # written, then rewritten twice
    assert {rows[f"at://{DID}/pub.chive.review.comment/{seq}"][1] for seq in (2, 3)} == {1}


async def test_future_cursor_forgets_the_cursor_and_starts_at_the_head(db: Database) -> None:
    repo = Repo(DID)
    repo.commit(0)
    await hold(db, repo)
    head = repo.commit(7, put={"pub.chive.review.comment/a": comment()})
    answers = {100: [error_frame("FutureCursor")], None: [head], 7: []}
    source = ScriptedSource(lambda cursor: answers[cursor])
    async with scripted_source(source):
        async with db.write() as conn:
            await firehose_cursors.advance(conn, source.url, 100, now_stamp())
        async with indexing(db, source, repo) as live:
            await until(lambda: live.stats.cursor == 7)
            assert live.stats.stream_errors == {"FutureCursor": 1}
    assert source.cursors[:2] == [100, None]
    assert await queued(db) == [("freshness-scan", {"tier": "all"})]


async def test_an_unknown_repository_with_chive_records_is_queued_for_a_did_sync(db: Database) -> None:
    repo = Repo(DID)
    frames = [repo.commit(1, put={"pub.chive.review.comment/a": comment()})]
    source = ScriptedSource(lambda cursor: frames if cursor is None else [], hold=True)
    async with scripted_source(source), indexing(db, source, repo) as live:
        await until(lambda: live.stats.cursor == 1)
        assert live.stats.resyncs == 1
    assert await queued(db) == [("did-sync", {"did": DID})]
    assert await held(db, DID) == {}


class Broken(Keys):
    async def resolve(self, did: str, *, current: bool = False) -> Identity:
        raise RuntimeError("a resolver bug")


async def test_a_commit_that_breaks_the_judge_is_refused_and_the_stream_goes_on(db: Database) -> None:
    repo = Repo(DID)
    repo.commit(0)
    await hold(db, repo)
    frames = [repo.commit(1, put={"pub.chive.review.comment/a": comment()}), repo.commit(2)]
    source = ScriptedSource(lambda cursor: frames if cursor is None else [], hold=True)
    async with scripted_source(source), indexing(db, source, keys=Broken(repo)) as live:
        await until(lambda: live.stats.cursor == 2)
    assert live.stats.refused == 2
    assert live.stats.connections == 1  # not restarted


async def test_a_source_that_ignores_the_cursor_is_not_believed_twice(db: Database) -> None:
    # without the sequence floor, the repeated commit of a repository not held would queue its did-sync again
    repo = Repo(DID)
    frames = [repo.commit(1, put={"pub.chive.review.comment/a": comment()})]
    source = ScriptedSource(lambda cursor: frames)  # every connection from the start, whatever it asked
    async with scripted_source(source), indexing(db, source, repo) as live:
        await until(lambda: len(source.cursors) >= 3 and live.stats.replayed >= 2)
        assert live.stats.resyncs == 1
    assert source.cursors[1:3] == [1, 1]


async def test_stream_troubles_are_counted_and_the_cursor_holds(db: Database) -> None:
    repo = Repo(DID)
    repo.commit(0)
    await hold(db, repo)
    first = repo.commit(1, put={"pub.chive.review.comment/a": comment()})
    big = frame({"op": 1, "t": "#identity"}, {"seq": 2, "did": DID, "pad": b"x" * 200_000})
    answers = {
        None: [first, info_frame("OutdatedCursor"), b"\xff", error_frame("ConsumerTooSlow")],
        1: [big],
    }
    source = ScriptedSource(lambda cursor: answers.get(cursor, []))
    limits = FirehoseLimits(max_frame_bytes=100_000, backoff_base=0.01, backoff_cap=0.05)
    async with scripted_source(source), indexing(db, source, repo, limits=limits) as live:
        await until(lambda: live.stats.too_large >= 1)
    stats = live.stats
    assert (stats.applied, stats.infos, stats.undecodable) == (1, 1, 1)
    assert stats.stream_errors == {"ConsumerTooSlow": 1}
    assert stats.cursor == 1  # the oversized event was never read: its sequence is not passed
    assert source.cursors[:2] == [None, 1]  # after ConsumerTooSlow: from the committed cursor
    # the OutdatedCursor's gap is repaired by a freshness-scan
    assert stats.gaps == 1
    assert await queued(db) == [("freshness-scan", {"tier": "all"})]
