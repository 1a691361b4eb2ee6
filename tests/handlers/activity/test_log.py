"""activity.log: the caller's own intent, pending; only with a user's own service-auth token; bounded fields;
rate-limited per DID."""

from __future__ import annotations

import pytest
from support.admin_api import ADMIN, Api, answer, refusal
from support.users import user

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.activity import log
from chive_admin.engagement.activity import RATE

METHOD = ids.PUB_CHIVE_ACTIVITY_LOG
ALICE = "did:plc:activityalice0000000000000"
BOB = "did:plc:activitybob000000000000000"
INTENT = {"collection": "pub.chive.eprint.submission", "rkey": "3kabc", "action": "create", "category": "eprint_submit"}


async def test_an_intent_is_the_callers_own_and_pending(users: Api) -> None:
    body = {**INTENT, "targetTitle": "On graphs", "recordSnapshot": '{"title": "On graphs"}', "uiContext": "{}"}
    made = answer(await users.post(METHOD, body, headers=user(ALICE)), log.Output)
    async with users.services.db.read() as conn:
        rows = await conn.fetchall("SELECT id, did, uri, action, category, status FROM activity_intents")
    assert [tuple(r) for r in rows] == [
        (
            made.activity_id,
            ALICE,
            f"at://{ALICE}/pub.chive.eprint.submission/3kabc",
            "create",
            "eprint_submit",
            "pending",
        )
    ]


async def test_only_a_users_own_token(users: Api) -> None:
    refusal(await users.post(METHOD, INTENT, headers=ADMIN), 403, "AdminRequired")  # an API key acts for no user
    refusal(await users.post(METHOD, INTENT, headers={}), 401, "AuthenticationRequired")


@pytest.mark.parametrize(
    "change",
    [
        {"action": "upsert"},
        {"category": "anything"},
        {"collection": "not an nsid"},
        {"rkey": "../x"},
        {"traceId": "short"},
        {"recordSnapshot": "x" * 50_001},
    ],
)
async def test_bad_intents_are_invalid_requests(users: Api, change: dict[str, str]) -> None:
    refusal(await users.post(METHOD, {**INTENT, **change}, headers=user(ALICE)), 400, "InvalidRequest")


async def test_each_did_is_rate_limited_on_its_own(users: Api) -> None:
    for n in range(RATE):
        assert (await users.post(METHOD, {**INTENT, "rkey": f"k{n}"}, headers=user(ALICE))).status_code == 200
    limited = await users.post(METHOD, INTENT, headers=user(ALICE))
    refusal(limited, 429, "RateLimitExceeded")
    assert limited.headers["Retry-After"] == "60"
    assert (await users.post(METHOD, INTENT, headers=user(BOB))).status_code == 200
