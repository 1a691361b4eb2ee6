"""pds-scan: list a PDS's repositories, then index every repository's ``pub.chive.*`` records by listing.

Checkpoints are fine-grained: the listRepos cursor while discovering, then per repository its state and its
listRecords position (a large collection is listed from both ends at once: :mod:`chive_admin.ingest.listing`),
committed with each batch of records (a few pages, read ahead while the batch before is written). A resumed scan
re-reads at most one batch per listing.
Deletions upstream are mirrored by mark-and-sweep: every record seen is re-verified, and what a complete listing of a
repository did not verify since the listing began is gone upstream.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chive_admin._generated.models.com.atproto.sync import list_repos as lex_list_repos
from chive_admin.aio import run_bounded
from chive_admin.backfill import job_types
from chive_admin.backfill.context import AnyContext, JobContext
from chive_admin.backfill.handover import head_of, resync_if_moved
from chive_admin.backfill.items import Item, RecordItem
from chive_admin.backfill.job import Checkpoint, Job, JobFailed, JobParams, Refused, RetryFailed
from chive_admin.backfill.jobs.did_sync import DidSyncParams
from chive_admin.clock import now_stamp
from chive_admin.ingest import listing
from chive_admin.ingest.discovery import Hosted, Pacer, Resolution, Stale, resolve_all, resolve_one
from chive_admin.ingest.fetch import RepoContents, chive_collections
from chive_admin.ingest.hosting import hosting_status, is_hosted
from chive_admin.ingest.page_checker import check_here
from chive_admin.ingest.retry_record import retry_record
from chive_admin.ingest.write import apply_records, remove_records
from chive_admin.repo.validate import INDEXED, is_indexed
from chive_admin.store import index, work_items
from chive_admin.store.operations import QueueFull
from chive_admin.store.sql import Conn
from chive_admin.upstream.atproto import AtprotoClient, CursorLoop
from chive_admin.upstream.errors import BadResponse, RateLimited, UpstreamError
from chive_admin.upstream.guard import UnsafeUpstream, check_service_url
from chive_admin.upstream.urls import normalise_service_url

if TYPE_CHECKING:
    from chive_admin.backfill.job import JobServices
    from chive_admin.upstream.relay import RelayClient


class PdsScanParams(JobParams):
    pds_url: str | None = Field(default=None, alias="pdsUrl")
    #: network backfill only: the one collection discovered through the relay (all indexed ones without it)
    collection: str | None = None
    #: network backfill only: at most this many repositories (a trial run)
    limit: int | None = Field(default=None, ge=1)

    @field_validator("pds_url")
    @classmethod
    def _origin(cls, value: str | None) -> str | None:
        return None if value is None else normalise_service_url(value)

    @field_validator("collection")
    @classmethod
    def _indexed(cls, value: str | None) -> str | None:
        if value is not None and not is_indexed(value):
            raise ValueError(f"{value[:100]!r} is not a pub.chive record collection this index keeps")
        return value

    @model_validator(mode="after")
    def _network_only(self) -> PdsScanParams:
        if self.pds_url is not None and (self.collection is not None or self.limit is not None):
            raise ValueError("collection and limit select repositories of a network backfill: give no pdsUrl")
        return self


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


class RelayDiscovering(Checkpoint):
    """Network backfill: listing through the relay the repositories of the ``collection``-th collection, from
    ``cursor`` on; ``found`` distinct repositories are in the work list so far."""

    phase: Literal["relay"] = "relay"
    collection: int = 0
    cursor: str | None = None
    found: int = 0

    def after_page(self, cursor: str | None, added: int) -> RelayDiscovering:
        if cursor is None:  # that collection is done: the next one starts from its beginning
            return RelayDiscovering(collection=self.collection + 1, found=self.found + added)
        return self.model_copy(update={"cursor": cursor, "found": self.found + added})


class Resolving(Checkpoint):
    """Network backfill: the work list's DIDs are resolved to their PDS in item order, up to ``after`` so far."""

    phase: Literal["resolving"] = "resolving"
    after: str = ""


class Fetching(Checkpoint):
    """Every host listed: what is left to do is in the work list, each repository with its own position."""

    phase: Literal["fetching"] = "fetching"


PdsScanCheckpoint = Discovering | RelayDiscovering | Resolving | Fetching
#: DIDs resolved (and committed) together
RESOLVE_PAGE = 500
#: resolutions at once: the PLC directory is one host, and its 429s hold them all (ingest.discovery.Pacer)
RESOLVE_CONCURRENCY = 16
#: repositories fetched at once by a network backfill, as multiples of the per-host limit: they are spread over
#: many hosts, each still held to ``--upstream-concurrency`` by the upstream client
NETWORK_FETCH_SPREAD = 4
#: repositories read from the work list at a time for fetching (the list may hold millions)
FETCH_PAGE = 1000
#: repositories of one host listed at once, as multiples of its request limit: a small repository leaves its slot
#: idle while it is written and finished, and another one's request can take it (the host still never has more than
#: the limit of our requests at once)
REPOS_PER_SLOT = 2
#: records of one repository committed together (besides its last ones, which commit with its end): pages that
#: arrived while the previous batch was written are taken at once, so a batch holds at most this and a few pages
BATCH_RECORDS = 300
#: the most records one batch can hold (what a cancelled scan may still commit): short of ``BATCH_RECORDS`` by a
#: record, then every page held ahead at once
MOST_IN_A_BATCH = BATCH_RECORDS - 1 + listing.PAGES_AHEAD * listing.PAGE_SIZE
#: error codes of a relay that ends discovery, by the upstream error that ended it
RELAY_ERRORS: dict[type[UpstreamError], str] = {
    CursorLoop: "relay_cursor_loop",
    RateLimited: "relay_rate_limited",
    BadResponse: "relay_bad_answer",
    UnsafeUpstream: "relay_unsafe",
}


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


class DidItem(Item):
    """A discovered DID whose directory could not be asked: retried as a did-sync of it."""

    kind: Literal["did"] = "did"
    did: str


class PdsItem(Item):
    """A host whose repositories could not be listed: scanned again on retry."""

    kind: Literal["pds"] = "pds"
    pds_url: str = Field(alias="pdsUrl")


def _error_text(exc: UpstreamError) -> str:
    return str(exc)[:500]


class NotHome(Exception):
    """The DID document of a repository a host listed does not name that host (or cannot be had): nothing the host
    says of the repository is its owner's word."""

    def __init__(self, outcome: Resolution, host: str) -> None:
        super().__init__(_away_text(outcome, host))
        self.outcome = outcome


class PdsScan(Job[PdsScanParams, PdsScanCheckpoint]):
    kind = job_types.PDS_SCAN
    params_model = PdsScanParams
    checkpoint_model = Annotated[PdsScanCheckpoint, Field(discriminator="phase")]
    item_model = Annotated[RecordItem | RepoItem | PdsItem | DidItem, Field(discriminator="kind")]
    stages = ("discovering_repos", "resolving_pds", "fetching_records")

    @classmethod
    async def admit(cls, params: PdsScanParams, services: JobServices) -> None:
        if params.pds_url is not None:
            try:
                await check_service_url(params.pds_url, allow_private=services.settings.allow_private_network)
            except UnsafeUpstream as exc:
                raise Refused(f"pdsUrl: {exc}") from None
            return
        # the relay is the operator's choice, checked by the guard when discovery dials it (``relay_unsafe``): a
        # trigger is not refused for a moment when its name does not resolve
        if _relay(services) is None and (params.collection is not None or params.limit is not None):
            raise Refused("collection and limit need a relay: this server has none (--relay-url, --discovery)")

    async def run(self, ctx: JobContext[PdsScanCheckpoint], params: PdsScanParams) -> None:
        if ctx.checkpoint is None:
            network = params.pds_url is None and _relay(ctx.services) is not None
            ctx.checkpoint = RelayDiscovering() if network else Discovering()
        if isinstance(ctx.checkpoint, Discovering):
            ctx.stage("discovering_repos")
            await ctx.save()
            await self._discover(ctx, await _hosts(ctx, params), ctx.checkpoint)
        if isinstance(ctx.checkpoint, RelayDiscovering):
            ctx.stage("discovering_repos")
            await ctx.save()
            await self._discover_relay(ctx, params, ctx.checkpoint)
        if isinstance(ctx.checkpoint, Resolving):
            ctx.stage("resolving_pds")
            await ctx.save()
            await self._resolve(ctx, ctx.checkpoint)
        ctx.stage("fetching_records")
        await ctx.save()
        # more repositories at once than a host takes requests: most of a repository's time is one request waiting,
        # and a small one's slot would idle while it is described and written; a network backfill's are spread
        # over many hosts
        concurrency = ctx.services.settings.upstream_concurrency
        if params.pds_url is None and _relay(ctx.services) is not None:
            concurrency *= NETWORK_FETCH_SPREAD
        else:
            concurrency *= REPOS_PER_SLOT
        after = ""
        pacer = Pacer()
        while True:
            async with ctx.db.read() as conn:
                pending = await work_items.page(conn, ctx.op_id, "pending", after=after, limit=FETCH_PAGE)
            if not pending:
                return
            after = pending[-1][0]
            await run_bounded(
                pending, lambda item: self._repo(ctx, item[0], RepoWork.from_json(item[1]), pacer), concurrency
            )

    async def _discover_relay(
        self, ctx: JobContext[PdsScanCheckpoint], params: PdsScanParams, at: RelayDiscovering
    ) -> None:
        """Page listReposByCollection for each collection from ``at`` on, the DIDs into the work list (which
        de-duplicates them), the relay's cursor committed with each page; then on to resolving them."""
        relay = _relay(ctx.services)
        if relay is None:  # the server was restarted without its relay: nothing to resume discovery from
            raise JobFailed("relay_unavailable", "this network backfill needs a relay and the server has none now")
        collections = [params.collection] if params.collection is not None else sorted(INDEXED)
        while at.collection < len(collections) and (params.limit is None or at.found < params.limit):
            collection = collections[at.collection]
            try:
                async with aclosing(relay.pages(collection, cursor=at.cursor)) as pages:
                    async for page in pages:
                        dids = [repo.did for repo in page.repos]
                        if params.limit is not None:
                            dids = dids[: params.limit - at.found]
                        async with ctx.batch() as conn:
                            added = await work_items.add(conn, ctx.op_id, [(did, {}) for did in dids])
                            ctx.progress.total_repos = (ctx.progress.total_repos or 0) + added
                            at = at.after_page(page.cursor, added)
                            ctx.checkpoint = at
                        if params.limit is not None and at.found >= params.limit:
                            break
            except UpstreamError as exc:
                raise _relay_failed(relay.url, collection, at, exc) from None
        async with ctx.batch():
            ctx.checkpoint = Resolving()

    async def _resolve(self, ctx: JobContext[PdsScanCheckpoint], at: Resolving) -> None:
        """Resolve the discovered DIDs page by page: each one's PDS registered and noted in its work item, a DID
        gone from the network skipped (counted), one whose directory cannot be asked dead-lettered."""
        pacer = Pacer()
        while True:
            async with ctx.db.read() as conn:
                page = await work_items.page(conn, ctx.op_id, "pending", after=at.after, limit=RESOLVE_PAGE)
            if not page:
                break
            dids = [did for did, info in page if "pds" not in info]
            outcomes = await resolve_all(ctx.services.identities, dids, pacer, concurrency=RESOLVE_CONCURRENCY)
            at = Resolving(after=page[-1][0])
            async with ctx.batch() as conn:
                await _note_resolutions(ctx, conn, outcomes)
                ctx.checkpoint = at
        async with ctx.batch():
            ctx.checkpoint = Fetching()

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
        pacer = Pacer()
        try:
            async for page in ctx.services.upstream.iter_repo_pages(host, cursor=at.cursor):
                at = at.after_page(page)
                # an inactive repository is marked and hidden on its own PDS's word only
                inactive = [repo.did for repo in page.repos if repo.active is False]
                outcomes = await resolve_all(ctx.services.identities, inactive, pacer, concurrency=RESOLVE_CONCURRENCY)
                homed = {o.did for o in outcomes if isinstance(o, Hosted) and o.pds == host}
                async with ctx.batch() as conn:
                    await _add_repos(ctx, conn, host, page, homed)
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

    async def _repo(self, ctx: AnyContext, did: str, work: RepoWork, pacer: Pacer) -> None:
        """One discovered repository, its position kept in the work list; failures are dead-lettered."""
        async with _checking_home(ctx, did, work.pds, pacer) as check:
            try:
                await self._sync_repo(ctx, did, work, check, track=True)
            except NotHome as away:
                async with ctx.batch() as conn:
                    await _note_away(ctx, conn, away.outcome)
            except UpstreamError as exc:
                await self._repo_failed(ctx, did, work, check.home, exc)

    async def _repo_failed(
        self, ctx: AnyContext, did: str, work: RepoWork, home: asyncio.Future[Hosted], exc: UpstreamError
    ) -> None:
        """A repository whose listing failed: mirrored as gone if its PDS says so, else dead-lettered; neither when
        the host is not its PDS, whose word on it counts for nothing."""
        try:
            await home
        except NotHome as away:
            async with ctx.batch() as conn:
                await _note_away(ctx, conn, away.outcome)
            return
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

    async def _sync_repo(self, ctx: AnyContext, did: str, work: RepoWork, check: HomeCheck, *, track: bool) -> RepoWork:
        """List every indexed collection of ``did`` from its PDS and mirror it, nothing written before ``check`` says
        the host is its PDS (:class:`NotHome` if not); with ``track``, the position is committed with each batch so
        a resumed scan continues where it stopped."""
        before = await head_of(ctx, did)
        listed = work.listing or await _describe(ctx.services.upstream, work.pds, did)
        last = RepoContents(did=did)
        while listed.next < len(listed.collections):
            final = listed.next == len(listed.collections) - 1
            listed, last = await self._list_collection(
                ctx, did, work.pds, listed, check.home, track=track, hold_last=final
            )
            listed = listed.next_collection()
        work = RepoWork(work.pds, listed)
        verified = await check.handle
        async with ctx.batch() as conn:
            # the last batch of records commits with the end of the repository: one transaction less for each
            await _write_records(ctx, conn, last, work.pds)
            now = now_stamp()
            await remove_records(conn, await index.unverified_since(conn, did, listed.since))
            await index.upsert_repo(conn, did, now, handle=verified, pds_url=work.pds, status="active", synced=True)
            await index.set_repo_hidden(conn, did, False)
            resync = await resync_if_moved(ctx, conn, did, before)
            if track:
                await work_items.update(conn, ctx.op_id, did, state="done", info=work.to_json())
                ctx.progress.processed_repos = (ctx.progress.processed_repos or 0) + 1
        if resync:
            ctx.services.engine.wake()
        return work

    async def _list_collection(
        self,
        ctx: AnyContext,
        did: str,
        pds: str,
        listed: RepoListing,
        home: asyncio.Future[Hosted],
        *,
        track: bool,
        hold_last: bool,
    ) -> tuple[RepoListing, RepoContents]:
        """Mirror the collection ``listed`` is at from its position on, at least ``BATCH_RECORDS`` records (or the
        rest) a transaction; the listing once it is done, and the records not written yet: with ``hold_last``, the
        last batch is left for the caller to write."""
        collection = listed.collections[listed.next]
        prepare = partial(_page_contents, did)
        readers = ctx.services.readers
        decode = check_here if readers is None else readers.pages.check
        pending: list[RepoContents] = []
        read = listing.batches(ctx.services.upstream, pds, did, collection, prepare, listed.position, decode=decode)
        async with aclosing(read):
            async for batch in read:
                listed = listed.model_copy(update={"position": batch.position})
                pending += batch.parts
                if batch.position.done or _size(pending) < BATCH_RECORDS:
                    continue
                await self._commit_records(ctx, did, pds, listed, _merged(did, pending), home, track=track)
                pending = []
        rest = _merged(did, pending)
        if hold_last:
            return listed, rest
        await self._commit_records(ctx, did, pds, listed, rest, home, track=track)
        return listed, RepoContents(did=did)

    @staticmethod
    async def _commit_records(
        ctx: AnyContext,
        did: str,
        pds: str,
        listed: RepoListing,
        contents: RepoContents,
        home: asyncio.Future[Hosted],
        *,
        track: bool,
    ) -> None:
        """Write a batch of records with the listing's position after them, once ``home`` says the host is the
        repository's PDS."""
        if not contents.records and not contents.invalid:
            return  # the empty last page, or one the other end had listed: nothing to commit
        await home
        async with ctx.batch() as conn:
            await _write_records(ctx, conn, contents, pds)
            if track:
                await work_items.update(conn, ctx.op_id, did, state="pending", info=RepoWork(pds, listed).to_json())

    async def retry_item(self, ctx: AnyContext, item: Item) -> None:
        if isinstance(item, RecordItem):
            await retry_record(ctx.services.upstream, ctx, item.uri, item.pds)
        elif isinstance(item, RepoItem):
            await self._retry_repo(ctx, item)
        elif isinstance(item, DidItem):
            # its repository is fetched by a did-sync of it (or the one already queued)
            try:
                await ctx.services.engine.trigger(job_types.DID_SYNC.name, DidSyncParams(did=item.did), None)
            except QueueFull as full:
                raise RetryFailed(f"the operation queue is full ({full.limit} queued)") from None
        elif isinstance(item, PdsItem):
            # a host that could not be listed is retried as a new scan of that host (or the one already queued)
            try:
                await ctx.services.engine.trigger(self.type, PdsScanParams(pds_url=item.pds_url), None)
            except QueueFull as full:
                raise RetryFailed(f"the operation queue is full ({full.limit} queued)") from None
        else:
            raise RetryFailed(f"not a pds-scan item: {item!r}"[:200])

    async def _retry_repo(self, ctx: AnyContext, item: RepoItem) -> None:
        async with _checking_home(ctx, item.did, item.pds, Pacer()) as check:
            try:
                await self._sync_repo(ctx, item.did, RepoWork(item.pds), check, track=False)
            except NotHome as away:
                raise RetryFailed(str(away)) from None
            except UpstreamError as exc:
                try:
                    await check.home
                except NotHome as away:
                    raise RetryFailed(str(away)) from None
                status = await hosting_status(ctx.services.upstream, item.pds, item.did, exc)
                if status is None or is_hosted(status):
                    raise
                async with ctx.batch() as conn:
                    await _mark_gone(conn, item.did, item.pds, status)


def _page_contents(did: str, records: list[listing.Record]) -> RepoContents:
    """One page of a listing, its records checked already (where the page was decoded)."""
    contents = RepoContents(did=did)
    contents.add_rows(records)
    return contents


def _size(parts: list[RepoContents]) -> int:
    return sum(len(part.records) + len(part.invalid) for part in parts)


def _merged(did: str, parts: list[RepoContents]) -> RepoContents:
    merged = RepoContents(did=did)
    for part in parts:
        merged.extend(part)
    return merged


async def _write_records(ctx: AnyContext, conn: Conn, contents: RepoContents, pds: str) -> None:
    """Index the valid records, dead-letter the others (inside the caller's batch)."""
    await apply_records(conn, contents.records, now_stamp())
    await ctx.dead_letter_records(conn, contents.invalid, did=contents.did, pds=pds)
    ctx.progress.records_processed += len(contents.records) + len(contents.invalid)


def _relay(services: JobServices) -> RelayClient | None:
    """The relay a pds-scan without pdsUrl discovers through; ``None`` when it crawls the known PDSes instead."""
    return services.relay if services.settings.discovery == "relay" else None


def _relay_failed(url: str, collection: str, at: RelayDiscovering, exc: UpstreamError) -> JobFailed:
    code = next((c for kind, c in RELAY_ERRORS.items() if isinstance(exc, kind)), "relay_unreachable")
    context = {"relay": url, "collection": collection, "found": at.found, "status": exc.status, "upstream": exc.code}
    return JobFailed(code, f"discovery through {url} stopped at {collection}: {_error_text(exc)}", context)


async def _note_resolutions(ctx: AnyContext, conn: Conn, outcomes: list[Resolution]) -> None:
    """One page of resolutions, inside its batch."""
    now = now_stamp()
    for outcome in outcomes:
        if isinstance(outcome, Hosted):
            await index.ensure_pds(conn, outcome.pds, now)
            await work_items.update(conn, ctx.op_id, outcome.did, state="pending", info=RepoWork(outcome.pds).to_json())
            ctx.count("resolved")
            continue
        await _note_away(ctx, conn, outcome)


async def _note_away(ctx: AnyContext, conn: Conn, outcome: Resolution) -> None:
    """A repository not fetched from the host that has it in the work list, inside a batch: skipped (counted) when
    its DID lives elsewhere or nowhere, dead-lettered (retried as a did-sync) when its directory could not be asked."""
    if isinstance(outcome, Hosted):
        await work_items.update(conn, ctx.op_id, outcome.did, state="skipped", info={"elsewhere": outcome.pds})
        ctx.count("hosted_elsewhere")
    elif isinstance(outcome, Stale):
        await work_items.update(conn, ctx.op_id, outcome.did, state="skipped", info={"stale": outcome.reason})
        ctx.count(f"stale_{outcome.reason}")
    else:
        await ctx.dead_letter(
            conn,
            error_type="did_unresolved",
            message=outcome.detail,
            context={"did": outcome.did, "identityError": outcome.code},
            item=DidItem(did=outcome.did),
        )
        await work_items.update(conn, ctx.op_id, outcome.did, state="failed", info={"unresolved": outcome.code})
    ctx.progress.processed_repos = (ctx.progress.processed_repos or 0) + 1


def _away_text(outcome: Resolution, host: str) -> str:
    if isinstance(outcome, Hosted):
        return f"{host} lists {outcome.did}, whose DID document names {outcome.pds} as its PDS"
    return f"{host} lists {outcome.did}, which cannot be seen to live there: {outcome.detail}"[:500]


async def _hosts(ctx: AnyContext, params: PdsScanParams) -> list[str]:
    """The hosts to scan: the one asked for, or every host the registry knows."""
    if params.pds_url is not None:
        return [params.pds_url]
    async with ctx.db.read() as conn:
        return await index.known_pds_urls(conn)


async def _add_repos(ctx: AnyContext, conn: Conn, host: str, page: lex_list_repos.Output, homed: set[str]) -> None:
    """One page of a host's repositories: the active ones join the work list, the inactive ones whose DID document
    names the host (``homed``) are marked and hidden, the others are counted and left alone."""
    now = now_stamp()
    await index.ensure_pds(conn, host, now)
    active = [(r.did, RepoWork(host).to_json()) for r in page.repos if r.active is not False]
    ctx.progress.total_repos = (ctx.progress.total_repos or 0) + await work_items.add(conn, ctx.op_id, active)
    for repo in page.repos:
        if repo.active is not False:
            continue
        if repo.did not in homed:  # elsewhere, gone, or its directory out of reach: not this host's to mark
            ctx.count("inactive_elsewhere")
            continue
        # counted, its records hidden, nothing fetched
        await index.upsert_repo(conn, repo.did, now, pds_url=host, status=repo.status or "inactive")
        await index.set_repo_hidden(conn, repo.did, True)


async def _describe(client: AtprotoClient, pds: str, did: str) -> RepoListing:
    """Which collections of ``did`` to list, starting now."""
    description = await client.describe_repo(pds, did)
    indexed, _ = chive_collections(description.collections)
    # records not re-verified after ``since`` were not listed: gone upstream
    return RepoListing(handle=description.handle, collections=tuple(indexed), next=0, since=now_stamp())


@dataclass(frozen=True)
class HomeCheck:
    """What a listed repository's DID document says, looked up while its records are listed (round trips to other
    hosts): ``home``, that it names the listing host as its PDS (awaited before anything of the repository is
    written), then ``handle``, its handle verified (describeRepo's is the PDS's word; needed only with its end)."""

    home: asyncio.Future[Hosted]
    handle: asyncio.Future[str | None]


@asynccontextmanager
async def _checking_home(ctx: AnyContext, did: str, host: str, pacer: Pacer) -> AsyncIterator[HomeCheck]:
    """The checks of ``did`` listed by ``host``, begun at once and stopped at the end of the block.

    A host's listRepos is its word alone, and listRecords answers are not signed: without the check, any PDS could
    list someone else's DID and have its records indexed, or call it deactivated and have them hidden."""
    home = asyncio.ensure_future(_home(ctx, did, host, pacer))
    handle = asyncio.ensure_future(_verified_handle(ctx, did, home))
    try:
        yield HomeCheck(home, handle)
    finally:
        for task in (handle, home):
            if not task.done():
                task.cancel()
                await asyncio.wait([task])
            elif not task.cancelled():
                task.exception()  # retrieved: a repository that failed before its check was awaited said why


async def _home(ctx: AnyContext, did: str, host: str, pacer: Pacer) -> Hosted:
    """``did``'s DID document, if it names ``host`` as its PDS; :class:`NotHome` if not, or if it cannot be had."""
    outcome = await resolve_one(ctx.services.identities, did, pacer)
    if not isinstance(outcome, Hosted) or outcome.pds != host:
        raise NotHome(outcome, host)
    return outcome


async def _verified_handle(ctx: AnyContext, did: str, home: asyncio.Future[Hosted]) -> str | None:
    return await ctx.services.handles.verified(did, (await home).handle)


async def _mark_gone(conn: Conn, did: str, pds: str, status: str) -> None:
    await index.upsert_repo(conn, did, now_stamp(), pds_url=pds, status=status)
    await index.set_repo_hidden(conn, did, True)
