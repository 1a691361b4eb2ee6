"""pub.chive.admin.listEprints: visible eprint submissions, newest first by their ``createdAt`` then URI.

``authorDid`` is the record's ``submittedBy``, ``authorHandle`` the stored handle of that repository when we hold it,
``status`` the publication status slug (``eprint`` when the record has none), ``field`` its first field URI,
``indexedAt`` when the index last stored the record. ``views``/``downloads`` are the all-time counts of
pub.chive.metrics.recordView/recordDownload (0 for an eprint never counted), absent while the deployment has
recorded none at all: then nobody counts them, and 0 would claim that nobody looked.
"""

from __future__ import annotations

from chive_admin._generated.models.pub.chive.admin import list_eprints as api
from chive_admin.handlers.call import Call
from chive_admin.store import content, engagement

#: ``status`` of a submission that names no publication status
NO_STATUS = "eprint"


def _summary(row: content.EprintRow, counts: tuple[int, int] | None) -> api.EprintSummary:
    # absent fields stay None, and None is left out of the answer
    return api.EprintSummary(
        uri=row.uri,
        cid=row.cid,
        title=row.title or "",
        author_did=row.submitted_by,
        author_handle=row.handle,
        status=row.status or NO_STATUS,
        field=row.field,
        indexed_at=row.indexed_at,
        views=counts[0] if counts else None,
        downloads=counts[1] if counts else None,
    )


async def handle(call: Call[api.Params, None]) -> api.Output:
    params = call.params
    async with call.services.db.read() as conn:
        rows, total = await content.eprints_page(conn, limit=params.limit, offset=params.offset)
        counted = await engagement.any_recorded(conn)
        counts = await engagement.all_time(conn, [row.uri for row in rows]) if counted else {}
    return api.Output(
        items=[_summary(row, counts.get(row.uri, (0, 0)) if counted else None) for row in rows], total=total
    )
