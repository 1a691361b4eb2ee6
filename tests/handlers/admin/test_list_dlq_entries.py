"""listDLQEntries: the dead-letter queue in queue order, paged by limit and offset, with the total."""

from __future__ import annotations

from support.admin_api import Api, answer, refusal

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import list_dlq_entries

METHOD = ids.PUB_CHIVE_ADMIN_LIST_DLQ_ENTRIES
DID = "did:plc:dlqauthor00000000000000000"
URI = f"at://{DID}/pub.chive.eprint.submission/a1"


async def test_entries_in_queue_order_with_the_total(api: Api) -> None:
    for n in range(5):
        await api.dead_letter(n)
    await api.dead_letter(5, error_type="invalid_record", context={"uri": URI, "did": DID, "problem": "title"})
    output = answer(await api.get(METHOD, {"limit": 2, "offset": 3}), list_dlq_entries.Output)
    assert output.total == 6
    assert [e.error_message for e in output.entries] == ["item 3 refused", "item 4 refused"]
    last = answer(await api.get(METHOD, {"offset": 5}), list_dlq_entries.Output).entries
    assert [(e.error_type, e.uri, e.did, e.retry_count) for e in last] == [("invalid_record", URI, DID, 0)]
    assert last[0].last_retry_at is None


async def test_an_empty_queue_and_an_offset_past_its_end(api: Api) -> None:
    assert (await api.get(METHOD)).json() == {"entries": [], "total": 0}
    await api.dead_letter(0)
    assert (await api.get(METHOD, {"offset": 1})).json() == {"entries": [], "total": 1}


async def test_paging_stays_within_the_lexicons_bounds(api: Api) -> None:
    for params in ({"limit": 0}, {"limit": 101}, {"offset": -1}):
        refusal(await api.get(METHOD, params), 400, "InvalidRequest")
