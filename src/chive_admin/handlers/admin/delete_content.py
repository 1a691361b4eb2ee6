"""pub.chive.admin.deleteContent: an index takedown.

The server cannot delete from its author's repository, so the record is hidden from the index instead: a row in
``takedowns`` that every reader of the index honours (``store.takedowns.visible``), that no ingest path undoes, and
that ``chive-admin content restore URI`` lifts. A URI not indexed yet is taken down in advance. The takedown and the
call's audit entry are written in one transaction: there is no takedown without its trace, nor the reverse.
"""

from __future__ import annotations

import dataclasses

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import delete_content as api
from chive_admin.auth.audit import ip_or_none
from chive_admin.clock import now_stamp
from chive_admin.handlers.call import Call, audit_entry
from chive_admin.lex.formats import record_uri_parts
from chive_admin.store import audit as audit_store
from chive_admin.store import search, takedowns
from chive_admin.xrpc.errors import XRPCError

#: the collections the lexicon names as the indexed content types (``knownValues``)
COLLECTIONS = (
    ids.PUB_CHIVE_EPRINT_SUBMISSION,
    ids.PUB_CHIVE_REVIEW_COMMENT,
    ids.PUB_CHIVE_REVIEW_ENDORSEMENT,
    ids.PUB_CHIVE_EPRINT_USER_TAG,
)
#: characters of a reason kept (the audit trail and the takedown row are read by people, not filled by callers)
MAX_REASON = 2000


async def handle(call: Call[api.Params, api.Input]) -> api.Output:
    uri, collection = call.input.uri, call.input.collection
    if collection not in COLLECTIONS:
        raise XRPCError.invalid_request(f"collection must be one of {', '.join(COLLECTIONS)}")
    try:
        _, uri_collection, _ = record_uri_parts(uri)
    except ValueError as exc:
        raise XRPCError.invalid_request(f"uri: {exc}") from None
    if uri_collection != collection:
        raise XRPCError.invalid_request("uri names a record of another collection than collection")
    reason = call.input.reason[:MAX_REASON] if call.input.reason else None
    call.note.target = uri
    async with call.services.db.write() as conn:
        new = await takedowns.take_down(conn, uri, collection, reason, call.principal.did, now_stamp())
        if new and collection == search.EPRINT_COLLECTION:
            await search.remove(conn, [uri])
        call.note.detail = ("taken down" if new else "already taken down") + (f": {reason}" if reason else "")
        entry = audit_entry(ids.PUB_CHIVE_ADMIN_DELETE_CONTENT, call.request, call.principal, call.note, "allowed", 200)
        entry = dataclasses.replace(entry, client_ip=ip_or_none(entry.client_ip) if entry.client_ip else None)
        await audit_store.append_audit(conn, [entry])
    call.note.written = True
    return api.Output(success=True)
