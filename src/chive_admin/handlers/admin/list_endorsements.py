"""pub.chive.admin.listEndorsements: visible endorsements (``pub.chive.review.endorsement``), newest first by their
createdAt."""

from __future__ import annotations

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import list_endorsements as api
from chive_admin.handlers.call import Call
from chive_admin.handlers.shared.review_pages import page_of


async def handle(call: Call[api.Params, None]) -> api.Output:
    page = await page_of(call.services, call.params, ids.PUB_CHIVE_REVIEW_ENDORSEMENT, api.EndorsementSummary)
    return api.Output(items=page.items, total=page.total, cursor=page.cursor)
