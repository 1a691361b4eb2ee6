"""did-sync: resolve one DID to its PDS and key, fetch the whole repository (CAR, commit signature verified),
and make the index hold exactly its ``pub.chive.*`` records: upsert what is there, delete what is not.

Falls back to listing (describeRepo + listRecords) when the PDS does not serve getRepo. A repository export is one
download, so a resumed sync fetches it again; applying it is idempotent by (uri, cid), so nothing is written twice.
"""

from __future__ import annotations

from contextlib import aclosing
from dataclasses import dataclass

from pydantic import field_validator

from chive_admin.auth.identity import Identity, IdentityError
from chive_admin.backfill import job_types
from chive_admin.backfill.context import AnyContext, JobContext
from chive_admin.backfill.items import Item, RecordItem
from chive_admin.backfill.job import Job, JobFailed, JobParams, JobServices, RetryFailed
from chive_admin.clock import now_stamp
from chive_admin.ingest.fetch import RepoStream, stream_by_export, stream_by_listing
from chive_admin.ingest.hosting import hosting_status, is_hosted
from chive_admin.ingest.reader_processes import ReaderFailed
from chive_admin.ingest.retry_record import retry_record
from chive_admin.ingest.write import apply_records, remove_records
from chive_admin.lex.formats import validate_did
from chive_admin.repo.car import RepoVerificationError
from chive_admin.repo.validate import CHIVE_PREFIX
from chive_admin.store import index
from chive_admin.store.sql import Conn
from chive_admin.upstream.errors import MethodNotImplemented, UpstreamError
from chive_admin.upstream.urls import registry_key

_IDENTITY_FAILURES = {"not_found": "did_not_found", "tombstoned": "did_tombstoned"}


class DidSyncParams(JobParams):
    did: str

    @field_validator("did")
    @classmethod
    def _did(cls, value: str) -> str:
        return validate_did(value)


@dataclass(frozen=True)
class Resolved:
    """A DID's document as it is now, and its handle if that resolves back to the DID now."""

    identity: Identity
    handle: str | None


async def _resolve(services: JobServices, did: str) -> Resolved:
    """Resolve ``did`` afresh (``JobFailed`` if it cannot be), and verify its handle afresh: a handle changed upstream
    is what this sync stores."""
    try:
        identity = await services.identities.resolve(did, current=True)
    except IdentityError as exc:
        code = _IDENTITY_FAILURES.get(exc.code, "did_unresolvable")
        raise JobFailed(code, str(exc), {"did": did, "reason": exc.code}) from None
    return Resolved(identity, await services.handles.verified(did, identity.handle, fresh=True))


class DidSync(Job[DidSyncParams, None]):
    kind = job_types.DID_SYNC
    params_model = DidSyncParams
    #: none: a repository export is one download, fetched again by a resumed sync
    checkpoint_model = None
    item_model = RecordItem
    stages = ("resolving_identity", "fetching_repo", "writing_records")

    #: which collections this job mirrors (every pub.chive.* one for did-sync)
    scope = CHIVE_PREFIX

    @classmethod
    async def prepare(cls, params: DidSyncParams, services: JobServices) -> Resolved:
        """The DID's document and verified handle, looked up while the op waits for a worker."""
        return await _resolve(services, params.did)

    async def run(self, ctx: JobContext[None], params: DidSyncParams) -> None:
        await self.mirror(ctx, params.did)

    async def mirror(self, ctx: JobContext[None], did: str) -> None:
        """Resolve ``did``, fetch its repository and make the index hold exactly its records within ``scope``."""
        prepared = None if ctx.prepared is None else await ctx.prepared.result()
        if isinstance(prepared, Resolved) and prepared.identity.did == did:
            resolved = prepared
        else:
            ctx.stage("resolving_identity")
            await ctx.save()
            resolved = await _resolve(ctx.services, did)
        identity, handle = resolved.identity, resolved.handle
        if not identity.pds:
            raise JobFailed("no_pds_endpoint", f"{did} names no #atproto_pds service", {"did": did})
        if not identity.signing_key:
            raise JobFailed("no_signing_key", f"{did} has no #atproto verification key", {"did": did})
        pds = registry_key(identity.pds)

        client = ctx.services.upstream
        try:
            try:
                async with ctx.in_stage("fetching_repo"):
                    try:
                        stream = await stream_by_export(
                            client, pds, did, identity.signing_key, prefix=self.scope, readers=ctx.services.readers
                        )
                    except MethodNotImplemented:
                        stream = await stream_by_listing(client, pds, did, prefix=self.scope)
                ctx.stage("writing_records")
                async with aclosing(stream):
                    await self._write(ctx, did, pds, handle, stream)
            except RepoVerificationError as exc:
                check = {"did": did, "pds": pds, "check": exc.code}
                raise JobFailed("repo_verification_failed", str(exc), check) from None
            except ReaderFailed as exc:  # the reader process's failure is logged; the op says which export
                raise JobFailed("repo_read_failed", str(exc), {"did": did, "pds": pds}) from None
        except UpstreamError as exc:
            status = await hosting_status(client, pds, did, exc)
            context = {"did": did, "pds": pds, "status": exc.status, "upstreamError": exc.error}
            if status == "deleted":  # conservative: an index is not emptied on one PDS's word alone
                raise JobFailed("repo_not_found", f"{pds} does not host {did}", context) from None
            if not is_hosted(status):
                await self._not_hosted(ctx, did, pds, str(status))
                return
            raise JobFailed(exc.code, f"cannot fetch the repository of {did}: {str(exc)[:300]}", context) from None

    async def _write(
        self,
        ctx: JobContext[None],
        did: str,
        pds: str,
        handle: str | None,
        stream: RepoStream,
    ) -> None:
        """Write the parts as they are read (each its own batch), then delete what the repository no longer holds,
        in the last part's batch when the stream says which is last (a small repository: one transaction, which
        ends the op too).

        A resumed sync re-applies the whole export: counts start again, and rewriting is idempotent by (uri, cid).
        """
        ctx.progress.total_records = None  # known once the export is read
        ctx.progress.records_processed = 0
        ctx.progress.counts = {}
        since = now_stamp()  # every record written below is verified at or after this
        registered = False
        async for part in stream.parts:  # both streams hold only the collections within ``scope``
            if not part.records and not part.invalid and not part.last:
                continue
            async with ctx.batch(last=part.last) as conn:
                if not registered:  # with the first records: a sync that stops midway leaves none of an unknown host
                    await index.upsert_repo(conn, did, now_stamp(), handle=handle, pds_url=pds, status="active")
                    registered = True
                result = await apply_records(conn, part.records, now_stamp())
                await ctx.dead_letter_records(conn, part.invalid, did=did, pds=pds)
                ctx.progress.records_processed += len(part.records) + len(part.invalid)
                ctx.count("inserted", result.inserted)
                ctx.count("updated", result.updated)
                ctx.count("unchanged", result.unchanged)
                if part.last:
                    await self._end(ctx, conn, did, pds, handle, stream, since)
                    return
        async with ctx.batch(last=True) as conn:
            await self._end(ctx, conn, did, pds, handle, stream, since)

    async def _end(
        self,
        ctx: JobContext[None],
        conn: Conn,
        did: str,
        pds: str,
        handle: str | None,
        stream: RepoStream,
        since: str,
    ) -> None:
        """With every part written (in the batch of ``conn``): remove what the export no longer holds, and record
        the repository as synced at the export's commit."""
        ctx.progress.total_records = ctx.progress.records_processed
        # what is not upstream, or is there but no longer valid, was not verified by this sync: it must not be
        # served from the index
        stale = await index.unverified_since(conn, did, since)
        gone = [uri for uri in stale if uri.split("/")[3].startswith(self.scope)]
        ctx.count("deleted", await remove_records(conn, gone))
        await index.upsert_repo(
            conn,
            did,
            now_stamp(),
            handle=handle,
            pds_url=pds,
            status="active",
            rev=stream.rev,
            data_cid=stream.data_cid,
            synced=True,
        )
        await index.set_repo_hidden(conn, did, False)

    async def retry_item(self, ctx: AnyContext, item: Item) -> None:
        if not isinstance(item, RecordItem):
            raise RetryFailed(f"not a did-sync item: {item!r}"[:200])
        await retry_record(ctx.services.upstream, ctx, item.uri, item.pds)

    async def _not_hosted(self, ctx: JobContext[None], did: str, pds: str, status: str) -> None:
        async with ctx.batch(last=True) as conn:
            await index.upsert_repo(conn, did, now_stamp(), pds_url=pds, status=status)
            await index.set_repo_hidden(conn, did, True)
            ctx.count("hidden", len(await index.record_cids(conn, did)))
