"""How compact the index is: the bytes the database grows by per record, against the records' own JSON (issue 28,
goal 4: at most 2.5 times, after a checkpoint, for small and large records alike, and three full reindexes must not
grow it).

Records are put on the testnet's PDSes and indexed by a real pds-scan of each, each kind into a database of its own:

* small ones: review comments (a few hundred bytes of JSON), over a few repositories;
* large ones: eprint submissions with a long abstract (a few KB of JSON), which also feed the full-text index.

After the scan the WAL is checkpointed (``PRAGMA wal_checkpoint(TRUNCATE)``) and the growth of the file since the
empty, migrated database is divided by the records' JSON (``value`` as the index stores it). Then three full
reindexes run and the same is measured again. For each database a breakdown from SQLite's ``dbstat`` table shows
where the bytes are: the records table and each of its indexes, the search index (both FTS5 tables and the docid
map), the audit trail, the work items of the ended operations, the activity intents, the rest.

``--db-backend postgresql`` measures the same on a throwaway PostgreSQL cluster, from ``pg_total_relation_size`` of
every table with its indexes and TOAST (the goal is stated for the default backend, SQLite).

    python -m bench.storage [--full] [--small N] [--large N] [--db-backend sqlite|postgresql|both]

Needs the Node testnet (``scripts/install-testnet.sh``). It prints; it never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import backends
from bench.harness import grid
from bench.ingest import comment, timed_op
from chive_admin._generated import ids
from chive_admin.settings import Settings
from chive_admin.store.db import Database
from chive_admin.store.target import DbTarget, PostgresUrl
from testnet import records
from testnet.harness import Testnet, locate_install
from testnet.pds_client import Account, PdsClient

GOAL = 2.5
REINDEXES = 3
REPOS = 5
_WORDS = tuple(
    [
        "federated",
        "index",
        "repository",
        "backfill",
        "scholarly",
        "eprint",
        "verification",
        "signature",
        "commit",
        "tree",
        "record",
        "network",
        "protocol",
        "relay",
        "citation",
        "abstract",
        "graph",
        "method",
        "result",
        "evaluation",
        "dataset",
        "model",
        "theorem",
        "proof",
    ]
)

Row = tuple[str, str, str, str, str]


def large(i: int, submitted_by: str, document: dict[str, Any]) -> dict[str, Any]:
    """An eprint with a long abstract (about 2,500 characters), as real submissions have."""
    pick = random.Random(i)
    abstract = " ".join(pick.choice(_WORDS) for _ in range(300))
    return records.eprint_submission(
        submitted_by=submitted_by,
        document=document,
        title=f"On {pick.choice(_WORDS)} {pick.choice(_WORDS)} in federated networks, part {i}",
        abstract=abstract,
        keywords=[pick.choice(_WORDS) for _ in range(5)],
        arxiv_id=f"2401.{i:05d}",
    )


@dataclass(frozen=True)
class Footprint:
    #: bytes the database grew by since it was empty (migrated), after a checkpoint
    grown: int
    json_bytes: int
    records: int
    #: (relation, bytes) by size, largest first
    parts: list[tuple[str, int]]

    @property
    def ratio(self) -> float:
        return self.grown / self.json_bytes if self.json_bytes else 0.0


def sqlite_file_bytes(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def _group(name: str) -> str:
    """A dbstat name, as the breakdown shows it: the records table and each of its indexes by name, the rest by
    what it holds."""
    if name.startswith(("search_", "sqlite_autoindex_search_docids")):
        return "search index (FTS5 tables, docids)"
    if name.startswith(("audit_log", "sqlite_autoindex_audit_log")):
        return "audit_log (+ indexes)"
    if name.startswith(("operation_items", "sqlite_autoindex_operation_items")):
        return "operation_items (+ index)"
    if name.startswith(("activity", "sqlite_autoindex_activity")):
        return "activity intents (+ indexes)"
    if name == "records" or name.startswith("records_") or name == "sqlite_autoindex_records_1":
        return name
    return "other tables and indexes"


def sqlite_footprint(path: Path, empty: int) -> Footprint:
    grown = sqlite_file_bytes(path) - empty
    with sqlite3.connect(path) as conn:
        json_bytes, count = conn.execute(
            "SELECT coalesce(sum(length(CAST(value AS BLOB))), 0), count(*) FROM records"
        ).fetchone()
        sizes: dict[str, int] = defaultdict(int)
        for name, size in conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
            sizes[_group(name)] += int(size)
        free = conn.execute("PRAGMA freelist_count").fetchone()[0] * conn.execute("PRAGMA page_size").fetchone()[0]
    if free:
        sizes["free pages"] = free
    return Footprint(grown, int(json_bytes), int(count), sorted(sizes.items(), key=lambda kv: -kv[1]))


async def postgres_footprint(url: PostgresUrl, empty: int) -> Footprint:
    db = await Database.open(url)
    try:
        async with db.read() as conn:
            row = await conn.fetchone("SELECT coalesce(sum(octet_length(value)), 0), count(*) FROM records")
            assert row is not None
            rows = await conn.fetchall(
                "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'm') ORDER BY 2 DESC"
            )
    finally:
        await db.close()
    parts = [(str(r[0]) + " (+ indexes, toast)", int(r[1])) for r in rows if int(r[1]) > 0]
    return Footprint(sum(size for _, size in parts) - empty, int(row[0]), int(row[1]), parts)


async def migrated(target: DbTarget) -> None:
    db = await Database.open(target)
    await db.close()


def footprint(target: DbTarget, empty: int) -> Footprint:
    if isinstance(target, PostgresUrl):
        return asyncio.run(postgres_footprint(target, empty))
    return sqlite_footprint(Path(target), empty)


def _run(net: Testnet, target: DbTarget, nsid: str, body: dict[str, Any]) -> None:
    settings = Settings(db=target, plc_url=net.plc_url, allow_private_network=True)
    _, op = asyncio.run(timed_op(settings, nsid, body))
    if op["status"] != "completed":
        raise RuntimeError(f"bench op ended {op['status']}: {op}")


def breakdown(title: str, shown: Footprint) -> str:
    lines = [[name, f"{size:,}", f"{size / shown.records:,.0f}" if shown.records else ""] for name, size in shown.parts]
    return f"{title}\n" + grid(["relation", "bytes", "bytes/record"], lines[:16])


def measure(argv: list[str] | None = None) -> tuple[str, list[Row]]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--small", type=int, help="review comments (default 5,000; 20,000 with --full)")
    parser.add_argument("--large", type=int, help="eprints with long abstracts (default 1,000; 10,000 with --full)")
    backends.add_option(parser)
    args = parser.parse_args(argv)
    if args.db_backend == backends.BOTH:
        parser.error("--db-backend both is for main(), which runs this once per backend")
    small_n = args.small if args.small is not None else (20_000 if args.full else 5_000)
    large_n = args.large if args.large is not None else (10_000 if args.full else 1_000)
    rows: list[Row] = []
    with (
        tempfile.TemporaryDirectory() as tmp_name,
        backends.databases(args.db_backend, Path(tmp_name)) as dbs,
        Testnet(locate_install()) as net,
    ):
        pds = PdsClient(net.pds_url, admin_password=net.info.admin_password, handle_domain=net.info.handle_domain)
        pds2 = PdsClient(net.pds2_url, admin_password=net.info.admin_password, handle_domain=net.info.handle_domain)
        for i in range(REPOS):
            account: Account = pds.create_account(prefix=f"small{i}")
            pds.bulk_create(account, records.COMMENT, small_n // REPOS, factory=comment)
        for i in range(REPOS):
            author = pds2.create_account(prefix=f"large{i}")
            document = pds2.upload_blob(author, records.minimal_pdf(), "application/pdf")

            def eprint(n: int, did: str = author.did, doc: dict[str, Any] = document) -> dict[str, Any]:
                return large(n, did, doc)

            pds2.bulk_create(author, records.SUBMISSION, large_n // REPOS, factory=eprint, chunk=50)
        pds.close()
        pds2.close()
        for label, url in (("small records (review comments)", net.pds_url), ("large records (eprints)", net.pds2_url)):
            target = dbs.new(label.split()[0])
            asyncio.run(migrated(target))
            empty = footprint(target, 0).grown
            _run(net, target, ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN, {"pdsUrl": url})
            scanned = footprint(target, empty)
            print(breakdown(f"{label}: {scanned.records:,} records, after the scan", scanned), flush=True)
            for _ in range(REINDEXES):
                _run(net, target, ids.PUB_CHIVE_ADMIN_TRIGGER_FULL_REINDEX, {"batchSize": 500})
            reindexed = footprint(target, empty)
            print(breakdown(f"{label}: after {REINDEXES} full reindexes", reindexed), flush=True)
            per_json = scanned.json_bytes / max(scanned.records, 1)
            for when, shown in (("", scanned), (f", after {REINDEXES} reindexes", reindexed)):
                rows.append(
                    (
                        f"index size, {label}{when}",
                        f"{shown.grown / max(shown.records, 1):,.0f} B/record",
                        f"{per_json:,.0f} B/record of JSON",
                        f"{shown.ratio:.2f}x",
                        f"<= {GOAL}x",
                    )
                )
    return f"index size against the records' JSON, on {args.db_backend}", rows


def main() -> None:
    backends.report(measure)


if __name__ == "__main__":
    main()
