"""pub.chive.admin.listImports: how many visible eprint submissions the index holds from one PDS (``source``, a
PDS URL normalised as the PDS registry stores it), or from all. Every record comes from some PDS, so an import is
counted by the host of its repository."""

from __future__ import annotations

from chive_admin._generated.models.pub.chive.admin import list_imports as api
from chive_admin.handlers.call import Call
from chive_admin.store import content
from chive_admin.upstream.urls import normalise_service_url
from chive_admin.xrpc.errors import XRPCError


async def handle(call: Call[api.Params, None]) -> api.Output:
    params = call.params
    source = None
    if params.source is not None:
        try:
            source = normalise_service_url(params.source)
        except ValueError:
            raise XRPCError.invalid_request("source must be a PDS URL (an http or https origin)") from None
    async with call.services.db.read() as conn:
        total = await content.eprint_total(conn, source)
    return api.Output(total_eprints=total, source=source, limit=params.limit)
