"""A relay on loopback answering ``com.atproto.sync.listReposByCollection`` the way indigo's collectiondir does:
DIDs in first-seen order, a cursor only with a full page, no DID ever forgotten.

Its index is given (``RelayIndex``), or built from real PDSes the way collectiondir bootstraps itself: each PDS's
``com.atproto.sync.listRepos``, then each repository's ``describeRepo`` collections (``index_pdses``). Switches
(fields of ``LoopbackRelay``, changed while it serves) make it misbehave on demand: the last page without a cursor
even when full, stale DIDs (deleted accounts it still lists), pages capped below the asked limit, 429s with a
``RateLimit-Reset``, a cursor that loops, garbage, slow pages. ``requests`` holds every (collection, cursor) asked.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
from starlette.requests import Request

from chive_admin._generated import ids
from support.scripted import Answer, scripted_server

#: collection -> DIDs in the order the relay first saw them
RelayIndex = dict[str, list[str]]


def index_pdses(pds_urls: Iterable[str], *, prefix: str = "pub.chive.") -> RelayIndex:
    """What a relay learns of the collections under ``prefix`` from these PDSes (listRepos, then describeRepo)."""
    index: RelayIndex = {}
    with httpx.Client(timeout=30) as http:
        for pds in pds_urls:
            cursor: str | None = None
            while True:
                params = {"limit": "1000"} | ({"cursor": cursor} if cursor else {})
                page = http.get(f"{pds}/xrpc/{ids.COM_ATPROTO_SYNC_LIST_REPOS}", params=params).json()
                for repo in page["repos"]:
                    described = http.get(
                        f"{pds}/xrpc/{ids.COM_ATPROTO_REPO_DESCRIBE_REPO}", params={"repo": repo["did"]}
                    )
                    if described.status_code != 200:
                        continue
                    for collection in described.json()["collections"]:
                        if collection.startswith(prefix):
                            index.setdefault(collection, []).append(repo["did"])
                cursor = page.get("cursor")
                if not cursor or not page["repos"]:
                    break
    return index


@dataclass
class LoopbackRelay:
    url: str = ""
    index: RelayIndex = field(default_factory=dict)
    #: DIDs it lists though their accounts are gone (collection -> DIDs), after the indexed ones
    stale: RelayIndex = field(default_factory=dict)
    #: False: the last page carries no cursor even when it is full (some relays); True: collectiondir's way, a
    #: cursor with every full page, so a last full page is followed by an empty one
    cursor_on_full_pages: bool = True
    #: the most DIDs a page holds, whatever the caller asks
    max_page: int = 2000
    #: the next requests are answered 429, ``RateLimit-Reset`` this many seconds ahead
    throttle: deque[float] = field(default_factory=deque)
    #: every page answers this same cursor (a loop), once set
    loop_cursor: str | None = None
    #: the next requests are answered with these bodies (garbage), as 200 application/json
    garbage: deque[bytes] = field(default_factory=deque)
    #: seconds each page waits before it is sent
    delay: float = 0.0
    #: (collection, cursor) of every request, in order
    requests: list[tuple[str, str | None]] = field(default_factory=list)

    def listed(self, collection: str) -> list[str]:
        return [*self.index.get(collection, []), *self.stale.get(collection, [])]

    def answer(self, request: Request) -> Answer:
        if request.url.path != f"/xrpc/{ids.COM_ATPROTO_SYNC_LIST_REPOS_BY_COLLECTION}":
            return Answer(404, b'{"error":"MethodNotImplemented"}')
        query = request.query_params
        collection, cursor = query.get("collection", ""), query.get("cursor")
        self.requests.append((collection, cursor))
        if self.throttle:
            reset = int(time.time() + self.throttle.popleft()) + 1
            headers = {"content-type": "application/json", "ratelimit-reset": str(reset)}
            return Answer(429, b'{"error":"RateLimitExceeded","message":"slow down"}', headers, delay=self.delay)
        if self.garbage:
            return Answer(200, self.garbage.popleft(), delay=self.delay)
        limit = min(int(query.get("limit", "500")), self.max_page)
        dids = self.listed(collection)
        start = int(cursor) if cursor and cursor.isdigit() else 0
        page = dids[start : start + limit]
        end = start + len(page)
        more = len(page) == limit if self.cursor_on_full_pages else end < len(dids)
        body: dict[str, object] = {"repos": [{"did": did} for did in page]}
        if self.loop_cursor is not None:
            body["cursor"] = self.loop_cursor
        elif more:
            body["cursor"] = str(end)
        return Answer(200, json.dumps(body).encode(), delay=self.delay)


@contextmanager
def loopback_relay(index: RelayIndex | None = None) -> Iterator[LoopbackRelay]:
    """A ``LoopbackRelay`` serving at ``.url`` until the block ends."""
    with scripted_server() as (url, script):
        relay = LoopbackRelay(url, index or {})
        script.default = relay.answer
        yield relay
