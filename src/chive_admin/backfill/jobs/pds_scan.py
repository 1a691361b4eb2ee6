"""pds-scan: list a PDS's repositories, then index every repository's ``pub.chive.*`` records by listing.

Checkpoints are fine-grained: the listRepos cursor while discovering, then per repository its state and its
listRecords position (a large collection is listed from both ends at once: :mod:`chive_admin.ingest.listing`),
committed with each page of records. A resumed scan re-reads at most one page per listing.
Deletions upstream are mirrored by mark-and-sweep: every record seen is re-verified, and what a complete listing of a
repository did not verify since the listing began is gone upstream.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import aclosing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chive_admin._generated.models.com.atproto.sync import list_repos as lex_list_repos
from chive_admin.aio import run_bounded
from chive_admin.auth.identity import IdentityError
from chive_admin.backfill import job_types
from chive_admin.backfill.context import AnyContext, JobContext
from chive_admin.backfill.handover import head_of, resync_if_moved
from chive_admin.backfill.items import Item, RecordItem
from chive_admin.backfill.job import Checkpoint, Job, JobFailed, JobParams, Refused, RetryFailed
from chive_admin.clock import now_stamp
from chive_admin.ingest import listing
from chive_admin.ingest.fetch import RepoContents, chive_collections
from chive_admin.ingest.hosting import hosting_status, is_hosted
from chive_admin.ingest.retry_record import retry_record
from chive_admin.ingest.write import apply_records, remove_records
from chive_admin.store import index, work_items
from chive_admin.store.operations import QueueFull
from chive_admin.store.sql import Conn
from chive_admin.upstream.atproto import AtprotoClient
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


class Discovering(Checkpoint):
    """Listing the repositories of the ``host``-th host, from ``cursor`` on; ``listed`` of them read so far."""

    phase: Literal["discovering"] = "discovering"
    host: int = 0
    cursor: str | None = None
    listed: int = 0

    def after_page(self, page: lex_list_repos.Output) -> Discovering:
        return self.model_copy(update={"cursor": page.cursor, "listed": self.listed + len(page.repos)})

    def next_host(self) -> Discovering:
        return Discovering(host=self.host + 1)


class Fetching(Checkpoint):
    """Every host listed: what is left to do is in the work list, each repository with its own position."""

    phase: Literal["fetching"] = "fetching"


PdsScanCheckpoint = Discovering | Fetching


class RepoListing(BaseModel):
    """How far the listing of one described repository has come."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    handle: str
    #: its indexed collections, listed one after the other
    collections: tuple[str, ...]
    #: the collection being listed (an index into ``collections``)
    next: int
    #: when its listing began: a record not verified again since is gone upstream
    since: str
    #: the position within the collection being listed
    position: listing.Position = listing.START

    def next_collection(self) -> RepoListing:
        return self.model_copy(update={"next": self.next + 1, "position": listing.START})


@dataclass(frozen=True)
class RepoWork:
    """A discovered repository in the scan's work list: its PDS and, once it is described, its listing.

    Stored flat, as one JSON object: ``pds``, then the listing's keys and its position's beside it.
    """

    pds: str
    listing: RepoListing | None = None

    def to_json(self) -> dict[str, Any]:
        if self.listing is None:
            return {"pds": self.pds}
        own = self.listing.model_dump(mode="json", exclude={"position"})
        return {"pds": self.pds, **own, **self.listing.position.to_json()}

    @staticmethod
    def from_json(stored: Mapping[str, Any]) -> RepoWork:
        if "collections" not in stored:
            return RepoWork(str(stored["pds"]))
        position = listing.Position.from_json(stored)
        return RepoWork(str(stored["pds"]), RepoListing.model_validate({**stored, "position": position}))


class RepoItem(Item):
    """A repository that could not be fetched: synced again from ``pds`` on retry."""

    kind: Literal["repo"] = "repo"
    did: str
    pds: str


class PdsItem(Item):
    """A host whose repositories could not be listed: scanned again on retry."""

    kind: Literal["pds"] = "pds"
    pds_url: str = Field(alias="pdsUrl")


def _error_text(exc: UpstreamError) -> str:
    return str(exc)[:500]


class PdsScan(Job[PdsScanParams, PdsScanCheckpoint]):
    kind = job_types.PDS_SCAN
    params_model = PdsScanParams
    checkpoint_model = Annotated[PdsScanCheckpoint, Field(discriminator="phase")]
    item_model = Annotated[RecordItem | RepoItem | PdsItem, Field(discriminator="kind")]
    stages = ("discovering_repos", "fetching_records")

    @classmethod
    async def admit(cls, params: PdsScanParams, services: JobServices) -> None:
        if params.pds_url is None:
            return
        try:
            await check_service_url(params.pds_url, allow_private=services.settings.allow_private_network)
        except UnsafeUpstream as exc:
            raise Refused(f"pdsUrl: {exc}") from None

    async def run(self, ctx: JobContext[PdsScanCheckpoint], params: PdsScanParams) -> None:
        if ctx.checkpoint is None:
            ctx.checkpoint = Discovering()
        if isinstance(ctx.checkpoint, Discovering):
            ctx.stage("discovering_repos")
            await ctx.save()
            await self._discover(ctx, await _hosts(ctx, params), ctx.checkpoint)
        ctx.stage("fetching_records")
        await ctx.save()
        async with ctx.db.read() as conn:
            pending = await work_items.with_state(conn, ctx.op_id, "pending")
        # as many repositories at once as a host takes requests: most of a repository's time is one request waiting
        concurrency = ctx.services.settings.upstream_concurrency
        await run_bounded(pending, lambda item: self._repo(ctx, item[0], RepoWork.from_json(item[1])), concurrency)

    async def _discover(self, ctx: JobContext[PdsScanCheckpoint], hosts: list[str], at: Discovering) -> None:
        """List the repositories of every host from ``at`` on into the work list, then move on to fetching them."""
        while at.host < len(hosts):
            at = await self._discover_host(ctx, hosts[at.host], at, alone=len(hosts) == 1)
        async with ctx.batch():
            ctx.checkpoint = Fetching()

    async def _discover_host(
        self, ctx: JobContext[PdsScanCheckpoint], host: str, at: Discovering, *, alone: bool
    ) -> Discovering:
        """Add the repositories of ``host`` to the work list, page by page from ``at``; the next host's checkpoint."""
        try:
            async for page in ctx.services.upstream.iter_repo_pages(host, cursor=at.cursor):
                at = at.after_page(page)
                async with ctx.batch() as conn:
                    await _add_repos(ctx, conn, host, page)
                    ctx.checkpoint = at
        except UpstreamError as exc:
            return await self._host_failed(ctx, host, exc, at, alone=alone)
        following = at.next_host()
        async with ctx.batch() as conn:
            await index.record_pds_scan(conn, host, now_stamp(), repo_count=at.listed)
            ctx.checkpoint = following
        return following

    async def _host_failed(
        self, ctx: JobContext[PdsScanCheckpoint], host: str, exc: UpstreamError, at: Discovering, *, alone: bool
    ) -> Discovering:
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
                    item=PdsItem(pds_url=host),
                )
                ctx.checkpoint = at.next_host()
        if alone:
            raise JobFailed("pds_unreachable", f"cannot list the repositories of {host}: {_error_text(exc)}", context)
        return at.next_host()

    async def _repo(self, ctx: AnyContext, did: str, work: RepoWork) -> None:
        """One discovered repository, its position kept in the work list; failures are dead-lettered."""
        try:
            work = await self._sync_repo(ctx, did, work, track=True)
        except UpstreamError as exc:
            status = await hosting_status(ctx.services.upstream, work.pds, did, exc)
            if status is not None and not is_hosted(status):
                async with ctx.batch() as conn:  # gone between listing and fetching: mirror that, it is no failure
                    await _mark_gone(conn, did, work.pds, status)
                    await work_items.update(conn, ctx.op_id, did, state="skipped", info=work.to_json())
                    ctx.progress.processed_repos = (ctx.progress.processed_repos or 0) + 1
                return
            async with ctx.batch() as conn:
                await ctx.dead_letter(
                    conn,
                    error_type="repo_fetch_failed",
                    message=_error_text(exc),
                    context={"did": did, "pds": work.pds, "status": exc.status, "upstreamError": exc.error},
                    item=RepoItem(did=did, pds=work.pds),
                )
                await work_items.update(conn, ctx.op_id, did, state="failed", info=work.to_json())
                ctx.progress.processed_repos = (ctx.progress.processed_repos or 0) + 1

    async def _sync_repo(self, ctx: AnyContext, did: str, work: RepoWork, *, track: bool) -> RepoWork:
        """List every indexed collection of ``did`` from its PDS and mirror it; with ``track``, the position is
        committed with each page so a resumed scan continues where it stopped."""
        before = await head_of(ctx, did)
        listed = work.listing or await _describe(ctx.services.upstream, work.pds, did)
        while listed.next < len(listed.collections):
            listed = await self._list_collection(ctx, did, work.pds, listed, track=track)
            listed = listed.next_collection()
        work = RepoWork(work.pds, listed)
        handle = await _verified_handle(ctx, did)
        async with ctx.batch() as conn:
            now = now_stamp()
            await remove_records(conn, await index.unverified_since(conn, did, listed.since))
            await index.upsert_repo(conn, did, now, handle=handle, pds_url=work.pds, status="active", synced=True)
            await index.set_repo_hidden(conn, did, False)
            resync = await resync_if_moved(ctx, conn, did, before)
            if track:
                await work_items.update(conn, ctx.op_id, did, state="done", info=work.to_json())
                ctx.progress.processed_repos = (ctx.progress.processed_repos or 0) + 1
        if resync:
            ctx.services.engine.wake()
        return work

    async def _list_collection(
        self, ctx: AnyContext, did: str, pds: str, listed: RepoListing, *, track: bool
    ) -> RepoListing:
        """Mirror the collection ``listed`` is at, page by page from its position on; the listing once it is done."""
        collection = listed.collections[listed.next]
        pages = listing.collection_pages(ctx.services.upstream, pds, did, collection, listed.position)
        async with aclosing(pages):
            async for records, position in pages:
                listed = listed.model_copy(update={"position": position})
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
                        info = RepoWork(pds, listed).to_json()
                        await work_items.update(conn, ctx.op_id, did, state="pending", info=info)
        return listed

    async def retry_item(self, ctx: AnyContext, item: Item) -> None:
        if isinstance(item, RecordItem):
            await retry_record(ctx.services.upstream, ctx, item.uri, item.pds)
        elif isinstance(item, RepoItem):
            await self._retry_repo(ctx, item)
        elif isinstance(item, PdsItem):
            # a host that could not be listed is retried as a new scan of that host (or the one already queued)
            try:
                await ctx.services.engine.trigger(self.type, PdsScanParams(pds_url=item.pds_url), None)
            except QueueFull as full:
                raise RetryFailed(f"the operation queue is full ({full.limit} queued)") from None
        else:
            raise RetryFailed(f"not a pds-scan item: {item!r}"[:200])

    async def _retry_repo(self, ctx: AnyContext, item: RepoItem) -> None:
        try:
            await self._sync_repo(ctx, item.did, RepoWork(item.pds), track=False)
        except UpstreamError as exc:
            status = await hosting_status(ctx.services.upstream, item.pds, item.did, exc)
            if status is None or is_hosted(status):
                raise
            async with ctx.batch() as conn:
                await _mark_gone(conn, item.did, item.pds, status)


async def _hosts(ctx: AnyContext, params: PdsScanParams) -> list[str]:
    """The hosts to scan: the one asked for, or every host the registry knows."""
    if params.pds_url is not None:
        return [params.pds_url]
    async with ctx.db.read() as conn:
        return await index.known_pds_urls(conn)


async def _add_repos(ctx: AnyContext, conn: Conn, host: str, page: lex_list_repos.Output) -> None:
    """One page of a host's repositories: the active ones join the work list, the others are marked and hidden."""
    now = now_stamp()
    await index.ensure_pds(conn, host, now)
    active = [(r.did, RepoWork(host).to_json()) for r in page.repos if r.active is not False]
    ctx.progress.total_repos = (ctx.progress.total_repos or 0) + await work_items.add(conn, ctx.op_id, active)
    for repo in page.repos:
        if repo.active is False:  # counted, its records hidden, nothing fetched
            await index.upsert_repo(conn, repo.did, now, pds_url=host, status=repo.status or "inactive")
            await index.set_repo_hidden(conn, repo.did, True)


async def _describe(client: AtprotoClient, pds: str, did: str) -> RepoListing:
    """Which collections of ``did`` to list, starting now."""
    description = await client.describe_repo(pds, did)
    indexed, _ = chive_collections(description.collections)
    # records not re-verified after ``since`` were not listed: gone upstream
    return RepoListing(handle=description.handle, collections=tuple(indexed), next=0, since=now_stamp())


async def _verified_handle(ctx: AnyContext, did: str) -> str | index.KeepHandle | None:
    """The handle of ``did``'s DID document if it verifies (describeRepo's is the PDS's word, not checked); the
    stored one is kept when the document cannot be had."""
    try:
        identity = await ctx.services.identities.resolve(did)
    except IdentityError:
        return index.KEEP_HANDLE
    return await ctx.services.handles.verified(did, identity.handle)


async def _mark_gone(conn: Conn, did: str, pds: str, status: str) -> None:
    await index.upsert_repo(conn, did, now_stamp(), pds_url=pds, status=status)
    await index.set_repo_hidden(conn, did, True)
