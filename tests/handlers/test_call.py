"""What a handler receives: its typed params and input, the authenticated caller, the services and the request; and
a note it fills in for the call's audit entry."""

from __future__ import annotations

import pytest
from conftest import AppFactory
from support.admin_api import serving
from support.auth import ADMIN_DID, FixedTokens

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import cancel_backfill, list_pdses
from chive_admin.auth.principal import Principal
from chive_admin.handlers.call import AuditNote, Call
from chive_admin.store.audit import AuditEntry

received: list[Call[object, object]] = []


async def query(call: Call[list_pdses.Params, None]) -> list_pdses.Output:
    received.append(call)  # type: ignore[arg-type]
    return list_pdses.Output()


async def procedure(call: Call[None, cancel_backfill.Input]) -> cancel_backfill.Output:
    received.append(call)  # type: ignore[arg-type]
    call.note.target = call.input.id
    call.note.detail = "noted"
    return cancel_backfill.Output(success=True)


async def test_a_handler_gets_the_call_and_its_note_reaches_the_audit_trail(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    received.clear()
    handlers = {ids.PUB_CHIVE_ADMIN_LIST_PDSES: query, ids.PUB_CHIVE_ADMIN_CANCEL_BACKFILL: procedure}
    entries: list[AuditEntry] = []
    async with serving(make_app(authenticator=FixedTokens(), handlers=handlers)) as api:
        monkeypatch.setattr(api.services.audit, "record", entries.append)
        await api.get(ids.PUB_CHIVE_ADMIN_LIST_PDSES, {"limit": 3})
        await api.post(ids.PUB_CHIVE_ADMIN_CANCEL_BACKFILL, {"id": "01OP"})
        services = api.services
    asked, told = received
    assert (asked.params, asked.input) == (list_pdses.Params(limit=3), None)
    assert (told.params, told.input) == (cancel_backfill.Params(), cancel_backfill.Input(id="01OP"))
    assert asked.principal == Principal(ADMIN_DID, "api-key", frozenset({"admin"}))
    assert asked.services is told.services is services
    assert asked.request.url.path == f"/xrpc/{ids.PUB_CHIVE_ADMIN_LIST_PDSES}"
    assert asked.note == AuditNote()
    assert [(e.target, e.detail) for e in entries] == [(None, None), ("01OP", "noted")]
