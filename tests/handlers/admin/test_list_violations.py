"""listViolations: the violations of the local moderation record, newest first, resolved ones included, with the
total under the same filter and the handle of an indexed repository."""

from __future__ import annotations

from support.admin_api import USER, Api, answer, refusal

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import list_violations
from chive_admin.clock import now_stamp
from chive_admin.store import index
from chive_admin.store import moderation as mod

METHOD = ids.PUB_CHIVE_ADMIN_LIST_VIOLATIONS
ALICE = "did:plc:violatoralice00000000000000"
BOB = "did:plc:violatorbob0000000000000000"
MOD = "did:plc:violationmoderator0000000000"
SUBJECT = f"at://{BOB}/pub.chive.eprint.submission/3kabc"


async def test_violations_field_by_field(api: Api) -> None:
    assert (await api.get(METHOD)).json() == {"violations": [], "total": 0}
    now = now_stamp()
    async with api.services.db.write() as conn:
        await index.upsert_repo(conn, BOB, now, handle="bob.test", pds_url="http://127.0.0.1:1", synced=True)
        spam = await mod.add_violation(conn, did=ALICE, type="spam", severity="low", recorded_by=MOD, now=now)
        await mod.resolve_violation(conn, spam, MOD, now)
        copied = await mod.add_violation(
            conn,
            did=BOB,
            type="plagiarism",
            severity="critical",
            recorded_by=MOD,
            now=now,
            description="abstract copied from doi:10.1000/x",
            context='{"similarity":0.97}',
            subject_uri=SUBJECT,
        )
    response = await api.get(METHOD)
    assert response.json() == {
        "violations": [
            {
                "id": str(copied),
                "did": BOB,
                "handle": "bob.test",
                "type": "plagiarism",
                "severity": "critical",
                "description": "abstract copied from doi:10.1000/x",
                "context": '{"similarity":0.97}',
                "subjectUri": SUBJECT,
                "recordedBy": MOD,
                "createdAt": now,
            },
            {
                "id": str(spam),
                "did": ALICE,
                "type": "spam",
                "severity": "low",
                "recordedBy": MOD,
                "createdAt": now,
                "resolvedAt": now,
                "resolvedBy": MOD,
            },
        ],
        "total": 2,
    }
    answer(response, list_violations.Output)
    one = answer(await api.get(METHOD, {"did": ALICE, "limit": 1}), list_violations.Output)
    assert ([v.id for v in one.violations], one.total) == ([str(spam)], 1)
    newest = answer(await api.get(METHOD, {"limit": 1}), list_violations.Output)
    assert ([v.id for v in newest.violations], newest.total) == ([str(copied)], 2)


async def test_bad_params_and_a_caller_without_the_admin_role(api: Api) -> None:
    for params in ({"limit": 0}, {"limit": 101}, {"did": "nope"}, {"severity": "low"}):
        refusal(await api.get(METHOD, params), 400, "InvalidRequest")
    refusal(await api.get(METHOD, headers=USER), 403, "AdminRequired")
