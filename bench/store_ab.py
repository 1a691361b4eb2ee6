"""The store library decision (issue 23), measured: SQLAlchemy Core 2.x (AsyncEngine over aiosqlite / asyncpg) vs our
thin dialect layer (``store.sql.Conn`` over aiosqlite / asyncpg), on the two hot paths of ``bench.status`` and
``bench.ingest``, both backends, in the same run.

* **status read** — what getBackfillStatus and getBackfillHistory ask of a reader: ``operations.list_active`` (the
  5 active ops) and ``operations.history`` (45 ended ones), 50 rows decoded into ``Operation`` objects, against an
  operations table seeded with ``--ops`` rows as ``bench.status`` seeds it. ``--calls`` calls one after another;
  calls/s and p50/p99 per call.
* **ingest write** — what ``index.upsert_records`` does with a page of new records: in one transaction, a
  ``SELECT uri, cid FROM records WHERE uri IN (…500)`` and an INSERT of the 500 (8 columns, ~300-byte JSON values),
  repeated until ``--records`` records are in; records/s.

The thin side is the store itself (``Database.open``: its reader pool and pragmas, ``operations.list_active``,
``index.upsert_records``). The SQLAlchemy side is written the way a maintainer would port the store: ``Table``
objects and ``select()``/``insert()`` built per call (``core``), and, as a second figure, the store's own SQL as
``text()`` with bound parameters (``text``); both executemany through ``conn.execute(stmt, [dicts])``. Both sides
run the same statements on the same data with the same transaction boundaries: SQLite writes in ``BEGIN IMMEDIATE``
(SQLAlchemy's documented aiosqlite recipe: driver autocommit, BEGIN emitted from the ``begin`` event), reads in
autocommit on ``query_only`` connections with the same pragmas; PostgreSQL reads in autocommit on read-only
connections, writes in one transaction. The sides take turns in rounds after a warm-up, so a noisy machine hits both;
every write round starts from a fresh, migrated database.

    python -m bench.store_ab [--db-backend sqlite|postgresql|both] [--ops 100000] [--calls 5000] [--records 20000]

Needs SQLAlchemy (``pip install -e '.[bench]'``); it says so and exits when it is missing. It prints; it never
asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from bench import backends
from bench.harness import Load, grid
from bench.status import seed_operations
from chive_admin.clock import now_stamp
from chive_admin.store import index
from chive_admin.store import operations as ops
from chive_admin.store.db import Database
from chive_admin.store.sqlite_db import BUSY_TIMEOUT_MS
from chive_admin.store.target import DbTarget, PostgresUrl

if TYPE_CHECKING:
    from sqlalchemy import Select
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

#: what each status call reads: every active op (the 5 seeded), then the newest ended ones, 50 rows in all
ACTIVE_LIMIT = 1000
HISTORY_LIMIT = 45
#: records a page and a transaction, as a listing page is written (``index._CHUNK``)
BATCH = 500
#: the pool sizes of ``Database.open``'s defaults, given to SQLAlchemy's engines too
READERS = 4
WRITERS = 8
COLLECTION = "pub.chive.review.comment"
THIN = "thin layer"
CORE = "sqlalchemy core"
TEXT = "sqlalchemy text()"
SQLALCHEMY_SIDES = (CORE, TEXT)

MISSING = (
    "bench.store_ab needs SQLAlchemy 2.x with its asyncio extra, an optional dependency of the benches only:\n"
    "    .venv/bin/pip install -e '.[bench]'"
)


def require_sqlalchemy() -> None:
    # the asyncio extension cannot run without greenlet, which only the [asyncio] extra brings
    try:
        import greenlet  # noqa: F401
        import sqlalchemy
    except ImportError:
        sys.exit(MISSING)
    if int(sqlalchemy.__version__.split(".", 1)[0]) < 2:
        sys.exit(f"SQLAlchemy {sqlalchemy.__version__} is installed; {MISSING}")


# -- the SQLAlchemy side ------------------------------------------------------------------------------------------


class Tables:
    """The two tables as SQLAlchemy ``Table`` objects (the columns the paths touch, typed as the schema has them)."""

    def __init__(self) -> None:
        from sqlalchemy import BigInteger, Column, Integer, MetaData, Table, Text

        self.metadata = MetaData()
        text_columns = {
            "id",
            "type",
            "status",
            "stage",
            "params",
            "params_hash",
            "started_by",
            "requested_at",
            "started_at",
            "updated_at",
            "completed_at",
            "counts",
            "checkpoint",
            "error",
            "error_code",
            "error_context",
            "lease_owner",
            "lease_expires_at",
            "attempt_started_at",
        }
        self.operations = Table(
            "operations",
            self.metadata,
            *(
                Column(
                    name,
                    Text if name in text_columns else Integer if name == "attempts" else BigInteger,
                    primary_key=name == "id",
                )
                for name in ops._NAMES
            ),
        )
        self.records = Table(
            "records",
            self.metadata,
            Column("uri", Text, primary_key=True),
            Column("did", Text, nullable=False),
            Column("collection", Text, nullable=False),
            Column("rkey", Text, nullable=False),
            Column("cid", Text, nullable=False),
            Column("value", Text, nullable=False),
            Column("indexed_at", Text, nullable=False),
            Column("verified_at", Text, nullable=False),
            Column("hidden", Integer, nullable=False),
            Column("writes", Integer, nullable=False),
        )


class SqlalchemyStore:
    """The two hot paths written with SQLAlchemy Core, as ``statements`` says: ``core`` or ``text``."""

    def __init__(self, reader: AsyncEngine, writer: AsyncEngine, tables: Tables, statements: str) -> None:
        self.reader = reader
        self.writer = writer
        self.t = tables
        self.statements = statements

    async def close(self) -> None:
        await self.reader.dispose()
        await self.writer.dispose()

    async def status(self) -> list[ops.Operation]:
        t = self.t.operations
        async with self.reader.connect() as conn:
            active = await self._operations(
                conn,
                "status IN ('queued', 'running', 'cancelling') ORDER BY requested_at, id",
                lambda query: query.where(t.c.status.in_(ops.ACTIVE)).order_by(t.c.requested_at, t.c.id),
                ACTIVE_LIMIT,
            )
            history = await self._operations(
                conn,
                "completed_at IS NOT NULL ORDER BY completed_at DESC, id DESC",
                lambda query: query.where(t.c.completed_at.is_not(None)).order_by(
                    t.c.completed_at.desc(), t.c.id.desc()
                ),
                HISTORY_LIMIT,
            )
        return [ops._row(row) for row in [*active, *history]]

    async def _operations(
        self, conn: AsyncConnection, clauses: str, shaped: Callable[[Select[Any]], Select[Any]], limit: int
    ) -> Sequence[Any]:
        """Operations rows: with ``text()``, the store's own WHERE and ORDER BY ``clauses``; with Core, a ``select()``
        of the table ``shaped`` into the same."""
        from sqlalchemy import select, text

        if self.statements == "text":
            stmt = text(f"SELECT {ops._COLUMNS} FROM operations WHERE {clauses} LIMIT :limit")
            return (await conn.execute(stmt, {"limit": limit})).all()
        t = self.t.operations
        query = shaped(select(*(t.c[name] for name in ops._NAMES))).limit(limit)
        rows: Sequence[Any] = (await conn.execute(query)).all()
        return rows

    async def upsert(self, records: Sequence[index.IndexedRecord], now: str) -> int:
        """``index.upsert_records`` for a page of records none of which is stored yet: look them up, insert them."""
        from sqlalchemy import bindparam, insert, select, text

        uris = [r.uri for r in records]
        async with self.writer.begin() as conn:
            if self.statements == "text":
                lookup = text("SELECT uri, cid FROM records WHERE uri IN :uris").bindparams(
                    bindparam("uris", expanding=True)
                )
                known = {row[0]: row[1] for row in await conn.execute(lookup, {"uris": uris})}
            else:
                t = self.t.records
                query = select(t.c.uri, t.c.cid).where(t.c.uri.in_(uris))
                known = {row[0]: row[1] for row in await conn.execute(query)}
            fresh = [r for r in records if r.uri not in known]
            if fresh:
                if self.statements == "text":
                    write: Any = text(
                        "INSERT INTO records (uri, did, collection, rkey, cid, value, indexed_at, verified_at)"
                        " VALUES (:uri, :did, :collection, :rkey, :cid, :value, :indexed_at, :verified_at)"
                    )
                else:
                    write = insert(self.t.records)
                await conn.execute(
                    write,
                    [
                        {
                            "uri": r.uri,
                            "did": r.did,
                            "collection": r.collection,
                            "rkey": r.rkey,
                            "cid": r.cid,
                            "value": r.json,
                            "indexed_at": now,
                            "verified_at": now,
                        }
                        for r in fresh
                    ],
                )
        return len(fresh)


def sqlalchemy_url(target: DbTarget) -> str:
    if isinstance(target, Path):
        return f"sqlite+aiosqlite:///{target.resolve()}"
    parts = urlsplit(target.url)
    return urlunsplit(("postgresql+asyncpg", parts.netloc, parts.path, parts.query, parts.fragment))


def sqlalchemy_engines(target: DbTarget) -> tuple[AsyncEngine, AsyncEngine]:
    """A reader engine and a writer engine configured as ``Database.open`` configures its connections."""
    from sqlalchemy import event
    from sqlalchemy.engine.default import DefaultDialect
    from sqlalchemy.ext.asyncio import create_async_engine

    url = sqlalchemy_url(target)
    # readers in autocommit, as ours; SQLAlchemy 2.1 can also leave out the ROLLBACK it sends when a connection goes
    # back to the pool (a no-op in autocommit, but a round trip)
    reading: dict[str, Any] = {"pool_size": READERS, "isolation_level": "AUTOCOMMIT"}
    if "skip_autocommit_rollback" in inspect.signature(DefaultDialect.__init__).parameters:
        reading["skip_autocommit_rollback"] = True
    if isinstance(target, PostgresUrl):
        settings = {"application_name": "chive-admin-bench", "timezone": "UTC"}
        reader = create_async_engine(
            url, **reading, connect_args={"server_settings": {**settings, "default_transaction_read_only": "on"}}
        )
        writer = create_async_engine(url, pool_size=WRITERS, connect_args={"server_settings": settings})
        return reader, writer
    reader = create_async_engine(url, **reading)
    writer = create_async_engine(url, pool_size=1)

    def pragmas(query_only: bool) -> Callable[[Any, Any], None]:
        def on_connect(dbapi_connection: Any, connection_record: Any) -> None:
            # the recipe of SQLAlchemy's SQLite docs: the driver in autocommit, BEGIN emitted by the "begin" event
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA synchronous = FULL")
            if query_only:
                cursor.execute("PRAGMA query_only = ON")
            cursor.close()

        return on_connect

    def begin_immediate(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    event.listen(reader.sync_engine, "connect", pragmas(True))
    event.listen(writer.sync_engine, "connect", pragmas(False))
    event.listen(writer.sync_engine, "begin", begin_immediate)
    return reader, writer


# -- the thin side ------------------------------------------------------------------------------------------------


class ThinStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def close(self) -> None:
        await self.db.close()

    async def status(self) -> list[ops.Operation]:
        async with self.db.read() as conn:
            return [*await ops.list_active(conn, ACTIVE_LIMIT), *await ops.history(conn, HISTORY_LIMIT)]

    async def upsert(self, records: Sequence[index.IndexedRecord], now: str) -> int:
        async with self.db.write() as conn:
            return (await index.upsert_records(conn, records, now)).inserted


Store = ThinStore | SqlalchemyStore
SIDES = (THIN, *SQLALCHEMY_SIDES)


@asynccontextmanager
async def opened(side: str, target: DbTarget) -> AsyncIterator[Store]:
    if side == THIN:
        store: Store = ThinStore(await Database.open(target, readers=READERS, writers=WRITERS))
    else:
        reader, writer = sqlalchemy_engines(target)
        store = SqlalchemyStore(reader, writer, Tables(), "core" if side == CORE else "text")
    try:
        yield store
    finally:
        await store.close()


async def migrated(dbs: backends.Databases, name: str) -> DbTarget:
    """A fresh database at the current schema (made by the store's migrations, whichever side uses it)."""
    target = dbs.new(name)
    db = await Database.open(target, readers=1, writers=1)
    await db.close()
    return target


# -- the measurements ---------------------------------------------------------------------------------------------


async def status_ab(target: DbTarget, calls: int, rounds: int, warmup: int) -> dict[str, Load]:
    """Each side's status calls, timed one by one, in ``rounds`` rounds taken in turn after ``warmup`` untimed ones."""
    latencies: dict[str, list[float]] = {side: [] for side in SIDES}
    spent = dict.fromkeys(SIDES, 0.0)
    async with AsyncExitStack() as stack:
        stores = {side: await stack.enter_async_context(opened(side, target)) for side in SIDES}
        for side, store in stores.items():
            shown = await store.status()
            if len(shown) != 5 + HISTORY_LIMIT:
                raise RuntimeError(f"{side}: a status call read {len(shown)} rows, not {5 + HISTORY_LIMIT}")
            for _ in range(warmup):
                await store.status()
        per_round = max(1, calls // rounds)
        for round_no in range(rounds):
            for side in rotated(round_no):
                store = stores[side]
                began = time.perf_counter()
                for _ in range(per_round):
                    started = time.perf_counter()
                    await store.status()
                    latencies[side].append((time.perf_counter() - started) * 1000)
                spent[side] += time.perf_counter() - began
    return {side: Load(len(latencies[side]), 0, spent[side], latencies[side]) for side in SIDES}


def rotated(round_no: int) -> tuple[str, ...]:
    """The sides in the order of a round: each takes each place in turn, so none always runs first or last."""
    shift = round_no % len(SIDES)
    return SIDES[shift:] + SIDES[:shift]


def make_records(count: int, prefix: str) -> list[index.IndexedRecord]:
    """``count`` distinct comment records over 50 repositories, each value ~300 bytes of JSON."""
    made = []
    for n in range(count):
        did = f"did:plc:{prefix}{n % 50:06d}{'x' * 10}"
        value = {
            "$type": COLLECTION,
            "eprintUri": f"at://did:plc:bench/pub.chive.eprint.submission/3k{n:011d}",
            "text": f"Comment {prefix} {n}: the cancellation semantics in section 3 deserve a worked example, and the"
            " proof of lemma 2 skips a step.",
            "createdAt": "2026-01-01T00:00:00.000Z",
        }
        cid = f"bafyreih{n:052d}"[:59]
        made.append(index.IndexedRecord.from_parts(did, COLLECTION, f"3k{prefix}{n:09d}", cid, value))
    return made


async def write_once(side: str, target: DbTarget, records: list[index.IndexedRecord]) -> float:
    """Seconds for ``side`` to write ``records`` page by page into ``target``, after one untimed warm-up page."""
    warm = make_records(BATCH, "warm")
    async with opened(side, target) as store:
        await store.upsert(warm, now_stamp())
        began = time.perf_counter()
        inserted = 0
        for start in range(0, len(records), BATCH):
            inserted += await store.upsert(records[start : start + BATCH], now_stamp())
        seconds = time.perf_counter() - began
    if inserted != len(records):
        raise RuntimeError(f"{side}: inserted {inserted} of {len(records)} records")
    return seconds


async def ingest_ab(dbs: backends.Databases, count: int, rounds: int) -> dict[str, list[float]]:
    """Records/s of each side, one fresh database per side and round, the sides' order rotating."""
    records = make_records(count, "bench")
    rates: dict[str, list[float]] = {side: [] for side in SIDES}
    for round_no in range(rounds):
        for side in rotated(round_no):
            target = await migrated(dbs, f"write{round_no}{SIDES.index(side)}")
            rates[side].append(count / await write_once(side, target, records))
    return rates


@dataclass(frozen=True)
class Figures:
    backend: str
    status: dict[str, Load]
    ingest: dict[str, list[float]]
    load_average: str


def load_average() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def measure_backend(backend: str, args: argparse.Namespace) -> Figures:
    with tempfile.TemporaryDirectory() as tmp, backends.databases(backend, Path(tmp)) as dbs:

        async def run() -> Figures:
            before = load_average()
            seeded = await migrated(dbs, "status")
            await seed_operations(seeded, args.ops)
            status = await status_ab(seeded, args.calls, args.rounds, args.warmup)
            ingest = await ingest_ab(dbs, args.records, args.write_rounds)
            return Figures(backend, status, ingest, f"{before} -> {load_average()}")

        return asyncio.run(run())


def rows_of(figures: Figures) -> list[list[str]]:
    """The figures of one backend; "cost" is SQLAlchemy's time over the thin layer's (above 1: SQLAlchemy slower)."""
    lines = []
    thin = figures.status[THIN]
    thin_rate = statistics.median(figures.ingest[THIN])
    for side in SQLALCHEMY_SIDES:
        sa = figures.status[side]
        lines.append(
            [
                figures.backend,
                f"status read, {side.removeprefix('sqlalchemy ')}",
                f"{sa.rate:,.0f} calls/s",
                f"{thin.rate:,.0f} calls/s",
                f"{thin.rate / sa.rate:.2f}",
            ]
        )
        lines.append(
            [
                "",
                "  p50 / p99 per call",
                f"{sa.p50:.2f} / {sa.p99:.2f} ms",
                f"{thin.p50:.2f} / {thin.p99:.2f} ms",
                f"{sa.p50 / thin.p50:.2f} / {sa.p99 / thin.p99:.2f}",
            ]
        )
    for side in SQLALCHEMY_SIDES:
        rate = statistics.median(figures.ingest[side])
        lines.append(
            [
                "",
                f"ingest write, {side.removeprefix('sqlalchemy ')}",
                f"{rate:,.0f} rec/s",
                f"{thin_rate:,.0f} rec/s",
                f"{thin_rate / rate:.2f}",
            ]
        )
    lines.append(["", "load average (1 5 15 min)", figures.load_average, "", ""])
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ops", type=int, default=100_000, help="operations seeded for the status read")
    parser.add_argument("--calls", type=int, default=5000, help="timed status calls per side")
    parser.add_argument(
        "--rounds", type=int, default=12, help="rounds the status calls are split in, the sides taking turns"
    )
    parser.add_argument("--warmup", type=int, default=200, help="untimed status calls per side first")
    parser.add_argument("--records", type=int, default=20_000, help="records each side writes per round")
    parser.add_argument("--write-rounds", type=int, default=6, help="write rounds per side (median shown)")
    backends.add_option(parser, default=backends.BOTH)
    args = parser.parse_args(argv)
    require_sqlalchemy()
    import sqlalchemy

    chosen = backends.BACKENDS if args.db_backend == backends.BOTH else (args.db_backend,)
    lines: list[list[str]] = []
    for backend in chosen:
        figures = measure_backend(backend, args)
        lines += rows_of(figures)
        print(f"[{backend}] done", flush=True)
    print(
        f"store library A/B: SQLAlchemy {sqlalchemy.__version__} Core (AsyncEngine) vs the thin layer (store.sql.Conn);"
        f" {args.ops:,} operations, {args.calls:,} status calls, {args.records:,} records x {args.write_rounds}"
        " rounds per side; cost = SQLAlchemy's time / the thin layer's (above 1: SQLAlchemy slower)"
    )
    print(grid(["backend", "path", "sqlalchemy", "thin layer", "cost"], lines))


if __name__ == "__main__":
    main()
