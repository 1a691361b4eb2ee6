"""The dedicated trigger method of each built-in operation type (triggerBackfill starts any of them too)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from chive_admin._generated import ids

TRIGGER_METHODS: Mapping[str, str] = MappingProxyType(
    {
        "pds-scan": ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN,
        "did-sync": ids.PUB_CHIVE_ADMIN_TRIGGER_DID_SYNC,
        "freshness-scan": ids.PUB_CHIVE_ADMIN_TRIGGER_FRESHNESS_SCAN,
        "citation-extraction": ids.PUB_CHIVE_ADMIN_TRIGGER_CITATION_EXTRACTION,
        "full-reindex": ids.PUB_CHIVE_ADMIN_TRIGGER_FULL_REINDEX,
        "governance-sync": ids.PUB_CHIVE_ADMIN_TRIGGER_GOVERNANCE_SYNC,
    }
)
