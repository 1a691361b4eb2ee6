"""activity.markFailed: fails the caller's own latest pending intent on the record, never another DID's."""

from __future__ import annotations

from support.admin_api import Api, answer, refusal
from support.users import user

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.activity import mark_failed

METHOD = ids.PUB_CHIVE_ACTIVITY_MARK_FAILED
ALICE = "did:plc:activityalice0000000000000"
MALLORY = "did:plc:activitymallory00000000000"
INTENT = {"collection": "pub.chive.review.comment", "rkey": "3kxyz", "action": "create", "category": "review_create"}
FAILURE = {"collection": "pub.chive.review.comment", "rkey": "3kxyz", "errorCode": "PDS_5XX", "errorMessage": "boom"}


async def statuses(api: Api) -> list[tuple[str, str, str | None]]:
    async with api.services.db.read() as conn:
        rows = await conn.fetchall("SELECT did, status, error_code FROM activity_intents ORDER BY did")
    return [(str(r[0]), str(r[1]), r[2]) for r in rows]


async def test_only_the_owner_marks_its_intent_failed(users: Api) -> None:
    assert (await users.post(ids.PUB_CHIVE_ACTIVITY_LOG, INTENT, headers=user(ALICE))).status_code == 200
    refusal(await users.post(METHOD, FAILURE, headers=user(MALLORY)), 400, "NotFound")
    assert await statuses(users) == [(ALICE, "pending", None)]
    assert answer(await users.post(METHOD, FAILURE, headers=user(ALICE)), mark_failed.Output).success
    assert await statuses(users) == [(ALICE, "failed", "PDS_5XX")]
    refusal(await users.post(METHOD, FAILURE, headers=user(ALICE)), 400, "NotFound")  # nothing pending any more
