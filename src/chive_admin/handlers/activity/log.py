"""pub.chive.activity.log: keep the caller's intent to write a record, pending until the record reaches the index.

The caller is the token's issuer: an intent is always the caller's own. ``action`` must be create, update or
delete and ``category`` one of the lexicon's known values (400 otherwise); 429 past 60 intents a minute per DID.
"""

from __future__ import annotations

from chive_admin._generated.models.pub.chive.activity import log as api
from chive_admin.handlers.call import Call


async def handle(call: Call[api.Params, api.Input]) -> api.Output:
    body = call.input
    activity_id = await call.services.activity.log(
        call.principal.did, body.collection, body.rkey, body.action, body.category
    )
    call.note.target = activity_id
    return api.Output(activity_id=activity_id)
