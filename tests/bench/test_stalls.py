"""The machine-stall probe is a real child process: it sleeps until told to stop, then says how it overslept."""

from __future__ import annotations

import math
import os
import time

from bench.stalls import StallProbe, favoured, quantile


def test_quantile_takes_the_rank_and_is_nan_without_values() -> None:
    values = [float(v) for v in range(1000, 0, -1)]
    assert quantile(values, 1.0) == 1000.0
    assert quantile(values, 0.999) == 1000.0
    assert quantile(values, 0.5) == 501.0
    assert math.isnan(quantile([], 0.5))


def test_the_probe_reports_its_oversleeps_once_stopped() -> None:
    with StallProbe() as probe:
        time.sleep(0.2)  # ~200 sleeps of a millisecond
    assert probe.result is not None
    assert 0.0 <= probe.result.p999_ms <= probe.result.max_ms
    with favoured() as permitted:  # whether a thread here may take niceness -20 (root, or CAP_SYS_NICE)
        pass
    assert probe.result.favoured is permitted


def test_favoured_restores_the_thread_niceness_after_the_block() -> None:
    before = os.getpriority(os.PRIO_PROCESS, 0)
    with favoured() as got:
        if got:
            assert os.getpriority(os.PRIO_PROCESS, 0) == -20
    assert os.getpriority(os.PRIO_PROCESS, 0) == before
