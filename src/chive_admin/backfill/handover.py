"""Backfills that are no snapshot, beside the live indexer: when a repository's head moved while a job read it.

pds-scan lists records page by page and freshness-scan fetches them one by one; neither reads one commit of the
repository. A live commit applied meanwhile may be newer than what the job read, and writing what it read would undo
it. So such a job notes the head before it reads a repository and, in the batch that writes it, asks whether the
head moved: then a did-sync (one export, one commit, and the live indexer's handover rule) brings the repository
level instead.
"""

from __future__ import annotations

from chive_admin.backfill import job_types
from chive_admin.backfill.context import AnyContext
from chive_admin.backfill.jobs.did_sync import DidSyncParams
from chive_admin.clock import now_stamp
from chive_admin.store import index
from chive_admin.store.index import RepoHead
from chive_admin.store.operations import QueueFull
from chive_admin.store.sql import Conn


async def head_of(ctx: AnyContext, did: str) -> RepoHead | None:
    async with ctx.services.db.read() as conn:
        return (await index.repo_heads(conn, [did])).get(did)


async def resync_if_moved(ctx: AnyContext, conn: Conn, did: str, before: RepoHead | None) -> bool:
    """``True`` when ``did``'s head is no longer ``before``: a did-sync of it is queued in ``conn``'s transaction
    (the caller wakes the engine once it commits). With the queue full the head is forgotten instead, so that the
    repository's next live commit, which cannot chain from nothing, resyncs it."""
    after = (await index.repo_heads(conn, [did])).get(did)
    if after is None or before is None or after.rev == before.rev:
        return False
    try:
        await ctx.services.engine.enqueue(conn, job_types.DID_SYNC.name, DidSyncParams(did=did), None)
    except QueueFull:
        await index.forget_repo_head(conn, did, now_stamp())
    return True
