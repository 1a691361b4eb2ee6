"""Resolved identities (signing key, handle, PDS) with caching: the hot path of auth never waits on the network.

Positive results are kept ``ttl`` seconds, failures ``negative_ttl`` seconds, at most ``max_entries`` of them (the
least recently used go first); concurrent requests for one DID share one resolution (single flight).
``resolve(did, fresh=True)`` bypasses the cache once, for key rotation (at most every few seconds per DID);
``resolve(did, current=True)`` always does, for a did-sync an admin asked for, which must see the document as it
is now (a handle changed a moment ago).

Two lanes: a DID someone here vouches for (it holds a role, or a job resolves it) is resolved whenever it is
needed, and once past half its lifetime it is refreshed in the background while the cached identity answers, so
an admin in use never waits on the network; one named only by an unauthenticated request (``vouched=False``) is
resolved out of a small budget (:mod:`chive_admin.auth.budget`), and shed at once when that is spent. A shed
resolution looked nothing up, so it is never remembered as a failure; and a failure that says nothing about the
DID (its host unreachable) never replaces an identity already known.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from atproto_core.did_doc import DidDocument

from chive_admin.auth.budget import BudgetExhausted, ResolutionBudget
from chive_admin.ttl_cache import TtlCache
from chive_admin.upstream.did_docs import DidDocFetcher, DidNotFound, DidTombstoned
from chive_admin.upstream.errors import RateLimited, UpstreamError

log = logging.getLogger(__name__)

DEFAULT_TTL = 600.0
DEFAULT_NEGATIVE_TTL = 30.0
#: a forced refresh (key rotation) is honoured at most this often per DID, so bad tokens cannot drive resolutions
MIN_REFRESH_INTERVAL = 5.0
#: identities (and failures) kept at most: anyone can name a new DID in every token
MAX_IDENTITIES = 10_000


@dataclass(frozen=True)
class Identity:
    did: str
    #: the ``#atproto`` verification key as a did:key (multikey or legacy document types alike)
    signing_key: str | None
    handle: str | None
    pds: str | None


class IdentityError(Exception):
    """A DID that cannot be resolved to an identity; ``code`` says why (not_found, tombstoned, unreachable…)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class ResolutionShed(IdentityError):
    """The budget for unvouched issuers is spent: nothing was looked up, so nothing about the DID is remembered."""

    def __init__(self, exhausted: BudgetExhausted) -> None:
        super().__init__("shed", str(exhausted))
        self.retry_after = exhausted.retry_after


class ResolutionRateLimited(IdentityError):
    """The DID's directory (the PLC) asked us to slow down: nothing was learnt about the DID, so nothing is
    remembered; ``retry_after`` seconds is what it asked for."""

    def __init__(self, limited: RateLimited) -> None:
        super().__init__("rate_limited", str(limited))
        self.retry_after = limited.wait_s


#: failures that say nothing about the DID itself (its host was slow or down)
_TRANSIENT = frozenset({"unreachable"})


@dataclass(frozen=True)
class _Failed:
    """A failure as remembered: its words only. The exception raised for it holds its traceback, and through it
    the frames of the failed fetch (its response, its buffers): thousands of those cached would hold megabytes."""

    code: str
    message: str


@dataclass(frozen=True)
class _Known:
    identity: Identity
    #: past this (clock time), a vouched lookup refreshes it in the background
    stale_at: float


def identity_from(did: str, document: dict[str, Any]) -> Identity:
    try:
        parsed = DidDocument.from_dict(document)
        key = parsed.get_did_key()
    except Exception as exc:  # the SDK raises several types for malformed documents
        raise IdentityError(
            "invalid_document", f"the DID document of {did} is malformed ({type(exc).__name__})"
        ) from None
    return Identity(did=did, signing_key=key, handle=parsed.get_handle(), pds=parsed.get_pds_endpoint())


class IdentityResolver:
    def __init__(
        self,
        fetcher: DidDocFetcher,
        *,
        ttl: float = DEFAULT_TTL,
        negative_ttl: float = DEFAULT_NEGATIVE_TTL,
        min_refresh_interval: float = MIN_REFRESH_INTERVAL,
        max_entries: int = MAX_IDENTITIES,
        budget: ResolutionBudget | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetcher = fetcher
        self._negative_ttl = negative_ttl
        self._clock = clock
        self._cache: TtlCache[str, _Known | _Failed] = TtlCache(max_entries, ttl, clock=clock)
        #: DIDs fetched within the last ``min_refresh_interval`` seconds
        self._recent: TtlCache[str, bool] = TtlCache(max_entries, min_refresh_interval, clock=clock)
        self._inflight: dict[str, asyncio.Future[Identity]] = {}
        #: what resolving unvouched issuers may cost
        self.budget = budget or ResolutionBudget(clock=clock)
        self._refreshing: set[asyncio.Task[Identity]] = set()
        #: network resolutions made (cache misses), for tests and metrics
        self.fetches = 0

    async def resolve(self, did: str, *, fresh: bool = False, current: bool = False, vouched: bool = True) -> Identity:
        """The identity of ``did``; ``IdentityError`` if it has none. With ``vouched=False`` a lookup on the network
        comes out of the budget, and ``ResolutionShed`` is raised at once when that is spent."""
        fresh = fresh or current
        if fresh and not current and self._recent.get(did):
            fresh = False  # resolved moments ago: a second look now would see the same document
        if not fresh:
            cached = self._cache.get(did)
            if isinstance(cached, _Failed):
                raise IdentityError(cached.code, cached.message)
            if cached is not None:
                if vouched and cached.stale_at <= self._clock() and did not in self._inflight:
                    self._refresh(did)
                return cached.identity
        pending = self._inflight.get(did)
        if pending is not None:
            return await asyncio.shield(pending)
        if vouched:
            return await self._lead(did)
        try:
            with self.budget.slot():
                return await self._lead(did)
        except BudgetExhausted as exc:
            raise ResolutionShed(exc) from None

    def _refresh(self, did: str) -> None:
        task = asyncio.create_task(self._lead(did), name=f"refresh {did}")
        self._refreshing.add(task)
        task.add_done_callback(self._refreshed)

    def _refreshed(self, task: asyncio.Task[Identity]) -> None:
        self._refreshing.discard(task)
        failure = None if task.cancelled() else task.exception()
        # an IdentityError is in the cache now (or left the known identity standing): nothing to raise
        if failure is not None and not isinstance(failure, IdentityError):
            log.error("refreshing an identity failed", exc_info=failure)

    async def close(self) -> None:
        """Stop the background refreshes (at shutdown)."""
        for task in list(self._refreshing):
            task.cancel()
        await asyncio.gather(*self._refreshing, return_exceptions=True)

    async def _lead(self, did: str) -> Identity:
        """Resolve ``did`` for every caller that asks while this runs."""
        pending = asyncio.get_running_loop().create_future()
        self._inflight[did] = pending
        try:
            pending.set_result(await self._fetch(did))
        except IdentityError as exc:
            pending.set_exception(exc)
        except BaseException:  # cancelled: the others waiting on this resolution must not wait forever
            pending.cancel()
            raise
        finally:
            del self._inflight[did]
        return await asyncio.shield(pending)

    async def _fetch(self, did: str) -> Identity:
        self.fetches += 1
        self._recent.put(did, True)
        try:
            identity = identity_from(did, await self._fetcher.fetch(did))
        except DidTombstoned as exc:
            raise self._remember_failure(did, IdentityError("tombstoned", str(exc))) from None
        except DidNotFound as exc:
            raise self._remember_failure(did, IdentityError("not_found", str(exc))) from None
        except RateLimited as exc:
            raise ResolutionRateLimited(exc) from None
        except UpstreamError as exc:
            raise self._remember_failure(did, IdentityError("unreachable", str(exc))) from None
        except IdentityError as exc:
            raise self._remember_failure(did, exc) from None
        self._cache.put(did, _Known(identity, self._clock() + self._cache.ttl / 2))
        return identity

    def _remember_failure(self, did: str, error: IdentityError) -> IdentityError:
        if error.code in _TRANSIENT and isinstance(self._cache.get(did), _Known):
            return error  # a refresh that could not reach the host: the identity known a moment ago still holds
        self._cache.put(did, _Failed(error.code, str(error)), ttl=self._negative_ttl)
        return error
