"""Where discovered repositories live: each DID resolved to its PDS (network backfill's ``resolving_pds``).

A DID listed by a relay may be long gone: relays never forget one. Such a DID is a normal outcome here, not a
failure: tombstoned, unknown to its directory, with a document naming no usable PDS. Only a DID whose directory
could not be asked (unreachable, or still rate-limited after ``ATTEMPTS`` tries) is a failure, for the caller to
dead-letter. The PLC directory's 429s are honoured for every resolution of the run at once: one 429 holds them all
until its ``RateLimit-Reset``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from chive_admin.aio import run_bounded
from chive_admin.auth.identity import IdentityError, IdentityResolver, ResolutionRateLimited
from chive_admin.upstream.urls import normalise_service_url

#: tries of one DID while its directory answers 429
ATTEMPTS = 5
#: the longest a 429 holds resolutions before the next try
MAX_HOLD = 120.0


@dataclass(frozen=True)
class Hosted:
    """``did`` lives on ``pds`` (a normalised origin); ``handle`` is the one its document claims (not verified)."""

    did: str
    pds: str
    handle: str | None = None


@dataclass(frozen=True)
class Stale:
    """``did`` has no repository to fetch; ``reason`` is a counter name (tombstoned, not_found, no_pds…)."""

    did: str
    reason: str
    detail: str


@dataclass(frozen=True)
class Unresolved:
    """``did``'s directory could not be asked; ``code`` is the identity error's."""

    did: str
    code: str
    detail: str


Resolution = Hosted | Stale | Unresolved
#: identity error codes that say the DID has no repository anywhere
_GONE = {"tombstoned": "tombstoned", "not_found": "not_found", "invalid_document": "invalid_document"}


class Pacer:
    """A hold shared by concurrent resolutions: a 429 pauses all of them, not only the one that met it."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._until = 0.0

    def hold(self, seconds: float) -> None:
        self._until = max(self._until, self._clock() + min(seconds, MAX_HOLD))

    async def wait(self) -> None:
        left = self._until - self._clock()
        if left > 0:
            await asyncio.sleep(left)
            await self.wait()  # the hold may have been extended meanwhile


async def resolve_one(identities: IdentityResolver, did: str, pacer: Pacer) -> Resolution:
    failure: IdentityError | None = None
    for _ in range(ATTEMPTS):
        await pacer.wait()
        try:
            identity = await identities.resolve(did)
        except ResolutionRateLimited as exc:
            failure = exc
            pacer.hold(exc.retry_after)
            continue
        except IdentityError as exc:
            reason = _GONE.get(exc.code)
            if reason is not None:
                return Stale(did, reason, str(exc)[:300])
            return Unresolved(did, exc.code, str(exc)[:300])
        if identity.pds is None:
            return Stale(did, "no_pds", f"the DID document of {did} names no PDS")
        try:
            return Hosted(did, normalise_service_url(identity.pds), identity.handle)
        except ValueError as exc:
            return Stale(did, "no_pds", f"the DID document of {did} names no usable PDS: {exc}"[:300])
    assert failure is not None
    return Unresolved(did, failure.code, str(failure)[:300])


async def resolve_all(
    identities: IdentityResolver, dids: Sequence[str], pacer: Pacer, *, concurrency: int
) -> list[Resolution]:
    """Resolve ``dids``, ``concurrency`` at once; their outcomes in their order."""
    found: dict[str, Resolution] = {}

    async def one(did: str) -> None:
        found[did] = await resolve_one(identities, did, pacer)

    await run_bounded(dids, one, concurrency)
    return [found[did] for did in dids]
