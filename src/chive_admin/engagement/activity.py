"""Activity intents: what a user's front end is about to write to the user's PDS, logged with the user's own
service-auth token, confirmed when the record reaches the index (:mod:`chive_admin.ingest.write`).

Only what correlation needs is kept (the record, the action, the category, the times); the optional snapshot, UI
context, trace ids and target of Chive's lexicon are checked and dropped. Each DID may log ``RATE`` intents a minute
(counted in the database, so processes sharing one count together); intents are kept ``RETENTION_DAYS`` days.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from chive_admin.clock import micros, utc_now
from chive_admin.lex.formats import validate_nsid, validate_record_key
from chive_admin.store import activity
from chive_admin.store.db import Database
from chive_admin.xrpc.errors import XRPCError

#: knownValues of pub.chive.activity.log's ``category``: the categories answered are these, so the set is closed
CATEGORIES = frozenset(
    {
        "eprint_submit",
        "eprint_update",
        "eprint_delete",
        "review_create",
        "review_update",
        "review_delete",
        "endorsement_create",
        "endorsement_delete",
        "tag_create",
        "tag_delete",
        "profile_update",
        "proposal_create",
        "vote_create",
    }
)
ACTIONS = ("create", "update", "delete")
#: intents one DID may log per minute
RATE = 60
RETENTION_DAYS = 7
_MINUTE_US = 60 * 1_000_000


class ActivityBook:
    def __init__(self, db: Database, *, clock: Callable[[], datetime] = utc_now) -> None:
        self._db = db
        #: tests move it past the confirmation window
        self.clock = clock
        self._pruned_hour: int | None = None

    async def log(self, did: str, collection: str, rkey: str, action: str, category: str) -> str:
        """Keep a pending intent of ``did``; its id."""
        _check_record(collection, rkey)
        if action not in ACTIONS:
            raise XRPCError.invalid_request(f"action: expected one of {', '.join(ACTIONS)}")
        if category not in CATEGORIES:
            raise XRPCError.invalid_request(f"category: {category!r} is not one of pub.chive.activity.log's")
        now = micros(self.clock())
        intent = activity.Intent(str(uuid.uuid4()), did, collection, rkey, action, category, now)
        async with self._db.write() as conn:
            if self._pruned_hour != now // activity.HOUR_US:
                await activity.prune(conn, now - RETENTION_DAYS * 24 * activity.HOUR_US)
            if await activity.logged_since(conn, did, now - _MINUTE_US) >= RATE:
                raise XRPCError.rate_limited(f"At most {RATE} activities a minute per account", limit=RATE, reset_in=60)
            await activity.add(conn, intent)
        self._pruned_hour = now // activity.HOUR_US
        return intent.id

    async def mark_failed(self, did: str, collection: str, rkey: str, error_code: str) -> None:
        """Fail ``did``'s latest pending intent on that record; 400 NotFound when it has none (another DID's
        intents are not its to fail)."""
        _check_record(collection, rkey)
        async with self._db.write() as conn:
            if not await activity.mark_failed(conn, did, collection, rkey, error_code):
                raise XRPCError.declared("NotFound", "No pending activity of yours on this record")


def _check_record(collection: str, rkey: str) -> None:
    try:
        validate_nsid(collection)
        validate_record_key(rkey)
    except ValueError as exc:
        raise XRPCError.invalid_request(f"collection/rkey: {exc}") from None
