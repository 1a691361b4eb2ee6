"""A relay's ``com.atproto.sync.listReposByCollection``: which repositories of the network hold a collection.

The reference relay (indigo's collectiondir) lists DIDs in the order it first saw them, sends a cursor only with a
full page, and never forgets a DID: a listed repository may be deleted or moved since, which the caller finds out
when it resolves the DID. Every call goes through the guarded upstream client (the SSRF guard, a total deadline,
the size cap of a JSON answer). On top of that, so that discovery ends with a clear answer and never sits:

- a cursor that comes back (the one just sent, or any earlier one) is a ``CursorLoop``, as is a listing that runs
  past ``MAX_PAGES`` pages; the cursors followed are remembered as 16-byte digests, so memory stays bounded;
- a 429 whose ``RateLimit-Reset`` (or ``Retry-After``) is further than ``FAR_RATE_LIMIT`` seconds is raised at once
  as ``RateLimited`` instead of waited out; a nearer one is waited out, as for any host;
- an answer that is not the lexicon's (a DID that is no DID, no ``repos``) is an ``InvalidAnswer``, not retried.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

from chive_admin._generated import ids
from chive_admin._generated.models.com.atproto.sync import list_repos_by_collection as lex_by_collection
from chive_admin.upstream.atproto import CursorLog, checked
from chive_admin.upstream.calls import ParamValue, RetryPolicy, XrpcCaller
from chive_admin.upstream.guard import UpstreamHttp
from chive_admin.upstream.hosts import HostPolicy

#: DIDs asked for per page (the lexicon allows 1-2000; the reference relay serves 1000 comfortably)
PAGE_SIZE = 1000
#: seconds of a 429's wait that discovery sits out; past it the relay is given up with a clear error code
FAR_RATE_LIMIT = 60.0
#: a page of 2000 DIDs is about 120 KB of JSON: anything much larger is not a page
MAX_PAGE_BYTES = 2 * 1024 * 1024

Page = lex_by_collection.Output


def relay_policy(*, attempts: int, deadline: float) -> RetryPolicy:
    """The retry policy of relay calls: the server's attempts and deadline, far 429s given up, small answers."""
    return RetryPolicy(
        attempts=attempts, deadline=deadline, max_json_bytes=MAX_PAGE_BYTES, give_up_429_over=FAR_RATE_LIMIT
    )


class RelayClient:
    """Discovery through one relay (``url``, the operator's ``--relay-url``)."""

    def __init__(self, url: str, http: UpstreamHttp, hosts: HostPolicy, policy: RetryPolicy) -> None:
        self.url = url
        self.caller = XrpcCaller(http, hosts, policy)

    async def page(self, collection: str, *, cursor: str | None = None, limit: int = PAGE_SIZE) -> Page:
        nsid = ids.COM_ATPROTO_SYNC_LIST_REPOS_BY_COLLECTION
        params: dict[str, ParamValue | None] = {"collection": collection, "limit": limit, "cursor": cursor}
        return checked(Page, await self.caller.query_json(self.url, nsid, params), self.url, nsid)

    async def pages(
        self, collection: str, *, cursor: str | None = None, limit: int = PAGE_SIZE
    ) -> AsyncGenerator[Page, None]:
        """Every page from ``cursor`` on, following the cursor until a page comes without one (a short page with a
        cursor is followed too: it is the cursor that says there is more)."""
        seen = CursorLog(self.url, ids.COM_ATPROTO_SYNC_LIST_REPOS_BY_COLLECTION, cursor)
        while True:
            page = await self.page(collection, cursor=cursor, limit=limit)
            yield page
            if not page.cursor:
                return
            seen.follow(page.cursor)  # the cursor just sent counts: a relay answering it again loops
            cursor = page.cursor

    async def aclose(self) -> None:
        await self.caller.aclose()
