"""The engine a default ``serve`` runs, retuned for tests (faster polls, shorter leases, fewer workers)."""

from __future__ import annotations

import dataclasses
from typing import Any

from chive_admin.backfill.engine import EngineConfig
from chive_admin.settings import Settings


def engine_config(**changes: Any) -> EngineConfig:
    """The configuration the default settings give the engine, with ``changes`` (any of its fields)."""
    return dataclasses.replace(EngineConfig.from_settings(Settings()), **changes)
