"""Typed ATProto calls to a PDS, answers checked against the generated models of their lexicons."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import IO, Any, Generic, NamedTuple, Protocol, TypeVar

from pydantic import ValidationError

from chive_admin._generated import ids
from chive_admin._generated.models.com.atproto.identity import resolve_handle as lex_resolve_handle
from chive_admin._generated.models.com.atproto.repo import describe_repo as lex_describe_repo
from chive_admin._generated.models.com.atproto.repo import get_record as lex_get_record
from chive_admin._generated.models.com.atproto.repo import list_records as lex_list_records
from chive_admin._generated.models.com.atproto.sync import get_repo_status as lex_get_repo_status
from chive_admin._generated.models.com.atproto.sync import list_repos as lex_list_repos
from chive_admin.lex import LexModel
from chive_admin.lex.validation import describe
from chive_admin.upstream.calls import XrpcCaller
from chive_admin.upstream.errors import BadResponse
from chive_admin.upstream.hosts import host_key

M = TypeVar("M", bound=LexModel)
R = TypeVar("R")

#: a repository export bigger than this is refused (the largest real repos are a few hundred MB)
MAX_REPO_BYTES = 2 * 1024 * 1024 * 1024
#: pages a listing may take before we stop trusting its cursor (a server that never ends its cursor); it bounds the
#: cursors a listing remembers too (16 bytes each)
MAX_PAGES = 100_000
#: records a listRecords page is asked for: the lexicon's maximum
LIST_LIMIT = 100


class InvalidAnswer(BadResponse):
    """A well-formed JSON answer that does not match the method's lexicon: retrying will not fix it."""

    code = "upstream_invalid_answer"

    @property
    def retryable(self) -> bool:
        return False


class CursorLoop(InvalidAnswer):
    """A listing whose cursor came back to one already followed (``a -> b -> a``), or that never ended."""

    code = "upstream_cursor_loop"


class CursorLog:
    """The cursors one listing has followed, as digests (a cursor is the server's text, of any length), so that any
    repeat is caught, not only of the one before; at most ``MAX_PAGES`` are kept, and a listing that needs more is
    refused rather than remembered without bound."""

    def __init__(self, service: str, nsid: str, first: str | None) -> None:
        self.host = host_key(service)
        self.what = nsid.rpartition(".")[2]
        self._seen: set[bytes] = set()
        if first is not None:
            self._seen.add(self._digest(first))

    @staticmethod
    def _digest(cursor: str) -> bytes:
        return hashlib.blake2b(cursor.encode(errors="surrogatepass"), digest_size=16).digest()

    def follow(self, cursor: str) -> None:
        """Note ``cursor`` as the next one to follow; ``CursorLoop`` if it was followed before or the bound is hit."""
        digest = self._digest(cursor)
        if digest in self._seen:
            raise CursorLoop(self.host, f"{self.what} cursor repeated after {len(self._seen)} pages: a cursor loop")
        if len(self._seen) >= MAX_PAGES:
            raise CursorLoop(self.host, f"{self.what} cursor did not end after {MAX_PAGES} pages")
        self._seen.add(digest)


class CheckedPage(NamedTuple, Generic[R]):
    """A listRecords page decoded and checked by the caller's decoder: its cursor and its records in the decoder's
    form (the listing's order is the PDS's, kept)."""

    cursor: str | None
    records: list[R]


class PageRefused(Exception):
    """Raised by a page decoder: the answer is JSON but not the lexicon's, or cannot be checked (the message says
    why); the call fails with ``InvalidAnswer``, not tried again."""


#: decodes and checks a listRecords answer's body for a collection: ``ValueError`` when it is not JSON,
#: ``PageRefused`` when it is not the lexicon's answer
PageDecoder = Callable[[bytes, str], Awaitable[CheckedPage[R]]]


class _Paged(Protocol):
    @property
    def cursor(self) -> str | None: ...

    @property
    def records(self) -> Any: ...


P = TypeVar("P", bound=_Paged)


def checked(model: type[M], data: Any, service: str, nsid: str) -> M:
    try:
        return model.model_validate(data, strict=True, by_alias=True, by_name=False)
    except ValidationError as exc:
        raise InvalidAnswer(host_key(service), f"{nsid}: {describe(exc, what='answer')}") from None


def _listing(
    did: str, collection: str, cursor: str | None, limit: int, reverse: bool
) -> dict[str, str | int | bool | None]:
    """listRecords' parameters (``reverse`` sent only when asked for)."""
    return {
        "repo": did,
        "collection": collection,
        "limit": limit,
        "cursor": cursor,
        "reverse": True if reverse else None,
    }


async def _following(pds: str, cursor: str | None, fetch: Callable[..., Awaitable[P]]) -> AsyncIterator[P]:
    """Every page of a listRecords listing, ``fetch(cursor=...)`` following the cursor until it is absent, repeats
    the one it came with, or a page is empty; a cursor that names any earlier page is a ``CursorLoop``."""
    seen = CursorLog(pds, ids.COM_ATPROTO_REPO_LIST_RECORDS, cursor)
    while True:
        page = await fetch(cursor=cursor)
        yield page
        if not page.cursor or page.cursor == cursor or not page.records:
            return
        seen.follow(page.cursor)
        cursor = page.cursor


def car_header_problem(head: bytes) -> str | None:
    """What stops ``head`` from starting a CAR v1 (a varint length, then a CBOR map), or ``None``.

    The content type is not trusted either way: some servers send a CAR as octet-stream, and a proxy error page
    can come with any type.
    """
    length, shift, index = 0, 0, 0
    while index < len(head) and index < 9:
        byte = head[index]
        length |= (byte & 0x7F) << shift
        index += 1
        if not byte & 0x80:
            break
        shift += 7
    else:
        return "no CAR header length"
    if length == 0 or index >= len(head):
        return "empty CAR header"
    if head[index] >> 5 != 5:  # CBOR major type 5: a map ({"version": 1, "roots": [...]})
        return "the CAR header is not a CBOR map"
    return None


class AtprotoClient:
    def __init__(self, caller: XrpcCaller) -> None:
        self.caller = caller

    async def list_repos(self, pds: str, *, cursor: str | None = None, limit: int = 1000) -> lex_list_repos.Output:
        nsid = ids.COM_ATPROTO_SYNC_LIST_REPOS
        data = await self.caller.query_json(pds, nsid, {"limit": limit, "cursor": cursor})
        return checked(lex_list_repos.Output, data, pds, nsid)

    async def iter_repo_pages(self, pds: str, *, cursor: str | None = None) -> AsyncIterator[lex_list_repos.Output]:
        """Every page, following the cursor until it is absent; a short page is not taken to mean the end. A cursor
        that names the page it came from ends the listing; one that names any earlier page is a ``CursorLoop``."""
        seen = CursorLog(pds, ids.COM_ATPROTO_SYNC_LIST_REPOS, cursor)
        while True:
            page = await self.list_repos(pds, cursor=cursor)
            yield page
            if not page.cursor or page.cursor == cursor:
                return
            seen.follow(page.cursor)
            cursor = page.cursor

    async def resolve_handle(self, service: str, handle: str) -> str:
        """The DID ``service`` resolves ``handle`` to (``XrpcCallError`` HandleNotFound when it knows none)."""
        nsid = ids.COM_ATPROTO_IDENTITY_RESOLVE_HANDLE
        data = await self.caller.query_json(service, nsid, {"handle": handle})
        return checked(lex_resolve_handle.Output, data, service, nsid).did

    async def describe_repo(self, pds: str, did: str) -> lex_describe_repo.Output:
        nsid = ids.COM_ATPROTO_REPO_DESCRIBE_REPO
        return checked(lex_describe_repo.Output, await self.caller.query_json(pds, nsid, {"repo": did}), pds, nsid)

    async def list_records(
        self,
        pds: str,
        did: str,
        collection: str,
        *,
        cursor: str | None = None,
        limit: int = LIST_LIMIT,
        reverse: bool = False,
    ) -> lex_list_records.Output:
        nsid = ids.COM_ATPROTO_REPO_LIST_RECORDS
        data = await self.caller.query_json(pds, nsid, _listing(did, collection, cursor, limit, reverse))
        return checked(lex_list_records.Output, data, pds, nsid)

    async def iter_record_pages(
        self, pds: str, did: str, collection: str, *, cursor: str | None = None, reverse: bool = False
    ) -> AsyncIterator[lex_list_records.Output]:
        """Every page, as :meth:`iter_repo_pages` (an empty page ends it too)."""
        async for page in _following(pds, cursor, partial(self.list_records, pds, did, collection, reverse=reverse)):
            yield page

    async def list_checked_records(
        self,
        pds: str,
        did: str,
        collection: str,
        decode: PageDecoder[R],
        *,
        cursor: str | None = None,
        reverse: bool = False,
    ) -> CheckedPage[R]:
        """:meth:`list_records`, the page decoded and checked by ``decode`` (in another process, say) instead of
        here, so the answer is never a tree of models on this loop."""
        nsid = ids.COM_ATPROTO_REPO_LIST_RECORDS
        params = _listing(did, collection, cursor, LIST_LIMIT, reverse)

        async def decoded(body: bytes) -> CheckedPage[R]:
            try:
                return await decode(body, collection)
            except PageRefused as exc:
                raise InvalidAnswer(host_key(pds), f"{nsid}: {exc}") from None

        return await self.caller.query_decoded(pds, nsid, params, decoded)

    async def iter_checked_pages(
        self,
        pds: str,
        did: str,
        collection: str,
        decode: PageDecoder[R],
        *,
        cursor: str | None = None,
        reverse: bool = False,
    ) -> AsyncIterator[CheckedPage[R]]:
        """:meth:`iter_record_pages` with each page decoded by ``decode`` (:meth:`list_checked_records`)."""
        fetch = partial(self.list_checked_records, pds, did, collection, decode, reverse=reverse)
        async for page in _following(pds, cursor, fetch):
            yield page

    async def get_record(self, pds: str, did: str, collection: str, rkey: str) -> lex_get_record.Output:
        nsid = ids.COM_ATPROTO_REPO_GET_RECORD
        data = await self.caller.query_json(pds, nsid, {"repo": did, "collection": collection, "rkey": rkey})
        return checked(lex_get_record.Output, data, pds, nsid)

    async def get_repo_status(self, pds: str, did: str) -> lex_get_repo_status.Output:
        nsid = ids.COM_ATPROTO_SYNC_GET_REPO_STATUS
        return checked(lex_get_repo_status.Output, await self.caller.query_json(pds, nsid, {"did": did}), pds, nsid)

    async def get_repo(
        self,
        pds: str,
        did: str,
        *,
        max_bytes: int = MAX_REPO_BYTES,
        progress: Callable[[IO[bytes], int], None] | None = None,
    ) -> IO[bytes]:
        """The repository export (CAR) in a named temporary file (a reader process opens it by name); the caller
        closes it, which deletes it. ``progress``: the file may be read as it arrives (see ``query_file``)."""
        nsid = ids.COM_ATPROTO_SYNC_GET_REPO
        spool, _ = await self.caller.query_file(
            pds, nsid, {"did": did}, max_bytes=max_bytes, check=car_header_problem, on_disk=True, progress=progress
        )
        return spool

    async def get_blob(self, pds: str, did: str, cid: str, *, max_bytes: int) -> tuple[IO[bytes], str | None]:
        return await self.caller.query_file(
            pds, ids.COM_ATPROTO_SYNC_GET_BLOB, {"did": did, "cid": cid}, max_bytes=max_bytes
        )
