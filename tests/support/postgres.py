"""The throwaway PostgreSQL cluster (``testnet.postgres``) as a pytest fixture.

``postgres_cluster`` (session): one started :class:`~testnet.postgres.PostgresCluster` for the whole run, destroyed
at its end; registered in ``tests/conftest.py`` so any test can ask for it. A test takes a database of its own
with ``postgres_cluster.create_database()`` (and drops it), or starts a cluster of its own with
:func:`start_cluster` when it stops or breaks the server. PostgreSQL missing fails the test (never a skip), naming
``scripts/install-postgres.sh``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from testnet.postgres import PostgresCluster, PostgresUnavailable


def start_cluster(base_dir: Path | None = None) -> PostgresCluster:
    """Start a cluster; fail the calling test, with the reason and the install script, if PostgreSQL is missing."""
    try:
        return PostgresCluster.start(base_dir)
    except PostgresUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    with start_cluster() as cluster:
        yield cluster
