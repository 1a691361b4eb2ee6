"""dev.chiveadmin.search.recordImpression: keep a search impression a day, for the clicks that may name it.

Only its id, hour and result count are kept: the query is checked against the lexicon and dropped.
"""

from __future__ import annotations

from chive_admin._generated.models.dev.chiveadmin.search import record_impression as api
from chive_admin.handlers.call import Call


async def handle(call: Call[api.Params, api.Input]) -> api.Output:
    body = call.input
    return api.Output(success=await call.services.engagement.impression(body.impression_id, body.result_count))
