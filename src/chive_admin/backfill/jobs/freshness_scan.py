"""freshness-scan: re-check indexed records against their PDS and mirror what changed.

Which records: those last verified before the tier's age (``hot`` > 1 h, ``warm`` > 24 h, ``cold`` > 7 d, ``all``).
Per repository, a collection with many such records is listed once; a few are fetched one by one with getRecord.
Changed CID → re-validated and updated; gone → deleted (record index and search index); repository no longer
served (deactivated, taken down…) → the repo is marked and its records hidden; unchanged → ``verified_at`` moves.
Every checked record is re-verified, so the selection itself is the checkpoint: a resumed scan picks up exactly the
records it has not reached, in DID order after the last finished repository.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import Field

from chive_admin.aio import run_bounded
from chive_admin.backfill import job_types
from chive_admin.backfill.context import AnyContext, JobContext
from chive_admin.backfill.handover import resync_if_moved
from chive_admin.backfill.items import Item, RecordItem
from chive_admin.backfill.job import Checkpoint, Job, JobParams, RetryFailed
from chive_admin.clock import now_stamp, stamp, utc_now
from chive_admin.ingest.fetch import RepoContents
from chive_admin.ingest.hosting import hosting_status, is_hosted
from chive_admin.ingest.retry_record import retry_record
from chive_admin.ingest.write import apply_records, remove_records
from chive_admin.store import index
from chive_admin.store.index import RepoHead, StoredRecord
from chive_admin.store.sql import Conn
from chive_admin.upstream.errors import RecordNotFound, UpstreamError

Tier = Literal["hot", "warm", "cold", "all"]
TIER_AGE: dict[str, timedelta] = {
    "hot": timedelta(hours=1),
    "warm": timedelta(hours=24),
    "cold": timedelta(days=7),
    "all": timedelta(0),
}
#: a collection with at least this many records to check is listed whole instead of fetched record by record
LIST_THRESHOLD = 20
REPOS_PER_ROUND = 8
REPO_CONCURRENCY = 4

#: what the PDS holds for one URI: (cid, value), or None when it does not hold it
Upstream = dict[str, tuple[str, Any] | None]


class FreshnessParams(JobParams):
    tier: Tier = "all"


class FreshnessCheckpoint(Checkpoint):
    """Records verified before ``before`` (fixed when the scan began) are checked, repository by repository in DID
    order; every repository up to ``after`` is done."""

    before: str
    after: str = ""


class RepoItem(Item):
    """A repository whose records could not be checked: checked again (all of them not verified since) on retry."""

    kind: Literal["repo"] = "repo"
    did: str


class FreshnessScan(Job[FreshnessParams, FreshnessCheckpoint]):
    kind = job_types.FRESHNESS_SCAN
    params_model = FreshnessParams
    checkpoint_model = FreshnessCheckpoint
    item_model = Annotated[RecordItem | RepoItem, Field(discriminator="kind")]
    stages = ("checking",)

    async def run(self, ctx: JobContext[FreshnessCheckpoint], params: FreshnessParams) -> None:
        ctx.stage("checking")
        if ctx.checkpoint is None:
            ctx.checkpoint = FreshnessCheckpoint(before=stamp(utc_now() - TIER_AGE[params.tier]))
            async with ctx.batch() as conn:
                ctx.progress.total_records = await index.count_unverified(conn, ctx.checkpoint.before)
        before = ctx.checkpoint.before

        async def check(did: str) -> None:
            await self._repo(ctx, did, before)

        while True:
            async with ctx.db.read() as conn:
                dids = await index.dids_to_verify(conn, before, ctx.checkpoint.after, REPOS_PER_ROUND)
            if not dids:
                return
            await run_bounded(dids, check, REPO_CONCURRENCY)
            async with ctx.batch():
                ctx.checkpoint = ctx.checkpoint.model_copy(update={"after": dids[-1]})

    async def retry_item(self, ctx: AnyContext, item: Item) -> None:
        if isinstance(item, RecordItem):
            await retry_record(ctx.services.upstream, ctx, item.uri, item.pds)
        elif isinstance(item, RepoItem):
            await self._repo(ctx, item.did, now_stamp(), retrying=True)
        else:
            raise RetryFailed(f"not a freshness-scan item: {item!r}"[:200])

    async def _repo(self, ctx: AnyContext, did: str, before: str, *, retrying: bool = False) -> None:
        """Check ``did``'s records verified before ``before``. A repo that cannot be checked is dead-lettered, or,
        when this is itself a retry, raises so its queue entry stays."""
        async with ctx.db.read() as conn:
            rows = await index.records_to_verify(conn, did, before)
            host = await index.repo_host(conn, did)
            head = (await index.repo_heads(conn, [did])).get(did)
        pds = host[0] if host else None
        if pds is None:
            await self._unverifiable(ctx, did, rows, "no_pds", "the repository's PDS is not known", None, retrying)
            return
        try:
            upstream = await self._fetch(ctx, pds, did, rows)
        except UpstreamError as exc:
            status = await hosting_status(ctx.services.upstream, pds, did, exc)
            if status is not None and not is_hosted(status):
                await self._not_hosted(ctx, did, pds, status, rows)
            else:
                await self._unverifiable(ctx, did, rows, "verify_failed", str(exc)[:500], pds, retrying)
            return
        await self._mirror(ctx, did, pds, rows, upstream, head, was_active=host is not None and host[1] == "active")

    async def _fetch(self, ctx: AnyContext, pds: str, did: str, rows: list[StoredRecord]) -> Upstream:
        client = ctx.services.upstream
        by_collection: dict[str, list[StoredRecord]] = defaultdict(list)
        for row in rows:
            by_collection[row.collection].append(row)
        found: Upstream = {}
        for collection, wanted in by_collection.items():
            if len(wanted) >= LIST_THRESHOLD:
                listed: Upstream = {}
                async for page in client.iter_record_pages(pds, did, collection):
                    listed.update({r.uri: (r.cid, r.value) for r in page.records})
                found.update({row.uri: listed.get(row.uri) for row in wanted})
                continue
            for row in wanted:
                try:
                    answer = await client.get_record(pds, did, collection, row.rkey)
                except RecordNotFound:
                    found[row.uri] = None
                else:
                    found[row.uri] = (answer.cid or "", answer.value)
        return found

    async def _mirror(
        self,
        ctx: AnyContext,
        did: str,
        pds: str,
        rows: list[StoredRecord],
        upstream: Upstream,
        head: RepoHead | None,
        *,
        was_active: bool,
    ) -> None:
        contents = RepoContents(did=did)
        gone: list[str] = []
        same: list[str] = []
        for row in rows:
            current = upstream.get(row.uri)
            if current is None:
                gone.append(row.uri)
            elif current[0] == row.cid:
                same.append(row.uri)
            else:
                contents.add(row.collection, row.rkey, current[0], current[1])
        async with ctx.batch() as conn:
            now = now_stamp()
            # a live commit came while the records were fetched: what was fetched may be older than it
            resync = await resync_if_moved(ctx, conn, did, head)
            if not resync:
                await index.mark_verified(conn, same, now)
                await apply_records(conn, contents.records, now)
                # a record that changed into something invalid must not keep being served in its old form
                await remove_records(conn, [*gone, *(bad.uri for bad in contents.invalid)])
                await ctx.dead_letter_records(conn, contents.invalid, did=did, pds=pds)
                if not was_active:  # served again after being hidden
                    await index.upsert_repo(conn, did, now, pds_url=pds, status="active")
                    await index.set_repo_hidden(conn, did, False)
            ctx.progress.records_processed += len(rows)
            ctx.count("checked", len(rows))
            if resync:
                ctx.count("resynced", len(rows))
            else:
                ctx.count("unchanged", len(same))
                ctx.count("updated", len(contents.records))
                ctx.count("deleted", len(gone))
        if resync:
            ctx.services.engine.wake()

    async def _not_hosted(self, ctx: AnyContext, did: str, pds: str, status: str, rows: list[StoredRecord]) -> None:
        async with ctx.batch() as conn:
            now = now_stamp()
            await index.upsert_repo(conn, did, now, pds_url=pds, status=status)
            await index.set_repo_hidden(conn, did, True)
            await index.mark_verified(conn, [row.uri for row in rows], now)
            ctx.progress.records_processed += len(rows)
            ctx.count("checked", len(rows))
            ctx.count("hidden", len(rows))

    async def _unverifiable(
        self,
        ctx: AnyContext,
        did: str,
        rows: list[StoredRecord],
        error_type: str,
        message: str,
        pds: str | None,
        retrying: bool,
    ) -> None:
        if retrying:
            raise RetryFailed(message)
        async with ctx.batch() as conn:
            await _dead_letter_repo(ctx, conn, did, error_type, message, pds)
            ctx.progress.records_processed += len(rows)
            ctx.count("checked", len(rows))
            ctx.count("unverified", len(rows))


async def _dead_letter_repo(
    ctx: AnyContext, conn: Conn, did: str, error_type: str, message: str, pds: str | None
) -> None:
    await ctx.dead_letter(
        conn,
        error_type=error_type,
        message=message,
        context={"did": did, "pds": pds},
        item=RepoItem(did=did),
    )
