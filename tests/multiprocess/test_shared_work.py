"""Two ``chive-admin serve`` processes on one PostgreSQL database share the work: a pds-scan and a did-sync
triggered on one process are worked by a worker of each, and every record is indexed exactly once; a cancel
requested on either process stops an op wherever it runs."""

from __future__ import annotations

import httpx
from support.api import call, started, status_in, wait_ended, wait_until
from support.pds import scripted_pds

from chive_admin._generated import ids
from multiprocess.fleet import LEASE_SECONDS, Fleet, assert_each_record_once, fill, op_row, starters, wait_row

#: seconds each listing page takes: both ops last long enough for the second to be claimed while the first runs
PAGE_SECONDS = 0.5


def test_two_ops_triggered_on_one_process_are_worked_by_both(fleet: Fleet, admin: dict[str, str]) -> None:
    with scripted_pds() as scanned, scripted_pds() as synced:
        expected = fill(scanned, "scanned", repos=6, per_repo=30) | fill(synced, "synced", repos=1, per_repo=40)
        sync_did = next(iter(synced.repos))
        synced.also_directory_of(scanned)  # one directory for both: a scan writes what a DID's own PDS says
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


def test_a_cancel_on_the_other_process_stops_a_job_stuck_between_checkpoints(
    fleet: Fleet, admin: dict[str, str]
) -> None:
    with scripted_pds() as pds:
        pds.delays[ids.COM_ATPROTO_SYNC_LIST_REPOS] = 60.0  # the job waits on the PDS, far from its next checkpoint
        a, b = fleet.start(), fleet.start()
        with httpx.Client(base_url=a.url, timeout=30) as on_a:
            op_id = started(call(on_a, ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN, {"pdsUrl": pds.url}, headers=admin))
        wait_row(fleet.db, op_id, lambda row: row.status == "running", within=30, what="running")
        [holder] = starters(fleet.servers, op_id)
        other = b if holder is a else a
        with httpx.Client(base_url=other.url, timeout=30) as on_other:
            assert call(on_other, ids.PUB_CHIVE_ADMIN_CANCEL_BACKFILL, {"id": op_id}, headers=admin).is_success
            # the holder hears of it with its next heartbeat (a third of a lease), then waits out the cancel grace
            op = wait_until(on_other, op_id, status_in("cancelled"), headers=admin, within=LEASE_SECONDS + 10)
    assert op["recordsProcessed"] == 0
