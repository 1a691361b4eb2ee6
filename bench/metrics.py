"""Engagement recording and the analytics (issue 27), beside getBackfillStatus in the same run.

    python -m bench.metrics [--eprints 100000] [--hours-per-eprint 30] [--seconds 3] [--concurrency 16]
                            [--db-backend sqlite|postgresql|both]

The store holds ``--eprints`` indexed eprint submissions and, for each, views in ``--hours-per-eprint`` random hours
of the rollups' retention (120 days: what a year of recording leaves), 1 to 19 views each, and downloads in a third
as many hours. Then the real server (uvicorn, a child process) answers:

- recordView from ``--concurrency`` clients at once, each call a new viewer of a random eprint (every call is a real
  write), against getBackfillStatus (one operation by id, 1,000 stored) from as many clients in the same run. Goal:
  recordView's rate at least 50 % of getBackfillStatus's.
- every analytics method, one call after another: p50 / p99 / max in ms. Goal: p99 < 100 ms.

It prints; it never asserts. ``--eprints 5000`` is a quick smoke run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

from bench import backends
from bench.harness import Load, Row, Served, api_key, drive
from bench.status import ADMIN, op_id, seed_operations
from chive_admin._generated import ids
from chive_admin.server.app import create_app
from chive_admin.settings import Settings
from chive_admin.store import index
from chive_admin.store.db import Database
from chive_admin.store.engagement import RETENTION_HOURS
from chive_admin.store.index import IndexedRecord
from chive_admin.store.target import DbTarget, PostgresUrl, parse_target

AUTHOR = "did:plc:benchmetricsauthor0000000000"
STATUS_OPS = 1_000
READ_GOAL_MS = 100.0
RATE_GOAL = 0.5


def app_factory() -> object:
    return create_app(Settings(db=parse_target(os.environ["BENCH_DB"]), admin_dids=(ADMIN,)))


def eprint_uri(n: int) -> str:
    return f"at://{AUTHOR}/{ids.PUB_CHIVE_EPRINT_SUBMISSION}/e{n}"


async def build(target: DbTarget, eprints: int, hours_per_eprint: int) -> int:
    """The eprints and their rollups, written straight into the store; how many rollup rows."""
    db = await Database.open(target, readers=1)
    try:
        async with db.write() as conn:
            await index.upsert_repo(conn, AUTHOR, "2026-01-01T00:00:00.000Z", handle="bench.test")
        for start in range(0, eprints, 5_000):
            value = {"submittedBy": AUTHOR, "createdAt": "2026-01-01T00:00:00.000Z"}
            batch = [
                IndexedRecord.from_parts(
                    AUTHOR, ids.PUB_CHIVE_EPRINT_SUBMISSION, f"e{n}", f"bafybench{n}", {**value, "title": f"Paper {n}"}
                )
                for n in range(start, min(eprints, start + 5_000))
            ]
            async with db.write() as conn:
                await index.upsert_records(conn, batch, "2026-01-01T00:00:00.000Z")
        now_hour = int(time.time()) // 3600
        rnd = random.Random(27)
        cells: dict[tuple[str, str, int], int] = {}
        for n in range(eprints):
            for kind, hours in (("view", hours_per_eprint), ("download", max(1, hours_per_eprint // 3))):
                for _ in range(hours):
                    cells[(eprint_uri(n), kind, now_hour - rnd.randrange(RETENTION_HOURS))] = rnd.randrange(1, 20)
        totals: Counter[tuple[str, int]] = Counter()
        per_uri: dict[str, list[int]] = {}
        for (uri, kind, hour), count in cells.items():
            totals[(kind, hour)] += count
            per_uri.setdefault(uri, [0, 0])[0 if kind == "view" else 1] += count
        rows = [(uri, kind, hour, count) for (uri, kind, hour), count in cells.items()]
        for start in range(0, len(rows), 100_000):
            async with db.write() as conn:
                await conn.executemany(
                    "INSERT INTO engagement_hourly (uri, kind, hour, count) VALUES (?, ?, ?, ?)",
                    rows[start : start + 100_000],
                )
        async with db.write() as conn:
            await conn.executemany(
                "INSERT INTO engagement_hour_totals (kind, hour, count) VALUES (?, ?, ?)",
                [(kind, hour, count) for (kind, hour), count in totals.items()],
            )
            await conn.executemany(
                "INSERT INTO engagement_totals (uri, views, downloads) VALUES (?, ?, ?)",
                [(uri, v, d) for uri, (v, d) in per_uri.items()],
            )
            if conn.dialect.value == "postgresql":
                await conn.execute("ANALYZE")
        return len(rows)
    finally:
        await db.close()


def _ms(load: Load) -> str:
    return f"{load.p50:.1f} / {load.p99:.1f} / {load.max:.1f}"


def run(target: DbTarget, args: argparse.Namespace) -> list[Row]:
    started = time.monotonic()
    cells = asyncio.run(build(target, args.eprints, args.hours_per_eprint))
    print(f"  store: {args.eprints:,} eprints, {cells:,} rollup rows ({time.monotonic() - started:.0f} s)")
    asyncio.run(seed_operations(target, STATUS_OPS))
    key = asyncio.run(api_key(target, ADMIN))
    auth = {"Authorization": f"Bearer {key}"}
    os.environ["BENCH_DB"] = target.url if isinstance(target, PostgresUrl) else str(target)
    rows: list[Row] = []
    with Served(app_factory) as server:
        base = f"{server.url}/xrpc"
        status = drive(
            [f"{base}/{ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS}?id={op_id(n)}" for n in range(0, STATUS_OPS, 63)],
            lambda _: auth,
            concurrency=args.concurrency,
            seconds=args.seconds,
        )
        rnd = random.Random(1)
        recorded = drive(
            f"{base}/{ids.PUB_CHIVE_METRICS_RECORD_VIEW}",
            lambda _: auth,
            concurrency=args.concurrency,
            seconds=args.seconds,
            body_for=lambda n: {
                "uri": eprint_uri(rnd.randrange(args.eprints)),
                "viewerDid": f"did:plc:benchviewer{n:016d}",
            },
        )
        ratio = recorded.rate / status.rate if status.rate else 0.0
        rows.append(
            (
                f"recordView, {args.concurrency} clients (req/s)",
                f"{recorded.rate:,.0f}" + (f" ({recorded.errors} errors)" if recorded.errors else ""),
                f"{status.rate:,.0f} getBackfillStatus",
                f"{ratio:.0%}",
                f">= {RATE_GOAL:.0%} {'met' if ratio >= RATE_GOAL else 'MISSED'}",
            )
        )
        # the rankings are computed once an hour: the first call of each waits for it (every later one, in this hour
        # or the next, is answered from memory); that wait is its own figure
        for name, nsid, query in (
            ("metricsOverview 90 days", ids.PUB_CHIVE_ADMIN_GET_METRICS_OVERVIEW, "days=90"),
            ("trendingVelocity 30d", ids.PUB_CHIVE_ADMIN_GET_TRENDING_VELOCITY, "window=30d"),
        ):
            began = time.perf_counter()
            first = httpx.get(f"{base}/{nsid}?{query}", headers=auth, timeout=600)
            took = (time.perf_counter() - began) * 1000
            assert first.status_code == 200, first.text
            rows.append((f"{name}: first call, ranks every eprint (ms)", f"{took:,.0f}", "once an hour", "", ""))
        one = eprint_uri(7)
        for name, nsid, query in (
            ("timeSeries all, day", ids.PUB_CHIVE_ADMIN_GET_VIEW_DOWNLOAD_TIME_SERIES, "granularity=day"),
            ("timeSeries all, week", ids.PUB_CHIVE_ADMIN_GET_VIEW_DOWNLOAD_TIME_SERIES, "granularity=week"),
            ("timeSeries one, hour", ids.PUB_CHIVE_ADMIN_GET_VIEW_DOWNLOAD_TIME_SERIES, f"uri={one}&granularity=hour"),
            ("timeSeries one, week", ids.PUB_CHIVE_ADMIN_GET_VIEW_DOWNLOAD_TIME_SERIES, f"uri={one}&granularity=week"),
            ("metricsOverview 7 days", ids.PUB_CHIVE_ADMIN_GET_METRICS_OVERVIEW, "days=7"),
            ("metricsOverview 90 days", ids.PUB_CHIVE_ADMIN_GET_METRICS_OVERVIEW, "days=90"),
            ("trendingVelocity 24h", ids.PUB_CHIVE_ADMIN_GET_TRENDING_VELOCITY, "window=24h"),
            ("trendingVelocity 7d", ids.PUB_CHIVE_ADMIN_GET_TRENDING_VELOCITY, "window=7d"),
            ("trendingVelocity 30d", ids.PUB_CHIVE_ADMIN_GET_TRENDING_VELOCITY, "window=30d"),
            ("searchAnalytics", ids.PUB_CHIVE_ADMIN_GET_SEARCH_ANALYTICS, ""),
            ("activityCorrelation", ids.PUB_CHIVE_ADMIN_GET_ACTIVITY_CORRELATION, ""),
            ("listEprints (views, downloads)", ids.PUB_CHIVE_ADMIN_LIST_EPRINTS, "limit=100"),
        ):
            load = drive(
                f"{base}/{nsid}" + (f"?{query}" if query else ""),
                lambda _: auth,
                concurrency=1,
                seconds=args.seconds,
                warmup=0.2,
            )
            met = "met" if load.p99 < READ_GOAL_MS else "MISSED"
            rows.append((f"{name} p50/p99/max ms", _ms(load), f"{load.requests} calls", "", f"p99 < 100: {met}"))
    return rows


def measure(argv: list[str] | None) -> tuple[str, list[Row]]:
    parser = argparse.ArgumentParser(prog="python -m bench.metrics", description=__doc__.split("\n")[0])
    parser.add_argument("--eprints", type=int, default=100_000)
    parser.add_argument("--hours-per-eprint", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=16)
    backends.add_option(parser)
    args = parser.parse_args(argv)
    title = f"metrics: {args.eprints:,} eprints, {args.hours_per_eprint} hours of views each over 120 days"
    with (
        tempfile.TemporaryDirectory(prefix="bench-metrics-") as tmp,
        backends.databases(args.db_backend, Path(tmp)) as dbs,
    ):
        rows = run(dbs.new("metrics"), args)
    return title, rows


if __name__ == "__main__":
    backends.report(measure)
