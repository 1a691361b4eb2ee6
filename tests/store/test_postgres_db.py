"""PostgreSQL as the server meets it: start-up errors in one line, a server lost and back, work heard across
processes."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from support.postgres import start_cluster
from support.server import free_port

from chive_admin.store import operations as ops
from chive_admin.store.db import Database, DatabaseUnavailable
from chive_admin.store.target import PostgresUrl
from testnet.postgres import PostgresCluster

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def own_cluster() -> Iterator[PostgresCluster]:
    """A cluster this test may stop and start (the session's is shared)."""
    with start_cluster() as cluster:
        yield cluster


@pytest.mark.parametrize(
    ("kind", "fragment"),
    [
        ("password", "password authentication failed for user 'chive'"),
        ("database", "database 'nothing_here' does not exist"),
        ("port", "cannot reach 127.0.0.1:"),
    ],
)
async def test_a_database_that_cannot_be_used_is_one_line_without_the_password(
    postgres_cluster: PostgresCluster, kind: str, fragment: str
) -> None:
    url = {
        "password": postgres_cluster.url("postgres", password="not-the-s3cret"),
        "database": postgres_cluster.url("nothing_here"),
        "port": f"postgresql://chive:{postgres_cluster.password}@127.0.0.1:{free_port()}/x",
    }[kind]
    with pytest.raises(DatabaseUnavailable, match=fragment) as refused:
        await Database.open(PostgresUrl(url), readers=1, writers=1)
    message = str(refused.value)
    assert "\n" not in message
    assert "not-the-s3cret" not in message
    assert postgres_cluster.password not in message


async def wait_until_it_answers(db: Database, limit: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + limit
    while True:
        try:
            async with db.read() as conn:
                await conn.fetchone("SELECT 1")
            return
        except DatabaseUnavailable:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.2)


async def test_a_lost_server_is_unavailable_then_back_without_reopening(own_cluster: PostgresCluster) -> None:
    url = PostgresUrl(own_cluster.url(own_cluster.create_database()))
    db = await Database.open(url, readers=2, writers=2)
    heard = asyncio.Event()
    db.on_work(heard.set)
    other = await Database.open(url, readers=1, writers=1)  # another process
    try:
        async with db.write() as conn:
            await conn.execute("CREATE TABLE kept (n INTEGER)")
            await conn.execute("INSERT INTO kept VALUES (1)")
        own_cluster.stop()
        for _ in range(2):  # every pooled connection is dead: each use says so, none hangs or leaks asyncpg's error
            with pytest.raises(DatabaseUnavailable):
                async with db.write() as conn:
                    await conn.execute("INSERT INTO kept VALUES (2)")
            with pytest.raises(DatabaseUnavailable):
                async with db.read() as conn:
                    await conn.fetchall("SELECT n FROM kept")
        own_cluster.start_again()
        await wait_until_it_answers(db)
        async with db.read() as conn:
            assert [r[0] for r in await conn.fetchall("SELECT n FROM kept")] == [1]  # the failed writes left nothing
        # the listener dialled again by itself: work queued by another process is heard here
        await asyncio.sleep(0)
        heard.clear()
        deadline = asyncio.get_running_loop().time() + 30
        while not heard.is_set():
            async with other.write() as conn:
                await ops.announce_work(conn)
            try:
                await asyncio.wait_for(heard.wait(), 1.0)
            except TimeoutError:
                assert asyncio.get_running_loop().time() < deadline, "the listener never came back"
    finally:
        await other.close()
        await db.close()


async def test_a_trigger_on_one_process_is_heard_by_another_at_once(postgres_cluster: PostgresCluster) -> None:
    url = PostgresUrl(postgres_cluster.url(postgres_cluster.create_database()))
    here = await Database.open(url, readers=1, writers=1)
    there = await Database.open(url, readers=1, writers=1)
    heard = asyncio.Event()
    there.on_work(heard.set)
    try:
        await asyncio.sleep(0.5)  # the listener's first dial
        async with here.write() as conn:
            await ops.announce_work(conn)
            await asyncio.sleep(0.2)
            assert not heard.is_set()  # NOTIFY is delivered at commit, not before
        await asyncio.wait_for(heard.wait(), 10)
    finally:
        await here.close()
        await there.close()


WRITERS = 8
#: shutdowns: each catches connections at other points (mid-statement, idle in the pool, between FATAL and close)
ROUNDS = 4


async def test_a_shutdown_under_busy_writers_is_only_ever_database_unavailable() -> None:
    with start_cluster() as cluster:
        url = PostgresUrl(cluster.url(cluster.create_database()))
        db = await Database.open(url, readers=1, writers=WRITERS)
        try:
            async with db.write() as conn:
                await conn.execute("CREATE TABLE t (a INTEGER NOT NULL, b TEXT NOT NULL)")
            failures: Counter[str] = Counter()
            for _ in range(ROUNDS):
                stopped = asyncio.Event()

                async def write(n: int, stopped: asyncio.Event = stopped) -> None:
                    while True:
                        try:
                            async with db.write() as conn:
                                await conn.executemany("INSERT INTO t (a, b) VALUES (?, ?)", [(n, "x" * 100)] * 200)
                                await conn.execute("UPDATE t SET a = a + 1 WHERE a = ?", (n,))
                        except Exception as exc:
                            failures[type(exc).__name__] += 1
                            if stopped.is_set():
                                return
                            await asyncio.sleep(0.05)

                writers = [asyncio.create_task(write(n)) for n in range(WRITERS)]
                await asyncio.sleep(0.5)
                await asyncio.to_thread(cluster.stop)
                stopped.set()
                await asyncio.gather(*writers)
                await asyncio.to_thread(cluster.start_again)
                deadline = time.monotonic() + 30  # a bound for the test, not a speed claim
                while True:
                    try:
                        async with db.write() as conn:
                            await conn.execute("DELETE FROM t")
                        break
                    except DatabaseUnavailable:
                        assert time.monotonic() < deadline, "the pool did not dial the server again"
                        await asyncio.sleep(0.1)
            assert set(failures) == {DatabaseUnavailable.__name__}, failures
        finally:
            await db.close()


async def test_the_password_may_stay_out_of_the_url(
    postgres_cluster: PostgresCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the README advises, so that it shows in no process list: the URL without a password, and libpq's own
    PGPASSWORD (or ~/.pgpass) holding it."""
    name = postgres_cluster.create_database()
    monkeypatch.setenv("PGPASSWORD", postgres_cluster.password)
    url = PostgresUrl(f"postgresql://{postgres_cluster.user}@127.0.0.1:{postgres_cluster.port}/{name}")
    db = await Database.open(url, readers=1, writers=1)
    try:
        assert await db.schema_version() > 0
    finally:
        await db.close()
