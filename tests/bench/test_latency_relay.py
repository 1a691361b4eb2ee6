"""The relay's model of a TCP sender's window: flights of a window each, a round trip apart, the window doubling,
and starting again after an idle spell. On a clock of its own: nothing here waits."""

from __future__ import annotations

import pytest

from bench import latency_relay
from bench.latency_relay import INITIAL_WINDOW, MIN_RTO, Window


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(latency_relay.time, "monotonic", fake.monotonic)
    monkeypatch.setattr(latency_relay.asyncio, "sleep", fake.sleep)
    return fake


async def send(window: Window, clock: Clock, size: int) -> list[tuple[float, int]]:
    """When each piece of ``size`` bytes left, and how large it was."""
    began, sent, pieces = clock.now, 0, []
    while sent < size:
        granted = await window.allow(size - sent)
        pieces.append((round(clock.now - began, 6), granted))
        sent += granted
    return pieces


async def test_an_answer_leaves_in_flights_a_round_trip_apart_each_twice_the_last(clock: Clock) -> None:
    window = Window(rtt=0.04)
    pieces = await send(window, clock, 2_200_000)
    assert pieces[:4] == [
        (0.0, INITIAL_WINDOW),
        (0.04, 2 * INITIAL_WINDOW),
        (0.08, 4 * INITIAL_WINDOW),
        (0.12, 8 * INITIAL_WINDOW),
    ]
    # 2.2 MB at 40 ms: eight flights, the last leaving seven round trips after the first
    assert len(pieces) == 8
    assert pieces[-1][0] == pytest.approx(0.28)


async def test_the_window_starts_again_after_an_idle_spell_not_after_a_short_pause(clock: Clock) -> None:
    window = Window(rtt=0.04)
    await send(window, clock, 500_000)
    grown = window.size
    clock.now += MIN_RTO / 2
    assert (await window.allow(10_000_000)) > INITIAL_WINDOW
    assert window.size >= grown
    clock.now += MIN_RTO * 2
    assert await window.allow(10_000_000) == INITIAL_WINDOW
