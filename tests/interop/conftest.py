"""Fixtures for interop tests: one real ATProto network (PLC + 2 PDSes) per test session.

Session fixtures are synchronous on purpose (pytest-asyncio runs function-scoped loops here).

* ``testnet_install_dir`` (session) -> Path: the Node 22 + @atproto/dev-env install
  (``CHIVE_TESTNET_DIR``, else ``scripts/install-testnet.sh``, which installs once into .cache/testnet/).
* ``testnet`` (session) -> Testnet: the running network (``.plc_url``, ``.pds_url``, ``.pds2_url``,
  ``.info`` with the PDS service DIDs, admin password, handle domain).
* ``pds`` / ``pds2`` (session) -> PdsClient: sync XRPC clients for the first / second PDS (admin enabled).
* ``account`` / ``account2`` (function) -> Account: a fresh account (unique handle) on pds / pds2.

When Node/npm or the install is unavailable the tests using these skip with one reason — except under
CI (``CI=true``), where they fail instead: interop tests never skip silently in CI.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from support.unavailable import unavailable

from testnet.harness import Testnet, TestnetError, TestnetUnavailable, locate_install
from testnet.pds_client import Account, PdsClient


def _unavailable(reason: str) -> NoReturn:
    unavailable(f"interop testnet unavailable: {reason}")


@pytest.fixture(scope="session")
def testnet_install_dir() -> Path:
    """The testnet install directory (installs it on first use; skip/fail when impossible)."""
    try:
        return locate_install()
    except TestnetUnavailable as exc:
        _unavailable(str(exc))


@pytest.fixture(scope="session")
def testnet(testnet_install_dir: Path) -> Iterator[Testnet]:
    """The running network, shared by the whole session; closed (no orphans) at the end."""
    net = Testnet(testnet_install_dir)
    try:
        net.start()
    except TestnetUnavailable as exc:
        _unavailable(str(exc))
    except TestnetError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield net
    finally:
        net.close()


@pytest.fixture(scope="session")
def pds(testnet: Testnet) -> Iterator[PdsClient]:
    """Client for the first PDS (``testnet.pds_url``)."""
    with PdsClient(
        testnet.pds_url, admin_password=testnet.info.admin_password, handle_domain=testnet.info.handle_domain
    ) as client:
        yield client


@pytest.fixture(scope="session")
def pds2(testnet: Testnet) -> Iterator[PdsClient]:
    """Client for the second PDS (``testnet.pds2_url``), same PLC."""
    with PdsClient(
        testnet.pds2_url, admin_password=testnet.info.admin_password, handle_domain=testnet.info.handle_domain
    ) as client:
        yield client


@pytest.fixture
def account(pds: PdsClient) -> Account:
    """A fresh account (unique handle) on the first PDS."""
    return pds.create_account()


@pytest.fixture
def account2(pds2: PdsClient) -> Account:
    """A fresh account (unique handle) on the second PDS."""
    return pds2.create_account()
