"""A real ``chive-admin serve`` running a network backfill of the testnet, SIGKILLed once in each of its three
stages and started again each time: every stage resumes from its checkpoint (discovery at the relay cursor it
committed, resolution after the last DID it committed, fetching with the repositories already done left alone), no
DID is resolved twice, no repository fetched twice, and the index ends equal to what the PDSes hold."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from faults.proxy import Fault, FaultConfig, FaultProxy
from interop.backfill.test_scan_crash import admin_key, read
from interop.ops import expected_index
from support.api import call, started, wait_ended
from support.relay import index_pdses, loopback_relay
from support.server import ServerProcess

from chive_admin._generated import ids
from testnet import records
from testnet.harness import Testnet
from testnet.pds_client import PdsClient

pytestmark = pytest.mark.interop

#: DIDs a relay still lists whose accounts never existed here (stale): resolution has pages of them to get through
STALE = [f"did:plc:stalenetworkdid{n:011d}" for n in range(600)]


def op_state(db: Path, op_id: str) -> tuple[str, str | None, dict[str, Any], int]:
    status, stage, checkpoint, processed = read(
        db, "SELECT status, stage, checkpoint, records_processed FROM operations WHERE id = ?", op_id
    )[0]
    return status, stage, json.loads(checkpoint) if checkpoint else {}, processed


def kill_when(
    server: ServerProcess, db: Path, op_id: str, ready: Callable[[str, str | None, dict[str, Any], int], bool]
) -> None:
    """SIGKILL the server as soon as the op's committed state is ``ready``."""
    deadline = time.monotonic() + 120
    try:
        while not ready(*op_state(db, op_id)):
            assert op_state(db, op_id)[0] in ("queued", "running"), op_state(db, op_id)
            assert time.monotonic() < deadline, f"never ready: {op_state(db, op_id)}"
            time.sleep(0.01)
    finally:
        server.stop(signal.SIGKILL)
    assert op_state(db, op_id)[0] == "running"


def test_sigkill_in_each_stage_of_a_network_backfill(
    tmp_path: Path, testnet: Testnet, pds: PdsClient, pds2: PdsClient
) -> None:
    big = pds2.create_account(prefix="netbig")
    eprint = records.at_uri(big.did, records.SUBMISSION, "e1")
    pds2.bulk_create(big, records.COMMENT, 1500, factory=lambda i: records.review_comment(eprint_uri=eprint))
    small = pds.create_account(prefix="netsmall")
    pds.create_record(small, records.ENDORSEMENT, records.review_endorsement(eprint_uri=eprint))
    expected = expected_index(pds) | expected_index(pds2)
    db = tmp_path / "network.db"
    auth = admin_key(db)
    # the PLC directory behind a proxy that now and then answers 429 (RateLimit-Reset a second ahead): resolution
    # honours it, and takes long enough to be interrupted
    limits = FaultConfig(rate=0.02, kinds=(Fault.RATELIMIT_RESET,), seed=26, paths=("/did:",), max_consecutive=2)
    with (
        loopback_relay(index_pdses([testnet.pds_url, testnet.pds2_url])) as relay,
        FaultProxy(testnet.plc_url, limits).running_in_thread() as plc,
    ):
        relay.stale = {records.COMMENT: STALE}
        relay.max_page = 50
        relay.delay = 0.05
        args = [
            *("--db", str(db), "--admin-did", "did:plc:crashadmin000000000000000", "--allow-private-network"),
            *("--plc-url", plc.url, "--relay-url", relay.url, "--handle-resolver", testnet.pds_url),
        ]

        # 1. discovering_repos: killed once two pages of comments are in the work list
        server = ServerProcess(args=args, cwd=tmp_path).start()
        try:
            with httpx.Client(base_url=server.url) as http:
                op_id = started(call(http, ids.PUB_CHIVE_ADMIN_TRIGGER_BACKFILL, {"type": "pdsScan"}, headers=auth))
        except BaseException:
            server.stop(signal.SIGKILL)  # never left running past the test
            raise
        kill_when(server, db, op_id, lambda s, stage, at, n: at.get("phase") == "relay" and at["found"] >= 100)
        _, _, at_kill, _ = op_state(db, op_id)
        asked_before = len(relay.requests)

        # 2. resolving_pds: killed once a page of DIDs is resolved and committed
        server = ServerProcess(args=args, cwd=tmp_path).start()
        kill_when(server, db, op_id, lambda s, stage, at, n: at.get("phase") == "resolving" and at["after"] != "")
        resolved_at_kill = op_state(db, op_id)[2]["after"]
        resumed_at = relay.requests[asked_before]

        # 3. fetching_records: killed in the middle of the big repository
        server = ServerProcess(args=args, cwd=tmp_path).start()
        done_with_records = (
            "SELECT 1 FROM operation_items i WHERE i.operation_id = ? AND i.state = 'done'"
            " AND EXISTS (SELECT 1 FROM records r WHERE r.did = i.item)"
        )

        def midway(_s: str, stage: str | None, _at: dict[str, Any], n: int) -> bool:
            """Inside the big repository, with another one (whose handle check may wait out a 429) done."""
            return stage == "fetching_records" and n >= 200 and bool(read(db, done_with_records, op_id))

        kill_when(server, db, op_id, midway)
        done_at_kill = {row[0] for row in read(db, "SELECT item FROM operation_items WHERE state = 'done'")}
        verified_at_kill = dict(read(db, "SELECT uri, verified_at FROM records"))

        server = ServerProcess(args=args, cwd=tmp_path).start()
        try:
            with httpx.Client(base_url=server.url) as http:
                op = wait_ended(http, op_id, headers=auth, within=240)
        finally:
            server.stop()
        resolutions = [seen.path for seen in plc.stats().passed()]
        limited = plc.stats().faulted

    assert op["status"] in ("completed", "partial"), op
    assert op["attempts"] == 4
    # discovery resumed at the cursor it had committed, in the collection it was in
    collections = sorted({collection for collection, _ in relay.requests})
    assert resumed_at == (collections[at_kill["collection"]], at_kill["cursor"])
    assert resolved_at_kill > ""
    # every DID discovered once and handled once: one whose resolution was committed before the kill is not asked
    # of the PLC again (only the page in flight at the kill is, its outcome lost with it), every one counted once
    committed = [did for did in STALE if did <= resolved_at_kill]
    assert committed
    assert all(resolutions.count(f"/{did}") == 1 for did in committed)
    assert all(resolutions.count(f"/{did}") in (1, 2) for did in STALE)
    assert limited > 0  # the PLC's 429s were met, and waited out: no DID left unresolved
    assert op["recordsFailed"] == 0 or op["status"] == "partial"
    counts = op["counts"]
    assert sum(n for name, n in counts.items() if name == "resolved" or name.startswith("stale_")) == op["totalRepos"]
    assert counts["stale_not_found"] == len(STALE)
    assert op["totalRepos"] == op["processedRepos"]
    # no repository fetched twice: those done before the kill kept their records' verification time
    after = dict(read(db, "SELECT uri, verified_at FROM records"))
    done_uris = [uri for uri in verified_at_kill if uri.split("/")[2] in done_at_kill]
    assert done_uris
    assert all(after[uri] == verified_at_kill[uri] for uri in done_uris)
    assert read(db, "SELECT max(writes) FROM records")[0][0] == 1
    assert set(read(db, "SELECT uri, cid FROM records WHERE hidden = 0")) == expected
    assert read(db, "PRAGMA integrity_check") == [("ok",)]
