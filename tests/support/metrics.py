"""Reading this process's Prometheus metrics in tests (instruments, where a test must not time)."""

from __future__ import annotations

from collections import Counter

from chive_admin.telemetry.metrics import REGISTRY


def upstream_bytes(form: str) -> float:
    """Bytes of upstream answers so far, all hosts: ``wire`` (as received) or ``inflated`` (from compressed ones)."""
    return sum(
        sample.value
        for metric in REGISTRY.collect()
        if metric.name == "chive_admin_upstream_bytes"
        for sample in metric.samples
        if sample.name.endswith("_total") and sample.labels.get("form") == form
    )


class ByteCount(Counter[str]):
    """An upstream client's ``on_bytes`` observer of its own: bytes by form, for one test's client alone."""

    def __call__(self, form: str, n: int) -> None:
        self[form] += n
