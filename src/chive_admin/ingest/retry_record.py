"""Retrying one dead-lettered record: fetch it again, index it if it is valid now, forget it if it is gone."""

from __future__ import annotations

from atproto_core.uri import AtUri

from chive_admin.backfill.context import JobContext
from chive_admin.backfill.job import RetryFailed
from chive_admin.clock import now_stamp
from chive_admin.ingest.fetch import RepoContents
from chive_admin.ingest.write import apply_records, remove_records
from chive_admin.upstream.errors import RecordNotFound


async def retry_record(ctx: JobContext, uri: str, pds: str) -> None:
    parsed = AtUri.from_str(uri)
    did, collection, rkey = parsed.host, parsed.collection, parsed.rkey
    try:
        answer = await ctx.services.upstream.get_record(pds, did, collection, rkey)
    except RecordNotFound:
        async with ctx.batch() as conn:  # deleted upstream since: nothing left to index
            await remove_records(conn, [uri])
        return
    contents = RepoContents(did=did)
    contents.add(collection, rkey, answer.cid or "", answer.value)
    if contents.invalid:
        raise RetryFailed(contents.invalid[0].problem)
    async with ctx.batch() as conn:
        await apply_records(conn, contents.records, now_stamp())
        ctx.records_processed += 1
