"""Two real ``chive-admin serve`` processes given the same firehose source on one database. On PostgreSQL exactly
one reads it (the lease names it); SIGKILLed, the other takes the source over once the lease has run out, from the
committed cursor, and the commits made meanwhile land once each. On SQLite the second process is refused at start,
as it always was (one process owns the file): it can never read the source beside the first."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from support.db_rows import rows
from support.polling import wait_for
from support.server import ServerProcess, db_arg

from chive_admin.store.target import DbTarget, PostgresUrl
from testnet import records
from testnet.harness import Testnet
from testnet.pds_client import Account, PdsClient

pytestmark = pytest.mark.interop

EPRINT = "at://did:plc:leaselease/pub.chive.eprint.submission/x"
LEASE_SECONDS = 3


def comment(text: str) -> dict[str, object]:
    return records.review_comment(eprint_uri=EPRINT, text=text)


def holder_pid(db: DbTarget, source: str) -> int | None:
    found = rows(db, "SELECT holder FROM firehose_leases WHERE source = ?", source)
    return int(str(found[0][0]).split("/")[1]) if found else None


def level(db: DbTarget, pds: PdsClient, account: Account) -> bool:
    if rows(db, "SELECT 1 FROM operations WHERE status IN ('queued', 'running', 'cancelling')"):
        return False
    held = {(str(u), str(c)) for u, c in rows(db, "SELECT uri, cid FROM records WHERE did = ?", account.did)}
    return held == {(r["uri"], r["cid"]) for r in pds.list_all_records(account.did, records.COMMENT)}


def test_one_process_reads_the_source_and_the_other_takes_over_after_a_kill(
    tmp_path: Path, db_target: DbTarget, testnet: Testnet, pds: PdsClient
) -> None:
    args = [
        *("--db", db_arg(db_target), "--allow-private-network", "--plc-url", testnet.plc_url),
        *("--handle-resolver", testnet.pds_url, "--firehose-url", testnet.pds_url),
        *("--lease-seconds", str(LEASE_SECONDS)),
    ]
    a = ServerProcess(args=args, cwd=tmp_path).start()
    b = ServerProcess(args=args, cwd=tmp_path)
    try:
        if not isinstance(db_target, PostgresUrl):
            with pytest.raises(RuntimeError, match="in use by another chive-admin process"):
                b.start()
            return
        b.start()
        wait_for(lambda: holder_pid(db_target, testnet.pds_url) is not None, "a process took the source")
        servers = {s.proc.pid: s for s in (a, b) if s.proc is not None}
        holder = servers[holder_pid(db_target, testnet.pds_url) or 0]
        [survivor] = [s for s in servers.values() if s is not holder]
        account = pds.create_account(prefix="lease")
        versions = {}
        first = pds.create_record(account, records.COMMENT, comment("first"))
        versions[first.uri] = 1
        wait_for(lambda: level(db_target, pds, account), "the first did-sync")
        pds.put_record(account, records.COMMENT, first.rkey, comment("edited"))
        versions[first.uri] += 1
        wait_for(lambda: level(db_target, pds, account), "the update")
        time.sleep(1)  # the survivor has asked for the lease more than once meanwhile, in vain
        assert "connected (cursor" not in survivor.output()
        assert holder_pid(db_target, testnet.pds_url) == holder.proc.pid  # type: ignore[union-attr]

        holder.stop(signal.SIGKILL)
        killed = time.monotonic()
        killed_at = int(rows(db_target, "SELECT seq FROM firehose_cursors WHERE source = ?", testnet.pds_url)[0][0])
        # commits made while no process reads the source (the lease has not run out yet)
        for n in range(3):
            made = pds.create_record(account, records.COMMENT, comment(f"while down {n}"))
            versions[made.uri] = 1
        pds.put_record(account, records.COMMENT, first.rkey, comment("edited again"))
        versions[first.uri] += 1
        wait_for(lambda: holder_pid(db_target, testnet.pds_url) == survivor.proc.pid, "the takeover")  # type: ignore[union-attr]
        print(f"firehose takeover: the survivor holds the source {time.monotonic() - killed:.2f} s after SIGKILL")
        wait_for(lambda: level(db_target, pds, account), "the index level with the PDS")
        assert f"connected (cursor {killed_at})" in survivor.output()  # from the committed cursor
        writes = dict(rows(db_target, "SELECT uri, writes FROM records WHERE did = ?", account.did))
        assert writes == versions  # each version written once
        assert len(rows(db_target, "SELECT id FROM operations")) == 1  # the first did-sync only
    finally:
        b.stop()
        a.stop()
