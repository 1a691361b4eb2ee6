"""Idempotent triggers hold across processes: 50 identical triggers sent at once, half to each of two servers on
one PostgreSQL database, all answer with the same operation, and only that one is stored."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
from support.api import call, started, wait_ended
from support.db_rows import rows
from support.pds import scripted_pds

from chive_admin._generated import ids
from multiprocess.fleet import Fleet

TRIGGERS = 50
#: the PDS keeps its first answer this long: the op stays active while every trigger arrives
STALL_SECONDS = 60.0


def test_fifty_identical_triggers_over_two_processes_make_one_op(fleet: Fleet, admin: dict[str, str]) -> None:
    with scripted_pds() as pds:
        pds.delays[ids.COM_ATPROTO_SYNC_LIST_REPOS] = STALL_SECONDS
        servers = [fleet.start(), fleet.start()]
        together = threading.Barrier(TRIGGERS)

        def trigger(n: int) -> httpx.Response:
            with httpx.Client(base_url=servers[n % 2].url, timeout=30) as client:
                together.wait()
                return call(client, ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN, {"pdsUrl": pds.url}, headers=admin)

        with ThreadPoolExecutor(TRIGGERS) as pool:
            answers = list(pool.map(trigger, range(TRIGGERS)))
        op_ids = {started(answer) for answer in answers}
        assert len(op_ids) == 1
        assert rows(fleet.db, "SELECT id FROM operations") == [(op_ids.pop(),)]
        # let the stalled op go, so that the servers stop at once
        op_id = str(rows(fleet.db, "SELECT id FROM operations")[0][0])
        with httpx.Client(base_url=servers[0].url, timeout=30) as client:
            assert call(client, ids.PUB_CHIVE_ADMIN_CANCEL_BACKFILL, {"id": op_id}, headers=admin).is_success
            assert wait_ended(client, op_id, headers=admin)["status"] == "cancelled"
