"""getBackfillStatus with 100k stored operations vs a bare Starlette JSON route, in the same run.

    python -m bench.status [--ops 100000] [--seconds 5] [--concurrency 16] [--db-backend sqlite|postgresql|both]

Goal (issue 6): p99 < 10 ms, and at least 50 % of the bare route's requests/s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg

from bench import backends
from bench.baseline import bare_app
from bench.harness import Load, Served, api_key, drive
from chive_admin._generated import ids
from chive_admin.clock import stamp, utc_now
from chive_admin.server.app import create_app
from chive_admin.settings import Settings
from chive_admin.store.target import DbTarget, PostgresUrl, parse_target

ADMIN = "did:plc:benchadmin000000000000000"


def op_id(n: int) -> str:
    return f"01BENCH{n:019d}"


def app_factory() -> Any:
    return create_app(Settings(db=parse_target(os.environ["BENCH_DB"]), admin_dids=(ADMIN,)))


#: the columns :func:`operation_rows` fills, in order
OPERATION_COLUMNS = (
    "id",
    "type",
    "status",
    "params",
    "params_hash",
    "started_by",
    "requested_at",
    "updated_at",
    "completed_at",
    "records_processed",
)


def operation_rows(ops: int, active: int = 5) -> list[tuple[Any, ...]]:
    """``ops`` pds-scan operations: the first ``active`` queued (what the status call lists as active), the rest
    ended, each a millisecond apart (as ops end: identical end stamps would make every history page sort all of
    them)."""
    now = utc_now()
    return [
        (
            op_id(n),
            "pds-scan",
            "completed" if n >= active else "queued",
            "{}",
            f"hash{n}",
            ADMIN,
            f"2026-01-01T00:00:{n % 60:02d}.{n:06d}Z",
            "2026-01-01T00:00:00.000000Z",
            # recent: older ones would be pruned at start (retention)
            None if n < active else stamp(now - timedelta(milliseconds=n)),
            n,
        )
        for n in range(ops)
    ]


async def seed_operations(target: DbTarget, ops: int, active: int = 5) -> None:
    """Bulk rows straight into an (already migrated) database: the benches measure reads, not 100k trigger round
    trips. PostgreSQL's copy is followed by ANALYZE, as autovacuum would do soon after on a live server."""
    rows = operation_rows(ops, active)
    if isinstance(target, PostgresUrl):
        pg = await asyncpg.connect(target.url)
        try:
            await pg.copy_records_to_table("operations", records=rows, columns=OPERATION_COLUMNS)
            await pg.execute("ANALYZE operations")
        finally:
            await pg.close()
        return
    marks = ", ".join("?" for _ in OPERATION_COLUMNS)
    with sqlite3.connect(target) as conn:
        conn.executemany(f"INSERT INTO operations ({', '.join(OPERATION_COLUMNS)}) VALUES ({marks})", rows)


async def _prepare(target: DbTarget, ops: int) -> str:
    key = await api_key(target, ADMIN)
    await seed_operations(target, ops)
    return key


def row(name: str, ours: Load, base: Load, goal: str) -> tuple[str, str, str, str, str]:
    return (name, f"{ours.rate:,.0f} req/s", f"{base.rate:,.0f} req/s", f"{ours.rate / base.rate:.0%}", goal)


def measure(argv: list[str] | None = None) -> tuple[str, list[tuple[str, str, str, str, str]]]:
    """Run the bench; (title, table rows)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ops", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    backends.add_option(parser)
    args = parser.parse_args(argv)
    if args.db_backend == backends.BOTH:
        parser.error("--db-backend both is for main(), which runs this once per backend")
    with tempfile.TemporaryDirectory() as tmp, backends.databases(args.db_backend, Path(tmp)) as dbs:
        target = dbs.new("bench")
        key = asyncio.run(_prepare(target, args.ops))
        # the server runs in a spawned process: it finds its database here (a URL's password stays in this env)
        os.environ["BENCH_DB"] = target.url if isinstance(target, PostgresUrl) else str(target)
        auth = {"Authorization": f"Bearer {key}"}
        with Served(bare_app) as bare:
            base = drive(bare.url + "/json", concurrency=args.concurrency, seconds=args.seconds)
            base_light = drive(bare.url + "/json", concurrency=4, seconds=args.seconds)
        with Served(app_factory) as ours:
            status_url = f"{ours.url}/xrpc/{ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS}"
            active = drive(status_url, lambda _: auth, concurrency=args.concurrency, seconds=args.seconds)
            light = drive(status_url, lambda _: auth, concurrency=4, seconds=args.seconds)
            one = drive(
                status_url + f"?id={op_id(args.ops // 2)}",
                lambda _: auth,
                concurrency=args.concurrency,
                seconds=args.seconds,
            )
    return (
        f"getBackfillStatus with {args.ops:,} stored operations, {args.concurrency} concurrent clients,"
        f" on {args.db_backend}",
        [
            row("status (active ops)", active, base, ">= 50%"),
            row("status (one op by id)", one, base, ">= 50%"),
            ("p50 active / bare", f"{active.p50:.2f} ms", f"{base.p50:.2f} ms", "", ""),
            ("p99 active / bare", f"{active.p99:.2f} ms", f"{base.p99:.2f} ms", "", "< 10 ms"),
            ("p99 by id", f"{one.p99:.2f} ms", "", "", "< 10 ms"),
            ("p99 active, 4 clients", f"{light.p99:.2f} ms", f"{base_light.p99:.2f} ms", "", "< 10 ms"),
            ("errors", str(active.errors + one.errors), str(base.errors), "", "0"),
        ],
    )


def main() -> None:
    backends.report(measure)


if __name__ == "__main__":
    main()
