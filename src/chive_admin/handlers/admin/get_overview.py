"""pub.chive.admin.getOverview: visible records of each kind, from the counters the store keeps (no scan per call).
``authors`` are repositories holding a profile; ``collections`` leave out the governance repository's."""

from __future__ import annotations

from chive_admin._generated.models.pub.chive.admin import get_overview as api
from chive_admin.handlers.call import Call
from chive_admin.store import content


async def handle(call: Call[api.Params, None]) -> api.Output:
    async with call.services.db.read() as conn:
        counts = await content.overview(conn, call.services.settings.governance_did)
    return api.Output(
        eprints=counts.eprints,
        authors=counts.authors,
        reviews=counts.reviews,
        endorsements=counts.endorsements,
        collections=counts.collections,
        tags=counts.tags,
    )
