"""A clock that moves only when a test moves it, for code that takes ``clock=`` (monotonic or epoch seconds)."""

from __future__ import annotations


class ManualClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
