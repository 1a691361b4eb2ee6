"""The store library A/B: SQLAlchemy is an optional extra, and its absence is said plainly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

# the bench as run where the [bench] extra is not installed: importing sqlalchemy fails
_WITHOUT_SQLALCHEMY = """
import sys
sys.modules["sqlalchemy"] = None
from bench.store_ab import main
main(["--db-backend", "sqlite", "--ops", "10", "--calls", "1", "--records", "10"])
"""


def test_a_missing_sqlalchemy_is_one_clear_message_and_a_failure() -> None:
    ran = subprocess.run(
        [sys.executable, "-c", _WITHOUT_SQLALCHEMY],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        timeout=120,
    )
    assert ran.returncode == 1
    assert "Traceback" not in ran.stderr
    assert "needs SQLAlchemy 2.x" in ran.stderr
    assert "pip install -e '.[bench]'" in ran.stderr
    assert ran.stdout == ""
