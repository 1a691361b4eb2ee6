"""Smoke tests: the real network answers the XRPC that chive-admin's backfill relies on."""

from __future__ import annotations

import base64
import json
import time

import httpx
import pytest
from atproto_identity.resolver import AsyncIdResolver
from atproto_server.auth.jwt import (
    TokenInvalidAudienceError,
    TokenInvalidSignatureError,
    verify_jwt_async,
)

from testnet import records
from testnet.harness import Testnet
from testnet.pds_client import APPLY_WRITES_MAX, Account, PdsClient, XrpcError

pytestmark = pytest.mark.interop

SERVICE_DID = "did:web:localhost%3A8590"
LXM = "pub.chive.admin.getBackfillStatus"


def _fake_eprint_uri(did: str) -> str:
    return records.at_uri(did, records.SUBMISSION, records.make_tid())


def test_network_reports_urls_and_versions(testnet: Testnet) -> None:
    info = testnet.info
    assert info.dev_env_version == "0.6.7"
    assert info.node_version.startswith("v22.")
    assert len({info.plc_url, info.pds_url, info.pds2_url}) == 3
    assert info.pds_did != info.pds2_did
    for url in (info.pds_url, info.pds2_url):
        desc = httpx.get(f"{url}/xrpc/com.atproto.server.describeServer", timeout=10).json()
        assert info.handle_domain in desc["availableUserDomains"]
    assert httpx.get(f"{info.pds_url}/xrpc/com.atproto.server.describeServer").json()["did"] == info.pds_did
    assert httpx.get(f"{info.pds2_url}/xrpc/com.atproto.server.describeServer").json()["did"] == info.pds2_did


def test_250_records_listed_across_pages(pds: PdsClient, account: Account, testnet: Testnet) -> None:
    eprint = _fake_eprint_uri(account.did)
    rkeys = [records.make_tid() for _ in range(250)]
    created = pds.bulk_create(
        account,
        records.COMMENT,
        250,
        factory=lambda i: records.review_comment(eprint_uri=eprint, text=f"comment number {i}"),
        rkeys=rkeys,
    )
    assert len(created) == 250
    expected = {(r.uri, r.cid) for r in created}
    assert {r.rkey for r in created} == set(rkeys)

    # Read back with plain httpx, following the cursor, limit 100.
    seen: list[tuple[str, str]] = []
    pages = 0
    cursor = None
    with httpx.Client(base_url=testnet.pds_url, timeout=30) as http:
        while True:
            params = {"repo": account.did, "collection": records.COMMENT, "limit": 100}
            if cursor:
                params["cursor"] = cursor
            resp = http.get("/xrpc/com.atproto.repo.listRecords", params=params)
            assert resp.status_code == 200, resp.text
            body = resp.json()
            pages += 1
            assert len(body["records"]) <= 100
            seen.extend((rec["uri"], rec["cid"]) for rec in body["records"])
            for rec in body["records"]:
                assert rec["value"]["$type"] == records.COMMENT
                assert rec["value"]["eprintUri"] == eprint
            cursor = body.get("cursor")
            if not cursor:
                break
            assert pages < 10, "cursor never ended"
    assert pages >= 3
    assert len(seen) == len(set(seen)) == 250
    assert set(seen) == expected
    assert {uri.rsplit("/", 1)[-1] for uri, _ in seen} == set(rkeys)


async def test_service_auth_token_verifies_against_plc_key(pds: PdsClient, account: Account, testnet: Testnet) -> None:
    exp = int(time.time()) + 120
    token = pds.get_service_auth(account, aud=SERVICE_DID, lxm=LXM, exp=exp)

    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["alg"] == "ES256K"

    resolver = AsyncIdResolver(plc_url=testnet.plc_url, timeout=10)

    async def signing_key(did: str, force_refresh: bool) -> str:
        return await resolver.did.resolve_atproto_key(did, force_refresh)

    payload = await verify_jwt_async(token, signing_key, own_did=SERVICE_DID)
    assert payload.iss == account.did
    assert payload.aud == SERVICE_DID
    assert payload.exp == exp
    assert (payload.model_extra or {}).get("lxm") == LXM

    # The key really is the one in the PLC document: the same token fails for another audience,
    # and a token with a corrupted signature fails verification.
    with pytest.raises(TokenInvalidAudienceError):
        await verify_jwt_async(token, signing_key, own_did="did:web:elsewhere.example")
    head, body, sig = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(sig + "=="))
    raw[5] ^= 0x01
    bad_sig = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    with pytest.raises(TokenInvalidSignatureError):
        await verify_jwt_async(f"{head}.{body}.{bad_sig}", signing_key, own_did=SERVICE_DID)


async def test_second_pds_serves_its_repo_and_plc_points_at_it(
    pds: PdsClient, pds2: PdsClient, account2: Account, testnet: Testnet
) -> None:
    node = records.graph_node(label="Quantum Chemistry")
    ref = pds2.create_record(account2, records.GRAPH_NODE, node, rkey=node["id"])
    assert ref.uri == records.at_uri(account2.did, records.GRAPH_NODE, node["id"])

    got = pds2.get_record(account2.did, records.GRAPH_NODE, node["id"])
    assert got["cid"] == ref.cid
    assert got["value"]["label"] == "Quantum Chemistry"
    assert any(r["did"] == account2.did for r in pds2.list_repos())

    # The first PDS does not hold this repo.
    with pytest.raises(XrpcError):
        pds.get_record(account2.did, records.GRAPH_NODE, node["id"])
    assert all(r["did"] != account2.did for r in pds.list_repos())

    # The PLC document names pds2 as the repo's PDS.
    doc = httpx.get(f"{testnet.plc_url}/{account2.did}", timeout=10).json()
    services = {s["id"]: s["serviceEndpoint"] for s in doc["service"]}
    assert services["#atproto_pds"] == testnet.pds2_url
    assert f"at://{account2.handle}" in doc["alsoKnownAs"]
    data = await AsyncIdResolver(plc_url=testnet.plc_url, timeout=10).did.resolve_atproto_data(account2.did)
    assert data.pds == testnet.pds2_url
    assert data.handle == account2.handle


def test_blob_pdf_submission_and_record_lifecycle(pds: PdsClient, account: Account) -> None:
    pdf = records.minimal_pdf()
    blob = pds.upload_blob(account, pdf, "application/pdf")
    assert blob["ref"]["$link"] == records.raw_cid(pdf)
    assert blob["mimeType"] == "application/pdf"
    assert blob["size"] == len(pdf)

    sub = records.eprint_submission(submitted_by=account.did, document=blob, doi="10.5555/chive.test.0001")
    sub_ref = pds.create_record(account, records.SUBMISSION, sub)
    assert pds.get_blob(account.did, blob["ref"]["$link"]) == pdf
    stored = pds.get_record(account.did, records.SUBMISSION, sub_ref.rkey)
    assert stored["value"]["document"]["ref"]["$link"] == blob["ref"]["$link"]

    # update (putRecord) changes the CID; delete removes the record.
    endorsement = records.review_endorsement(eprint_uri=sub_ref.uri)
    e_ref = pds.create_record(account, records.ENDORSEMENT, endorsement)
    updated = pds.put_record(
        account,
        records.ENDORSEMENT,
        e_ref.rkey,
        {**endorsement, "comment": "Revised after the authors' reply."},
        swap_record=e_ref.cid,
    )
    assert updated.uri == e_ref.uri
    assert updated.cid != e_ref.cid
    assert pds.get_record(account.did, records.ENDORSEMENT, e_ref.rkey)["cid"] == updated.cid
    pds.delete_record(account, records.ENDORSEMENT, e_ref.rkey)
    with pytest.raises(XrpcError) as info:
        pds.get_record(account.did, records.ENDORSEMENT, e_ref.rkey)
    assert info.value.error == "RecordNotFound"

    collections = pds.describe_repo(account.did)["collections"]
    assert records.SUBMISSION in collections


def test_graph_edge_between_nodes(pds: PdsClient, account: Account) -> None:
    broad = records.graph_node(label="Physics")
    narrow = records.graph_node(label="Condensed Matter Physics")
    refs = {}
    for node in (broad, narrow):
        refs[node["id"]] = pds.create_record(account, records.GRAPH_NODE, node, rkey=node["id"])
    edge = records.graph_edge(source_uri=refs[narrow["id"]].uri, target_uri=refs[broad["id"]].uri)
    edge_ref = pds.create_record(account, records.GRAPH_EDGE, edge, rkey=edge["id"])
    got = pds.get_record(account.did, records.GRAPH_EDGE, edge["id"])
    assert got["cid"] == edge_ref.cid
    assert got["value"]["sourceUri"] == refs[narrow["id"]].uri


def test_deactivated_account_is_reported_inactive(pds: PdsClient, account: Account) -> None:
    pds.create_record(account, records.COMMENT, records.review_comment(eprint_uri=_fake_eprint_uri(account.did)))
    pds.deactivate_account(account)
    repo = next(r for r in pds.list_repos() if r["did"] == account.did)
    assert repo["active"] is False
    assert repo.get("status") == "deactivated"
    assert pds.get_repo_status(account.did) == {"did": account.did, "active": False, "status": "deactivated"}
    with pytest.raises(XrpcError) as info:
        pds.get_repo(account.did)
    assert info.value.error == "RepoDeactivated"
    # repo.listRecords does not name the state: a plain InvalidRequest "Could not find repo".
    with pytest.raises(XrpcError) as info:
        pds.list_records(account.did, records.COMMENT)
    assert (info.value.status, info.value.error) == (400, "InvalidRequest")

    pds.activate_account(pds.login(account))
    assert pds.get_repo_status(account.did)["active"] is True
    assert len(pds.list_records(account.did, records.COMMENT)["records"]) == 1


def test_takedown_and_deleted_repos(pds: PdsClient) -> None:
    taken, deleted = pds.create_account(), pds.create_account()
    pds.takedown_account(taken.did)
    assert pds.get_repo_status(taken.did)["status"] == "takendown"
    with pytest.raises(XrpcError) as info:
        pds.get_repo(taken.did)
    assert info.value.error == "RepoTakendown"

    pds.delete_account_admin(deleted.did)
    with pytest.raises(XrpcError) as info:
        pds.get_repo_status(deleted.did)
    assert info.value.error == "RepoNotFound"
    assert all(r["did"] != deleted.did for r in pds.list_repos())


def test_seed_5000_records_with_apply_writes(
    pds: PdsClient, account: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    eprint = _fake_eprint_uri(account.did)
    started = time.perf_counter()
    refs = pds.bulk_create(
        account,
        records.COMMENT,
        5000,
        factory=lambda i: records.review_comment(eprint_uri=eprint, text=f"bulk comment {i}"),
    )
    seeded = time.perf_counter() - started
    assert len(refs) == 5000
    assert len({r.uri for r in refs}) == 5000
    started = time.perf_counter()
    listed = pds.list_all_records(account.did, records.COMMENT, limit=100)
    listed_s = time.perf_counter() - started
    assert {r["uri"] for r in listed} == {r.uri for r in refs}
    # Figures only (tests never assert wall-clock times); shown with -s or in the captured output.
    with capsys.disabled():
        print(
            f"\n[testnet] applyWrites seed: 5000 records in {seeded:.2f} s "
            f"({5000 / seeded:.0f} records/s, {APPLY_WRITES_MAX}/call); "
            f"listRecords 50 pages in {listed_s:.2f} s"
        )
