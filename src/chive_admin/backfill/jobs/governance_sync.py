"""governance-sync: mirror the knowledge graph's authority records (``pub.chive.graph.*``: nodes, edges, proposals,
votes, reconciliations) from the configured governance repository, deletions included.

The same verified-export path as did-sync, scoped to the graph collections of one configured DID.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chive_admin.backfill import job_types
from chive_admin.backfill.context import JobContext
from chive_admin.backfill.job import Job, JobFailed, JobParams, Refused
from chive_admin.backfill.jobs.did_sync import DidSync

if TYPE_CHECKING:
    from chive_admin.backfill.job import JobServices

GRAPH_PREFIX = "pub.chive.graph."


class GovernanceParams(JobParams):
    pass


class GovernanceSync(Job[GovernanceParams, None]):
    kind = job_types.GOVERNANCE_SYNC
    params_model = GovernanceParams
    checkpoint_model = DidSync.checkpoint_model
    stages = DidSync.stages

    @classmethod
    async def admit(cls, params: GovernanceParams, services: JobServices) -> None:
        if services.settings.governance_did is None:
            raise Refused("No governance repository is configured (start the server with --governance-did)")

    async def run(self, ctx: JobContext[None], params: GovernanceParams) -> None:
        did = ctx.services.settings.governance_did
        if did is None:  # configured away between trigger and run (a restart with other flags)
            raise JobFailed("no_governance_did", "no governance repository is configured (--governance-did)")
        await _GraphMirror().mirror(ctx, did)


class _GraphMirror(DidSync):
    scope = GRAPH_PREFIX
