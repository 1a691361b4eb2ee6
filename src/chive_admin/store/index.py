"""The record index: records, repos and PDS hosts pulled from the network.

Functions take the connection they run on, so a job writes a batch of records and its checkpoint in one
transaction (``Database.write()``); reads use a pooled reader.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

from chive_admin._generated import ids
from chive_admin.lex.data_model import record_json
from chive_admin.store.sql import Conn, Dialect, any_of
from chive_admin.store.takedowns import visible

PDS_STATUSES = ("healthy", "unhealthy", "unknown")
#: values bound in one ``IN (…)`` at most (SQLite's bound-parameter limit is far above it)
_CHUNK = 500
#: consecutive scan failures after which a PDS is reported unhealthy
UNHEALTHY_AFTER = 3
#: the number SQLite stores for a record's collection in place of its name (migration 026 computes the name back
#: from it, in the same numbering: tests/store/test_index.py checks that they agree); any other is stored by name
COLLECTION_CODES: dict[str, int] = {
    ids.PUB_CHIVE_ACTOR_MUTE: 1,
    ids.PUB_CHIVE_ACTOR_PROFILE: 2,
    ids.PUB_CHIVE_ANNOTATION_COMMENT: 3,
    ids.PUB_CHIVE_ANNOTATION_ENTITY_LINK: 4,
    ids.PUB_CHIVE_COLLABORATION_INVITE: 5,
    ids.PUB_CHIVE_COLLABORATION_INVITE_ACCEPTANCE: 6,
    ids.PUB_CHIVE_DISCOVERY_SETTINGS: 7,
    ids.PUB_CHIVE_EPRINT_CHANGELOG: 8,
    ids.PUB_CHIVE_EPRINT_CITATION: 9,
    ids.PUB_CHIVE_EPRINT_RELATED_WORK: 10,
    ids.PUB_CHIVE_EPRINT_SUBMISSION: 11,
    ids.PUB_CHIVE_EPRINT_USER_TAG: 12,
    ids.PUB_CHIVE_EPRINT_VERSION: 13,
    ids.PUB_CHIVE_GRAPH_EDGE: 14,
    ids.PUB_CHIVE_GRAPH_EDGE_PROPOSAL: 15,
    ids.PUB_CHIVE_GRAPH_NODE: 16,
    ids.PUB_CHIVE_GRAPH_NODE_PROPOSAL: 17,
    ids.PUB_CHIVE_GRAPH_RECONCILIATION: 18,
    ids.PUB_CHIVE_GRAPH_VOTE: 19,
    ids.PUB_CHIVE_REVIEW_COMMENT: 20,
    ids.PUB_CHIVE_REVIEW_ENDORSEMENT: 21,
    ids.PUB_CHIVE_REVIEW_ENTITY_LINK: 22,
}
#: what a collection name written into SQL may hold (an NSID's characters)
_NSID = re.compile(r"[A-Za-z0-9.-]+")


class IndexedRecord(NamedTuple):
    # a NamedTuple, not a frozen dataclass: a backfill makes one per record, and the frozen dataclass's __init__
    # (object.__setattr__ per field) costs about three times as much
    uri: str
    did: str
    collection: str
    rkey: str
    cid: str
    #: the value as stored (:func:`~chive_admin.lex.data_model.record_json`), made once, where the record is checked.
    #: Only the text is kept: a backfill holds thousands of records in flight, and their values as trees of dicts
    #: and lists were most of what the garbage collector's passes walked, on the event loop (an eprint's value, the
    #: one that is needed again, for its search document, is parsed again: :attr:`value`)
    json: str

    @property
    def value(self) -> dict[str, Any]:
        parsed: dict[str, Any] = orjson.loads(self.json)
        return parsed

    @classmethod
    def from_parts(
        cls, did: str, collection: str, rkey: str, cid: str, value: dict[str, Any], json: str | None = None
    ) -> IndexedRecord:
        """The record, with ``json`` as its stored form when the caller has made it already."""
        uri = f"at://{did}/{collection}/{rkey}"
        return cls(uri, did, collection, rkey, cid, record_json(value) if json is None else json)


@dataclass(frozen=True)
class UpsertResult:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def __add__(self, other: UpsertResult) -> UpsertResult:
        return UpsertResult(
            self.inserted + other.inserted, self.updated + other.updated, self.unchanged + other.unchanged
        )

    @property
    def written(self) -> int:
        return self.inserted + self.updated


@dataclass(frozen=True)
class PdsRow:
    url: str
    status: str
    last_scan_at: str | None
    repo_count: int
    record_count: int
    error_count: int
    consecutive_errors: int
    last_error: str | None


@dataclass(frozen=True)
class PdsStats:
    total: int
    healthy: int
    unhealthy: int
    with_records: int
    items: list[PdsRow]


async def upsert_records(
    conn: Conn,
    records: Sequence[IndexedRecord],
    now: str,
    written: list[IndexedRecord] | None = None,
) -> UpsertResult:
    """Insert new records, rewrite those whose CID changed, and only re-verify those that are the same; the
    inserted and rewritten ones are appended to ``written`` when given."""
    if not records:
        return UpsertResult()
    known: dict[str, str] = {}
    uris = [r.uri for r in records]
    for start in range(0, len(uris), _CHUNK):
        chunk = uris[start : start + _CHUNK]
        where, args = any_of(conn.dialect, "uri", chunk)
        rows = await conn.fetchall(f"SELECT uri, cid FROM records WHERE {where}", args)
        known.update({row[0]: row[1] for row in rows})
    # in key order: a listing comes newest first, and keys inserted in descending order leave the pages of the
    # URI and createdAt indexes half full (a quarter of those indexes' bytes)
    fresh = sorted((r for r in records if r.uri not in known), key=lambda r: r.uri)
    changed = [r for r in records if r.uri in known and known[r.uri] != r.cid]
    same = [r for r in records if known.get(r.uri) == r.cid]
    if written is not None:
        written += fresh + changed
    if conn.dialect is Dialect.POSTGRES:
        await _write_batch(conn, fresh, changed, same, now)
        return UpsertResult(len(fresh), len(changed), len(same))
    if fresh:
        # the collection by its number, and the URI computed from the parts, on SQLite (migration 026)
        await conn.executemany(
            "INSERT INTO records (did, kind, other_collection, rkey, cid, value, indexed_at, verified_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (r.did, code, None if code else r.collection, r.rkey, r.cid, r.json, now, now)
                for r in fresh
                for code in (COLLECTION_CODES.get(r.collection),)
            ],
        )
        await _count_inserted(conn, [r.uri for r in fresh])
    if changed:
        await conn.executemany(
            "UPDATE records SET cid = ?, value = ?, indexed_at = ?, verified_at = ?, hidden = 0,"
            " writes = writes + 1 WHERE uri = ?",
            [(r.cid, r.json, now, now, r.uri) for r in changed],
        )
    if same:
        await conn.executemany("UPDATE records SET verified_at = ? WHERE uri = ?", [(now, r.uri) for r in same])
    return UpsertResult(len(fresh), len(changed), len(same))


async def _count_inserted(conn: Conn, uris: list[str]) -> None:
    """What SQLite's per-row insert triggers did before migration 027, once per batch: count the new visible records
    of each kind, and flag those a takedown names (a record may be taken down before it is indexed)."""
    for start in range(0, len(uris), _CHUNK):
        where, args = any_of(conn.dialect, "c.uri", uris[start : start + _CHUNK])
        await conn.execute(
            "INSERT INTO content_counts (kind, did, n)"
            f" SELECT c.kind, c.did, count(*) FROM counted_records c WHERE {where} AND c.hidden = 0"
            " AND NOT EXISTS (SELECT 1 FROM takedowns t WHERE t.uri = c.uri) GROUP BY c.kind, c.did"
            " ON CONFLICT (kind, did) DO UPDATE SET n = n + excluded.n",
            args,
        )
        where, args = any_of(conn.dialect, "uri", uris[start : start + _CHUNK])
        await conn.execute(
            f"UPDATE records SET taken_down = 1 WHERE {where} AND uri IN (SELECT uri FROM takedowns)", args
        )


async def _write_batch(
    conn: Conn, fresh: list[IndexedRecord], changed: list[IndexedRecord], same: list[IndexedRecord], now: str
) -> None:
    """upsert_records on PostgreSQL: one statement per kind of write, not one per record, because the content
    counters' triggers run once per statement there (migration 015)."""
    if fresh:
        await conn.execute(
            "INSERT INTO records (uri, did, collection, rkey, cid, value, indexed_at, verified_at)"
            " SELECT u.uri, u.did, u.collection, u.rkey, u.cid, u.value, ?, ?"
            " FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[])"
            " AS u(uri, did, collection, rkey, cid, value)",
            (
                now,
                now,
                [r.uri for r in fresh],
                [r.did for r in fresh],
                [r.collection for r in fresh],
                [r.rkey for r in fresh],
                [r.cid for r in fresh],
                [r.json for r in fresh],
            ),
        )
    if changed:
        await conn.execute(
            "UPDATE records SET cid = u.cid, value = u.value, indexed_at = ?, verified_at = ?, hidden = 0,"
            " writes = records.writes + 1"
            " FROM unnest(?::text[], ?::text[], ?::text[]) AS u(uri, cid, value) WHERE records.uri = u.uri",
            (now, now, [r.uri for r in changed], [r.cid for r in changed], [r.json for r in changed]),
        )
    if same:
        await mark_verified(conn, [r.uri for r in same], now)


def in_repo(dialect: Dialect, alias: str, did: str) -> tuple[str, list[str]]:
    """The condition (and its arguments) that a row of ``records`` under ``alias`` is one of repository ``did``'s."""
    if dialect is Dialect.POSTGRES:
        return f"{alias}.did = ?", [did]
    # SQLite keeps no index on did (migration 026): a repository's records are the range of the URI's that starts
    # `at://<did>/` (a DID holds no '/', and '0' follows '/')
    return f"{alias}.uri >= ? AND {alias}.uri < ?", [f"at://{did}/", f"at://{did}0"]


def same_repo(dialect: Dialect, alias: str, did_column: str) -> str:
    """:func:`in_repo` for a DID that is a column of another table (a join)."""
    if dialect is Dialect.POSTGRES:
        return f"{alias}.did = {did_column}"
    return f"{alias}.uri >= 'at://' || {did_column} || '/' AND {alias}.uri < 'at://' || {did_column} || '0'"


async def record_cids(conn: Conn, did: str, collections: Iterable[str] | None = None) -> dict[str, str]:
    """``{uri: cid}`` of what the index holds for a repo (optionally only some collections)."""
    where, args = in_repo(conn.dialect, "r", did)
    sql = f"SELECT r.uri, r.cid, r.collection FROM records r WHERE {where}"
    wanted = set(collections) if collections is not None else None
    return {row[0]: row[1] for row in await conn.fetchall(sql, args) if wanted is None or row[2] in wanted}


async def unverified_since(conn: Conn, did: str, since: str) -> list[str]:
    """URIs of ``did``'s records not seen upstream since ``since``: what a full listing that began then did not find."""
    where, args = in_repo(conn.dialect, "r", did)
    rows = await conn.fetchall(f"SELECT r.uri FROM records r WHERE {where} AND r.verified_at < ?", [*args, since])
    return [str(row[0]) for row in rows]


@dataclass(frozen=True)
class StoredRecord:
    uri: str
    collection: str
    rkey: str
    cid: str


async def dids_to_verify(conn: Conn, before: str, after_did: str, limit: int) -> list[str]:
    """Repos holding records last verified before ``before``, in DID order after ``after_did``."""
    rows = await conn.fetchall(
        "SELECT DISTINCT did FROM records WHERE verified_at < ? AND did > ? ORDER BY did LIMIT ?",
        (before, after_did, limit),
    )
    return [str(row[0]) for row in rows]


async def count_unverified(conn: Conn, before: str) -> int:
    row = await conn.fetchone("SELECT count(*) FROM records WHERE verified_at < ?", (before,))
    return int(row[0]) if row else 0


async def records_to_verify(conn: Conn, did: str, before: str) -> list[StoredRecord]:
    where, args = in_repo(conn.dialect, "r", did)
    rows = await conn.fetchall(
        f"SELECT r.uri, r.collection, r.rkey, r.cid FROM records r WHERE {where} AND r.verified_at < ? ORDER BY r.uri",
        [*args, before],
    )
    return [StoredRecord(row[0], row[1], row[2], row[3]) for row in rows]


async def mark_verified(conn: Conn, uris: Iterable[str], now: str) -> None:
    if conn.dialect is Dialect.POSTGRES:  # one statement: the counters' update trigger runs once per statement
        await conn.execute("UPDATE records SET verified_at = ? WHERE uri = ANY(?::text[])", (now, list(uris)))
        return
    await conn.executemany("UPDATE records SET verified_at = ? WHERE uri = ?", [(now, uri) for uri in uris])


async def repo_host(conn: Conn, did: str) -> tuple[str | None, str] | None:
    """(pds url, status) of a known repo, or ``None``."""
    row = await conn.fetchone("SELECT pds_url, status FROM repos WHERE did = ?", (did,))
    return (row[0], str(row[1])) if row else None


async def known_pds_urls(conn: Conn) -> list[str]:
    rows = await conn.fetchall("SELECT url FROM pdses ORDER BY url")
    return [str(row[0]) for row in rows]


async def oldest_pds_urls(conn: Conn, limit: int) -> list[str]:
    """The first ``limit`` hosts the registry came to know: hosts registered later never displace them."""
    rows = await conn.fetchall("SELECT url FROM pdses ORDER BY first_seen_at, url LIMIT ?", (limit,))
    return [str(row[0]) for row in rows]


async def pds_known(conn: Conn, url: str) -> bool:
    return await conn.fetchone("SELECT 1 FROM pdses WHERE url = ?", (url,)) is not None


async def delete_records(conn: Conn, uris: Iterable[str]) -> int:
    wanted = list(uris)
    deleted = 0
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        where, args = any_of(conn.dialect, "uri", chunk)
        deleted += await conn.execute(f"DELETE FROM records WHERE {where}", args)
    return deleted


async def set_repo_hidden(conn: Conn, did: str, hidden: bool) -> int:
    # only rows that change: SQLite rewrites every row an UPDATE matches, even to the value it holds (a re-synced
    # repository would rewrite all its rows to the flag they already have)
    where, args = in_repo(conn.dialect, "records", did)
    return await conn.execute(
        f"UPDATE records SET hidden = ? WHERE {where} AND hidden != ?", [int(hidden), *args, int(hidden)]
    )


class KeepHandle:
    """The handle argument of :func:`upsert_repo` when the caller did not verify one: the stored one stays."""


KEEP_HANDLE = KeepHandle()


async def upsert_repo(
    conn: Conn,
    did: str,
    now: str,
    *,
    handle: str | KeepHandle | None = KEEP_HANDLE,
    pds_url: str | None = None,
    status: str = "active",
    rev: str | None = None,
    data_cid: str | None = None,
    synced: bool = False,
) -> None:
    """Create or update a repo row. Its PDS joins the registry: every host the index holds records from is one
    ``listPDSes`` lists, with the records of its repos counted, whichever job indexed them.

    ``handle`` is the *verified* handle (``None``: none verified, so none is stored), stored lowercased; a caller
    that did not verify one leaves it out and the stored one stays. ``first_seen_at`` is set when the row is made
    and never changed. ``data_cid`` is the MST root of ``rev``, when the snapshot that gave ``rev`` knows it."""
    if pds_url is not None:
        await ensure_pds(conn, pds_url, now)
    keep = isinstance(handle, KeepHandle)
    stored = None if isinstance(handle, KeepHandle) or handle is None else handle.lower()
    await conn.execute(
        "INSERT INTO repos (did, handle, pds_url, status, rev, data_cid, last_synced_at, updated_at, first_seen_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (did) DO UPDATE SET"
        f"   handle = {'repos.handle' if keep else 'excluded.handle'},"
        "   pds_url = coalesce(excluded.pds_url, repos.pds_url),"
        "   status = excluded.status,"
        "   rev = coalesce(excluded.rev, repos.rev),"
        # a new rev comes with its own data root, or none (a listing): the one kept was another rev's
        "   data_cid = CASE WHEN excluded.rev IS NULL THEN repos.data_cid ELSE excluded.data_cid END,"
        "   last_synced_at = coalesce(excluded.last_synced_at, repos.last_synced_at),"
        "   updated_at = excluded.updated_at",
        (did, stored, pds_url, status, rev, data_cid if rev is not None else None, now if synced else None, now, now),
    )


async def set_repo_status(conn: Conn, did: str, status: str, now: str) -> str | None:
    """Set a held repository's hosting status; the status it had (``None``: the index does not hold it)."""
    row = await conn.fetchone("SELECT status FROM repos WHERE did = ?", (did,))
    if row is None:
        return None
    await conn.execute("UPDATE repos SET status = ?, updated_at = ? WHERE did = ?", (status, now, did))
    return str(row[0])


async def set_repo_identity(conn: Conn, did: str, handle: str | None, pds_url: str | None, now: str) -> bool:
    """A held repository's verified handle (``None``: none verified) and, when known, its PDS (registered);
    ``False`` when the index does not hold it."""
    if await conn.fetchone("SELECT 1 FROM repos WHERE did = ?", (did,)) is None:
        return False
    if pds_url is not None:
        await ensure_pds(conn, pds_url, now)
    await conn.execute(
        "UPDATE repos SET handle = ?, pds_url = coalesce(?, pds_url), updated_at = ? WHERE did = ?",
        (None if handle is None else handle.lower(), pds_url, now, did),
    )
    return True


async def forget_repo_head(conn: Conn, did: str, now: str) -> None:
    """No rev is held any more (the repository was purged): whatever comes next is synced whole."""
    await conn.execute("UPDATE repos SET rev = NULL, data_cid = NULL, updated_at = ? WHERE did = ?", (now, did))


@dataclass(frozen=True)
class RepoHead:
    """Where the index holds a repository: the rev it last applied and that commit's MST root, when known."""

    rev: str | None
    data_cid: str | None
    pds_url: str | None


async def repo_heads(conn: Conn, dids: Sequence[str], *, lock: bool = False) -> dict[str, RepoHead]:
    """The heads of ``dids`` held. ``lock`` (in a write transaction): on PostgreSQL the rows stay locked to its end,
    in DID order, so two writers of one repository's head take turns and the second reads what the first wrote
    (SQLite's single writer takes turns already)."""
    heads: dict[str, RepoHead] = {}
    ordered = sorted(dids) if lock else list(dids)
    locking = " ORDER BY did FOR UPDATE" if lock and conn.dialect is Dialect.POSTGRES else ""
    for start in range(0, len(ordered), _CHUNK):
        where, args = any_of(conn.dialect, "did", ordered[start : start + _CHUNK])
        for row in await conn.fetchall(f"SELECT did, rev, data_cid, pds_url FROM repos WHERE {where}{locking}", args):
            heads[str(row[0])] = RepoHead(row[1], row[2], row[3])
    return heads


async def set_repo_head(conn: Conn, did: str, rev: str, data_cid: str, now: str) -> None:
    await conn.execute(
        "UPDATE repos SET rev = ?, data_cid = ?, updated_at = ? WHERE did = ?", (rev, data_cid, now, did)
    )


async def ensure_pds(conn: Conn, url: str, now: str) -> None:
    """Register a host (status ``unknown`` until a pds-scan lists it); a known host is left as it is."""
    await conn.execute(
        "INSERT INTO pdses (url, first_seen_at, updated_at) VALUES (?, ?, ?) ON CONFLICT (url) DO NOTHING",
        (url, now, now),
    )


async def record_pds_scan(
    conn: Conn, url: str, now: str, *, repo_count: int | None = None, error: str | None = None
) -> None:
    """Note a scan of ``url``: a success resets the failure streak, a failure extends it."""
    await ensure_pds(conn, url, now)
    if error is None:
        await _pds_reached(conn, url, now, scanned=True, repo_count=repo_count)
    else:
        await _pds_failed(conn, url, now, error, UNHEALTHY_AFTER)


async def record_pds_connection(conn: Conn, url: str, now: str, *, error: str | None, unhealthy_after: int) -> None:
    """Note a live-indexing connection to a registered host (a scan's streak and status, but no scan): a failure
    extends the streak (``unhealthy`` once it reaches ``unhealthy_after``), a success ends it and makes the host
    ``healthy``. A URL the registry does not hold (a relay) is left alone: the registry lists PDSes only."""
    if error is None:
        await _pds_reached(conn, url, now, scanned=False, repo_count=None)
    else:
        await _pds_failed(conn, url, now, error, unhealthy_after)


async def _pds_reached(conn: Conn, url: str, now: str, *, scanned: bool, repo_count: int | None) -> None:
    scan = "last_scan_at = ?, repo_count = coalesce(?, repo_count)," if scanned else ""
    await conn.execute(
        f"UPDATE pdses SET status = 'healthy', {scan} consecutive_errors = 0, last_error = NULL, updated_at = ?"
        " WHERE url = ?",
        ((now, repo_count) if scanned else ()) + (now, url),
    )


async def _pds_failed(conn: Conn, url: str, now: str, error: str, unhealthy_after: int) -> None:
    await conn.execute(
        "UPDATE pdses SET error_count = error_count + 1, consecutive_errors = consecutive_errors + 1,"
        " last_error = ?, updated_at = ?,"
        " status = CASE WHEN consecutive_errors + 1 >= ? THEN 'unhealthy' ELSE status END"
        " WHERE url = ?",
        (error[:500], now, unhealthy_after, url),
    )


async def pds_stats(conn: Conn, limit: int) -> PdsStats:
    """The registry for listPDSes: totals over all hosts, rows for the ``limit`` most recently scanned."""
    total_row = await conn.fetchone(
        "SELECT count(*), sum(CASE WHEN status = 'healthy' THEN 1 ELSE 0 END),"
        " sum(CASE WHEN status = 'unhealthy' THEN 1 ELSE 0 END) FROM pdses"
    )
    total, healthy, unhealthy = (int(v or 0) for v in (total_row or (0, 0, 0)))
    row = await conn.fetchone(
        "SELECT count(DISTINCT repos.pds_url) FROM repos"
        f" JOIN records ON {same_repo(conn.dialect, 'records', 'repos.did')}"
        f" WHERE repos.pds_url IN (SELECT url FROM pdses) AND {visible()}"
    )
    with_records = int(row[0]) if row else 0
    items: list[PdsRow] = []
    for r in await conn.fetchall(
        "SELECT p.url, p.status, p.last_scan_at, p.repo_count, p.error_count, p.consecutive_errors, p.last_error,"
        f" (SELECT count(*) FROM repos o JOIN records r ON {same_repo(conn.dialect, 'r', 'o.did')}"
        f" WHERE o.pds_url = p.url AND {visible('r')})"
        " FROM pdses p ORDER BY p.last_scan_at IS NULL, p.last_scan_at DESC, p.url LIMIT ?",
        (limit,),
    ):
        items.append(PdsRow(r[0], r[1], r[2], int(r[3]), int(r[7]), int(r[4]), int(r[5]), r[6]))
    return PdsStats(total, healthy, unhealthy, with_records, items)


async def counts_by(conn: Conn, collection: str, field: str) -> dict[str, int]:
    """Visible records of ``collection`` counted by one top-level field of their value (e.g. a node's kind)."""
    member = "(value::jsonb ->> ?)" if conn.dialect is Dialect.POSTGRES else "json_extract(value, '$.' || ?)"
    if not _NSID.fullmatch(collection):
        raise ValueError(f"not a collection: {collection!r}")
    # the collection a literal: SQLite reads a collection's partial index (migration 026) only so
    rows = await conn.fetchall(
        f"SELECT coalesce({member}, ''), count(*) FROM records"
        f" WHERE collection = '{collection}' AND {visible()} GROUP BY 1 ORDER BY 1",
        (field,),
    )
    return {str(row[0]): int(row[1]) for row in rows}
