"""Resolved identities (signing key, handle, PDS) with caching: the hot path of auth never waits on the network.

Positive results are kept ``ttl`` seconds, failures ``negative_ttl`` seconds; concurrent requests for one DID share
one resolution (single flight). ``resolve(did, fresh=True)`` bypasses the cache once, for key rotation.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from atproto_core.did_doc import DidDocument

from chive_admin.upstream.did_docs import DidDocFetcher, DidNotFound, DidTombstoned
from chive_admin.upstream.errors import UpstreamError

DEFAULT_TTL = 600.0
DEFAULT_NEGATIVE_TTL = 30.0
#: a forced refresh (key rotation) is honoured at most this often per DID, so bad tokens cannot drive resolutions
MIN_REFRESH_INTERVAL = 5.0


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
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._min_refresh = min_refresh_interval
        self._fetched_at: dict[str, float] = {}
        self._fetcher = fetcher
        self._ttl = ttl
        self._negative_ttl = negative_ttl
        self._clock = clock
        self._cache: dict[str, tuple[float, Identity | IdentityError]] = {}
        self._inflight: dict[str, asyncio.Future[Identity]] = {}
        #: network resolutions made (cache misses), for tests and metrics
        self.fetches = 0

    async def resolve(self, did: str, *, fresh: bool = False) -> Identity:
        if fresh and self._clock() - self._fetched_at.get(did, float("-inf")) < self._min_refresh:
            fresh = False  # resolved moments ago: a second look now would see the same document
        if not fresh:
            cached = self._cache.get(did)
            if cached is not None and cached[0] > self._clock():
                if isinstance(cached[1], IdentityError):
                    raise cached[1]
                return cached[1]
        pending = self._inflight.get(did)
        if pending is None:
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
        self._fetched_at[did] = self._clock()
        try:
            identity = identity_from(did, await self._fetcher.fetch(did))
        except DidTombstoned as exc:
            raise self._remember_failure(did, IdentityError("tombstoned", str(exc))) from None
        except DidNotFound as exc:
            raise self._remember_failure(did, IdentityError("not_found", str(exc))) from None
        except UpstreamError as exc:
            raise self._remember_failure(did, IdentityError("unreachable", str(exc))) from None
        except IdentityError as exc:
            raise self._remember_failure(did, exc) from None
        self._cache[did] = (self._clock() + self._ttl, identity)
        return identity

    def _remember_failure(self, did: str, error: IdentityError) -> IdentityError:
        self._cache[did] = (self._clock() + self._negative_ttl, error)
        return error
