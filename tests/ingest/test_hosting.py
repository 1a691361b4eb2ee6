"""Why a PDS no longer serves a repository, asked of getRepoStatus after a call failed: the failed call's own error
is only the fallback, since a PDS answers a deactivated repository's listRecords with RepoNotFound too."""

from __future__ import annotations

import pytest
from support.pds import ScriptedPds
from support.scripted import Answer

from chive_admin._generated import ids
from chive_admin.ingest.hosting import hosting_status, is_hosted
from chive_admin.upstream.atproto import AtprotoClient
from chive_admin.upstream.errors import RepoNotFound, RepoTakendown, ServerError, UpstreamError

DID = "did:plc:hostedhostedhostedhostedh"


@pytest.fixture
def pds(pds: ScriptedPds) -> ScriptedPds:
    """The scripted PDS, hosting ``DID``."""
    pds.repo(DID)
    return pds


def failure(kind: type[UpstreamError] = ServerError) -> UpstreamError:
    return kind("pds", "the call that failed")


async def test_a_repository_still_served_is_active_whatever_the_call_said(
    pds: ScriptedPds, upstream: AtprotoClient
) -> None:
    # the failure was something else (a proxied getRecord, a hiccup): the call's error, not the repo's state
    assert await hosting_status(upstream, pds.url, DID, failure(RepoNotFound)) == "active"


@pytest.mark.parametrize("status", ["deactivated", "takendown", "suspended"])
async def test_the_status_the_pds_gives_is_the_reason(pds: ScriptedPds, upstream: AtprotoClient, status: str) -> None:
    pds.repo(DID).status = status
    # what the failed call said does not matter: a deactivated repo's listRecords says RepoNotFound
    assert await hosting_status(upstream, pds.url, DID, failure(RepoNotFound)) == status
    assert pds.seen == [ids.COM_ATPROTO_SYNC_GET_REPO_STATUS]


async def test_a_repository_the_pds_does_not_know_is_deleted(pds: ScriptedPds, upstream: AtprotoClient) -> None:
    assert await hosting_status(upstream, pds.url, "did:plc:unknownunknownunknownunkn", failure()) == "deleted"


async def test_inactive_without_a_status_takes_the_calls_reason_else_inactive(
    pds: ScriptedPds, upstream: AtprotoClient
) -> None:
    pds.overrides[ids.COM_ATPROTO_SYNC_GET_REPO_STATUS] = Answer(200, f'{{"did":"{DID}","active":false}}'.encode())
    assert await hosting_status(upstream, pds.url, DID, failure(RepoTakendown)) == "takendown"
    assert await hosting_status(upstream, pds.url, DID, failure(ServerError)) == "inactive"


async def test_when_the_pds_cannot_say_the_failed_call_decides(pds: ScriptedPds, upstream: AtprotoClient) -> None:
    pds.overrides[ids.COM_ATPROTO_SYNC_GET_REPO_STATUS] = Answer(501, b'{"error":"MethodNotImplemented"}')
    assert await hosting_status(upstream, pds.url, DID, failure(RepoTakendown)) == "takendown"
    assert await hosting_status(upstream, pds.url, DID, failure(RepoNotFound)) == "deleted"
    assert await hosting_status(upstream, pds.url, DID, failure(ServerError)) is None  # nobody tells


@pytest.mark.parametrize(
    ("status", "hosted"),
    [(None, True), ("active", True), ("deactivated", False), ("takendown", False), ("deleted", False)],
)
def test_only_an_active_or_unknown_repository_counts_as_hosted(status: str | None, hosted: bool) -> None:
    # hosted: the failure is the call's (retried, dead-lettered); not hosted: the repository is gone (mirrored)
    assert is_hosted(status) is hosted
