"""The dashboard's firehose panel in headless Chromium: hidden on a server without live indexing; on one that
follows the testnet PDS's firehose, the source shows connected, and its cursor moves when a record is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from interop.dashboard.test_browser import chromium, signed_in
from playwright import sync_api as playwright_api
from support.server import ServerProcess, create_key

from testnet import records
from testnet.harness import Testnet
from testnet.pds_client import PdsClient

pytestmark = pytest.mark.interop

ADMIN = "did:plc:dashboardfirehose0000000000"


def test_the_firehose_panel_in_headless_chromium(tmp_path: Path, testnet: Testnet, pds: PdsClient) -> None:
    def server(db: Path, *extra: str) -> tuple[ServerProcess, str]:
        key = create_key(db, ADMIN, "browser")
        args = ["--db", str(db), "--admin-did", ADMIN, "--allow-private-network", "--plc-url", testnet.plc_url]
        return ServerProcess(args=[*args, *extra], cwd=tmp_path), key

    plain, key = server(tmp_path / "plain.db")
    live, live_key = server(tmp_path / "live.db", "--firehose-url", testnet.pds_url)
    plain.start()
    expect = playwright_api.expect
    try:
        with chromium() as browser:
            page = signed_in(browser, plain.url, key)
            expect(page.locator("#pdses tr.empty")).to_be_visible()  # the slower poll has run
            expect(page.locator("#firehose-panel")).to_be_hidden()
            plain.stop()

            live.start()
            page = signed_in(browser, live.url, live_key)
            row = page.locator(f"#firehose tr[data-source='{testnet.pds_url}']")
            expect(row.locator(".firehose-state")).to_have_text("connected", timeout=20_000)
            author = pds.create_account(prefix="fh")
            pds.create_record(author, records.COMMENT, records.review_comment(eprint_uri="at://did:plc:x/a.b.c/d"))
            expect(row.locator(".firehose-cursor")).not_to_have_text("none", timeout=20_000)
            expect(page.locator("#firehose-cursor")).to_contain_text("cursor")
            expect(row.locator(".firehose-lag")).to_have_text("0.0 s", timeout=20_000)
            expect(row.locator(".firehose-problem")).to_have_text("")
    finally:
        plain.stop()
        live.stop()
