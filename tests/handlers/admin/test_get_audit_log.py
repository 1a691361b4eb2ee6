"""getAuditLog: every call of an identified caller, allowed or refused, newest first, with a stable cursor and an
actor filter; never a credential, and calls refused before anyone was identified stay out (Chive's lexicon requires
actorDid)."""

from __future__ import annotations

from support.admin_api import BOOTSTRAP_ADMIN, Api, answer, refusal

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import get_audit_log

METHOD = ids.PUB_CHIVE_ADMIN_GET_AUDIT_LOG
STATUS = ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS
OTHER = "did:plc:someoneelse000000000000000"


async def test_allowed_and_refused_calls_are_listed_never_the_token(keyed: Api) -> None:
    admin, other = await keyed.key_for(BOOTSTRAP_ADMIN), await keyed.key_for(OTHER)
    await keyed.get(STATUS, headers=admin)
    await keyed.get(STATUS, headers=other)
    await keyed.get(STATUS, headers={"Authorization": "Bearer ca_wrongwrongwrong"})
    await keyed.get(STATUS, headers={})
    await keyed.post(ids.PUB_CHIVE_ADMIN_CANCEL_BACKFILL, {"id": "01NOPE"}, headers=admin)
    await keyed.post(ids.PUB_CHIVE_ADMIN_ASSIGN_ROLE, {"did": OTHER, "role": "reader"}, headers=admin)
    response = await keyed.get(METHOD, headers=admin)
    output = answer(response, get_audit_log.Output)
    # the getAuditLog call itself is recorded after it answers; the two refused before any identity was established
    # (unknown key, no credentials) are in the table but not in the answer
    assert output.total == 4
    entries = response.json()["entries"]
    assert [e["action"] for e in entries] == [
        ids.PUB_CHIVE_ADMIN_ASSIGN_ROLE,
        ids.PUB_CHIVE_ADMIN_CANCEL_BACKFILL,
        *[STATUS] * 2,
    ]
    assert entries[0]["targetUri"] == OTHER
    assert entries[0]["actorDid"] == BOOTSTRAP_ADMIN
    assert entries[0]["details"].startswith("allowed 200; via=api-key:k")
    assert "reader granted" in entries[0]["details"]
    assert "failed 400" in entries[1]["details"]
    assert entries[2]["actorDid"] == OTHER
    assert "reason=AdminRequired" in entries[2]["details"]
    assert entries[3]["actorDid"] == BOOTSTRAP_ADMIN
    async with keyed.services.db.read() as conn:
        anonymous = await conn.fetchall("SELECT reason FROM audit_log WHERE actor_did IS NULL ORDER BY id")
        dump = repr([tuple(r) for r in await conn.fetchall("SELECT * FROM audit_log")])
    assert [row[0] for row in anonymous] == ["unknown_key", "no_credentials"]
    for secret in (admin["Authorization"], other["Authorization"], "ca_wrongwrongwrong"):
        assert secret.removeprefix("Bearer ") not in response.text
        assert secret.removeprefix("Bearer ") not in dump


async def test_pages_with_a_stable_cursor_and_the_actor_filter(keyed: Api) -> None:
    admin, other = await keyed.key_for(BOOTSTRAP_ADMIN), await keyed.key_for(OTHER)
    for _ in range(7):
        await keyed.get(STATUS, headers=admin)
    for _ in range(3):
        await keyed.get(STATUS, headers=other)
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": 4, "actorDid": BOOTSTRAP_ADMIN, **({"cursor": cursor} if cursor else {})}
        page = answer(await keyed.get(METHOD, params, headers=admin), get_audit_log.Output)
        seen += [e.id for e in page.entries]
        assert all(e.actor_did == BOOTSTRAP_ADMIN for e in page.entries)
        cursor = page.cursor
        if not cursor:
            break
    assert len(seen) == len(set(seen))
    # 7 reads, plus the getAuditLog pages before the last one (each recorded once it answered)
    assert len(seen) >= 7
    assert seen == sorted(seen, key=int, reverse=True)


async def test_a_cursor_that_is_not_an_entry_id_is_refused(keyed: Api) -> None:
    admin = await keyed.key_for(BOOTSTRAP_ADMIN)
    for cursor in ("abc", "-1", "9" * 19):
        assert refusal(await keyed.get(METHOD, {"cursor": cursor}, headers=admin), 400, "InvalidRequest") == (
            "Invalid cursor"
        )
    assert "actorDid" in refusal(await keyed.get(METHOD, {"actorDid": "nobody"}, headers=admin), 400, "InvalidRequest")
