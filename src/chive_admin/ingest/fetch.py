"""Fetching one repository's ``pub.chive.*`` records, by listing (pds-scan) or by CAR export (did-sync)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Iterator
from contextlib import AsyncExitStack, aclosing, contextmanager
from dataclasses import dataclass, field
from typing import IO

from chive_admin.aio import iterate_in_thread
from chive_admin.ingest.export_readers import ExportReaders, GrowingFile
from chive_admin.ingest.reader_processes import ReaderFailed
from chive_admin.lex.data_model import NotInDataModel
from chive_admin.lex.formats import is_record_key
from chive_admin.repo.car import open_verified
from chive_admin.repo.rows import RecordRow, record_rows
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
    #: a stream's part known to be its last (a consumer may commit it with the end); a last part may not say so
    last: bool = False
    _unknown: set[str] = field(default_factory=set, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._unknown.update(self.unknown_collections)

    def add(
        self, collection: str, rkey: str, cid: str, value: object, problem: str | None = None, json: str | None = None
    ) -> None:
        """Sort one record into ``records`` or ``invalid``; ``problem``, when the caller already knows one, and
        ``json``, when it has the value as stored already."""
        if problem is None and not is_record_key(rkey):
            problem = f"{rkey[:100]!r} is not a valid record key"
        problem = problem or record_problem(collection, value)
        if problem is None and isinstance(value, dict):
            try:
                self.records.append(IndexedRecord.from_parts(self.did, collection, rkey, cid, value, json))
                return
            except NotInDataModel as exc:
                problem = str(exc)
        uri = f"at://{self.did}/{collection}/{rkey}"
        self.invalid.append(InvalidRecord(uri, problem or "record is not a JSON object"))

    def add_rows(self, rows: Iterable[RecordRow]) -> None:
        """Sort checked rows (:mod:`chive_admin.repo.rows`) in: they were validated where they were read."""
        did, records, invalid = self.did, self.records, self.invalid
        for collection, rkey, cid, text, problem in rows:
            if text is not None:
                records.append(IndexedRecord(f"at://{did}/{collection}/{rkey}", did, collection, rkey, cid, text))
            elif problem is not None:
                invalid.append(InvalidRecord(f"at://{did}/{collection}/{rkey}", problem))
            else:
                self.add_unknown(collection)

    def extend(self, part: RepoContents) -> None:
        """Take in ``part``'s records, invalid records and unknown collections, after this one's."""
        self.records += part.records
        self.invalid += part.invalid
        for collection in part.unknown_collections:
            self.add_unknown(collection)

    def add_unknown(self, collection: str) -> None:
        """Note a collection no lexicon of ours describes, once (a set, not the list, answers whether it was: a
        repository may hold many made-up collections, and an export read as it downloads gives its records in the
        order their blocks arrive, not with each collection's keys together)."""
        if collection not in self._unknown:
            self._unknown.add(collection)
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
    release: Callable[[], Awaitable[None]] | None = None
    #: the MST root of ``rev`` (an export's; a listing has none)
    data_cid: str | None = None

    async def aclose(self) -> None:
        try:
            await self.parts.aclose()
        finally:
            if self.release is not None:
                await self.release()


async def stream_by_export(
    client: AtprotoClient,
    pds: str,
    did: str,
    signing_key: str,
    *,
    prefix: str = CHIVE_PREFIX,
    size: int = 500,
    readers: ExportReaders | None = None,
) -> RepoStream:
    """getRepo, verify the commit against ``signing_key``, then read the ``prefix`` key range of the MST, ``size``
    records a part, each checked against the lexicons: in a reader process when ``readers`` are given (the next
    part is read while the consumer writes this one), else on a worker thread, each part read when the consumer asks
    for it.

    A reader reads the export while it downloads, each record handed on once its block and every MST node above it
    have reached the disk (in the order they arrive, not key order), so writing the first parts overlaps the
    download; the last part comes once the whole export is on disk and checked.

    Signature and commit checks happen before this returns; a broken tree or a missing block is found while
    reading and raised from ``parts``, or from this when a reader meets it in the first part (every record handed
    out before it is in a block whose hash and path from the signed root were checked, so it is the owner's record).
    A download that breaks off raises its own failure, from here or from ``parts``.
    """
    async with AsyncExitStack() as stack:
        if readers is not None:
            growing = GrowingFile()
            download = await _downloading(client, pds, did, growing)
            stack.push_async_callback(_stop, download)
            if download.done():
                download.result()  # a download that failed before any of it was read raises here
            assert growing.file is not None
            with _download_first(download):
                session = await stack.enter_async_context(
                    readers.session(
                        growing.file.name, did=did, signing_key=signing_key, prefix=prefix, size=size, growing=growing
                    )
                )
            rev, data_cid = session.rev, session.data_cid

            async def parts() -> AsyncGenerator[RepoContents, None]:
                with _download_first(download):
                    async with aclosing(session.parts()) as read:
                        async for rows in read:
                            yield _contents(did, rev, rows, size)

        else:
            spool = stack.enter_context(await client.get_repo(pds, did))
            # parsing and hashing a large CAR is CPU work: keep it off the event loop
            repo = await asyncio.to_thread(open_verified, spool, did=did, signing_key=signing_key)
            stack.callback(repo.close)
            rev, data_cid = repo.rev, repo.data_cid

            async def parts() -> AsyncGenerator[RepoContents, None]:
                def read() -> Iterator[RepoContents]:
                    return (_contents(did, rev, rows, size) for rows in record_rows(repo, prefix, size))

                async with aclosing(iterate_in_thread(read)) as read_parts:
                    async for part in read_parts:
                        yield part

        return RepoStream(did, None, rev, parts(), stack.pop_all().aclose, data_cid)
    raise AssertionError("unreachable")  # mypy: the exit stack does not swallow exceptions


async def _downloading(client: AtprotoClient, pds: str, did: str, growing: GrowingFile) -> asyncio.Task[IO[bytes]]:
    """getRepo on a task of its own, telling ``growing`` as the export reaches the disk; returns once the first
    checked bytes are there (the file may be read) or the download ended, whichever is first."""
    started: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def progress(spool: IO[bytes], size: int) -> None:
        if not started.done():
            growing.file = spool
            started.set_result(None)
        growing.grew(size)

    async def download() -> IO[bytes]:
        try:
            spool = await client.get_repo(pds, did, progress=progress)
        except BaseException:
            growing.broke()
            raise
        growing.file = spool
        growing.done()
        return spool

    task = asyncio.create_task(download())
    try:
        await asyncio.wait((task, started), return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        await _stop(task)
        raise
    return task


async def _stop(download: asyncio.Task[IO[bytes]]) -> None:
    """End ``download`` if it is still running; close (so delete) the file of one that ended well."""
    download.cancel()
    await asyncio.wait((download,))
    if not download.cancelled() and download.exception() is None:
        download.result().close()


@contextmanager
def _download_first(download: asyncio.Task[IO[bytes]]) -> Iterator[None]:
    """A reader that failed because its export's download broke off (it is killed then: it may be waiting for bytes
    that will never come): the download's own failure is the one to report."""
    try:
        yield
    except ReaderFailed:
        failure = download.exception() if download.done() and not download.cancelled() else None
        if failure is not None:
            raise failure from None
        raise


def _contents(did: str, rev: str, rows: list[RecordRow], size: int) -> RepoContents:
    """A part of checked rows. The walk gives ``size`` rows a part until its last, so a shorter part is the last."""
    part = RepoContents(did=did, rev=rev, last=len(rows) < size)
    part.add_rows(rows)
    return part


async def fetch_by_export(
    client: AtprotoClient, pds: str, did: str, signing_key: str, *, readers: ExportReaders | None = None
) -> RepoContents:
    """The whole of :func:`stream_by_export` at once (what a small repository or a test wants)."""
    stream = await stream_by_export(client, pds, did, signing_key, readers=readers)
    whole = RepoContents(did=did, rev=stream.rev)
    async with aclosing(stream):
        async for part in stream.parts:
            whole.extend(part)
    return whole


async def stream_by_listing(client: AtprotoClient, pds: str, did: str, *, prefix: str = CHIVE_PREFIX) -> RepoStream:
    """:func:`fetch_by_listing` as a stream of one part (a PDS without getRepo)."""
    contents = await fetch_by_listing(client, pds, did, prefix=prefix)

    async def parts() -> AsyncGenerator[RepoContents, None]:
        contents.last = True
        yield contents

    return RepoStream(did, contents.handle, None, parts())
