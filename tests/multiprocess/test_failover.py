"""The process that holds a running op is SIGKILLed: the other process takes the op over once its lease has run
out, resumes it from its checkpoint, and completes it with no record lost or written twice."""

from __future__ import annotations

import signal
import time

import httpx
from support.api import call, started, wait_ended
from support.pds import scripted_pds

from chive_admin._generated import ids
from multiprocess.fleet import LEASE_SECONDS, Fleet, assert_each_record_once, fill, op_row, starters, wait_row

#: seconds each listing page takes: the scan lasts long enough to be killed in its middle
PAGE_SECONDS = 0.3
#: records the scan has committed when its process is killed
KILL_AFTER = 150


def test_sigkill_of_the_holder_hands_the_op_to_the_other_process(fleet: Fleet, admin: dict[str, str]) -> None:
    with scripted_pds() as pds:
        # more repositories than a scan lists at once (2 x --upstream-concurrency), each page slow: the scan is still
        # listing when its holder is killed, not already at its end
        expected = fill(pds, "failover", repos=100, per_repo=40)
        pds.delays[ids.COM_ATPROTO_REPO_LIST_RECORDS] = PAGE_SECONDS
        # the scripted PDS is its repositories' directory too
        a, b = fleet.start("--plc-url", pds.url), fleet.start("--plc-url", pds.url)
        with httpx.Client(base_url=a.url, timeout=30) as on_a:
            op_id = started(call(on_a, ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN, {"pdsUrl": pds.url}, headers=admin))
        before = wait_row(fleet.db, op_id, lambda row: row.records_processed >= KILL_AFTER, within=60, what="progress")
        assert before.status == "running"
        [holder] = starters(fleet.servers, op_id)
        survivor = b if holder is a else a
        holder.stop(signal.SIGKILL)
        killed_at = time.monotonic()
        # the survivor claims it once the lease has run out (its maintenance looks every third of a lease)
        resumed = wait_row(
            fleet.db,
            op_id,
            lambda row: row.status == "running" and row.engine not in (None, before.engine),
            within=LEASE_SECONDS * 3 + 10,
            what="taken over",
        )
        print(f"failover: the op ran again on the survivor {time.monotonic() - killed_at:.2f} s after SIGKILL")
        assert resumed.attempts == 2
        with httpx.Client(base_url=survivor.url, timeout=30) as on_survivor:
            op = wait_ended(on_survivor, op_id, headers=admin, within=120)
    assert op["status"] == "completed"
    assert [starters([server], op_id) for server in (holder, survivor)] == [[holder], [survivor]]
    assert op_row(fleet.db, op_id).attempts == 2
    assert_each_record_once(fleet.db, expected)
