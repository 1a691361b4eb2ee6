"""Why a PDS no longer serves a repository: a deactivated account answers listRecords with RepoNotFound too, so the
reason comes from com.atproto.sync.getRepoStatus, not from the error of the call that failed."""

from __future__ import annotations

from chive_admin.upstream.atproto import AtprotoClient
from chive_admin.upstream.errors import (
    RepoDeactivated,
    RepoNotFound,
    RepoSuspended,
    RepoTakendown,
    UpstreamError,
)

_BY_ERROR: dict[type[UpstreamError], str] = {
    RepoDeactivated: "deactivated",
    RepoTakendown: "takendown",
    RepoSuspended: "suspended",
    RepoNotFound: "deleted",
}


async def hosting_status(client: AtprotoClient, pds: str, did: str, cause: UpstreamError) -> str | None:
    """After a call about ``did`` failed with ``cause``: ``"active"`` if ``pds`` still serves the repository (the
    failure was something else), its status (``deactivated``, ``takendown``, ``deleted``…) if not, ``None`` when
    neither the PDS nor ``cause`` tells.

    PDSes answer a deactivated repository's listRecords with RepoNotFound and may proxy its getRecord elsewhere
    (UpstreamFailure), so the failed call's own error is not the reason; getRepoStatus is.
    """
    try:
        answer = await client.get_repo_status(pds, did)
    except RepoNotFound:
        return "deleted"
    except UpstreamError:
        return _BY_ERROR.get(type(cause))
    if answer.active:
        return "active"
    return answer.status or _BY_ERROR.get(type(cause)) or "inactive"


def is_hosted(status: str | None) -> bool:
    """Whether a failure should be treated as an error of the call (retry, dead-letter) rather than a repo gone."""
    return status in (None, "active")
