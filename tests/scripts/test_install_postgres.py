"""``scripts/install-postgres.sh`` on a machine that has PostgreSQL: a no-op that prints the server's bin dir."""

from __future__ import annotations

import subprocess
from pathlib import Path

from testnet.postgres import INSTALL_SCRIPT, find_bindir


def test_with_postgresql_installed_it_prints_the_directory_the_cluster_uses() -> None:
    result = subprocess.run(
        ["bash", str(INSTALL_SCRIPT)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    bindir = Path(result.stdout.strip().splitlines()[-1])
    assert bindir == find_bindir()
    assert all((bindir / program).is_file() for program in ("initdb", "pg_ctl", "postgres", "psql"))
    assert "[install-postgres]" in result.stderr
