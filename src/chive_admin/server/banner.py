"""The start-up banner: where the server answers, what it keeps where, who may administer it, and what is risky
about how it was started. One log entry per line, each with its value as a field for the JSON format."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from chive_admin import __version__
from chive_admin.store import roles as roles_store

if TYPE_CHECKING:
    from chive_admin.services import Services

log = logging.getLogger(__name__)

#: admins named in the banner; the rest are counted
SHOWN_ADMINS = 5


async def announce(services: Services) -> None:
    settings = services.settings
    async with services.db.read() as conn:
        granted = await roles_store.holders_of(conn, "admin")
    admins = [f"{did} (--admin-did)" for did in settings.admin_dids]
    admins += [f"{did} (roles table)" for did in granted if did not in settings.admin_dids]
    url = settings.public_url
    log.info("chive-admin %s serving %s", __version__, url, extra={"url": url})
    log.info("dashboard %s/admin/", url, extra={"dashboard": f"{url}/admin/"})
    log.info("database %s", services.db.describe(), extra={"db": services.db.describe()})
    log.info("service DID %s", settings.service_did, extra={"service_did": settings.service_did})
    shown = ", ".join(admins[:SHOWN_ADMINS]) + (
        f" and {len(admins) - SHOWN_ADMINS} more" if admins[SHOWN_ADMINS:] else ""
    )
    log.info("admins: %s", shown or "none", extra={"admins": [*settings.admin_dids, *granted]})
    if not admins:
        log.warning(
            "no admin exists: every pub.chive.admin call and the dashboard will answer AdminRequired; "
            "grant one beside the running server with chive-admin roles grant DID admin, "
            "or restart with --admin-did DID; "
            "then an API key for it: chive-admin keys create --did DID --name NAME"
        )
    if settings.allow_private_network:
        log.warning(
            "--allow-private-network is on: upstream calls may reach loopback and private addresses "
            "(the SSRF guard is off); for local development and tests only"
        )
