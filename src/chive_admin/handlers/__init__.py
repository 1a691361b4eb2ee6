"""The handler of every implemented XRPC method, in one table.

A method of the lexicons that is missing here answers 501 MethodNotImplemented (after auth), never a placeholder.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from chive_admin._generated import ids
from chive_admin._generated.catalog import ROUTES
from chive_admin.backfill.job_types import TRIGGER_METHODS
from chive_admin.handlers.activity import log, mark_failed
from chive_admin.handlers.admin import (
    assign_role,
    cancel_backfill,
    delete_content,
    dismiss_dlq_entry,
    get_activity_correlation,
    get_audit_log,
    get_backfill_history,
    get_backfill_status,
    get_endpoint_metrics,
    get_firehose_status,
    get_graph_stats,
    get_metrics_overview,
    get_node_metrics,
    get_overview,
    get_prometheus_metrics,
    get_search_analytics,
    get_system_health,
    get_trending_velocity,
    get_user_detail,
    get_view_download_time_series,
    list_dlq_entries,
    list_endorsements,
    list_eprints,
    list_imports,
    list_pdses,
    list_reviews,
    list_violations,
    list_warnings,
    purge_old_dlq,
    rescan_pds,
    retry_all_dlq,
    retry_dlq_entry,
    revoke_role,
    search_users,
    trigger_backfill,
)
from chive_admin.handlers.call import Handler
from chive_admin.handlers.metrics import (
    record_download,
    record_dwell_time,
    record_search_click,
    record_search_download,
    record_view,
)
from chive_admin.handlers.search import record_impression
from chive_admin.handlers.shared.trigger_methods import handler_for

# access control: roles, audit log
_ACCESS: dict[str, Handler] = {
    ids.PUB_CHIVE_ADMIN_ASSIGN_ROLE: assign_role.handle,
    ids.PUB_CHIVE_ADMIN_REVOKE_ROLE: revoke_role.handle,
    ids.PUB_CHIVE_ADMIN_GET_AUDIT_LOG: get_audit_log.handle,
}

# backfill operations
_BACKFILL: dict[str, Handler] = {
    ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS: get_backfill_status.handle,
    ids.PUB_CHIVE_ADMIN_GET_BACKFILL_HISTORY: get_backfill_history.handle,
    ids.PUB_CHIVE_ADMIN_TRIGGER_BACKFILL: trigger_backfill.handle,
    ids.PUB_CHIVE_ADMIN_CANCEL_BACKFILL: cancel_backfill.handle,
    # the per-type trigger methods, from the one table of which method starts which type
    **{nsid: handler_for(op_type, ROUTES[nsid]) for op_type, nsid in TRIGGER_METHODS.items()},
}

# the dead-letter queue
_DLQ: dict[str, Handler] = {
    ids.PUB_CHIVE_ADMIN_LIST_DLQ_ENTRIES: list_dlq_entries.handle,
    ids.PUB_CHIVE_ADMIN_DISMISS_DLQ_ENTRY: dismiss_dlq_entry.handle,
    ids.PUB_CHIVE_ADMIN_RETRY_DLQ_ENTRY: retry_dlq_entry.handle,
    ids.PUB_CHIVE_ADMIN_RETRY_ALL_DLQ: retry_all_dlq.handle,
    ids.PUB_CHIVE_ADMIN_PURGE_OLD_DLQ: purge_old_dlq.handle,
    ids.PUB_CHIVE_ADMIN_GET_FIREHOSE_STATUS: get_firehose_status.handle,
}

# the record index
_INDEX: dict[str, Handler] = {
    ids.PUB_CHIVE_ADMIN_LIST_PDSES: list_pdses.handle,
    ids.PUB_CHIVE_ADMIN_RESCAN_PDS: rescan_pds.handle,
    ids.PUB_CHIVE_ADMIN_GET_GRAPH_STATS: get_graph_stats.handle,
    ids.PUB_CHIVE_ADMIN_DELETE_CONTENT: delete_content.handle,
    ids.PUB_CHIVE_ADMIN_GET_OVERVIEW: get_overview.handle,
    ids.PUB_CHIVE_ADMIN_LIST_EPRINTS: list_eprints.handle,
    ids.PUB_CHIVE_ADMIN_LIST_IMPORTS: list_imports.handle,
}

# accounts and their reviews and endorsements
_USERS: dict[str, Handler] = {
    ids.PUB_CHIVE_ADMIN_SEARCH_USERS: search_users.handle,
    ids.PUB_CHIVE_ADMIN_GET_USER_DETAIL: get_user_detail.handle,
    ids.PUB_CHIVE_ADMIN_LIST_REVIEWS: list_reviews.handle,
    ids.PUB_CHIVE_ADMIN_LIST_ENDORSEMENTS: list_endorsements.handle,
}

# the local moderation record
_MODERATION: dict[str, Handler] = {
    ids.PUB_CHIVE_ADMIN_LIST_WARNINGS: list_warnings.handle,
    ids.PUB_CHIVE_ADMIN_LIST_VIOLATIONS: list_violations.handle,
}

# health of the server itself
_HEALTH: dict[str, Handler] = {
    ids.PUB_CHIVE_ADMIN_GET_SYSTEM_HEALTH: get_system_health.handle,
    ids.PUB_CHIVE_ADMIN_GET_NODE_METRICS: get_node_metrics.handle,
    ids.PUB_CHIVE_ADMIN_GET_PROMETHEUS_METRICS: get_prometheus_metrics.handle,
    ids.PUB_CHIVE_ADMIN_GET_ENDPOINT_METRICS: get_endpoint_metrics.handle,
}

# engagement reported by a deployment's front end (the metrics-writer role)
_RECORDING: dict[str, Handler] = {
    ids.PUB_CHIVE_METRICS_RECORD_VIEW: record_view.handle,
    ids.PUB_CHIVE_METRICS_RECORD_DOWNLOAD: record_download.handle,
    ids.PUB_CHIVE_METRICS_RECORD_SEARCH_CLICK: record_search_click.handle,
    ids.PUB_CHIVE_METRICS_RECORD_DWELL_TIME: record_dwell_time.handle,
    ids.PUB_CHIVE_METRICS_RECORD_SEARCH_DOWNLOAD: record_search_download.handle,
    ids.DEV_CHIVEADMIN_SEARCH_RECORD_IMPRESSION: record_impression.handle,
}

# analytics of that engagement
_ANALYTICS: dict[str, Handler] = {
    ids.PUB_CHIVE_ADMIN_GET_VIEW_DOWNLOAD_TIME_SERIES: get_view_download_time_series.handle,
    ids.PUB_CHIVE_ADMIN_GET_METRICS_OVERVIEW: get_metrics_overview.handle,
    ids.PUB_CHIVE_ADMIN_GET_TRENDING_VELOCITY: get_trending_velocity.handle,
    ids.PUB_CHIVE_ADMIN_GET_SEARCH_ANALYTICS: get_search_analytics.handle,
    ids.PUB_CHIVE_ADMIN_GET_ACTIVITY_CORRELATION: get_activity_correlation.handle,
}

# users' own write intents, and their correlation with what the index receives
_ACTIVITY: dict[str, Handler] = {
    ids.PUB_CHIVE_ACTIVITY_LOG: log.handle,
    ids.PUB_CHIVE_ACTIVITY_MARK_FAILED: mark_failed.handle,
}

HANDLERS: Mapping[str, Handler] = MappingProxyType(
    {
        **_ACCESS,
        **_BACKFILL,
        **_DLQ,
        **_INDEX,
        **_USERS,
        **_MODERATION,
        **_HEALTH,
        **_RECORDING,
        **_ANALYTICS,
        **_ACTIVITY,
    }
)
