"""Fetching one repository's ``pub.chive.*`` records, by listing (pds-scan) or by CAR export (did-sync)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Iterable, Iterator
from contextlib import aclosing
from dataclasses import dataclass, field

from chive_admin.lex.formats import is_record_key
from chive_admin.repo.car import VerifiedRepo, open_verified
from chive_admin.repo.validate import CHIVE_PREFIX, is_indexed, record_problem
from chive_admin.store.index import IndexedRecord, NotInDataModel
from chive_admin.sync.threaded import iterate_in_thread
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

    def add(self, collection: str, rkey: str, cid: str, value: object, problem: str | None = None) -> None:
        """Sort one record into ``records`` or ``invalid``; ``problem``, when the caller already knows one."""
        if problem is None and not is_record_key(rkey):
            problem = f"{rkey[:100]!r} is not a valid record key"
        problem = problem or record_problem(collection, value)
        if problem is None and isinstance(value, dict):
            try:
                self.records.append(IndexedRecord.from_parts(self.did, collection, rkey, cid, value))
                return
            except NotInDataModel as exc:
                problem = str(exc)
        uri = f"at://{self.did}/{collection}/{rkey}"
        self.invalid.append(InvalidRecord(uri, problem or "record is not a JSON object"))

    def add_unknown(self, collection: str) -> None:
        """Note a collection no lexicon of ours describes, met in key order.

        In key order a collection's keys are together, so comparing with the last one is enough (a membership test
        would be quadratic in a repository of many made-up collections)."""
        if not self.unknown_collections or self.unknown_collections[-1] != collection:
            self.unknown_collections.append(collection)


def chive_collections(collections: Iterable[str]) -> tuple[list[str], list[str]]:
    """(indexed, unknown) among the ``pub.chive.*`` collections of a repository; others are ignored."""
    ours = sorted(c for c in collections if c.startswith(CHIVE_PREFIX))
    return [c for c in ours if is_indexed(c)], [c for c in ours if not is_indexed(c)]


async def fetch_by_listing(client: AtprotoClient, pds: str, did: str, *, prefix: str = CHIVE_PREFIX) -> RepoContents:
    """describeRepo, then every page of listRecords of each indexed collection under ``prefix``."""
    description = await client.describe_repo(pds, did)
    indexed, unknown = chive_collections(c for c in description.collections if c.startswith(prefix))
    contents = RepoContents(did=did, handle=description.handle, unknown_collections=unknown)
    for collection in indexed:
        async for page in client.iter_record_pages(pds, did, collection):
            for record in page.records:
                _, _, rkey = record.uri.rpartition("/")
                contents.add(collection, rkey, record.cid, record.value)
    return contents


@dataclass
class RepoStream:
    """A repository's records under a prefix, in parts of at most a batch each, as they are read.

    Use it under ``contextlib.aclosing``: closing stops the reading and frees the export, whether or not any part
    was read (an async generator that never started would not run its own cleanup).
    """

    did: str
    handle: str | None
    rev: str | None
    parts: AsyncGenerator[RepoContents, None]
    release: Callable[[], None] = lambda: None

    async def aclose(self) -> None:
        try:
            await self.parts.aclose()
        finally:
            self.release()


async def stream_by_export(
    client: AtprotoClient, pds: str, did: str, signing_key: str, *, prefix: str = CHIVE_PREFIX, size: int = 500
) -> RepoStream:
    """getRepo, verify the commit against ``signing_key``, then read the ``prefix`` key range of the MST on a
    worker thread, ``size`` records a part, each read when the consumer asks for it (having written the one before).

    Signature and commit checks happen before this returns; a broken tree or a missing block is found while
    reading and raised from ``parts`` (every record handed out before it is in a block whose hash and path from
    the signed root were checked, so it is the owner's record).
    """
    spool = await client.get_repo(pds, did)
    try:
        # parsing and hashing a large CAR is CPU work: keep it off the event loop
        repo = await asyncio.to_thread(open_verified, spool, did=did, signing_key=signing_key)
    except BaseException:
        spool.close()
        raise

    async def parts() -> AsyncGenerator[RepoContents, None]:
        async with aclosing(iterate_in_thread(lambda: _export_parts(repo, prefix, size))) as read:
            async for part in read:
                yield part

    def release() -> None:
        try:
            repo.close()
        finally:
            spool.close()

    return RepoStream(did, None, repo.rev, parts(), release)


def _export_parts(repo: VerifiedRepo, prefix: str, size: int) -> Iterator[RepoContents]:
    part = RepoContents(did=repo.did, rev=repo.rev)
    for record in repo.records(prefix):
        if not is_indexed(record.collection):
            part.add_unknown(record.collection)
        else:
            part.add(record.collection, record.rkey, record.cid, record.value, record.problem)
        if len(part.records) + len(part.invalid) >= size:
            yield part
            part = RepoContents(did=repo.did, rev=repo.rev)
    yield part


async def fetch_by_export(client: AtprotoClient, pds: str, did: str, signing_key: str) -> RepoContents:
    """The whole of :func:`stream_by_export` at once (what a small repository or a test wants)."""
    stream = await stream_by_export(client, pds, did, signing_key)
    whole = RepoContents(did=did, rev=stream.rev)
    async with aclosing(stream):
        async for part in stream.parts:
            whole.records += part.records
            whole.invalid += part.invalid
            for collection in part.unknown_collections:
                whole.add_unknown(collection)
    return whole


async def stream_by_listing(client: AtprotoClient, pds: str, did: str, *, prefix: str = CHIVE_PREFIX) -> RepoStream:
    """:func:`fetch_by_listing` as a stream of one part (a PDS without getRepo)."""
    contents = await fetch_by_listing(client, pds, did, prefix=prefix)

    async def parts() -> AsyncGenerator[RepoContents, None]:
        yield contents

    return RepoStream(did, contents.handle, None, parts())
