"""The start-up banner: where the server answers, what it keeps where, who may administer it (from --admin-did and
from the roles table), and a warning for each risky way of starting it."""

from __future__ import annotations

import logging

import pytest
from conftest import AppFactory
from support.admin_api import serving

from chive_admin import __version__
from chive_admin.clock import now_stamp
from chive_admin.server.banner import SHOWN_ADMINS
from chive_admin.settings import Settings
from chive_admin.store import roles as roles_store

ADMIN = "did:plc:banneradmin000000000000"
GRANTED = "did:plc:bannergranted0000000000"


async def banner(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture, **overrides: object
) -> list[logging.LogRecord]:
    caplog.clear()
    caplog.set_level(logging.INFO, logger="chive_admin.server.banner")
    async with serving(make_app(**overrides)) as _:
        pass
    return [r for r in caplog.records if r.name == "chive_admin.server.banner"]


def lines(records: list[logging.LogRecord]) -> list[str]:
    return [r.getMessage() for r in records]


async def test_says_where_what_and_who(
    make_app: AppFactory, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    records = await banner(make_app, caplog, admin_dids=(ADMIN,))
    said = lines(records)
    url = settings.public_url
    assert said[:5] == [
        f"chive-admin {__version__} serving {url}",
        f"dashboard {url}/admin/",
        f"database {settings.db.resolve()}",
        f"service DID {settings.service_did}",
        f"admins: {ADMIN} (--admin-did)",
    ]
    assert not any("no admin exists" in line for line in said)
    fields = {r.getMessage(): vars(r) for r in records}  # each value a field of its own for the JSON log format
    assert fields[f"admins: {ADMIN} (--admin-did)"]["admins"] == [ADMIN]
    assert fields[f"dashboard {url}/admin/"]["dashboard"] == f"{url}/admin/"


async def test_admins_of_the_roles_table_are_named_with_their_source(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    async with serving(make_app()) as api, api.services.db.write() as conn:
        await roles_store.grant(conn, GRANTED, "admin", None, now_stamp())
        await roles_store.grant(conn, ADMIN, "admin", None, now_stamp())
    said = lines(await banner(make_app, caplog, admin_dids=(ADMIN,)))
    assert f"admins: {ADMIN} (--admin-did), {GRANTED} (roles table)" in said  # each admin once


async def test_many_admins_are_counted_past_the_first_few(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    many = tuple(f"did:plc:banneradmin{n:013d}" for n in range(SHOWN_ADMINS + 2))
    said = lines(await banner(make_app, caplog, admin_dids=many))
    line = next(line for line in said if line.startswith("admins: "))
    assert line.endswith(" and 2 more")
    assert many[SHOWN_ADMINS - 1] in line
    assert many[SHOWN_ADMINS] not in line


async def test_warns_when_nobody_can_administer_or_the_ssrf_guard_is_off(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    records = await banner(make_app, caplog, allow_private_network=True)
    warnings = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    assert "admins: none" in lines(records)
    assert len(warnings) == 2
    assert warnings[0].startswith("no admin exists: ")
    assert "chive-admin roles grant DID admin" in warnings[0]
    assert "--admin-did DID" in warnings[0]
    assert warnings[1].startswith("--allow-private-network is on")
    quiet = await banner(make_app, caplog, admin_dids=(ADMIN,), allow_private_network=False)
    assert [r for r in quiet if r.levelno >= logging.WARNING] == []
