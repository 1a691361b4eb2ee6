"""pub.chive.admin.listEprints: visible eprint submissions, newest first by their ``createdAt`` then URI.

``authorDid`` is the record's ``submittedBy``, ``authorHandle`` the stored handle of that repository when we hold it,
``status`` the publication status slug (``eprint`` when the record has none), ``field`` its first field URI,
``indexedAt`` when the index last stored the record. ``views``/``downloads`` stay absent: nothing counts them yet.
"""

from __future__ import annotations

from chive_admin._generated.models.pub.chive.admin import list_eprints as api
from chive_admin.handlers.call import Call
from chive_admin.store import content

#: ``status`` of a submission that names no publication status
NO_STATUS = "eprint"


def _summary(row: content.EprintRow) -> api.EprintSummary:
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
    )


async def handle(call: Call[api.Params, None]) -> api.Output:
    params = call.params
    async with call.services.db.read() as conn:
        rows, total = await content.eprints_page(conn, limit=params.limit, offset=params.offset)
    return api.Output(items=[_summary(row) for row in rows], total=total)
