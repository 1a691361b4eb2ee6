"""What a test does when something it needs from outside the project is missing (the reference lexicons in
``../shared``, the testnet's Node install, Chromium, a mountable tmpfs): on a developer's machine it skips, saying
why; under CI (``CI=true``) it fails, because a CI run that skips has not tested what it claims to."""

from __future__ import annotations

from typing import NoReturn

import pytest

from testnet.harness import in_ci


def unavailable(reason: str) -> NoReturn:
    """Skip the calling test with ``reason`` (its first line), or fail it under ``CI=true``."""
    if in_ci():
        pytest.fail(f"{reason}; under CI=true this fails, never skips", pytrace=False)
    first_line = reason.strip().splitlines()[0] if reason.strip() else "unknown reason"
    pytest.skip(first_line)
