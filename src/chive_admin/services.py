"""The long-lived objects of one server process, created and closed by the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from chive_admin.auth.api_keys import ApiKeyStore
from chive_admin.auth.audit import AuditLog
from chive_admin.auth.identity import IdentityResolver
from chive_admin.auth.policy import Authenticator
from chive_admin.auth.roles import RoleBook
from chive_admin.backfill.engine import Engine
from chive_admin.engagement.activity import ActivityBook
from chive_admin.engagement.hourly_answers import HourlyAnswers
from chive_admin.engagement.recorder import EngagementRecorder
from chive_admin.ingest.export_readers import ExportReaders
from chive_admin.ingest.handles import HandleVerifier
from chive_admin.live.indexer import LiveIndexer
from chive_admin.live.sources import LiveSources
from chive_admin.settings import Settings
from chive_admin.store.db import Database
from chive_admin.telemetry.health import IntegrityMonitor
from chive_admin.upstream.atproto import AtprotoClient
from chive_admin.upstream.relay import RelayClient
from chive_admin.xrpc.answer_cache import AnswerCache


@dataclass
class Services:
    settings: Settings
    db: Database
    authenticator: Authenticator
    integrity: IntegrityMonitor
    engine: Engine
    #: recent getBackfillStatus answers, dropped by the engine at each state change
    status_answers: AnswerCache
    #: the one client for every upstream ATProto call
    upstream: AtprotoClient
    identities: IdentityResolver
    #: what makes a DID document's handle the one the index stores
    handles: HandleVerifier
    audit: AuditLog
    keys: ApiKeyStore
    roles: RoleBook
    #: views and downloads the front end reports, written in shared transactions
    engagement: EngagementRecorder
    #: users' write intents (pub.chive.activity.*)
    activity: ActivityBook
    #: trending and the overview, computed once an hour
    hourly_answers: HourlyAnswers
    #: reader processes for repository exports; None reads them on threads (``--export-readers 0``)
    readers: ExportReaders | None = None
    #: the live indexer of ``--firehose-url`` (the relay); None when it is off
    live: LiveIndexer | None = None
    #: network discovery through ``--relay-url``; None when it is ``none``
    relay: RelayClient | None = None
    #: every live source (the relay, the registry's PDSes with ``--firehose-pdses``); None when both are off
    sources: LiveSources | None = None

    def live_sources(self) -> list[LiveIndexer]:
        """The indexer of every firehose source this process consumes (what status, health and metrics report): one
        whose lease another process holds is that process's to report."""
        if self.sources is None:  # an indexer made alone (a tool, a test) is its process's
            return [] if self.live is None else [self.live]
        return [indexer for url, indexer in self.sources.indexers.items() if self.sources.consuming(url)]
