"""The content reads (issue 24) with a million indexed records, beside getBackfillStatus in the same run.

    python -m bench.content [--records 1000000] [--seconds 3] [--concurrency 16] [--db-backend sqlite|postgresql|both]
                            [--cache-dir .cache/bench-content] [--rebuild]

The store is built by ``bench.content_store`` (synthetic records written through the store's own write paths) and
kept in ``--cache-dir`` between runs, for each backend (on PostgreSQL as a dump, restored into the run's cluster). The
real server then answers every read method, one client after another (sequential) and from ``--concurrency``
clients at once; each cell is p50 / p99 / max in ms (and requests/s with many clients). The baseline column is
getBackfillStatus (one operation by id, ``--ops`` stored) measured the same way in the same run. A method this
branch answers with 501 MethodNotImplemented is reported as "not built". ``--records 20000`` is a quick smoke run.

Goal (issue 24): every content read p99 < 50 ms sequential on SQLite. It prints; it never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from bench import backends, content_store
from bench.content_store import DEFAULT_CACHE_DIR, GOVERNANCE, Built, Store
from bench.harness import Load, Row, Served, api_key, drive
from bench.status import ADMIN, op_id, seed_operations
from chive_admin._generated import ids
from chive_admin.server.app import create_app
from chive_admin.settings import Settings
from chive_admin.store.db import Database
from chive_admin.store.target import DbTarget, PostgresUrl, parse_target

GOAL_MS = 50.0
NOT_BUILT = "not built"
BUILT = "built"
SEQUENTIAL = "sequential"


def app_factory() -> Any:
    return create_app(Settings(db=parse_target(os.environ["BENCH_DB"]), admin_dids=(ADMIN,), governance_did=GOVERNANCE))


@dataclass(frozen=True)
class Figure:
    """One read to measure: a method and the query strings its requests take in turn."""

    name: str
    nsid: str
    queries: tuple[str, ...] = ("",)
    #: a content read, held to the goal (the baseline is not)
    content: bool = True
    #: measure the page that the cursor returned by each query names (the way a client follows pages)
    follow: bool = False

    def urls(self, base: str) -> list[str]:
        return [f"{base}/xrpc/{self.nsid}" + (f"?{query}" if query else "") for query in self.queries]


def figures(built: Built, ops: int) -> list[Figure]:
    """What is measured, with the values this store holds (a deep page, a heavy user, a PDS …)."""
    last_page = max(0, built.visible_eprints - 50)
    return [
        Figure(
            "getBackfillStatus (one op by id)",
            ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS,
            tuple(f"id={op_id(n)}" for n in range(0, ops, max(1, ops // 16))),
            content=False,
        ),
        Figure("getOverview", ids.PUB_CHIVE_ADMIN_GET_OVERVIEW),
        Figure("listEprints first page", ids.PUB_CHIVE_ADMIN_LIST_EPRINTS),
        Figure(
            f"listEprints offset {built.visible_eprints // 2:,}",
            ids.PUB_CHIVE_ADMIN_LIST_EPRINTS,
            (f"offset={built.visible_eprints // 2}",),
        ),
        Figure(
            f"listEprints offset {last_page:,} (last page)", ids.PUB_CHIVE_ADMIN_LIST_EPRINTS, (f"offset={last_page}",)
        ),
        Figure("listReviews first page", ids.PUB_CHIVE_ADMIN_LIST_REVIEWS),
        Figure(
            f"listReviews cursor {built.visible_reviews // 2:,}",
            ids.PUB_CHIVE_ADMIN_LIST_REVIEWS,
            (f"cursor={built.visible_reviews // 2}",),
        ),
        Figure(
            f"listReviews returned cursor at {built.visible_reviews // 2 + 50:,}",
            ids.PUB_CHIVE_ADMIN_LIST_REVIEWS,
            (f"cursor={built.visible_reviews // 2}",),
            follow=True,
        ),
        Figure("listEndorsements first page", ids.PUB_CHIVE_ADMIN_LIST_ENDORSEMENTS),
        Figure(
            f"listEndorsements cursor {built.visible_endorsements // 2:,}",
            ids.PUB_CHIVE_ADMIN_LIST_ENDORSEMENTS,
            (f"cursor={built.visible_endorsements // 2}",),
        ),
        Figure(
            f"listEndorsements returned cursor at {built.visible_endorsements // 2 + 50:,}",
            ids.PUB_CHIVE_ADMIN_LIST_ENDORSEMENTS,
            (f"cursor={built.visible_endorsements // 2}",),
            follow=True,
        ),
        Figure(
            "searchUsers handle prefix",
            ids.PUB_CHIVE_ADMIN_SEARCH_USERS,
            tuple(f"query={quote(prefix)}" for prefix in built.handle_prefixes),
        ),
        Figure(
            "searchUsers DID prefix",
            ids.PUB_CHIVE_ADMIN_SEARCH_USERS,
            tuple(f"query={quote(prefix)}" for prefix in built.did_prefixes),
        ),
        Figure(
            "getUserDetail",
            ids.PUB_CHIVE_ADMIN_GET_USER_DETAIL,
            tuple(f"did={quote(did)}" for did in built.sample_dids),
        ),
        Figure("listImports all", ids.PUB_CHIVE_ADMIN_LIST_IMPORTS),
        Figure("listImports one source", ids.PUB_CHIVE_ADMIN_LIST_IMPORTS, (f"source={quote(built.pds_url)}",)),
        Figure("listWarnings", ids.PUB_CHIVE_ADMIN_LIST_WARNINGS),
        Figure("listViolations", ids.PUB_CHIVE_ADMIN_LIST_VIOLATIONS),
    ]


def answer_kind(status: int, body: bytes) -> str:
    """:data:`BUILT` for a 200, :data:`NOT_BUILT` for the 501 of a method this branch lacks, else what went wrong."""
    if status == 200:
        return BUILT
    try:
        error = httpx.Response(status, content=body).json().get("error")
    except ValueError:
        error = None
    if status == 501 and error == "MethodNotImplemented":
        return NOT_BUILT
    return f"error {status} {error or ''}".strip()


def followed(url: str, auth: dict[str, str]) -> str:
    """The URL of the page after ``url``'s, by the cursor its answer returned."""
    cursor = httpx.get(url, headers=auth, timeout=60).json()["cursor"]
    return f"{url.partition('?')[0]}?cursor={quote(cursor)}"


def probe(urls: list[str], auth: dict[str, str]) -> str:
    """What each URL of a figure answers, the first that is not a 200 if any."""
    for url in urls:
        answer = httpx.get(url, headers=auth, timeout=60)
        kind = answer_kind(answer.status_code, answer.content)
        if kind != BUILT:
            return kind
    return BUILT


@dataclass(frozen=True)
class Measured:
    figure: Figure
    #: :data:`BUILT`, :data:`NOT_BUILT` or an error
    kind: str
    sequential: Load | None = None
    concurrent: Load | None = None


def cell(load: Load | None, kind: str, rate: bool) -> str:
    if load is None:
        return kind
    # the count says how much a p99 is worth: a read of a second or more leaves a few calls, and its p99 is its max
    shown = f"{load.p50:.1f} / {load.p99:.1f} / {load.max:.1f} ms, {load.requests:,} calls"
    if rate:
        shown += f", {load.rate:,.0f}/s"
    if load.errors:
        shown += f" ({load.errors} errors)"
    return shown


def rows(measured: list[Measured], concurrency: int) -> list[Row]:
    """Each figure sequential, then each with many clients, beside the baseline measured the same way."""
    base = measured[0]
    out: list[Row] = []
    for many in (False, True):
        mode = f"{concurrency} clients" if many else SEQUENTIAL
        base_load = base.concurrent if many else base.sequential
        for m in measured:
            load = m.concurrent if many else m.sequential
            ratio = f"{load.p99 / base_load.p99:.1f}x p99" if load and base_load and m is not base else ""
            goal = f"p99 < {GOAL_MS:.0f} ms" if not many and m.figure.content else ""
            out.append(
                (f"{m.figure.name} · {mode}", cell(load, m.kind, many), cell(base_load, base.kind, many), ratio, goal)
            )
    return out


def goal_row(measured: list[Measured]) -> Row:
    content = [m for m in measured if m.figure.content]
    built = [m for m in content if m.sequential is not None]
    missed = [m.figure.name for m in built if not m.sequential or not m.sequential.p99 < GOAL_MS or m.sequential.errors]
    others = len(content) - len(built)
    verdict = "met" if not missed else f"missed by {', '.join(missed)}"
    return (
        f"goal: every content read p99 < {GOAL_MS:.0f} ms sequential",
        f"{verdict} ({len(built)} measured, {others} not built or failing)",
        "",
        "",
        "all",
    )


def measure_reads(
    url: str, auth: dict[str, str], todo: list[Figure], seconds: float, concurrency: int
) -> list[Measured]:
    measured: list[Measured] = []
    for figure in todo:
        urls = figure.urls(url)
        kind = probe(urls, auth)
        if kind != BUILT:
            print(f"  {figure.name}: {kind}", flush=True)
            measured.append(Measured(figure, kind))
            continue
        if figure.follow:
            urls = [followed(seed, auth) for seed in urls]
        sequential = drive(urls, lambda _: auth, concurrency=1, seconds=seconds)
        concurrent = drive(urls, lambda _: auth, concurrency=concurrency, seconds=seconds)
        print(
            f"  {figure.name}: p99 {sequential.p99:.1f} ms sequential, {concurrent.p99:.1f} ms with {concurrency}",
            flush=True,
        )
        measured.append(Measured(figure, kind, sequential, concurrent))
    return measured


async def size_on_disk(target: DbTarget) -> int:
    db = await Database.open(target, readers=1)
    try:
        facts = await db.storage_facts()
    finally:
        await db.close()
    return facts.size_bytes + (facts.wal_bytes or 0)


def store_rows(store: Store, size: int, ready_seconds: float) -> list[Row]:
    built = store.built
    made = f"{built.build_seconds:,.0f} s"
    if store.cached:
        made += f" when built, {ready_seconds:,.0f} s from the cache"
    return [
        ("store: records / repos / PDS hosts", f"{built.records:,} / {built.repos:,} / {built.hosts}", "", "", ""),
        ("store build", made, "", "", "minutes"),
        ("store on disk", f"{size / 1e6:,.0f} MB, {size / max(1, built.records):,.0f} B/record", "", "", ""),
    ]


def measure(argv: list[str] | None = None) -> tuple[str, list[Row]]:
    """Run the bench; (title, table rows)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000, help="indexed records in the store")
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds each figure is driven, per mode")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--ops", type=int, default=10_000, help="stored backfill operations (the baseline's)")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR, help="where built SQLite stores are kept")
    parser.add_argument("--rebuild", action="store_true", help="build the store again even when it is cached")
    backends.add_option(parser)
    args = parser.parse_args(argv)
    if args.db_backend == backends.BOTH:
        parser.error("--db-backend both is for main(), which runs this once per backend")
    with tempfile.TemporaryDirectory() as tmp, backends.databases(args.db_backend, Path(tmp)) as dbs:
        started = time.monotonic()
        store = content_store.store(args.records, args.cache_dir, dbs.new("content"), dbs.cluster, args.rebuild)
        ready = time.monotonic() - started
        size = asyncio.run(size_on_disk(store.target))
        _, made, on_disk = store_rows(store, size, ready)
        print(f"  store ready: {made[1]}, {on_disk[1]}", flush=True)
        key = asyncio.run(api_key(store.target, ADMIN))
        # ended ops only: a queued one would start a scan of the store's (unreachable) PDS hosts during the run
        asyncio.run(seed_operations(store.target, args.ops, active=0))
        target = store.target
        os.environ["BENCH_DB"] = target.url if isinstance(target, PostgresUrl) else str(target)
        auth = {"Authorization": f"Bearer {key}"}
        with Served(app_factory) as ours:
            measured = measure_reads(ours.url, auth, figures(store.built, args.ops), args.seconds, args.concurrency)
    built = store.built
    return (
        f"content reads with {built.records:,} indexed records on {args.db_backend}; cells p50 / p99 / max"
        f" (and req/s with {args.concurrency} clients); baseline: getBackfillStatus in the same run",
        [*store_rows(store, size, ready), *rows(measured, args.concurrency), goal_row(measured)],
    )


def main() -> None:
    backends.report(measure)


if __name__ == "__main__":
    main()
