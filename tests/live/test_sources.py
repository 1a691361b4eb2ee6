"""The live sources against scripted sources on loopback: every PDS of the registry read with its own cursor (hosts
registered later too), a PDS believed only for the repositories it hosts, the SSRF guard on registry URLs, hosts
marked unhealthy and healthy again, and one reader per source under a lease that another takes over."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import cast

import pytest
from support.engine import engine_config
from support.firehose import Repo, ScriptedSource, handle_verifier, scripted_source
from support.server import free_port

from chive_admin.auth.identity import Identity, IdentityResolver
from chive_admin.backfill.engine import Engine
from chive_admin.backfill.job_types import build_registry
from chive_admin.backfill.jobs import BUILTIN_JOBS
from chive_admin.clock import now_stamp
from chive_admin.ingest.live_commit import Judgement
from chive_admin.live.indexer import LiveIndexer
from chive_admin.live.sources import LiveConfig, LiveSources
from chive_admin.store import firehose_cursors, firehose_leases, index, operations
from chive_admin.store.db import Database
from chive_admin.store.index import RepoHead
from chive_admin.store.sql import Conn, Dialect
from chive_admin.upstream.firehose import Commit, FirehoseLimits
from testnet import records

EPRINT = "at://did:plc:x/pub.chive.eprint.submission/x"
LIMITS = FirehoseLimits(backoff_base=0.01, backoff_cap=0.05, connect_deadline=5)


def did(name: str) -> str:
    return f"did:plc:{name:a<24}"


class Directory:
    """The DID documents of the test: each repository's key, and the PDS its document names."""

    def __init__(self) -> None:
        self.keys: dict[str, Repo] = {}
        self.hosts: dict[str, str] = {}

    def add(self, repo: Repo, pds: str) -> Repo:
        self.keys[repo.did], self.hosts[repo.did] = repo, pds
        return repo

    async def resolve(self, did: str, *, current: bool = False) -> Identity:
        return Identity(did, self.keys[did].key.did_key, None, self.hosts[did])


def comment(text: str = "x") -> dict[str, object]:
    return records.review_comment(eprint_uri=EPRINT, text=text)


async def hold(db: Database, repo: Repo, pds: str) -> None:
    async with db.write() as conn:
        await index.upsert_repo(conn, repo.did, now_stamp(), pds_url=pds, rev=repo.rev)


async def register(db: Database, *hosts: str) -> None:
    async with db.write() as conn:
        for host in hosts:
            await index.ensure_pds(conn, host, now_stamp())


def start(db: Database, directory: Directory, config: LiveConfig) -> tuple[LiveSources, asyncio.Task[None]]:
    engine = Engine(db, build_registry(BUILTIN_JOBS, ()), engine_config())
    live = LiveSources(db, cast(IdentityResolver, directory), handle_verifier(), engine, config)
    return live, asyncio.create_task(live.run())


async def halt(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


@asynccontextmanager
async def running(db: Database, directory: Directory, config: LiveConfig) -> AsyncIterator[LiveSources]:
    live, task = start(db, directory, config)
    try:
        yield live
    finally:
        await halt(task)


async def until(check: Callable[[], bool], within: float = 15) -> None:
    for _ in range(int(within / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the condition did not hold within {within} s")


async def cursor_of(db: Database, source: str) -> int | None:
    async with db.read() as conn:
        return await firehose_cursors.get(conn, source)


async def uris(db: Database, did: str) -> set[str]:
    async with db.read() as conn:
        return {str(r[0]) for r in await conn.fetchall("SELECT uri FROM records WHERE did = ?", (did,))}


async def registry(db: Database, url: str) -> tuple[str, int]:
    async with db.read() as conn:
        stats = await index.pds_stats(conn, limit=100)
    [row] = [row for row in stats.items if row.url == url]
    return row.status, row.consecutive_errors


def pdses(**changes: object) -> LiveConfig:
    return LiveConfig(**{"pdses": True, "allow_private": True, "poll_seconds": 0.05, "limits": LIMITS, **changes})  # type: ignore[arg-type]


def held_open(frames: list[bytes]) -> ScriptedSource:
    return ScriptedSource(lambda cursor: frames if cursor is None else [], hold=True)


async def test_every_registered_pds_is_read_with_its_own_cursor_new_hosts_too(db: Database) -> None:
    directory = Directory()
    a_frames: list[bytes] = []
    b_frames: list[bytes] = []
    c_frames: list[bytes] = []
    a, b, c = held_open(a_frames), held_open(b_frames), held_open(c_frames)
    async with AsyncExitStack() as stack:
        for source in (a, b, c):
            await stack.enter_async_context(scripted_source(source))
        on_a, on_b, on_c = (directory.add(Repo(did(n)), s.url) for n, s in (("a", a), ("b", b), ("c", c)))
        for repo, source in ((on_a, a), (on_b, b)):
            repo.commit(0)
            await hold(db, repo, source.url)  # registers its PDS, as a did-sync does
        on_c.commit(0)
        a_frames += [on_a.commit(seq, put={f"pub.chive.review.comment/{seq}": comment()}) for seq in (11, 12)]
        b_frames += [on_b.commit(5, put={"pub.chive.review.comment/5": comment()})]
        c_frames += [on_c.commit(90, put={"pub.chive.review.comment/90": comment()})]
        async with running(db, directory, pdses()) as live:
            await until(lambda: {s: g.stats.cursor for s, g in live.indexers.items()} == {a.url: 12, b.url: 5})
            assert not c.cursors  # not in the registry yet
            await hold(db, on_c, c.url)  # a did-sync registers a new host: the next poll subscribes to it
            await until(lambda: c.url in live.indexers and live.indexers[c.url].stats.cursor == 90)
            assert live.relay is None
            assert all(live.consuming(source.url) for source in (a, b, c))  # no lease: this process owns the file
            tasks = list(live._tasks.values())
        assert all(task.done() for task in tasks)  # stopped cleanly, every source with it
    assert [await cursor_of(db, s.url) for s in (a, b, c)] == [12, 5, 90]
    assert len(await uris(db, on_a.did)) == 2
    assert (a.cursors, b.cursors, c.cursors) == ([None], [None], [None])


async def test_a_pds_is_believed_only_for_the_repositories_it_hosts(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    directory = Directory()
    elsewhere = "https://elsewhere.example"
    frames: list[bytes] = []
    source = held_open(frames)
    async with scripted_source(source):
        own, other, moved, stranger = (Repo(did(n)) for n in ("own", "other", "moved", "stranger"))
        directory.add(own, source.url)
        directory.add(other, elsewhere)
        directory.add(moved, source.url)  # its document names this source; the registry does not know yet
        directory.add(stranger, elsewhere)
        for repo, pds in ((own, source.url), (other, elsewhere), (moved, elsewhere)):
            repo.commit(0)
            await hold(db, repo, pds)
        frames += [
            own.commit(1, put={"pub.chive.review.comment/a": comment()}),
            other.commit(2, put={"pub.chive.review.comment/evil": comment("a replay from its old host")}),
            moved.commit(3, put={"pub.chive.review.comment/m": comment()}),
            stranger.commit(4, put={"pub.chive.review.comment/s": comment()}),  # not held, hosted elsewhere
        ]
        await register(db, source.url)
        async with running(db, directory, pdses()) as live:
            await until(lambda: source.url in live.indexers and live.indexers[source.url].stats.cursor == 4)
            stats = live.indexers[source.url].stats
            guard = live.guards[source.url]
            async with db.read() as conn:
                heads = await index.repo_heads(conn, [own.did, other.did, moved.did])
            # what its account events (#account, #identity, #sync) may be believed for: the same rule
            spoken = [await guard.speaks_for(r.did, heads.get(r.did)) for r in (own, other, moved, stranger)]
            assert spoken == [True, False, True, False]
    assert (stats.applied, stats.foreign, stats.resyncs, stats.refused) == (1, 2, 1, 0)
    assert f"not believed from this source: {other.did!r}" in caplog.text
    assert await uris(db, own.did) == {f"at://{own.did}/pub.chive.review.comment/a"}
    assert await uris(db, other.did) == set()
    assert await uris(db, stranger.did) == set()
    async with db.read() as conn:
        active = await operations.list_active(conn, 10)
    # the moved repository is resynced (the did-sync records its new PDS); nothing is queued for the others
    assert [(op.type, op.params) for op in active] == [("did-sync", {"did": moved.did})]


async def test_a_relay_speaks_for_every_repository(db: Database) -> None:
    directory = Directory()
    frames: list[bytes] = []
    relay = held_open(frames)
    async with scripted_source(relay):
        repo = directory.add(Repo(did("relayed")), "https://pds.example")
        repo.commit(0)
        await hold(db, repo, "https://pds.example")
        frames.append(repo.commit(1, put={"pub.chive.review.comment/a": comment()}))
        config = LiveConfig(relay=relay.url, allow_private=True, limits=LIMITS, poll_seconds=0.05)
        async with running(db, directory, config) as live:
            assert live.relay is live.indexers[relay.url]
            await until(lambda: live.relay is not None and live.relay.stats.cursor == 1)
            assert live.relay.stats.applied == 1
            assert list(live.indexers) == [relay.url]  # no registry sources without --firehose-pdses


async def test_a_registered_pds_on_a_private_address_is_refused_and_ends_unhealthy(db: Database) -> None:
    source = held_open([])
    async with scripted_source(source):
        await register(db, source.url)
        async with running(db, Directory(), pdses(allow_private=False, unhealthy_after=3)) as live:
            for _ in range(1500):
                if (await registry(db, source.url))[0] == "unhealthy":
                    break
                await asyncio.sleep(0.01)
            assert live.indexers[source.url].stats.connections == 0
    assert source.cursors == []  # never dialled: 127.0.0.1 is refused before any connection
    status, streak = await registry(db, source.url)
    assert status == "unhealthy"
    assert streak >= 3
    async with db.read() as conn:
        stats = await index.pds_stats(conn, limit=10)
    assert "non-public" in (stats.items[0].last_error or "") or "not allowed" in (stats.items[0].last_error or "")


async def test_a_pds_that_keeps_failing_is_unhealthy_then_healthy_once_it_answers(db: Database) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    await register(db, url)
    source = held_open([])
    _, task = start(db, Directory(), pdses(unhealthy_after=3))
    try:
        for _ in range(1500):  # nothing listens there yet: every connection is refused
            if (await registry(db, url))[0] == "unhealthy":
                break
            await asyncio.sleep(0.01)
        assert (await registry(db, url))[0] == "unhealthy"
        async with scripted_source(source, port=port):
            try:
                await until(lambda: bool(source.cursors))
                for _ in range(1500):
                    if (await registry(db, url)) == ("healthy", 0):
                        break
                    await asyncio.sleep(0.01)
            finally:
                await halt(task)  # before the source closes: it waits for its connections to end
    finally:
        await halt(task)
    assert await registry(db, url) == ("healthy", 0)


@asynccontextmanager
async def second_process(db: Database) -> AsyncIterator[Database]:
    """Another process's view of the database: its own connections on PostgreSQL; the same file's on SQLite."""
    if db.dialect is Dialect.SQLITE:
        yield db
        return
    other = await Database.open(db.target)
    try:
        yield other
    finally:
        await other.close()


def holders(*lives: LiveSources, source: str) -> list[LiveSources]:
    return [live for live in lives if live.consuming(source)]


@pytest.mark.parametrize("stop", ["clean", "killed"])
async def test_one_process_reads_a_source_and_another_takes_it_over_from_the_cursor(
    db: Database, stop: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = Directory()
    frames: dict[int, bytes] = {}
    source = ScriptedSource(lambda cursor: [f for s, f in sorted(frames.items()) if cursor is None or s > cursor])
    source.hold = True
    async with scripted_source(source), second_process(db) as db_b:
        repo = directory.add(Repo(did("leased")), "https://pds.example")
        repo.commit(0)
        await hold(db, repo, "https://pds.example")
        frames.update({seq: repo.commit(seq, put={f"pub.chive.review.comment/{seq}": comment()}) for seq in (1, 2, 3)})
        config = LiveConfig(relay=source.url, allow_private=True, limits=LIMITS, lease_seconds=1.5)
        a, a_task = start(db, directory, config)
        b, b_task = start(db_b, directory, config)
        try:
            await until(lambda: len(holders(a, b, source=source.url)) == 1)
            [first] = holders(a, b, source=source.url)
            survivor, first_task = (b, a_task) if first is a else (a, b_task)
            assert first.relay is not None
            assert survivor.relay is not None
            await until(lambda: first.relay is not None and first.relay.stats.cursor == 3)
            await asyncio.sleep(1)  # longer than a third of the lease: the other has tried again meanwhile
            assert holders(a, b, source=source.url) == [first]
            assert source.cursors == [None]
            if stop == "killed":  # no release: the lease must run out first

                async def kept(*args: object) -> None:
                    return None

                monkeypatch.setattr(firehose_leases, "release", kept)
            await halt(first_task)
            monkeypatch.undo()
            more = {seq: repo.commit(seq, put={"pub.chive.review.comment/1": comment(str(seq))}) for seq in (4, 5)}
            frames.update(more)
            await until(lambda: survivor.relay is not None and survivor.relay.stats.cursor == 5)
            assert survivor.consuming(source.url)
            assert (survivor.relay.stats.applied, survivor.relay.stats.replayed) == (2, 0)
        finally:
            await halt(a_task)
            await halt(b_task)
    assert source.cursors == [None, 3]  # the survivor resumed from the committed cursor
    async with db.read() as conn:
        rows = await conn.fetchall("SELECT uri, writes FROM records WHERE did = ?", (repo.did,))
        lease = await firehose_leases.get(conn, source.url)
    writes = {str(r[0]).rsplit("/", 1)[1]: int(r[1]) for r in rows}
    assert writes == {"1": 3, "2": 1, "3": 1}  # written once, then rewritten once per update: nothing twice
    assert lease is None  # the survivor gave it up when it stopped


async def test_a_process_that_lost_its_lease_commits_nothing_more(db: Database) -> None:
    directory = Directory()
    frames: dict[int, bytes] = {}
    source = ScriptedSource(lambda cursor: [f for s, f in sorted(frames.items()) if cursor is None or s > cursor])
    source.hold = True
    async with scripted_source(source):
        repo = directory.add(Repo(did("fenced")), "https://pds.example")
        repo.commit(0)
        await hold(db, repo, "https://pds.example")
        frames[1] = repo.commit(1, put={"pub.chive.review.comment/1": comment()})
        source.hold = False  # each connection ends after what it has: the client comes back for more
        # a lease long enough that no renewal comes round during the test: the batch itself must find it gone
        config = LiveConfig(relay=source.url, allow_private=True, limits=LIMITS, lease_seconds=60)
        live, task = start(db, directory, config)
        try:
            await until(lambda: live.relay is not None and live.relay.stats.cursor == 1)
            async with db.write() as conn:  # another process took it (as after a stall longer than the lease)
                await firehose_leases.release(conn, source.url, live.holder)
                assert await firehose_leases.acquire(conn, source.url, "elsewhere", until="9999", now=now_stamp())
            frames[2] = repo.commit(2, put={"pub.chive.review.comment/2": comment()})
            # the renewal comes round after 20 s, past this wait: the batch's own check in its transaction finds it
            await until(lambda: not live.consuming(source.url))
            await asyncio.sleep(0.3)
        finally:
            await halt(task)
    assert await cursor_of(db, source.url) == 1
    assert await uris(db, repo.did) == {f"at://{repo.did}/pub.chive.review.comment/1"}
    async with db.read() as conn:
        lease = await firehose_leases.get(conn, source.url)
    assert lease is not None
    assert lease.holder == "elsewhere"  # not released by the process that lost it


class AppliedElsewhereMeanwhile:
    """A policy whose first batch finds, inside its transaction, the head moved to ``rev`` by another source (a
    relay and a PDS that both carry the commit, read at once)."""

    def __init__(self, did: str, rev: str, data: str) -> None:
        self.did, self.rev, self.data = did, rev, data
        self.moved = False

    async def admit(self, commit: Commit, head: RepoHead | None) -> Judgement | None:
        return None

    async def speaks_for(self, did: str, head: RepoHead | None) -> bool:
        return True

    async def fence(self, conn: Conn) -> None:
        if not self.moved:
            self.moved = True
            await index.set_repo_head(conn, self.did, self.rev, self.data, now_stamp())

    def connection(self, made: bool, reason: str) -> None:
        pass


async def test_a_commit_another_source_applied_meanwhile_is_a_replay_not_a_resync(db: Database) -> None:
    repo = Repo(did("twice"))
    repo.commit(0)
    await hold(db, repo, "https://pds.example")
    frames = [repo.commit(1, put={"pub.chive.review.comment/a": comment()})]
    assert repo.rev is not None
    assert repo.data is not None
    source = held_open(frames)
    policy = AppliedElsewhereMeanwhile(repo.did, repo.rev, repo.data.encode("base32"))
    engine = Engine(db, build_registry(BUILTIN_JOBS, ()), engine_config())
    directory = Directory()
    directory.add(repo, "https://pds.example")
    async with scripted_source(source):
        live = LiveIndexer(
            source.url,
            db,
            cast(IdentityResolver, directory),
            handle_verifier(),
            engine,
            allow_private=True,
            limits=LIMITS,
            policy=policy,
        )
        task = asyncio.create_task(live.run())
        try:
            await until(lambda: live.stats.cursor == 1)
        finally:
            await halt(task)
    assert (live.stats.applied, live.stats.replayed, live.stats.resyncs) == (0, 1, 0)
    async with db.read() as conn:
        assert await operations.list_active(conn, 10) == []


async def test_a_relay_and_the_registry_together_each_source_read_once(db: Database) -> None:
    directory = Directory()
    relay_frames: list[bytes] = []
    pds_frames: list[bytes] = []
    relay, pds = held_open(relay_frames), held_open(pds_frames)
    async with scripted_source(relay), scripted_source(pds):
        repo = directory.add(Repo(did("both")), pds.url)
        repo.commit(0)
        await hold(db, repo, pds.url)  # registers the PDS
        await register(db, relay.url)  # a relay that is also a registered host is still read once, as the relay
        commit = repo.commit(7, put={"pub.chive.review.comment/a": comment()})
        pds_frames.append(commit)
        relay_frames.append(commit.replace(b"seq\x07", b"seq\x18\x63"))  # the same commit, under the relay's seq 99
        async with running(db, directory, pdses(relay=relay.url)) as live:
            await until(lambda: {s: i.stats.cursor for s, i in live.indexers.items()} == {relay.url: 99, pds.url: 7})
            stats = [live.indexers[url].stats for url in (relay.url, pds.url)]
    assert (relay.cursors, pds.cursors) == ([None], [None])
    # applied once, by whichever source came first; the other found it a replay
    assert sorted((s.applied, s.replayed, s.resyncs) for s in stats) == [(0, 1, 0), (1, 0, 0)]
    assert await uris(db, repo.did) == {f"at://{repo.did}/pub.chive.review.comment/a"}


async def test_past_the_cap_the_hosts_registered_first_are_followed(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    first, later = held_open([]), held_open([])
    async with scripted_source(first), scripted_source(later):
        async with db.write() as conn:
            await index.ensure_pds(conn, later.url, "2026-01-02T00:00:00Z")
            await index.ensure_pds(conn, first.url, "2026-01-01T00:00:00Z")
        async with running(db, Directory(), pdses(max_pdses=1)) as live:
            await until(lambda: bool(first.cursors))
            await asyncio.sleep(0.3)  # several polls
            assert list(live.indexers) == [first.url]
    assert later.cursors == []
    assert caplog.text.count("those registered later are not followed") == 1
