"""pub.chive.admin.listPDSes: the PDS registry with its health and record counts."""

from __future__ import annotations

from chive_admin._generated.models.pub.chive.admin import list_pdses as api
from chive_admin.handlers.call import Call
from chive_admin.store import index


async def handle(call: Call[api.Params, None]) -> api.Output:
    async with call.services.db.read() as conn:
        stats = await index.pds_stats(conn, call.params.limit)
    return api.Output(
        stats=api.PdsStats(
            total=stats.total,
            healthy=stats.healthy,
            unhealthy=stats.unhealthy,
            with_records=stats.with_records,
            items=[
                api.PdsInfo(
                    url=row.url,
                    status=row.status,
                    last_scan=row.last_scan_at,
                    record_count=row.record_count,
                    error_count=row.error_count,
                    consecutive_errors=row.consecutive_errors,
                    last_error=row.last_error,
                )
                for row in stats.items
            ],
        )
    )
