"""The live indexer end to end against a scripted source on loopback: verified commits applied with the cursor in
one transaction, forged and replayed ones not, a restart resuming from the committed cursor, FutureCursor
forgetting it, an unknown repository queued for a did-sync."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, cast

import pytest
from cbrrr import decode_multi_dag_cbor_in_violation_of_the_spec
from support import polling
from support.engine import engine_config
from support.firehose import Repo, ScriptedSource, error_frame, frame, handle_verifier, info_frame, scripted_source
from support.jwts import SigningKey

from chive_admin.auth.identity import Identity, IdentityResolver
from chive_admin.backfill.engine import Engine
from chive_admin.backfill.job_types import build_registry
from chive_admin.backfill.jobs import BUILTIN_JOBS
from chive_admin.clock import now_stamp, parse_stamp
from chive_admin.live.handover import HeldCommits
from chive_admin.live.indexer import LiveIndexer
from chive_admin.store import firehose_cursors, index, operations
from chive_admin.store.db import Database
from chive_admin.upstream.firehose import FirehoseLimits
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
        handle_verifier(keys.handles),
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


def account(seq: int, did: str, active: bool, status: str | None = None) -> bytes:
    body: dict[str, object] = {"seq": seq, "did": did, "active": active, "time": "2026-12-06T00:00:00.000Z"}
    if status is not None:
        body["status"] = status
    return frame({"op": 1, "t": "#account"}, body)


async def visible(db: Database, did: str) -> set[str]:
    async with db.read() as conn:
        rows = await conn.fetchall("SELECT uri FROM records WHERE did = ? AND hidden = 0", (did,))
    return {str(r[0]) for r in rows}


async def repo_status(db: Database, did: str) -> str:
    async with db.read() as conn:
        row = await conn.fetchone("SELECT status FROM repos WHERE did = ?", (did,))
    assert row is not None
    return str(row[0])


async def test_account_events_hide_bring_back_and_purge(db: Database) -> None:
    repo = Repo(DID)
    repo.commit(0)
    await hold(db, repo)
    frames = {1: repo.commit(1, put={"pub.chive.review.comment/a": comment()})}
    source = ScriptedSource(from_cursor(frames), hold=True)
    uri = f"at://{DID}/pub.chive.review.comment/a"
    async with scripted_source(source):
        async with indexing(db, source, repo) as live:
            await until(lambda: live.stats.cursor == 1)
        assert await visible(db, DID) == {uri}
        # an account the index does not hold is no business of it
        frames[2] = account(2, "did:plc:someoneelsesomeoneelse", False, "takendown")
        frames[3] = account(3, DID, False, "takendown")
        async with indexing(db, source, repo) as live:
            await until(lambda: live.stats.cursor == 3)
        assert await visible(db, DID) == set()
        assert set(await held(db, DID)) == {uri}  # hidden, not gone
        assert await repo_status(db, DID) == "takendown"
        assert await queued(db) == []
        frames[4] = account(4, DID, True)
        frames[5] = account(5, DID, True)  # the same status again changes nothing
        async with indexing(db, source, repo) as live:
            await until(lambda: live.stats.cursor == 5)
            assert live.stats.accounts == 2
        assert await visible(db, DID) == {uri}
        assert await repo_status(db, DID) == "active"
        # what changed while it was away is not in the stream: the repository is synced again
        assert await queued(db) == [("did-sync", {"did": DID})]
        frames[6] = account(6, DID, False, "deleted")
        async with indexing(db, source, repo) as live:
            await until(lambda: live.stats.cursor == 6)
    assert await held(db, DID) == {}
    assert await repo_status(db, DID) == "deleted"
    async with db.read() as conn:
        head = (await index.repo_heads(conn, [DID]))[DID]
    assert (head.rev, head.data_cid) == (None, None)


def identity_frame(seq: int, did: str) -> bytes:
    return frame({"op": 1, "t": "#identity"}, {"seq": seq, "did": did, "handle": "ignored.test"})


async def test_identity_events_store_the_verified_handle_and_the_pds(db: Database) -> None:
    repo = Repo(DID)
    repo.commit(0)
    await hold(db, repo)
    keys = Keys(repo)
    keys.documents[DID] = ("New.Example.Test", "https://PDS2.example.test/")
    keys.handles["new.example.test"] = DID
    frames = {1: identity_frame(1, DID)}
    source = ScriptedSource(from_cursor(frames), hold=True)

    async def stored() -> tuple[object, ...]:
        async with db.read() as conn:
            row = await conn.fetchone("SELECT handle, pds_url FROM repos WHERE did = ?", (DID,))
            pdses = await index.known_pds_urls(conn)
        assert row is not None
        return (row[0], row[1], "https://pds2.example.test" in pdses)

    async with scripted_source(source):
        async with indexing(db, source, keys=keys) as live:
            await until(lambda: live.stats.cursor == 1)
        assert await stored() == ("new.example.test", "https://pds2.example.test", True)
        # the document now claims a handle that does not resolve back: no handle is stored, not the claim
        keys.documents[DID] = ("stolen.example.test", "https://pds2.example.test")
        keys.handles["stolen.example.test"] = "did:plc:theownertheownertheowner"
        frames[2] = identity_frame(2, DID)
        async with indexing(db, source, keys=keys) as live:
            await until(lambda: live.stats.cursor == 2)
            assert live.stats.identities == 1
        assert await stored() == (None, "https://pds2.example.test", True)


def sync_frame(seq: int, repo: Repo, signer: SigningKey | None = None) -> bytes:
    """A #sync of ``repo`` as it stands (its last commit's CAR, which carries the commit block as its root)."""
    commit = repo.commit(seq, signer=signer)  # a commit with no ops: the same data root under a new rev
    body = decode_body(commit)
    return frame({"op": 1, "t": "#sync"}, {"seq": seq, "did": repo.did, "rev": body["rev"], "blocks": body["blocks"]})


def decode_body(data: bytes) -> dict[str, Any]:
    parts = list(decode_multi_dag_cbor_in_violation_of_the_spec(data))
    body = parts[1]
    assert isinstance(body, dict)
    return body


async def test_sync_events_move_the_head_or_resync(db: Database) -> None:
    repo = Repo(DID)
    repo.commit(0)
    await hold(db, repo)
    frames = {1: repo.commit(1, put={"pub.chive.review.comment/a": comment()})}
    # the same records under a newer rev: the head moves, nothing is synced
    frames[2] = sync_frame(2, repo)
    source = ScriptedSource(from_cursor(frames), hold=True)
    async with scripted_source(source):
        async with indexing(db, source, repo) as live:
            await until(lambda: live.stats.cursor == 2)
            assert (live.stats.syncs, live.stats.applied, live.stats.resyncs) == (1, 2, 0)
        async with db.read() as conn:
            assert (await index.repo_heads(conn, [DID]))[DID].rev == repo.rev
        # a forged #sync is refused; an older one is a replay
        forged = sync_frame(3, Repo(DID, records=dict(repo.records), rev_counter=repo.rev_counter + 5), SigningKey())
        frames[3] = forged
        frames[4] = frame({"op": 1, "t": "#sync"}, {**decode_body(frames[2]), "seq": 4})
        # records changed out of the stream's sight: a #sync with another data root resyncs
        repo.records["pub.chive.review.comment/b"] = b"\xa0"
        frames[5] = sync_frame(5, repo)
        async with indexing(db, source, repo) as live:
            await until(lambda: live.stats.cursor == 5)
            assert (live.stats.refused, live.stats.replayed, live.stats.resyncs) == (1, 1, 1)
    assert await queued(db) == [("did-sync", {"did": DID})]


async def syncing(db: Database, did: str) -> str:
    """A did-sync of ``did`` queued (the engine is not started: it stays queued until cancelled)."""
    async with db.write() as conn:
        op, _ = await operations.insert_or_reuse(
            conn,
            op_id=f"op-{did[-6:]}",
            op_type="did-sync",
            params={"did": did},
            started_by=None,
            now=now_stamp(),
            max_queued=10,
        )
    return op.id


async def sync_ends(db: Database, op_id: str, repo: Repo, snapshot: dict[str, bytes], rev: str, data: str) -> None:
    """What a did-sync's last batch does: the records of its export, its rev and data root; then it ends."""
    async with db.write() as conn:
        await conn.execute("DELETE FROM records WHERE did = ?", (repo.did,))
        for path in snapshot:
            collection, _, rkey = path.partition("/")
            await index.upsert_records(
                conn,
                [index.IndexedRecord.from_parts(repo.did, collection, rkey, "cid-" + rkey, comment())],
                now_stamp(),
            )
        await index.upsert_repo(conn, repo.did, now_stamp(), rev=rev, data_cid=data)
        await operations.request_cancel(conn, op_id, now_stamp())


async def test_commits_of_a_repository_being_synced_wait_for_its_snapshot(db: Database) -> None:
    repo = Repo(DID)
    repo.commit(0)
    await hold(db, repo)
    op_id = await syncing(db, DID)
    frames = {seq: repo.commit(seq, put={f"pub.chive.review.comment/{seq}": comment()}) for seq in (1, 2)}
    # the sync's export was made here: it holds commits 1 and 2
    snapshot, rev, data = dict(repo.records), repo.rev, repo.data
    assert rev is not None
    assert data is not None
    frames[3] = repo.commit(3, put={"pub.chive.review.comment/3": comment()}, delete=("pub.chive.review.comment/1",))
    source = ScriptedSource(from_cursor(frames), hold=True)
    async with scripted_source(source), indexing(db, source, repo) as live:
        await until(lambda: live.stats.cursor == 3)
        assert live.stats.held == 3
        assert await held(db, DID) == {}  # nothing applied under the sync's feet
        await sync_ends(db, op_id, repo, snapshot, rev, data.encode("base32"))
        await until(lambda: live.stats.handed_over == 3)

        async def at_head() -> bool:
            async with db.read() as conn:
                return (await index.repo_heads(conn, [DID]))[DID].rev == repo.rev

        await polling.until(at_head)
        assert (live.stats.applied, live.stats.replayed) == (1, 2)  # two were in the snapshot already
    assert set(await held(db, DID)) == {f"at://{DID}/pub.chive.review.comment/{n}" for n in (2, 3)}
    async with db.read() as conn:
        assert (await index.repo_heads(conn, [DID]))[DID].rev == repo.rev
    assert await queued(db) == []


def resync_queued(db: Database) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await queued(db) == [("did-sync", {"did": DID})]

    return check


async def test_a_held_commit_that_does_not_chain_from_the_snapshot_resyncs(db: Database) -> None:
    repo = Repo(DID)
    repo.commit(0)
    await hold(db, repo)
    op_id = await syncing(db, DID)
    frames = {1: repo.commit(1, put={"pub.chive.review.comment/1": comment()})}
    source = ScriptedSource(from_cursor(frames), hold=True)
    async with scripted_source(source), indexing(db, source, repo) as live:
        await until(lambda: live.stats.held == 1)
        # a snapshot from another branch of history than the held commit's (its data root is not prevData)
        await sync_ends(db, op_id, repo, {}, "3a0000000000", "bafyreiother")
        await polling.until(resync_queued(db))
        assert live.stats.resyncs == 1


async def test_the_hold_is_bounded_and_an_overflowing_repository_is_synced_again(db: Database) -> None:
    repo = Repo(DID)
    repo.commit(0)
    await hold(db, repo)
    op_id = await syncing(db, DID)
    frames = {seq: repo.commit(seq, put={f"pub.chive.review.comment/{seq}": comment()}) for seq in (1, 2, 3)}
    source = ScriptedSource(from_cursor(frames), hold=True)
    bound = HeldCommits(max_commits=2)
    async with scripted_source(source), indexing(db, source, repo, held=bound) as live:
        await until(lambda: live.stats.cursor == 3)
        assert bound.commits == 0  # dropped whole, and no more taken in
        assert bound.dids() == {DID}
        await sync_ends(db, op_id, repo, {}, "3a0000000000", "bafyreiother")
        await polling.until(resync_queued(db))
        assert not bound
        assert live.stats.handed_over == 0


async def test_the_flow_counts_events_by_kind_and_reads_no_lag_once_all_is_committed(db: Database) -> None:
    repo = Repo(DID)
    repo.commit(0)
    await hold(db, repo)
    frames = [
        repo.commit(1, put={"pub.chive.review.comment/a": comment()}, time="2026-12-06T10:00:00Z"),
        frame({"op": 1, "t": "#identity"}, {"seq": 2, "did": DID, "time": "2026-12-06T10:00:01Z"}),
        info_frame("OutdatedCursor"),
        repo.commit(3, time="2026-12-06T10:00:02Z"),
    ]
    source = ScriptedSource(lambda cursor: frames if cursor is None else [], hold=True)
    async with scripted_source(source), indexing(db, source, repo) as live:
        # the OutdatedCursor's repair is the batch's last step
        await until(lambda: live.stats.cursor == 3 and live.stats.gaps == 1)
        flow = live.stats.flow
        assert flow.connected
        assert {kind: n for kind, n in flow.events.items() if n} == {"commit": 2, "identity": 1, "info": 1}
        assert flow.lag(live.clock()) == 0.0
        assert flow.applied_event_at == flow.newest_event_at == parse_stamp("2026-12-06T10:00:02Z").timestamp()
        assert flow.events_last_minute(live.clock()) == 4


def fails_once(real: Callable[..., Awaitable[None]]) -> tuple[Callable[..., Awaitable[None]], list[int]]:
    """``real``, except that its first call raises inside the caller's transaction (the database went away)."""
    calls: list[int] = []

    async def flaky(*args: Any, **kwargs: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("the database went away")
        await real(*args, **kwargs)

    return flaky, calls


async def test_a_batch_whose_transaction_fails_is_redone_and_counted_once(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = Repo(DID)
    repo.commit(0)
    await hold(db, repo)
    frames = {seq: repo.commit(seq, put={f"pub.chive.review.comment/{seq}": comment()}) for seq in (1, 2, 3)}
    source = ScriptedSource(from_cursor(frames), hold=True)
    flaky, calls = fails_once(firehose_cursors.advance)
    monkeypatch.setattr(firehose_cursors, "advance", flaky)
    async with scripted_source(source), indexing(db, source, repo) as live:
        await until(lambda: live.stats.cursor == 3)
        assert len(calls) >= 2  # the failed batch, then its redo
        assert (live.stats.applied, live.stats.replayed, live.stats.records_written) == (3, 0, 3)
    assert source.cursors[:2] == [None, None]  # the redo started again from the (empty) committed cursor
    assert {writes for _, writes in (await held(db, DID)).values()} == {1}


async def test_held_commits_survive_a_failed_release(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = Repo(DID)
    repo.commit(0)
    await hold(db, repo)
    op_id = await syncing(db, DID)
    snapshot, rev, data = dict(repo.records), repo.rev, repo.data
    assert rev is not None
    assert data is not None
    frames = {1: repo.commit(1, put={"pub.chive.review.comment/1": comment()})}
    source = ScriptedSource(from_cursor(frames), hold=True)
    async with scripted_source(source), indexing(db, source, repo) as live:
        await until(lambda: live.stats.cursor == 1 and live.stats.held == 1)
        flaky, calls = fails_once(index.set_repo_head)
        monkeypatch.setattr(index, "set_repo_head", flaky)
        await sync_ends(db, op_id, repo, snapshot, rev, data.encode("base32"))
        expected = {f"at://{DID}/pub.chive.review.comment/1"}

        async def applied() -> bool:
            return set(await held(db, DID)) == expected

        await polling.until(applied)
        assert len(calls) == 2
        # released once for good: the failed release was undone (without that, the commit was lost)
        assert (live.stats.applied, live.stats.handed_over) == (1, 1)
    assert await queued(db) == []
