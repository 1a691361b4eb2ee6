"""The A/B runner: the same bench against another checkout's ``src`` and this one, taking turns, side by side."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import chive_admin


def measure(argv):
    where = "before" if "before_src" in chive_admin.__file__ else "after"
    return "probe", [("which code", where, "-", " ".join(argv), "")]
"""


def test_each_side_runs_its_own_code_and_the_sides_take_turns(tmp_path: Path) -> None:
    fake = tmp_path / "before_src" / "chive_admin"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "probe_bench.py").write_text(PROBE)
    env = {**os.environ, "PYTHONPATH": str(modules)}
    out = subprocess.run(
        [sys.executable, "-m", "bench.ab", "--before", str(fake.parent), "--rounds", "2", "probe_bench", "--x", "1"],
        env=env,
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    assert [line for line in out if line.startswith("[")] == [
        "[before #1] probe",
        "[after #1] probe",
        "[after #2] probe",
        "[before #2] probe",
    ]
    header, _, row = out[-3:]
    assert header.split()[:9] == ["figure", "before", "#1", "ratio", "before", "#2", "ratio", "after", "#1"]
    # each side's figure is the code it ran; the bench's own arguments reached both
    assert row.split()[:8] == ["which", "code", "before", "--x", "1", "before", "--x", "1"]
    assert row.split()[8:14] == ["after", "--x", "1", "after", "--x", "1"]
