"""Sorting fetched records into what is indexed and what is dead-lettered, and writing the first."""

from __future__ import annotations

from pathlib import Path

from interop import records

from chive_admin.store.db import Database
from chive_admin.sync.fetch import RepoContents
from chive_admin.sync.ingest import apply_records

DID = "did:plc:alice0000000000000000000"
CID = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"


async def test_a_record_outside_the_data_model_is_dead_lettered_and_its_batch_still_writes(tmp_path: Path) -> None:
    contents = RepoContents(did=DID)
    eprint = f"at://{DID}/{records.SUBMISSION}/3kabc"
    contents.add(records.COMMENT, "3kgood", CID, records.review_comment(eprint_uri=eprint))
    contents.add(records.COMMENT, "3kbad", CID, records.review_comment(eprint_uri=eprint, text="lone \ud800"))
    assert [r.rkey for r in contents.records] == ["3kgood"]
    assert [i.uri for i in contents.invalid] == [f"at://{DID}/{records.COMMENT}/3kbad"]
    assert "surrogates" in contents.invalid[0].problem

    # before, the bad record was kept, and binding it failed the whole batch with a UnicodeEncodeError
    db = await Database.open(tmp_path / "i.db", readers=1)
    try:
        async with db.write() as conn:
            result = await apply_records(conn, contents.records, "2026-11-23T00:00:00.000Z")
        async with db.read() as conn:
            stored = await conn.execute_fetchall("SELECT uri FROM records")
    finally:
        await db.close()
    assert result.inserted == 1
    assert [row[0] for row in stored] == [f"at://{DID}/{records.COMMENT}/3kgood"]
