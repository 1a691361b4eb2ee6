"""Retrying one dead-lettered record: fetch it again, index it if it is valid now, forget it if it is gone."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Protocol

from atproto_core.uri import AtUri

from chive_admin.clock import now_stamp
from chive_admin.ingest.fetch import RepoContents
from chive_admin.ingest.write import apply_records, remove_records
from chive_admin.store.operations import Progress
from chive_admin.store.sql import Conn
from chive_admin.upstream.atproto import AtprotoClient
from chive_admin.upstream.errors import RecordNotFound


class RetryTarget(Protocol):
    """Where a retried record is written and counted: a job's context, whose batches commit its progress too."""

    progress: Progress

    def batch(self) -> AbstractAsyncContextManager[Conn]: ...


class StillInvalid(Exception):
    """The record fetched again still fails its lexicon; the message is the problem."""


async def retry_record(upstream: AtprotoClient, target: RetryTarget, uri: str, pds: str) -> None:
    """Fetch ``uri`` from ``pds`` again and write what it is now, counted in the same batch."""
    parsed = AtUri.from_str(uri)
    did, collection, rkey = parsed.host, parsed.collection, parsed.rkey
    try:
        answer = await upstream.get_record(pds, did, collection, rkey)
    except RecordNotFound:
        async with target.batch() as conn:  # deleted upstream since: nothing left to index
            await remove_records(conn, [uri])
        return
    contents = RepoContents(did=did)
    contents.add(collection, rkey, answer.cid or "", answer.value)
    if contents.invalid:
        raise StillInvalid(contents.invalid[0].problem)
    async with target.batch() as conn:
        await apply_records(conn, contents.records, now_stamp())
        target.progress.records_processed += 1
