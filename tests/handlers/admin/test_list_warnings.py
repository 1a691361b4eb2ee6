"""listWarnings: the warnings of the local moderation record, newest first, active ones only
(neither expired nor revoked), with the total under the same filter and the handle of an indexed repository."""

from __future__ import annotations

from support.admin_api import USER, Api, answer, refusal

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import list_warnings
from chive_admin.clock import now_stamp, stamp_in
from chive_admin.store import index
from chive_admin.store import moderation as mod

METHOD = ids.PUB_CHIVE_ADMIN_LIST_WARNINGS
ALICE = "did:plc:warnedalice0000000000000000"
BOB = "did:plc:warnedbob000000000000000000"
MOD = "did:plc:warningmoderator000000000000"


async def test_active_warnings_field_by_field(api: Api) -> None:
    assert (await api.get(METHOD)).json() == {"warnings": [], "total": 0}
    now = now_stamp()
    until = stamp_in(86400)
    async with api.services.db.write() as conn:
        await index.upsert_repo(conn, ALICE, now, handle="alice.test", pds_url="http://127.0.0.1:1", synced=True)
        spam = await mod.add_warning(conn, did=ALICE, reason="spam links", issued_by=MOD, now=now, expires_at=until)
        await mod.add_warning(conn, did=ALICE, reason="lapsed", issued_by=MOD, now=now, expires_at=stamp_in(-1))
        revoked = await mod.add_warning(conn, did=BOB, reason="a mistake", issued_by=MOD, now=now)
        await mod.revoke_warning(conn, revoked, ALICE, now)
        rude = await mod.add_warning(conn, did=BOB, reason="rude replies", issued_by=MOD, now=now)
    response = await api.get(METHOD)
    assert response.json() == {
        "warnings": [
            {"id": str(rude), "did": BOB, "reason": "rude replies", "issuedBy": MOD, "createdAt": now},
            {
                "id": str(spam),
                "did": ALICE,
                "handle": "alice.test",
                "reason": "spam links",
                "issuedBy": MOD,
                "createdAt": now,
                "expiresAt": until,
            },
        ],
        "total": 2,
    }
    answer(response, list_warnings.Output)
    one = answer(await api.get(METHOD, {"did": ALICE, "limit": 1}), list_warnings.Output)
    assert ([w.id for w in one.warnings], one.total) == ([str(spam)], 1)
    bob = answer(await api.get(METHOD, {"did": BOB}), list_warnings.Output)
    assert ([w.id for w in bob.warnings], bob.total) == ([str(rude)], 1)  # not the revoked one


async def test_bad_params_and_a_caller_without_the_admin_role(api: Api) -> None:
    for params in ({"limit": 0}, {"limit": 101}, {"did": "nope"}, {"includeInactive": "true"}, {"reason": "x"}):
        refusal(await api.get(METHOD, params), 400, "InvalidRequest")
    refusal(await api.get(METHOD, headers=USER), 403, "AdminRequired")
