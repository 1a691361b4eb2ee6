"""Fetching one repository's ``pub.chive.*`` records, by listing (pds-scan) or by CAR export (did-sync)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO

from chive_admin.repo.car import open_verified
from chive_admin.repo.validate import CHIVE_PREFIX, is_indexed, record_problem
from chive_admin.store.index import IndexedRecord
from chive_admin.upstream.atproto import AtprotoClient


@dataclass(frozen=True)
class InvalidRecord:
    uri: str
    problem: str


@dataclass
class RepoContents:
    """What a repository holds under ``pub.chive.*``: valid records to index, invalid ones to dead-letter."""

    did: str
    handle: str | None = None
    rev: str | None = None
    records: list[IndexedRecord] = field(default_factory=list)
    invalid: list[InvalidRecord] = field(default_factory=list)
    #: ``pub.chive.*`` collections the repository has but no lexicon of ours describes (not indexed)
    unknown_collections: list[str] = field(default_factory=list)

    def add(self, collection: str, rkey: str, cid: str, value: object) -> None:
        uri = f"at://{self.did}/{collection}/{rkey}"
        problem = record_problem(collection, value)
        if problem is not None:
            self.invalid.append(InvalidRecord(uri, problem))
        elif isinstance(value, dict):
            self.records.append(IndexedRecord(uri, self.did, collection, rkey, cid, value))


def chive_collections(collections: Iterable[str]) -> tuple[list[str], list[str]]:
    """(indexed, unknown) among the ``pub.chive.*`` collections of a repository; others are ignored."""
    ours = sorted(c for c in collections if c.startswith(CHIVE_PREFIX))
    return [c for c in ours if is_indexed(c)], [c for c in ours if not is_indexed(c)]


async def fetch_by_listing(client: AtprotoClient, pds: str, did: str) -> RepoContents:
    """describeRepo, then every page of listRecords of each indexed collection."""
    description = await client.describe_repo(pds, did)
    indexed, unknown = chive_collections(description.collections)
    contents = RepoContents(did=did, handle=description.handle, unknown_collections=unknown)
    for collection in indexed:
        async for page in client.iter_record_pages(pds, did, collection):
            for record in page.records:
                _, _, rkey = record.uri.rpartition("/")
                contents.add(collection, rkey, record.cid, record.value)
    return contents


async def fetch_by_export(client: AtprotoClient, pds: str, did: str, signing_key: str) -> RepoContents:
    """getRepo, verify the commit against ``signing_key``, and read the ``pub.chive.*`` key range of the MST."""
    spool = await client.get_repo(pds, did)
    try:
        # parsing and hashing a large CAR is CPU work: keep it off the event loop
        return await asyncio.to_thread(_read_export, spool, did, signing_key)
    finally:
        spool.close()


def _read_export(spool: IO[bytes], did: str, signing_key: str) -> RepoContents:
    repo = open_verified(spool, did=did, signing_key=signing_key)
    contents = RepoContents(did=did, rev=repo.rev)
    seen_unknown: set[str] = set()
    for record in repo.records(CHIVE_PREFIX):
        if not is_indexed(record.collection):
            seen_unknown.add(record.collection)
        elif record.problem is not None:
            contents.invalid.append(InvalidRecord(f"at://{did}/{record.collection}/{record.rkey}", record.problem))
        else:
            contents.add(record.collection, record.rkey, record.cid, record.value)
    contents.unknown_collections = sorted(seen_unknown)
    return contents
