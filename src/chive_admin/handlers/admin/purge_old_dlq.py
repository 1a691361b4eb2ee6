"""pub.chive.admin.purgeOldDLQ: delete entries older than a number of days."""

from __future__ import annotations

from datetime import timedelta

from chive_admin._generated.models.pub.chive.admin import purge_old_dlq as api
from chive_admin.clock import stamp, utc_now
from chive_admin.handlers.call import Call
from chive_admin.store import dead_letters

MAX_DAYS = 36_500


async def handle(call: Call[api.Params, api.Input]) -> api.Output:
    days = min(call.input.older_than_days, MAX_DAYS)
    async with call.services.db.write() as conn:
        purged = await dead_letters.purge_older(conn, stamp(utc_now() - timedelta(days=days)))
    call.note.detail = f"{purged} purged"
    return api.Output(purged_count=purged)
