"""Accounts put straight into the index for the tests of searchUsers and getUserDetail: two authors with eprints,
reviews, endorsements and a profile, one hidden repository, one holding nothing visible."""

from __future__ import annotations

from dataclasses import dataclass

from chive_admin.store import index, roles, takedowns
from chive_admin.store.db import Database
from chive_admin.store.index import IndexedRecord
from testnet import records

ADA = "did:plc:ada00000000000000000000000"
BEN = "did:plc:ben00000000000000000000000"
#: deactivated upstream: its repository is hidden
GONE = "did:plc:adagone0000000000000000000"
#: its one record is taken down
TAKEN = "did:plc:adataken000000000000000000"
ADA_SEEN = "2026-01-01T00:00:00.000Z"
BEN_SEEN = "2026-01-02T00:00:00.000Z"


@dataclass(frozen=True)
class Seeded:
    eprint_uri: str
    review_uris: list[str]


def _record(did: str, collection: str, rkey: str, value: records.Record) -> IndexedRecord:
    return IndexedRecord.from_parts(did, collection, rkey, records.raw_cid(f"{did}{rkey}".encode()), value)


async def seed_accounts(db: Database) -> Seeded:
    eprint_uri = records.at_uri(ADA, records.SUBMISSION, "e1")
    pdf = records.blob_ref(records.minimal_pdf(), "application/pdf")
    rows = [
        _record(ADA, records.SUBMISSION, "e1", records.eprint_submission(submitted_by=ADA, document=pdf)),
        _record(ADA, records.SUBMISSION, "e2", records.eprint_submission(submitted_by=BEN, document=pdf)),
        _record(ADA, records.PROFILE, "self", records.actor_profile(display_name="Ada Lovelace")),
        _record(ADA, records.COMMENT, "c1", records.review_comment(eprint_uri=eprint_uri)),
        _record(ADA, records.COMMENT, "c2", records.review_comment(eprint_uri=eprint_uri)),
        _record(ADA, records.ENDORSEMENT, "d1", records.review_endorsement(eprint_uri=eprint_uri)),
        _record(BEN, records.COMMENT, "c3", records.review_comment(eprint_uri=eprint_uri)),
        _record(BEN, records.PROFILE, "self", records.actor_profile(display_name=None, bio="no name")),
        _record(GONE, records.COMMENT, "c4", records.review_comment(eprint_uri=eprint_uri)),
        _record(TAKEN, records.COMMENT, "c5", records.review_comment(eprint_uri=eprint_uri)),
    ]
    async with db.write() as conn:
        await index.upsert_repo(conn, ADA, ADA_SEEN, handle="Ada.Test", pds_url="http://127.0.0.1:1")
        await index.upsert_repo(conn, BEN, BEN_SEEN, pds_url="http://127.0.0.1:1")  # no verified handle
        await index.upsert_repo(conn, GONE, BEN_SEEN, handle="adagone.test", pds_url="http://127.0.0.1:1")
        await index.upsert_repo(conn, TAKEN, BEN_SEEN, handle="adataken.test", pds_url="http://127.0.0.1:1")
        await index.upsert_records(conn, rows, BEN_SEEN)
        await index.set_repo_hidden(conn, GONE, True)
        await takedowns.take_down(conn, rows[-1].uri, records.COMMENT, None, "did:plc:admin", BEN_SEEN)
        # one of Ada's reviews taken down: not counted
        await takedowns.take_down(conn, rows[4].uri, records.COMMENT, None, "did:plc:admin", BEN_SEEN)
        await roles.grant(conn, ADA, "moderator", None, ADA_SEEN)
    return Seeded(eprint_uri, [rows[3].uri, rows[6].uri])
