"""The firehose sources' leases: one holder at a time, renewed only by that holder while unexpired, taken by
another once expired or given up."""

from __future__ import annotations

from chive_admin.store import firehose_leases
from chive_admin.store.db import Database

SOURCE = "https://relay.example"


async def test_one_holder_at_a_time_until_the_lease_runs_out(db: Database) -> None:
    async with db.write() as conn:
        assert await firehose_leases.acquire(conn, SOURCE, "a", until="t05", now="t00")
        assert not await firehose_leases.acquire(conn, SOURCE, "b", until="t06", now="t01")
        assert await firehose_leases.acquire(conn, SOURCE, "a", until="t07", now="t02")  # its own: renewed
        assert await firehose_leases.hold(conn, SOURCE, "a", until="t08", now="t03")
        assert not await firehose_leases.hold(conn, SOURCE, "b", until="t09", now="t03")
        assert await firehose_leases.get(conn, SOURCE) == firehose_leases.Lease(SOURCE, "a", "t08", "t00")
        # expired: "a" may no longer renew it, and "b" takes it
        assert not await firehose_leases.hold(conn, SOURCE, "a", until="t12", now="t08")
        assert await firehose_leases.acquire(conn, SOURCE, "b", until="t13", now="t08")
        assert await firehose_leases.get(conn, SOURCE) == firehose_leases.Lease(SOURCE, "b", "t13", "t08")
        assert not await firehose_leases.hold(conn, SOURCE, "a", until="t14", now="t09")
        # a release by another holder changes nothing; by the holder, it frees the source at once
        await firehose_leases.release(conn, SOURCE, "a")
        assert not await firehose_leases.acquire(conn, SOURCE, "a", until="t15", now="t10")
        await firehose_leases.release(conn, SOURCE, "b")
        assert await firehose_leases.get(conn, SOURCE) is None
        assert await firehose_leases.acquire(conn, SOURCE, "a", until="t15", now="t10")
        assert await firehose_leases.acquire(conn, "https://other.example", "b", until="t15", now="t10")
