"""A few accounts with ``pub.chive`` records on a PDS, for a scan to find: each author submits eprints (with a PDF
document), comments on and endorses the next author's first eprint."""

from __future__ import annotations

from dataclasses import dataclass, field

from testnet import records
from testnet.pds_client import Account, PdsClient


@dataclass(frozen=True)
class SeededAccount:
    did: str
    handle: str
    password: str
    #: records written, by collection
    records: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.records.values())


def seed(client: PdsClient, *, accounts: int = 3, eprints: int = 2) -> list[SeededAccount]:
    """``accounts`` new accounts on ``client``'s PDS, each with ``eprints`` submissions, a comment and an
    endorsement (of the next account's first eprint)."""
    if accounts < 1 or eprints < 1:
        raise ValueError("seed at least one account with at least one eprint")
    authors = [client.create_account(prefix="author") for _ in range(accounts)]
    firsts = [_submit(client, author, index, eprints) for index, author in enumerate(authors)]
    seeded = []
    for index, author in enumerate(authors):
        target = firsts[(index + 1) % accounts]  # with one account, its own eprint
        client.create_record(author, records.COMMENT, records.review_comment(eprint_uri=target))
        client.create_record(author, records.ENDORSEMENT, records.review_endorsement(eprint_uri=target))
        counts = {records.SUBMISSION: eprints, records.COMMENT: 1, records.ENDORSEMENT: 1}
        seeded.append(SeededAccount(author.did, author.handle, author.password, counts))
    return seeded


def _submit(client: PdsClient, author: Account, index: int, eprints: int) -> str:
    """The author's eprints; the AT-URI of the first."""
    uris = []
    for number in range(1, eprints + 1):
        title = f"Backfilling scholarly records, part {number} (author {index + 1})"
        document = client.upload_blob(author, records.minimal_pdf(title=title), "application/pdf")
        record = records.eprint_submission(submitted_by=author.did, document=document, title=title)
        uris.append(client.create_record(author, records.SUBMISSION, record).uri)
    return uris[0]
