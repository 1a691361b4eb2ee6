"""Two ``chive-admin serve`` processes on one PostgreSQL database share the work: a pds-scan and a did-sync
triggered on one process are worked by a worker of each, and every record is indexed exactly once."""

from __future__ import annotations

import httpx
from support.api import call, started, wait_ended
from support.pds import scripted_pds

from chive_admin._generated import ids
from multiprocess.fleet import Fleet, assert_each_record_once, fill, op_row, starters

#: seconds each listing page takes: both ops last long enough for the second to be claimed while the first runs
PAGE_SECONDS = 0.5


def test_two_ops_triggered_on_one_process_are_worked_by_both(fleet: Fleet, admin: dict[str, str]) -> None:
    with scripted_pds() as scanned, scripted_pds() as synced:
        expected = fill(scanned, "scanned", repos=6, per_repo=30) | fill(synced, "synced", repos=1, per_repo=40)
        sync_did = next(iter(synced.repos))
        for pds in (scanned, synced):
            pds.delays[ids.COM_ATPROTO_REPO_LIST_RECORDS] = PAGE_SECONDS
        a = fleet.start("--plc-url", synced.url)
        b = fleet.start("--plc-url", synced.url)
        with httpx.Client(base_url=a.url, timeout=30) as on_a:
            scan = started(call(on_a, ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN, {"pdsUrl": scanned.url}, headers=admin))
            sync = started(call(on_a, ids.PUB_CHIVE_ADMIN_TRIGGER_DID_SYNC, {"did": sync_did}, headers=admin))
            ends = [wait_ended(on_a, op_id, headers=admin) for op_id in (scan, sync)]
    assert [op["status"] for op in ends] == ["completed", "completed"]
    # one worker per process, two ops at once: each process started one of them, once
    assert {starters(fleet.servers, scan)[0].port, starters(fleet.servers, sync)[0].port} == {a.port, b.port}
    assert [len(starters(fleet.servers, op_id)) for op_id in (scan, sync)] == [1, 1]
    assert [op_row(fleet.db, op_id).attempts for op_id in (scan, sync)] == [1, 1]
    assert_each_record_once(fleet.db, expected)
