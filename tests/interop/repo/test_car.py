"""The repository CAR reader against a real PDS export: verified commit, exact pub.chive.* record set."""

from __future__ import annotations

import io

import pytest

from chive_admin.repo.car import RepoVerificationError, open_verified
from chive_admin.repo.validate import record_problem
from testnet import records
from testnet.harness import Testnet
from testnet.pds_client import Account, PdsClient

pytestmark = pytest.mark.interop


def test_car_records_equal_list_records_and_validate(testnet: Testnet, pds: PdsClient, account: Account) -> None:
    eprint = pds.create_record(
        account,
        records.SUBMISSION,
        records.eprint_submission(
            submitted_by=account.did,
            document=pds.upload_blob(account, records.minimal_pdf(), "application/pdf"),
        ),
    )
    pds.bulk_create(account, records.COMMENT, 120, factory=lambda i: records.review_comment(eprint_uri=eprint.uri))
    pds.create_record(
        account,
        "app.bsky.feed.post",
        {"$type": "app.bsky.feed.post", "text": "not ours", "createdAt": records.now_iso()},
    )

    car = pds.get_repo(account.did)
    repo = open_verified(io.BytesIO(car), did=account.did, signing_key=testnet.signing_key(account.did))
    got = list(repo.records("pub.chive."))

    upstream = {
        (r["uri"], r["cid"]): r["value"]
        for collection in (records.SUBMISSION, records.COMMENT)
        for r in pds.list_all_records(account.did, collection)
    }
    assert {(f"at://{account.did}/{r.collection}/{r.rkey}", r.cid): r.value for r in got} == upstream
    assert len(got) == 121
    assert all(record_problem(r.collection, r.value) is None for r in got)
    assert repo.rev


def test_refuses_another_dids_key_and_another_did(
    testnet: Testnet, pds: PdsClient, account: Account, account2: Account
) -> None:
    car = pds.get_repo(account.did)
    with pytest.raises(RepoVerificationError) as bad_sig:
        open_verified(io.BytesIO(car), did=account.did, signing_key=testnet.signing_key(account2.did))
    assert bad_sig.value.code == "bad_signature"
    with pytest.raises(RepoVerificationError) as wrong_did:
        open_verified(io.BytesIO(car), did=account2.did, signing_key=testnet.signing_key(account2.did))
    assert wrong_did.value.code == "did_mismatch"
    with pytest.raises(RepoVerificationError) as truncated:
        open_verified(io.BytesIO(car[: len(car) // 3]), did=account.did, signing_key=testnet.signing_key(account.did))
    assert truncated.value.code in ("bad_car", "missing_block")
