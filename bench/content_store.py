"""The synthetic index ``bench.content`` reads: records written straight into a store, and its cache on disk.

The records are what Chive's users write (valid against the record lexicons under ``lexicons/pub/chive/``), spread
as a live AppView would hold them: eprint submissions, review comments, endorsements, user tags, one profile for
most repositories, graph nodes (fields in the governance repository, collections in users' repositories), over
repositories on a handful of PDS hosts, a few heavy users among many light ones. A few repositories are hidden
(deactivated or taken down upstream), a few records are under an index takedown, and the local moderation record
holds warnings and violations.

Everything goes in through the store's own write paths (``ingest.write.apply_records``, ``index.upsert_repo``,
``index.set_repo_hidden``, ``takedowns.take_down``, ``moderation``, ``roles``), as an ingest would write it: so
whatever those paths maintain (search documents, counters, derived columns) is there, as it would be on a server.

A built store is kept under ``--cache-dir`` (a copy of the SQLite file, a ``pg_dump`` of the PostgreSQL database),
keyed by :data:`GENERATOR_VERSION`, the record count and a hash of the schema and of the write paths: a change to any
of them builds a new store. A run works on a copy, so the server's own writes (its API key, audit entries) never
reach the cache.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import random
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from chive_admin._generated import ids
from chive_admin.clock import stamp
from chive_admin.ingest import write as ingest_write
from chive_admin.lex.data_model import record_json
from chive_admin.repo.validate import record_problem
from chive_admin.store import index, moderation, roles, takedowns
from chive_admin.store.db import Database
from chive_admin.store.index import IndexedRecord
from chive_admin.store.target import DbTarget, PostgresUrl
from testnet.postgres import PostgresCluster

#: bump whenever what the generator writes changes: cached stores of another version are not used
GENERATOR_VERSION = 1
SEED = 24
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CACHE_DIR = REPO_ROOT / ".cache" / "bench-content"
#: the files whose content decides what a built store holds, besides the generator itself
_SHAPING = (
    "src/chive_admin/store/migrations",
    "src/chive_admin/store/index.py",
    "src/chive_admin/store/search.py",
    "src/chive_admin/store/takedowns.py",
    "src/chive_admin/store/moderation.py",
    "src/chive_admin/store/roles.py",
    "src/chive_admin/ingest/write.py",
    "bench/content_store.py",
)

PROFILE = ids.PUB_CHIVE_ACTOR_PROFILE
EPRINT = ids.PUB_CHIVE_EPRINT_SUBMISSION
TAG = ids.PUB_CHIVE_EPRINT_USER_TAG
NODE = ids.PUB_CHIVE_GRAPH_NODE
REVIEW = ids.PUB_CHIVE_REVIEW_COMMENT
ENDORSEMENT = ids.PUB_CHIVE_REVIEW_ENDORSEMENT

GOVERNANCE = "did:plc:benchgovernance00000000000"
MODERATOR = "did:plc:benchmoderator000000000000"
#: records written in one transaction, as a did-sync writes one part of an export
BATCH = 5000
_SPAN = (datetime(2024, 1, 1, tzinfo=UTC).timestamp(), datetime(2026, 11, 30, tzinfo=UTC).timestamp())
_S32 = "234567abcdefghijklmnopqrstuvwxyz"
_NAMES = (
    "alice", "bob", "carol", "dmitri", "erin", "farah", "gustavo", "hana", "ivan", "jun", "kofi", "lena", "mateo",
    "noor", "olga", "pedro", "qing", "rosa", "sanjay", "tomas", "uma", "viktor", "wen", "ximena", "yusuf", "zoe",
)  # fmt: skip
_WORDS = (
    "bayesian", "inference", "protein", "folding", "graph", "neural", "climate", "ocean", "lattice", "quantum",
    "causal", "survey", "robust", "sparse", "federated", "genome", "language", "model", "topology", "market",
    "policy", "evidence", "dynamics", "network", "learning", "estimation", "bounds", "synthesis", "cohort", "trial",
)  # fmt: skip
_CONTRIBUTIONS = ("methodological", "analytical", "theoretical", "empirical", "conceptual", "technical", "data")
_STATUSES = ("preprint", "under_review", "accepted", "published", "eprint")
_LICENSES = ("CC-BY-4.0", "CC-BY-SA-4.0", "CC0-1.0", "MIT", "Apache-2.0")


@dataclass(frozen=True)
class Mix:
    """How many of each thing a store of ``records`` indexed records holds."""

    records: int

    @property
    def repos(self) -> int:
        return max(20, self.records // 20)

    @property
    def hosts(self) -> int:
        return min(20, self.repos)

    @property
    def eprints(self) -> int:
        return self.records * 15 // 100

    @property
    def endorsements(self) -> int:
        return self.records * 25 // 100

    @property
    def tags(self) -> int:
        return self.records * 10 // 100

    @property
    def profiles(self) -> int:
        return self.repos * 9 // 10

    @property
    def fields(self) -> int:
        """Field nodes, in the governance repository."""
        return max(10, self.records // 2000)

    @property
    def collections(self) -> int:
        """Collection nodes, in users' repositories."""
        return max(10, self.records // 2000)

    @property
    def reviews(self) -> int:
        """The rest: review comments, the most common record."""
        others = self.eprints + self.endorsements + self.tags + self.profiles + self.fields + self.collections
        return max(0, self.records - others)

    @property
    def hidden_repos(self) -> int:
        return max(2, self.repos // 500)

    @property
    def takedowns(self) -> int:
        return max(4, self.records // 5000)

    @property
    def warnings(self) -> int:
        return max(10, self.repos // 25)

    @property
    def violations(self) -> int:
        return max(10, self.repos // 50)

    @property
    def moderators(self) -> int:
        return 10


@dataclass(frozen=True)
class Built:
    """What a build left: its figures, kept beside the cached store."""

    records: int
    repos: int
    hosts: int
    build_seconds: float
    #: a few values the bench asks about (a heavy user, an eprint count, a PDS …)
    heavy_did: str
    sample_dids: list[str]
    handle_prefixes: list[str]
    did_prefixes: list[str]
    pds_url: str
    visible_eprints: int
    visible_reviews: int
    visible_endorsements: int


# -- values ------------------------------------------------------------------------------------------------------


def tid(micros: int, clock: int) -> str:
    """A record key in the TID format: microseconds since the epoch and a clock id, base32-sortable."""
    n = (micros << 10) | (clock & 1023)
    return "".join(_S32[(n >> shift) & 31] for shift in range(60, -1, -5))


def fake_cid(data: bytes) -> str:
    """A well-formed CIDv1 (dag-cbor, sha-256) naming ``data``: the index stores it and never resolves it."""
    return "b" + base64.b32encode(b"\x01\x71\x12\x20" + hashlib.sha256(data).digest()).decode().lower().rstrip("=")


def datetime_of(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _text(content: str) -> dict[str, Any]:
    return {"$type": "pub.chive.richtext.defs#textItem", "type": "text", "content": content}


class Generator:
    """The store's content, drawn from one seeded random source: the same ``records`` always gives the same
    store."""

    def __init__(self, records: int) -> None:
        self.mix = Mix(records)
        self.rng = random.Random(SEED)
        rng = self.rng
        #: (did, record key) pairs drawn so far: a key is never drawn twice in one repository
        self._used: set[tuple[str, str]] = set()
        self.hosts = [f"https://pds{n:02d}.bench.test" for n in range(self.mix.hosts)]
        dids = {f"did:plc:{base64.b32encode(rng.randbytes(15)).decode().lower()}" for _ in range(self.mix.repos)}
        while len(dids) < self.mix.repos:
            dids.add(f"did:plc:{base64.b32encode(rng.randbytes(15)).decode().lower()}")
        #: in draw order: a repository's weight follows its place here, which is unrelated to its DID
        self.dids = sorted(dids)
        rng.shuffle(self.dids)
        weights = [1 / (n + 1) ** 0.8 for n in range(len(self.dids))]
        self.cum = list(_accumulate(weights))
        self.handles = {
            did: f"{_NAMES[n % len(_NAMES)]}{n}.pds{n % self.mix.hosts:02d}.bench.test"
            for n, did in enumerate(self.dids)
        }
        self.host_of = {did: self.hosts[n % self.mix.hosts] for n, did in enumerate(self.dids)}
        self.field_uris = [f"at://{GOVERNANCE}/{NODE}/{self._uuid()}" for _ in range(self.mix.fields)]
        # eprints first: the other records name them
        self.eprints: dict[str, list[tuple[str, float]]] = {}
        self.eprint_uris: list[str] = []
        for did in self._draw(self.mix.eprints):
            created = rng.uniform(*_SPAN)
            rkey = self._rkey(did, created)
            self.eprints.setdefault(did, []).append((rkey, created))
            self.eprint_uris.append(f"at://{did}/{EPRINT}/{rkey}")
        self.counts: dict[str, dict[str, int]] = {}
        for collection, count in (
            (REVIEW, self.mix.reviews),
            (ENDORSEMENT, self.mix.endorsements),
            (TAG, self.mix.tags),
            (NODE, self.mix.collections),
        ):
            for did in self._draw(count):
                per = self.counts.setdefault(did, {})
                per[collection] = per.get(collection, 0) + 1
        self.with_profile = set(rng.sample(self.dids, self.mix.profiles))
        # never the heaviest user, whom the bench asks about
        self.hidden = rng.sample(self.dids[1:], self.mix.hidden_repos)

    def _draw(self, count: int) -> list[str]:
        """``count`` repositories, drawn with replacement: a few write a lot, most write a little."""
        return self.rng.choices(self.dids, cum_weights=self.cum, k=count)

    def _rkey(self, did: str, created: float) -> str:
        key = tid(int(created * 1_000_000), self.rng.getrandbits(10))
        while (did, key) in self._used:  # the same microsecond twice: another clock id
            key = tid(int(created * 1_000_000), self.rng.getrandbits(10))
        self._used.add((did, key))
        return key

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _title(self, words: int) -> str:
        return " ".join(self.rng.choice(_WORDS) for _ in range(words)).capitalize()

    def _eprint_for_comment(self) -> str:
        # popular eprints draw most of the discussion
        return self.eprint_uris[int(len(self.eprint_uris) * self.rng.random() ** 3)]

    def governance(self) -> list[IndexedRecord]:
        return [
            self._record(
                GOVERNANCE,
                NODE,
                uri.rsplit("/", 1)[1],
                {
                    "id": uri.rsplit("/", 1)[1],
                    "slug": f"field-{n}",
                    "kind": "type",
                    "subkind": "field",
                    "label": self._title(2),
                    "status": "established",
                    "createdAt": datetime_of(_SPAN[0]),
                    "createdBy": GOVERNANCE,
                },
            )
            for n, uri in enumerate(self.field_uris)
        ]

    def repositories(self) -> Iterator[tuple[str, list[IndexedRecord]]]:
        """Each repository with its records, in DID order (records in URI order: inserts append to the indexes)."""
        for did in sorted(self.dids):
            yield did, sorted(self._records_of(did), key=lambda r: r.uri)

    def _records_of(self, did: str) -> Iterator[IndexedRecord]:
        rng = self.rng
        if did in self.with_profile:
            yield self._record(
                did,
                PROFILE,
                "self",
                {
                    "displayName": f"{self.handles[did].split('.')[0].rstrip('0123456789').title()} {did[8:12]}",
                    "fieldUris": [rng.choice(self.field_uris)],
                },
            )
        for rkey, created in self.eprints.get(did, []):
            value: dict[str, Any] = {
                "title": self._title(rng.randint(4, 10)),
                "abstract": [_text(self._title(40))],
                "document": {
                    "$type": "blob",
                    "ref": {"$link": fake_cid(rkey.encode())},
                    "mimeType": "application/pdf",
                    "size": rng.randint(100_000, 5_000_000),
                },
                "licenseSlug": rng.choice(_LICENSES),
                "authors": [{"did": did, "name": self.handles[did].split(".")[0], "order": 1}],
                "submittedBy": did,
                "keywords": rng.sample(_WORDS, 3),
                "fieldUris": rng.sample(self.field_uris, rng.randint(1, 2)),
                "createdAt": datetime_of(created),
            }
            if rng.random() < 0.7:
                value["publicationStatusSlug"] = rng.choice(_STATUSES)
            yield self._record(did, EPRINT, rkey, value)
        counts = self.counts.get(did, {})
        for _ in range(counts.get(REVIEW, 0)):
            created = rng.uniform(*_SPAN)
            review = {"eprintUri": self._eprint_for_comment(), "body": [_text(self._title(20))]}
            review["createdAt"] = datetime_of(created)
            if rng.random() < 0.3:
                review["motivationFallback"] = "questioning"
            yield self._record(did, REVIEW, self._rkey(did, created), review)
        for _ in range(counts.get(ENDORSEMENT, 0)):
            created = rng.uniform(*_SPAN)
            endorsement = {
                "eprintUri": self._eprint_for_comment(),
                "contributions": rng.sample(_CONTRIBUTIONS, rng.randint(1, 3)),
                "createdAt": datetime_of(created),
            }
            if rng.random() < 0.4:
                endorsement["comment"] = self._title(12)
            yield self._record(did, ENDORSEMENT, self._rkey(did, created), endorsement)
        for _ in range(counts.get(TAG, 0)):
            created = rng.uniform(*_SPAN)
            tag = {
                "eprintUri": rng.choice(self.eprint_uris),
                "tag": rng.choice(_WORDS),
                "createdAt": datetime_of(created),
            }
            yield self._record(did, TAG, self._rkey(did, created), tag)
        for _ in range(counts.get(NODE, 0)):
            node_id = self._uuid()
            node = {
                "id": node_id,
                "kind": "object",
                "subkind": "collection",
                "label": f"Reading list: {self._title(3)}",
                "status": "established",
                "createdAt": datetime_of(rng.uniform(*_SPAN)),
                "createdBy": did,
            }
            yield self._record(did, NODE, node_id, node)

    def _record(self, did: str, collection: str, rkey: str, value: dict[str, Any]) -> IndexedRecord:
        value = {"$type": collection, **value}
        stored = record_json(value)
        return IndexedRecord.from_parts(did, collection, rkey, fake_cid(stored.encode()), value, stored)


def _accumulate(weights: list[float]) -> Iterator[float]:
    total = 0.0
    for weight in weights:
        total += weight
        yield total


# -- the build ---------------------------------------------------------------------------------------------------


async def build(target: DbTarget, records: int, progress: bool = True) -> Built:
    """Write a store of ``records`` indexed records into the (new) database ``target``."""
    started = time.monotonic()
    gen = Generator(records)
    db = await Database.open(target, readers=1)
    checked: set[str] = set()
    written = 0
    clock = _SPAN[1]  # first indexed just after the newest record was made, a batch a second apart

    def check(batch: list[IndexedRecord]) -> None:
        # the first record of each kind against its lexicon: a bench on invalid records would measure nothing real
        for record in batch:
            if record.collection not in checked:
                problem = record_problem(record.collection, record.value)
                if problem is not None:
                    raise AssertionError(f"generated {record.collection} is invalid: {problem}")
                checked.add(record.collection)

    async def flush(repos: list[str], batch: list[IndexedRecord], owner: str | None = None) -> None:
        nonlocal written, clock
        check(batch)
        now = stamp(datetime.fromtimestamp(clock, UTC))
        clock += 1
        async with db.write() as conn:
            for did in repos:
                await index.upsert_repo(
                    conn, did, now, handle=gen.handles.get(did), pds_url=gen.host_of.get(did, gen.hosts[0])
                )
            await ingest_write.apply_records(conn, batch, now)
        before = written // 100_000
        written += len(batch)
        if progress and written // 100_000 > before:
            print(f"  {written:,} records written, {time.monotonic() - started:.0f} s", flush=True)

    try:
        await flush([GOVERNANCE], gen.governance())
        repos: list[str] = []
        batch: list[IndexedRecord] = []
        for did, records_of in gen.repositories():
            repos.append(did)
            batch += records_of
            if len(batch) >= BATCH:
                await flush(repos, batch)
                repos, batch = [], []
        if repos:
            await flush(repos, batch)
        now = stamp(datetime.fromtimestamp(clock, UTC))
        async with db.write() as conn:
            await _moderate(conn, gen, now)
        async with db.read() as conn:
            visible = {
                c: sum((await index.counts_by(conn, c, "$type")).values()) for c in (EPRINT, REVIEW, ENDORSEMENT)
            }
    finally:
        await db.close()
    if isinstance(target, PostgresUrl):
        await _analyze(target)  # as autovacuum would soon after on a live server
    heavy = gen.dids[0]
    return Built(
        records=written,
        repos=len(gen.dids) + 1,
        hosts=len(gen.hosts),
        build_seconds=time.monotonic() - started,
        heavy_did=heavy,
        # accounts with something visible (a profile, and not hidden): getUserDetail answers NotFound for the others
        sample_dids=[heavy, *gen.rng.sample(sorted(gen.with_profile - set(gen.hidden) - {heavy}), 31)],
        # a short and a long prefix, one in capitals (the match ignores case), one with the '@' a user may type
        handle_prefixes=[
            *(gen.handles[gen.dids[n]][:k] for n, k in ((0, 3), (1, 5), (3, 8))),
            gen.handles[gen.dids[2]][:4].upper(),
            "@" + _NAMES[4],
        ],
        did_prefixes=[gen.dids[n][:k] for n, k in ((0, 10), (1, 12), (2, 14), (3, 9))],
        pds_url=gen.hosts[1],
        visible_eprints=visible[EPRINT],
        visible_reviews=visible[REVIEW],
        visible_endorsements=visible[ENDORSEMENT],
    )


async def _moderate(conn: Any, gen: Generator, now: str) -> None:
    """Hidden repositories, index takedowns, the moderation record and a few roles."""
    rng, mix = gen.rng, gen.mix
    for n, did in enumerate(gen.hidden):
        status = "takendown" if n % 2 else "deactivated"
        await index.upsert_repo(conn, did, now, pds_url=gen.host_of[did], status=status)
        await index.set_repo_hidden(conn, did, True)
    for uri in rng.sample(gen.eprint_uris, mix.takedowns):
        await takedowns.take_down(conn, uri, EPRINT, "bench: spam", MODERATOR, now)
    for n in range(mix.warnings):
        warning = await moderation.add_warning(
            conn,
            did=rng.choice(gen.dids),
            reason=f"bench warning {n}",
            issued_by=MODERATOR,
            now=now,
            expires_at="2026-01-01T00:00:00.000Z" if n % 10 == 0 else None,
        )
        if n % 7 == 0:
            await moderation.revoke_warning(conn, warning, MODERATOR, now)
    for n in range(mix.violations):
        violation = await moderation.add_violation(
            conn,
            did=rng.choice(gen.dids),
            type="spam",
            severity=("low", "medium", "high", "critical")[n % 4],
            recorded_by=MODERATOR,
            now=now,
            description=f"bench violation {n}",
            subject_uri=rng.choice(gen.eprint_uris),
        )
        if n % 3 == 0:
            await moderation.resolve_violation(conn, violation, MODERATOR, now)
    for did in gen.dids[: mix.moderators]:
        await roles.grant(conn, did, "moderator", MODERATOR, now)


# -- the cache ---------------------------------------------------------------------------------------------------


def cache_key(records: int) -> str:
    """What a cached store was built from: generator version, size, and the schema and write paths it went
    through."""
    digest = hashlib.sha256()
    for name in _SHAPING:
        path = REPO_ROOT / name
        for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
            if file.is_file() and file.suffix in (".sql", ".py"):
                digest.update(str(file.relative_to(REPO_ROOT)).encode())
                digest.update(file.read_bytes())
    return f"v{GENERATOR_VERSION}-{records}-{digest.hexdigest()[:12]}"


@dataclass(frozen=True)
class Store:
    """A store ready for a run: the database, what was built into it, and whether it came from the cache."""

    target: DbTarget
    built: Built
    cached: bool


def store(records: int, cache_dir: Path, target: DbTarget, cluster: PostgresCluster | None, rebuild: bool) -> Store:
    """The store of ``records`` records in ``target`` (a new SQLite file, or a new database of ``cluster``): from the
    cache when it holds one, else built and then kept there. SQLite keeps a copy of the file, PostgreSQL a
    ``pg_dump`` (restored with ``pg_restore``, then analysed as autovacuum would soon after)."""
    backend = "sqlite" if cluster is None else "postgresql"
    cache_dir.mkdir(parents=True, exist_ok=True)
    key = cache_key(records)
    kept, facts = cache_dir / f"{key}.{backend}", cache_dir / f"{key}.{backend}.json"
    if kept.exists() and facts.exists() and not rebuild:
        if cluster is None:
            assert isinstance(target, Path)
            shutil.copyfile(kept, target)
        else:
            assert isinstance(target, PostgresUrl)
            _pg(cluster, "pg_restore", target, "--no-owner", "--no-privileges", "--jobs=2", str(kept))
            asyncio.run(_analyze(target))
        return Store(target, Built(**json.loads(facts.read_text())), cached=True)
    for stale in cache_dir.glob(f"v*-{records}-*.{backend}*"):  # an older build of this size: superseded
        stale.unlink()
    built = asyncio.run(build(target, records))
    partial = cache_dir / f"{key}.{backend}.partial"
    if cluster is None:
        assert isinstance(target, Path)
        shutil.copyfile(target, partial)
    else:
        assert isinstance(target, PostgresUrl)
        _pg(cluster, "pg_dump", target, "--format=custom", "--no-owner", "--no-privileges", f"--file={partial}")
    os.replace(partial, kept)  # complete, or not there: an interrupted copy is made again
    facts.write_text(json.dumps(asdict(built)))
    return Store(target, built, cached=False)


def _pg(cluster: PostgresCluster, program: str, target: PostgresUrl, *args: str) -> None:
    """A PostgreSQL client program on ``target``'s database, its password in the environment (not the arguments)."""
    url = urlsplit(target.url)
    subprocess.run(
        [
            str(cluster.bindir / program),
            f"--host={url.hostname}",
            f"--port={url.port}",
            f"--username={url.username}",
            f"--dbname={url.path.lstrip('/')}",
            *args,
        ],
        env={**{k: v for k, v in os.environ.items() if not k.startswith("PG")}, "PGPASSWORD": cluster.password},
        check=True,
        capture_output=True,
        timeout=1800,
    )


async def _analyze(target: DbTarget) -> None:
    db = await Database.open(target, readers=1)
    try:
        async with db.write() as conn:
            await conn.execute("ANALYZE")
    finally:
        await db.close()
