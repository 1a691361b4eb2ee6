"""Accounts as the index knows them (searchUsers, getUserDetail): the repositories we hold something visible of.

An account is a row of ``repos`` holding at least one visible record (:func:`~chive_admin.store.takedowns.visible`);
its handle is the verified one ``upsert_repo`` stored (lowercased), its first-seen time the one set when the row was
made. Its counts are of visible records: eprints it submitted (``submittedBy``, wherever the record is), reviews and
endorsements in its own repository. Every function reading several accounts reads them in a fixed number of queries,
whatever their number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from chive_admin._generated import ids
from chive_admin.store.index import same_repo
from chive_admin.store.sql import Conn, Dialect, any_of, json_text
from chive_admin.store.takedowns import visible

#: above every character a handle or a DID can hold: ``prefix <= x < prefix + _TOP`` is "x starts with prefix"
_TOP = "\U0010ffff"


@dataclass
class Account:
    did: str
    handle: str | None
    first_seen_at: str | None
    display_name: str | None = None
    eprints: int = 0
    reviews: int = 0
    endorsements: int = 0
    #: from the roles table only (the bootstrap admins are the role book's)
    roles: set[str] = field(default_factory=set)


def _holds_visible(dialect: Dialect, alias: str) -> str:
    return f"EXISTS (SELECT 1 FROM records x WHERE {same_repo(dialect, 'x', f'{alias}.did')} AND {visible('x')})"


async def find(conn: Conn, query: str, limit: int) -> list[str]:
    """DIDs of the accounts whose handle or DID starts with ``query`` (lowercase), handles first (in handle order),
    then DIDs (in DID order). A prefix is a range of the index, so no character of ``query`` is a wildcard."""
    if not query:
        return []
    upper = query + _TOP
    found: list[str] = []
    holds = _holds_visible(conn.dialect, "r")
    for column in ("handle", "did"):
        rows = await conn.fetchall(
            f"SELECT r.did FROM repos r WHERE r.{column} >= ? AND r.{column} < ? AND {holds}"
            f" ORDER BY r.{column} LIMIT ?",
            (query, upper, limit),
        )
        found += [str(row[0]) for row in rows if row[0] not in found]
    return found[:limit]


async def accounts(conn: Conn, dids: Sequence[str]) -> list[Account]:
    """The accounts of ``dids`` that we hold something visible of, in the order given, with their counts, profile
    name and roles."""
    if not dids:
        return []
    where, args = any_of(conn.dialect, "r.did", dids)
    rows = await conn.fetchall(
        f"SELECT r.did, r.handle, r.first_seen_at FROM repos r WHERE {where} AND {_holds_visible(conn.dialect, 'r')}",
        args,
    )
    found = {str(row[0]): Account(str(row[0]), row[1], row[2]) for row in rows}
    if not found:
        return []
    held = list(found)

    # reviews and endorsements are counted in the repository: the content counters (migration 015) hold them
    where, args = any_of(conn.dialect, "c.did", held)
    in_repo = (ids.PUB_CHIVE_REVIEW_COMMENT, ids.PUB_CHIVE_REVIEW_ENDORSEMENT)
    kinds, kind_args = any_of(conn.dialect, "k.collection", in_repo)
    for did, collection, count in await conn.fetchall(
        f"SELECT c.did, k.collection, c.n FROM content_counts c JOIN content_kinds k ON k.kind = c.kind"
        f" WHERE {where} AND {kinds}",
        [*args, *kind_args],
    ):
        if collection == ids.PUB_CHIVE_REVIEW_COMMENT:
            found[str(did)].reviews = int(count)
        else:
            found[str(did)].endorsements = int(count)

    # the literal collection (not a parameter): the partial index of submissions is used only so
    submitter = json_text(conn.dialect, "r.value", "submittedBy")
    where, args = any_of(conn.dialect, submitter, held)
    for did, count in await conn.fetchall(
        f"SELECT {submitter}, count(*) FROM records r WHERE r.collection = '{ids.PUB_CHIVE_EPRINT_SUBMISSION}'"
        f" AND {where} AND {visible('r')} GROUP BY {submitter}",
        args,
    ):
        found[str(did)].eprints = int(count)

    # a profile's key is `self`: found by its URI, not among every record of the repository
    where, args = any_of(conn.dialect, "r.uri", [f"at://{did}/{ids.PUB_CHIVE_ACTOR_PROFILE}/self" for did in held])
    name = json_text(conn.dialect, "r.value", "displayName")
    for did, display_name in await conn.fetchall(
        f"SELECT r.did, {name} FROM records r WHERE {where} AND {visible('r')}", args
    ):
        if isinstance(display_name, str) and display_name:
            found[str(did)].display_name = display_name

    where, args = any_of(conn.dialect, "did", held)
    for did, role in await conn.fetchall(f"SELECT did, role FROM roles WHERE {where}", args):
        found[str(did)].roles.add(str(role))
    return [found[did] for did in dids if did in found]
