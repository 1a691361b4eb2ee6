"""PostgreSQL, for several processes (on several machines) sharing one store and its work.

- Two asyncpg pools: writers (each ``write()`` is one transaction on one connection, many at once: PostgreSQL
  locks rows, not the database) and readers (``default_transaction_read_only``, autocommit).
- A lost server is a :class:`DatabaseUnavailable` (a 503 to callers, a pause to workers), never a crash: the pools
  drop broken connections and dial again on the next acquire, so the server reconnects by itself.
- ``on_work`` listens on a dedicated connection for the NOTIFY that a trigger on any process sends
  (``operations.WORK_CHANNEL``), and dials again when that connection is lost; the engine's poll is the safety net.
- Migrations run under an advisory lock, so processes started together migrate once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import urlsplit

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from chive_admin.store.db import Database, DatabaseUnavailable, MigrationError, StorageFacts
from chive_admin.store.operations import WORK_CHANNEL
from chive_admin.store.sql import Conn, Dialect, Row, numbered
from chive_admin.store.target import PostgresUrl

log = logging.getLogger(__name__)

#: how long dialling the server may take, and one statement may run, before the call gives up
CONNECT_TIMEOUT_S = 10.0
COMMAND_TIMEOUT_S = 60.0
#: pg_advisory_xact_lock key of schema migrations (any constant no other code uses)
_MIGRATION_LOCK = 0x63686976
_LISTEN_RETRY_S = 2.0
_COUNT = re.compile(r"(\d+)$")


def is_connection_lost(exc: BaseException) -> bool:
    """The server went away or cannot be reached (as opposed to a bad statement)."""
    if isinstance(exc, asyncpg.InterfaceError):
        return "closed" in str(exc) or ("connection" in str(exc).lower() and "lost" in str(exc).lower())
    if isinstance(exc, asyncpg.InternalClientError):
        # the protocol lost step with a server that shut down mid-message (a connection taken from the pool between
        # its FATAL and its close): that connection is unusable, and the pool replaces it
        return True
    return isinstance(
        exc,
        OSError
        | TimeoutError
        | asyncpg.PostgresConnectionError
        | asyncpg.exceptions.AdminShutdownError
        | asyncpg.exceptions.CannotConnectNowError
        | asyncpg.exceptions.CrashShutdownError
        | asyncpg.exceptions.TooManyConnectionsError,
    )


class _LostServerInOneLine(logging.Filter):
    """While the server is away, asyncpg's pool logs a traceback each time it fails to restore its connection floor
    (backing off to once a minute): the error's own line says all there is to say."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and is_connection_lost(exc):
            record.msg, record.args = f"{record.getMessage()}: {exc}", ()
            record.exc_info, record.exc_text = None, None
        return True


logging.getLogger("asyncpg.pool").addFilter(_LostServerInOneLine())


def startup_error(url: PostgresUrl, exc: BaseException) -> DatabaseUnavailable:
    """One line an operator can act on; asyncpg's messages hold no password, and neither does ``url``'s text."""
    parts = urlsplit(url.url)
    where = f"{parts.hostname}:{parts.port or 5432}"
    if isinstance(exc, asyncpg.InvalidPasswordError):
        why = f"password authentication failed for user {parts.username!r}"
    elif isinstance(exc, asyncpg.InvalidCatalogNameError):
        why = f"database {parts.path.lstrip('/')!r} does not exist on {where}"
    elif isinstance(exc, asyncpg.InvalidAuthorizationSpecificationError):
        why = f"the server refused user {parts.username!r}: {exc}"
    elif isinstance(exc, TimeoutError):
        why = f"no answer from {where} within {CONNECT_TIMEOUT_S:.0f} s"
    elif isinstance(exc, OSError):
        why = f"cannot reach {where}: {exc.strerror or exc}"
    else:
        why = f"{type(exc).__name__}: {exc}"
    return DatabaseUnavailable(f"--db: cannot use {url}: {why}")


if TYPE_CHECKING:
    Raw: TypeAlias = asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]


class PgConn:
    """:class:`~chive_admin.store.sql.Conn` over an asyncpg connection (prepared statements, cached by asyncpg)."""

    __slots__ = ("raw",)
    dialect = Dialect.POSTGRES

    def __init__(self, raw: Raw) -> None:
        self.raw = raw

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        status: str = await self.raw.execute(numbered(sql), *args)
        found = _COUNT.search(status)
        return int(found.group(1)) if found else 0

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        batch = list(rows)
        if batch:
            await self.raw.executemany(numbered(sql), batch)

    async def fetchall(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        rows: list[Row] = list(await self.raw.fetch(numbered(sql), *args))
        return rows

    async def fetchone(self, sql: str, args: Sequence[Any] = ()) -> Row | None:
        row: Row | None = await self.raw.fetchrow(numbered(sql), *args)
        return row


class PostgresDatabase(Database):
    dialect = Dialect.POSTGRES

    target: PostgresUrl

    def __init__(self, url: PostgresUrl, writers: asyncpg.Pool, readers: asyncpg.Pool) -> None:
        self.target = url
        self._writers = writers
        self._readers = readers
        self._listener: asyncio.Task[None] | None = None
        self._callbacks: list[Callable[[], None]] = []

    @classmethod
    async def connect(cls, url: PostgresUrl, *, readers: int = 4, writers: int = 8) -> PostgresDatabase:
        pools: list[asyncpg.Pool] = []
        try:
            write_pool = await _pool(url, max(1, writers), read_only=False)
            pools.append(write_pool)
            read_pool = await _pool(url, max(1, readers), read_only=True)
            pools.append(read_pool)
        except Exception as exc:
            for pool in pools:
                pool.terminate()
            if isinstance(exc, DatabaseUnavailable):
                raise
            raise startup_error(url, exc) from None
        db = cls(url, write_pool, read_pool)
        try:
            await db._migrate_bundled()
        except BaseException:
            await db.close()
            raise
        return db

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
        for pool in (self._writers, self._readers):
            try:
                await asyncio.wait_for(pool.close(), CONNECT_TIMEOUT_S)
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                pool.terminate()

    @asynccontextmanager
    async def _acquired(self, pool: asyncpg.Pool) -> AsyncIterator[Raw]:
        try:
            raw = await pool.acquire(timeout=CONNECT_TIMEOUT_S)
        except Exception as exc:
            if is_connection_lost(exc):
                raise DatabaseUnavailable(f"the database {self.describe()} cannot be reached") from exc
            raise
        try:
            yield raw
        finally:
            # A connection the server dropped in the middle of a message cannot be reset: asyncpg terminates it (the
            # pool dials a new one) and raises, which must not hide what the caller's own statements met. Shielded,
            # its outcome always retrieved: a caller cancelled meanwhile (a sibling batch failed) still returns it.
            release = asyncio.ensure_future(pool.release(raw))
            release.add_done_callback(_log_failed_release)
            with contextlib.suppress(Exception):
                await asyncio.shield(release)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[Conn]:
        async with self._acquired(self._writers) as raw:
            try:
                async with raw.transaction():
                    yield PgConn(raw)
            except Exception as exc:
                if is_connection_lost(exc):
                    raise DatabaseUnavailable(f"lost the database {self.describe()}") from exc
                raise

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Conn]:
        async with self._acquired(self._readers) as raw:
            try:
                yield PgConn(raw)
            except Exception as exc:
                if is_connection_lost(exc):
                    raise DatabaseUnavailable(f"lost the database {self.describe()}") from exc
                raise

    async def storage_facts(self) -> StorageFacts:
        async with self.read() as conn:
            row = await conn.fetchone("SELECT pg_database_size(current_database())")
        return StorageFacts("postgresql", int(row[0]) if row else 0, None, None)

    async def _run_script(self, conn: Conn, sql: str) -> None:
        assert isinstance(conn, PgConn)
        await conn.raw.execute(sql)  # no arguments: the simple protocol runs a whole script in our transaction

    async def _lock_schema(self, conn: Conn) -> None:
        await conn.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))

    def on_work(self, callback: Callable[[], None]) -> None:
        self._callbacks.append(callback)
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen(), name="postgres-listen")

    async def _listen(self) -> None:
        """Hold a LISTEN connection for as long as the database is open, dialling again whenever it is lost."""
        lost = asyncio.Event()

        def heard(*_: object) -> None:
            for callback in self._callbacks:
                callback()

        again = False
        while True:
            raw: asyncpg.Connection | None = None
            try:
                raw = await asyncpg.connect(self.target.url, timeout=CONNECT_TIMEOUT_S)
                lost.clear()
                raw.add_termination_listener(lambda _conn: lost.set())
                await raw.add_listener(WORK_CHANNEL, heard)
                if again:
                    heard()  # work queued while nobody listened is not missed
                again = True
                while not lost.is_set():
                    # a dead peer is not always reported: ask now and then whether the connection still answers
                    try:
                        await asyncio.wait_for(lost.wait(), _LISTEN_RETRY_S * 5)
                    except TimeoutError:
                        await raw.fetchval("SELECT 1", timeout=CONNECT_TIMEOUT_S)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not is_connection_lost(exc):
                    log.exception("listening for work on %s failed", self.describe())
            finally:
                if raw is not None and not raw.is_closed():
                    raw.terminate()
            await asyncio.sleep(_LISTEN_RETRY_S)


def _log_failed_release(release: asyncio.Future[None]) -> None:
    if not release.cancelled() and (exc := release.exception()) is not None:
        log.warning("dropped a database connection that could not be reset: %s", exc)


async def reachable(url: PostgresUrl) -> None:
    """Open the database (migrating it) and close it again, so that a start-up failure is one clear line before
    the server listens: a wrong URL, host, password or database, or a schema newer than this version."""
    try:
        db = await PostgresDatabase.connect(url, readers=1, writers=1)
    except MigrationError as exc:
        raise DatabaseUnavailable(f"--db: cannot use {url}: {exc}") from None
    await db.close()


async def _pool(url: PostgresUrl, size: int, *, read_only: bool) -> asyncpg.Pool:
    settings = {"application_name": "chive-admin", "timezone": "UTC"}
    if read_only:
        settings["default_transaction_read_only"] = "on"
    pool: asyncpg.Pool = await asyncpg.create_pool(
        url.url,
        min_size=1,
        max_size=size,
        timeout=CONNECT_TIMEOUT_S,
        command_timeout=COMMAND_TIMEOUT_S,
        server_settings=settings,
    )
    return pool
