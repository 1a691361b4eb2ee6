"""pds-scan: list a PDS's repositories, then index every repository's ``pub.chive.*`` records by listing.

Checkpoints are fine-grained: the listRepos cursor while discovering, then per repository its state and its
listRecords position (a large collection is listed from both ends at once: :mod:`chive_admin.ingest.listing`),
committed with each page of records. A resumed scan re-reads at most one page per listing.
Deletions upstream are mirrored by mark-and-sweep: every record seen is re-verified, and what a complete listing of a
repository did not verify since the listing began is gone upstream.
"""

from __future__ import annotations

from contextlib import aclosing
from typing import TYPE_CHECKING, Any

import aiosqlite
from pydantic import Field, field_validator

from chive_admin.aio import run_bounded
from chive_admin.backfill import job_types
from chive_admin.backfill.context import JobContext
from chive_admin.backfill.job import Job, JobFailed, JobParams, Refused, RetryFailed
from chive_admin.clock import now_stamp
from chive_admin.ingest import listing
from chive_admin.ingest.fetch import RepoContents, chive_collections
from chive_admin.ingest.hosting import hosting_status, is_hosted
from chive_admin.ingest.retry_record import retry_record
from chive_admin.ingest.write import apply_records, remove_records
from chive_admin.store import index, work_items
from chive_admin.store.operations import QueueFull
from chive_admin.upstream.errors import UpstreamError
from chive_admin.upstream.guard import UnsafeUpstream, check_service_url
from chive_admin.upstream.urls import normalise_service_url

if TYPE_CHECKING:
    from chive_admin.backfill.job import JobServices


class PdsScanParams(JobParams):
    pds_url: str | None = Field(default=None, alias="pdsUrl")

    @field_validator("pds_url")
    @classmethod
    def _origin(cls, value: str | None) -> str | None:
        return None if value is None else normalise_service_url(value)


def _error_text(exc: UpstreamError) -> str:
    return str(exc)[:500]


class PdsScan(Job[PdsScanParams]):
    kind = job_types.PDS_SCAN
    params_model = PdsScanParams
    stages = ("discovering_repos", "fetching_records")

    @classmethod
    async def admit(cls, params: PdsScanParams, services: JobServices) -> None:
        if params.pds_url is None:
            return
        try:
            await check_service_url(params.pds_url, allow_private=services.settings.allow_private_network)
        except UnsafeUpstream as exc:
            raise Refused(f"pdsUrl: {exc}") from None

    async def run(self, ctx: JobContext, params: PdsScanParams) -> None:
        if params.pds_url is not None:
            hosts = [params.pds_url]
        else:
            async with ctx.db.read() as conn:
                hosts = await index.known_pds_urls(conn)
        if ctx.checkpoint is None:
            ctx.checkpoint = {"phase": "discovering", "host": 0, "cursor": None, "listed": 0}
        if ctx.checkpoint["phase"] == "discovering":
            ctx.stage("discovering_repos")
            await ctx.save()
            await self._discover(ctx, hosts)
        ctx.stage("fetching_records")
        await ctx.save()
        async with ctx.db.read() as conn:
            pending = await work_items.with_state(conn, ctx.op_id, "pending")
        # as many repositories at once as a host takes requests: most of a repository's time is one request waiting
        concurrency = ctx.services.settings.upstream_concurrency
        await run_bounded(pending, lambda item: self._repo(ctx, item[0], item[1]), concurrency)

    async def _discover(self, ctx: JobContext, hosts: list[str]) -> None:
        client = ctx.services.upstream
        while ctx.checkpoint["host"] < len(hosts):
            host = hosts[ctx.checkpoint["host"]]
            try:
                async for page in client.iter_repo_pages(host, cursor=ctx.checkpoint["cursor"]):
                    async with ctx.batch() as conn:
                        now = now_stamp()
                        await index.ensure_pds(conn, host, now)
                        active = [(r.did, {"pds": host}) for r in page.repos if r.active is not False]
                        added = await work_items.add(conn, ctx.op_id, active)
                        for repo in page.repos:
                            if repo.active is False:  # counted, its records hidden, nothing fetched
                                await index.upsert_repo(
                                    conn, repo.did, now, pds_url=host, status=repo.status or "inactive"
                                )
                                await index.set_repo_hidden(conn, repo.did, True)
                        ctx.progress.total_repos = (ctx.progress.total_repos or 0) + added
                        ctx.checkpoint = {
                            **ctx.checkpoint,
                            "cursor": page.cursor,
                            "listed": ctx.checkpoint["listed"] + len(page.repos),
                        }
            except UpstreamError as exc:
                await self._host_failed(ctx, host, exc, alone=len(hosts) == 1)
            else:
                async with ctx.batch() as conn:
                    await index.record_pds_scan(conn, host, now_stamp(), repo_count=ctx.checkpoint["listed"])
                    ctx.checkpoint = {**ctx.checkpoint, "host": ctx.checkpoint["host"] + 1, "cursor": None, "listed": 0}
        async with ctx.batch():
            ctx.checkpoint = {"phase": "fetching"}

    async def _host_failed(self, ctx: JobContext, host: str, exc: UpstreamError, *, alone: bool) -> None:
        """A host that cannot be listed: the op fails when it was the only one, else the host is dead-lettered."""
        context: dict[str, Any] = {"host": host, "status": exc.status, "upstreamError": exc.error}
        async with ctx.batch() as conn:
            await index.record_pds_scan(conn, host, now_stamp(), error=_error_text(exc))
            if not alone:
                await ctx.dead_letter(
                    conn,
                    error_type="pds_unreachable",
                    message=_error_text(exc),
                    context=context,
                    item={"kind": "pds", "pdsUrl": host},
                )
                ctx.checkpoint = {**ctx.checkpoint, "host": ctx.checkpoint["host"] + 1, "cursor": None, "listed": 0}
        if alone:
            raise JobFailed("pds_unreachable", f"cannot list the repositories of {host}: {_error_text(exc)}", context)

    async def _repo(self, ctx: JobContext, did: str, info: dict[str, Any]) -> None:
        """One discovered repository, its position kept in the work list; failures are dead-lettered."""
        pds = str(info["pds"])
        try:
            info = await self._sync_repo(ctx, did, info, track=True)
        except UpstreamError as exc:
            status = await hosting_status(ctx.services.upstream, pds, did, exc)
            if status is not None and not is_hosted(status):
                async with ctx.batch() as conn:  # gone between listing and fetching: mirror that, it is no failure
                    await _mark_gone(conn, did, pds, status)
                    await work_items.update(conn, ctx.op_id, did, state="skipped", info=info)
                    ctx.progress.processed_repos = (ctx.progress.processed_repos or 0) + 1
                return
            async with ctx.batch() as conn:
                await ctx.dead_letter(
                    conn,
                    error_type="repo_fetch_failed",
                    message=_error_text(exc),
                    context={"did": did, "pds": pds, "status": exc.status, "upstreamError": exc.error},
                    item={"kind": "repo", "did": did, "pds": pds},
                )
                await work_items.update(conn, ctx.op_id, did, state="failed", info=info)
                ctx.progress.processed_repos = (ctx.progress.processed_repos or 0) + 1

    async def _sync_repo(self, ctx: JobContext, did: str, info: dict[str, Any], *, track: bool) -> dict[str, Any]:
        """List every indexed collection of ``did`` from ``info["pds"]`` and mirror it; with ``track``, the position
        is committed with each page so a resumed scan continues where it stopped."""
        client = ctx.services.upstream
        pds = str(info["pds"])
        if "collections" not in info:
            description = await client.describe_repo(pds, did)
            indexed, _ = chive_collections(description.collections)
            info = {**info, "handle": description.handle, "collections": indexed, "next": 0, **listing.START}
            info["since"] = now_stamp()  # records not re-verified after this were not listed: gone upstream
        while info["next"] < len(info["collections"]):
            collection = info["collections"][info["next"]]
            pages = listing.collection_pages(client, pds, did, collection, info)
            async with aclosing(pages):
                async for records, position in pages:
                    info = {**info, **position}
                    if not records:  # the empty last page, or one the other end had listed: nothing to commit
                        continue
                    contents = RepoContents(did=did)
                    for record in records:
                        contents.add(collection, listing.rkey(record), record.cid, record.value)
                    async with ctx.batch() as conn:
                        await apply_records(conn, contents.records, now_stamp())
                        await ctx.dead_letter_records(conn, contents.invalid, did=did, pds=pds)
                        ctx.progress.records_processed += len(records)
                        if track:
                            await work_items.update(conn, ctx.op_id, did, state="pending", info=info)
            info = {**info, "next": info["next"] + 1, **listing.START}
        async with ctx.batch() as conn:
            now = now_stamp()
            await remove_records(conn, await index.unverified_since(conn, did, info["since"]))
            handle = info["handle"]
            await index.upsert_repo(conn, did, now, handle=handle, pds_url=pds, status="active", synced=True)
            await index.set_repo_hidden(conn, did, False)
            if track:
                await work_items.update(conn, ctx.op_id, did, state="done", info=info)
                ctx.progress.processed_repos = (ctx.progress.processed_repos or 0) + 1
        return info

    async def retry_item(self, ctx: JobContext, item: Any) -> None:
        kind = item.get("kind") if isinstance(item, dict) else None
        if kind == "record":
            await retry_record(ctx.services.upstream, ctx, str(item["uri"]), str(item["pds"]))
        elif kind == "repo":
            try:
                await self._sync_repo(ctx, str(item["did"]), {"pds": item["pds"]}, track=False)
            except UpstreamError as exc:
                status = await hosting_status(ctx.services.upstream, str(item["pds"]), str(item["did"]), exc)
                if status is None or is_hosted(status):
                    raise
                async with ctx.batch() as conn:
                    await _mark_gone(conn, str(item["did"]), str(item["pds"]), status)
        elif kind == "pds":
            # a host that could not be listed is retried as a new scan of that host (or the one already queued)
            try:
                await ctx.services.engine.trigger(self.type, PdsScanParams(pds_url=item["pdsUrl"]), None)
            except QueueFull as full:
                raise RetryFailed(f"the operation queue is full ({full.limit} queued)") from None
        else:
            raise RetryFailed(f"not a pds-scan item: {item!r}"[:200])


async def _mark_gone(conn: aiosqlite.Connection, did: str, pds: str, status: str) -> None:
    await index.upsert_repo(conn, did, now_stamp(), pds_url=pds, status=status)
    await index.set_repo_hidden(conn, did, True)
