"""Chive's reference lexicons (``../shared/reference/chive-lexicons``, or ``CHIVE_REFERENCE_LEXICONS``) for the tests
that compare or validate against them: without them those tests skip, except under CI, where they fail."""

from __future__ import annotations

from pathlib import Path

from support.unavailable import unavailable
from testnet.harness import REFERENCE_LEXICONS


def reference_lexicons() -> Path:
    """The reference tree; skips the calling test when it is absent (fails it under ``CI=true``)."""
    if not (REFERENCE_LEXICONS / "pub" / "chive" / "admin").is_dir():
        unavailable(f"Chive's reference lexicons not found at {REFERENCE_LEXICONS} (set CHIVE_REFERENCE_LEXICONS)")
    return REFERENCE_LEXICONS
