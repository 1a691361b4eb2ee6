"""getBackfillStatus with 100k stored operations vs a bare Starlette JSON route, in the same run.

    python -m bench.status [--ops 100000] [--seconds 5] [--concurrency 16]

Goal (issue 6): p99 < 10 ms, and at least 50 % of the bare route's requests/s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from bench.baseline import bare_app
from bench.harness import Load, Served, api_key, drive, report
from chive_admin._generated import ids
from chive_admin.clock import now_stamp
from chive_admin.server.app import create_app
from chive_admin.settings import Settings

ADMIN = "did:plc:benchadmin000000000000000"


def op_id(n: int) -> str:
    return f"01BENCH{n:019d}"


def app_factory() -> Any:
    return create_app(Settings(db=Path(os.environ["BENCH_DB"]), admin_dids=(ADMIN,)))


async def _prepare(path: Path, ops: int) -> str:
    key = await api_key(path, ADMIN)
    ended = now_stamp()
    # bulk rows straight into the file: the bench measures reads, not 100k trigger round trips
    with sqlite3.connect(path) as conn:
        conn.executemany(
            "INSERT INTO operations (id, type, status, params, params_hash, started_by, requested_at, updated_at,"
            " completed_at, records_processed) VALUES (?, 'pds-scan', ?, '{}', ?, ?, ?, ?, ?, ?)",
            [
                (
                    op_id(n),
                    "completed" if n >= 5 else "queued",
                    f"hash{n}",
                    ADMIN,
                    f"2026-01-01T00:00:{n % 60:02d}.{n:06d}Z",
                    "2026-01-01T00:00:00.000000Z",
                    None if n < 5 else ended,  # recent: older ones would be pruned at start (retention)
                    n,
                )
                for n in range(ops)
            ],
        )
    return key


def row(name: str, ours: Load, base: Load, goal: str) -> tuple[str, str, str, str, str]:
    return (name, f"{ours.rate:,.0f} req/s", f"{base.rate:,.0f} req/s", f"{ours.rate / base.rate:.0%}", goal)


def measure(argv: list[str] | None = None) -> tuple[str, list[tuple[str, str, str, str, str]]]:
    """Run the bench; (title, table rows)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ops", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        key = asyncio.run(_prepare(path, args.ops))
        os.environ["BENCH_DB"] = str(path)
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
        f"getBackfillStatus with {args.ops:,} stored operations, {args.concurrency} concurrent clients",
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
    report(measure)


if __name__ == "__main__":
    main()
