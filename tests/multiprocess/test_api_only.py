"""``--workers 0`` on PostgreSQL: a process that answers the API and ingests nothing, beside one that runs the
operations (the shape that keeps the API's answers quick under a large ingest: ``bench.responsiveness --split``)."""

from __future__ import annotations

import httpx
from support.api import call, started, wait_ended
from support.pds import scripted_pds

from chive_admin._generated import ids
from multiprocess.fleet import Fleet, assert_each_record_once, fill, starters


def test_ops_triggered_on_an_api_only_process_run_on_the_one_beside_it(fleet: Fleet, admin: dict[str, str]) -> None:
    with scripted_pds() as scanned, scripted_pds() as synced:
        expected = fill(scanned, "apionly", repos=3, per_repo=20) | fill(synced, "apisync", repos=1, per_repo=30)
        sync_did = next(iter(synced.repos))
        synced.also_directory_of(scanned)
        api = fleet.start("--plc-url", synced.url, workers=0)
        worker = fleet.start("--plc-url", synced.url, workers=2)
        with httpx.Client(base_url=api.url, timeout=30) as on_api:
            scan = started(call(on_api, ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN, {"pdsUrl": scanned.url}, headers=admin))
            sync = started(call(on_api, ids.PUB_CHIVE_ADMIN_TRIGGER_DID_SYNC, {"did": sync_did}, headers=admin))
            ends = [wait_ended(on_api, op_id, headers=admin) for op_id in (scan, sync)]
    assert [op["status"] for op in ends] == ["completed", "completed"]
    # triggered on the API-only process, woken on the other at once (LISTEN/NOTIFY) and run there, once each
    assert [[s.port for s in starters(fleet.servers, op_id)] for op_id in (scan, sync)] == [[worker.port]] * 2
    assert_each_record_once(fleet.db, expected)
