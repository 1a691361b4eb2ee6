"""The dashboard's read-only moderation view in headless Chromium: warnings and violations written by
``chive-admin moderation`` beside the running server show up in their tables (a reason full of markup as text), a
revoked warning leaves the table, a resolved violation says by whom; and the page offers no way to write them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from interop.dashboard.test_browser import HOSTILE, chromium, signed_in
from playwright import sync_api as playwright_api
from support.server import ServerProcess, cli_command, create_key

pytestmark = pytest.mark.interop

ADMIN = "did:plc:dashboardmoderator00000000"
ALICE = "did:plc:dashboardwarned000000000000"


def moderation(db: Path, *args: str) -> None:
    subprocess.run(cli_command("moderation", *args, "--db", str(db)), capture_output=True, timeout=60, check=True)


def test_the_moderation_view_in_headless_chromium(tmp_path: Path) -> None:
    db = tmp_path / "moderation.db"
    key = create_key(db, ADMIN, "browser")
    server = ServerProcess(args=["--db", str(db), "--admin-did", ADMIN], cwd=tmp_path).start()
    expect = playwright_api.expect
    try:
        with chromium() as browser:
            page = signed_in(browser, server.url, key)
            expect(page.locator("#warnings tr.empty")).to_have_text("No active warning.")
            expect(page.locator("#violations tr.empty")).to_have_text("No violation recorded.")

            moderation(db, "warn", ALICE, "--reason", HOSTILE, "--by", ADMIN, "--days", "7")
            moderation(db, "warn", ALICE, "--reason", "a mistake", "--by", ADMIN)
            moderation(db, "revoke", "2", "--by", ADMIN)
            moderation(db, "violation", ALICE, "--type", "spam", "--severity", "critical", "--by", ADMIN)
            moderation(db, "resolve", "1", "--by", ADMIN)

            expect(page.locator("#warnings-total")).to_have_text("(1)")
            expect(page.locator('#warnings tr[data-warning-id="1"] .warning-reason')).to_have_text(HOSTILE)
            expect(page.locator('#warnings tr[data-warning-id="2"]')).to_have_count(0)
            violation = page.locator('#violations tr[data-violation-id="1"]')
            expect(violation.locator(".severity-critical")).to_have_text("critical")
            expect(violation.locator(".violation-resolved")).to_contain_text(f"by {ADMIN}")
            assert page.evaluate("window.pwned") is None
            assert page.locator("#warnings button, #violations button").count() == 0
    finally:
        server.stop()
