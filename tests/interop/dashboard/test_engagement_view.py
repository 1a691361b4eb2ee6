"""The dashboard's engagement panel in headless Chromium: the time series drawn by the page's own script as an
inline SVG chart (two lines, the totals in its caption) once views are recorded, and the trending list with a title
full of markup shown as text."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import httpx
import pytest
from interop.dashboard.test_browser import HOSTILE, chromium, signed_in
from playwright import sync_api as playwright_api
from support.auth import bearer
from support.server import ServerProcess, create_key

from chive_admin._generated import ids
from chive_admin.store import engagement, index
from chive_admin.store.db import Database
from chive_admin.store.index import IndexedRecord

pytestmark = pytest.mark.interop

#: an SVG polyline's points, exactly 24 of them ("x,y" separated by spaces)
TWENTY_FOUR_POINTS = re.compile(r"^\S+(?: \S+){23}$")

ADMIN = "did:plc:dashboardengagement0000000"
AUTHOR = "did:plc:dashboardauthor00000000000"
PAPER = IndexedRecord.from_parts(
    AUTHOR,
    ids.PUB_CHIVE_EPRINT_SUBMISSION,
    "p1",
    "bafyp1",
    {"title": HOSTILE, "submittedBy": AUTHOR, "createdAt": "2026-01-01T00:00:00.000Z"},
)


async def seed(db_path: Path) -> None:
    """The eprint, and views of it in the last complete hour (what trending ranks)."""
    db = await Database.open(db_path, readers=1)
    try:
        last_hour = int(time.time()) // 3600 - 1
        async with db.write() as conn:
            await index.upsert_records(conn, [PAPER], "2026-01-01T00:00:00.000Z")
            await engagement.record(conn, [engagement.Event(PAPER.uri, "view", last_hour, f"v{n}") for n in range(3)])
    finally:
        await db.close()


def test_the_engagement_panel_in_headless_chromium(tmp_path: Path) -> None:
    db = tmp_path / "engagement.db"
    key = create_key(db, ADMIN, "browser")
    asyncio.run(seed(db))
    server = ServerProcess(args=["--db", str(db), "--admin-did", ADMIN], cwd=tmp_path).start()
    expect = playwright_api.expect
    try:
        for viewer in ("did:plc:reader1", "did:plc:reader2"):
            recorded = httpx.post(
                f"{server.url}/xrpc/{ids.PUB_CHIVE_METRICS_RECORD_VIEW}",
                json={"uri": PAPER.uri, "viewerDid": viewer},
                headers=bearer(key),
            )
            assert recorded.status_code == 200, recorded.text
        with chromium() as browser:
            page = signed_in(browser, server.url, key)
            page.select_option("#engagement-granularity", "hour")
            # the 30-day chart drawn first also counts 5 views in two lines: wait for the hourly one, 24 points
            expect(page.locator("#engagement-chart svg .chart-views")).to_have_attribute("points", TWENTY_FOUR_POINTS)
            expect(page.locator("#engagement-caption")).to_contain_text("views 5")  # 3 an hour ago, 2 now
            expect(page.locator("#engagement-chart svg polyline")).to_have_count(2)
            expect(page.locator("#trending .trending-title")).to_have_text(HOSTILE)
            assert page.evaluate("window.pwned") is None
    finally:
        server.stop()
