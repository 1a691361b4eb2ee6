"""The dashboard end to end in headless Chromium (Debian's ``chromium``, driven by Playwright): a wrong key is
refused on screen, empty tables say so, the form opens on pds-scan, a pds-scan of a real testnet PDS started from
its form runs to completed and history shows its target, an operation's detail view shows its params, counts,
attempts, error code and context (a hostile PDS's markup as text), another operation is cancelled through the
confirmation dialog, form validation speaks, the DLQ and PDS registry views act — and the key never reaches a URL
or the server's log, whose INFO lines hold none of the page's polling. A full-page screenshot is kept under
``artifacts/`` (or ``$CHIVE_TEST_ARTIFACTS``) for CI.

The scanned PDS is the testnet's second one, which the suite fills with valid records only; a test that writes an
invalid record there would (rightly) turn this scan ``partial``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright import sync_api as playwright_api
from support.auth import bearer
from support.scripted import Answer, scripted_server
from support.server import TESTS_DIR, ServerProcess, count_job_server, create_key
from support.unavailable import unavailable

from chive_admin._generated import ids
from testnet import records
from testnet.harness import Testnet
from testnet.pds_client import PdsClient

pytestmark = pytest.mark.interop

ADMIN = "did:plc:dashboardadmin00000000000"

ARTIFACTS = Path(os.environ.get("CHIVE_TEST_ARTIFACTS") or TESTS_DIR.parent / "artifacts")
# Chromium's own background traffic is refused by this machine's closed network; keep it from trying.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    found = os.environ.get("CHIVE_TEST_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        unavailable("Debian's chromium is not installed (.ci/run installs it with apt-get)")
    return found


@contextlib.contextmanager
def chromium() -> Iterator[playwright_api.Browser]:
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def signed_in(browser: playwright_api.Browser, url: str, key: str) -> playwright_api.Page:
    """A new page of the dashboard at ``url``, signed in with ``key``."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{url}/admin/")
    page.fill("#api-key", key)
    page.click("#signin-form button[type=submit]")
    return page


#: what a hostile PDS puts in its error message: markup that would run if the page ever parsed it
HOSTILE = '<img src=x onerror="window.pwned=1"><b>bold</b>'


@pytest.fixture(scope="module")
def hostile_pds() -> Iterator[str]:
    with scripted_server() as (url, script):
        script.default = Answer(400, json.dumps({"error": "InvalidRequest", "message": HOSTILE}).encode())
        yield url


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, testnet: Testnet) -> Iterator[tuple[ServerProcess, str]]:
    tmp = tmp_path_factory.mktemp("dashboard")
    db = tmp / "dashboard.db"
    key = create_key(db, ADMIN, "browser")
    args = ["--db", str(db), "--admin-did", ADMIN, "--allow-private-network", "--plc-url", testnet.plc_url]
    server = count_job_server(
        tmp,
        [*args, "--upstream-attempts", "1"],  # the hostile PDS's scan fails at its first refusal
        # a slow test-count op to cancel; every 50th item dead-lettered so the DLQ view has entries
        {"TEST_JOB_ITEMS": "2000", "TEST_JOB_DELAY": "0.05", "TEST_JOB_DLQ_EVERY": "50"},
    ).start()
    try:
        yield server, key
    finally:
        server.stop()


def test_operator_session_in_headless_chromium(
    served: tuple[ServerProcess, str], testnet: Testnet, pds2: PdsClient, hostile_pds: str
) -> None:
    server, key = served
    author = pds2.create_account(prefix="dash")
    comment = records.review_comment(eprint_uri="at://did:plc:x/a.b.c/d")
    pds2.bulk_create(author, records.COMMENT, 400, factory=lambda i: comment)
    expect = playwright_api.expect
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            csp_violations: list[str] = []
            page.on("console", lambda m: csp_violations.append(m.text) if "Content Security Policy" in m.text else None)
            urls: list[str] = []
            page.on("request", lambda r: urls.append(r.url))
            page.goto(f"{server.url}/admin/")

            # a wrong key: refused on screen, nothing kept
            page.fill("#api-key", "ca_this-key-does-not-exist-0000000000000000000")
            page.click("#signin-form button[type=submit]")
            expect(page.locator("#signin-error")).to_contain_text("refused")
            expect(page.locator("#console")).to_be_hidden()
            assert page.evaluate("sessionStorage.getItem('chive-admin.key')") is None

            page.fill("#api-key", key)
            page.click("#signin-form button[type=submit]")
            expect(page.locator("#console")).to_be_visible()
            expect(page.locator("#server-info")).to_contain_text("version")
            assert page.evaluate("sessionStorage.getItem('chive-admin.key')") == key

            # a fresh server: every table says it is empty, and the form opens on the first scan to run
            expect(page.locator("#active-ops tr.empty")).to_have_text("No active operations.")
            expect(page.locator("#history-ops tr.empty")).to_have_text("No operation has ended yet.")
            expect(page.locator("#dlq tr.empty")).to_have_text("The dead-letter queue is empty.")
            expect(page.locator("#pdses tr.empty")).to_contain_text("No PDS registered yet")
            expect(page.locator("#trigger-type")).to_have_value("pds-scan")
            expect(page.locator("#field-pdsUrl")).to_be_visible()

            # validation: the browser's constraint message for a missing required field, the server's for a bad URL
            page.select_option("#trigger-type", "did-sync")
            page.click("#trigger-form button[type=submit]")
            expect(page.locator("#field-did-error")).not_to_be_empty()
            expect(page.locator("#trigger-message")).to_contain_text("Fix the highlighted fields")
            page.select_option("#trigger-type", "full-reindex")
            page.fill("#field-batchSize", "20000")
            page.click("#trigger-form button[type=submit]")
            expect(page.locator("#field-batchSize-error")).not_to_be_empty()
            page.select_option("#trigger-type", "pds-scan")
            page.fill("#field-pdsUrl", "ftp://pds.example.com")
            page.click("#trigger-form button[type=submit]")
            expect(page.locator("#trigger-message")).to_contain_text("InvalidRequest")

            # a real pds-scan of the testnet's second PDS, started from the form, followed to completed
            page.fill("#field-pdsUrl", testnet.pds2_url)
            page.click("#trigger-form button[type=submit]")
            expect(page.locator("#trigger-message")).to_contain_text("Started pds-scan operation")
            scan_id = re.search(r"operation (\S+)\.", page.inner_text("#trigger-message"))
            assert scan_id is not None
            scan_row = page.locator(f"#history-ops tr[data-op-id='{scan_id[1]}']")
            expect(scan_row.locator(".op-status")).to_have_text("completed", timeout=120_000)
            processed = int(scan_row.locator("td.op-records").inner_text())
            assert processed >= 400
            expect(scan_row.locator("td.op-target")).to_have_text(testnet.pds2_url)
            expect(page.locator(f"#pdses tr[data-pds='{testnet.pds2_url}']")).to_be_visible(timeout=10_000)

            # its details: params, target, stage, counts, attempts
            scan_row.locator("button.op-open").click()
            detail = page.locator("#op-detail")
            expect(detail).to_be_visible()
            expect(detail).to_have_attribute("data-op-id", scan_id[1])
            fields = detail.locator("#detail-fields")
            expect(fields).to_contain_text("pdsUrl")
            expect(fields.locator("dl.pairs dd")).to_have_text([testnet.pds2_url])
            expect(fields).to_contain_text(f"records {processed}")
            expect(fields.locator(".error-code")).to_have_text("—")
            # read in one evaluation: the view is redrawn at each poll, so handles to its nodes may go stale
            field = fields.evaluate(
                "node => Object.fromEntries([...node.querySelectorAll(':scope > dt')]"
                ".map(dt => [dt.innerText, dt.nextElementSibling.innerText]))"
            )
            assert field["Status"] == "completed"
            assert field["Target"] == testnet.pds2_url
            assert field["Attempts"] == "1"
            assert field["Started by"] == ADMIN
            assert field["Stage"] != "—"

            # a scan of a hostile PDS fails: its error code and context in the details, its markup only as text
            page.fill("#field-pdsUrl", hostile_pds)
            page.click("#trigger-form button[type=submit]")
            expect(page.locator("#trigger-message")).not_to_contain_text(scan_id[1])  # the message of this one
            expect(page.locator("#trigger-message")).to_contain_text("Started pds-scan operation")
            bad_id = re.search(r"operation (\S+)\.", page.inner_text("#trigger-message"))
            assert bad_id is not None
            bad_row = page.locator(f"#history-ops tr[data-op-id='{bad_id[1]}']")
            expect(bad_row.locator(".op-status")).to_have_text("failed", timeout=60_000)
            bad_row.locator("button.op-open").click()
            expect(detail).to_have_attribute("data-op-id", bad_id[1])
            expect(fields.locator(".error-code")).not_to_have_text("—")
            expect(fields.locator(".error-text")).to_contain_text(HOSTILE)
            context = fields.locator("dt", has_text="Error context").locator("xpath=following-sibling::dd[1]")
            expect(context.locator("dl.pairs dt").first).to_be_visible()
            assert page.evaluate("window.pwned") is None
            assert page.locator("#op-detail img, #history-ops img, #op-detail b, #history-ops b").count() == 0

            # a long op from its (plugin) form; cancel asks first, "Keep it" keeps it, "Confirm" cancels it
            page.select_option("#trigger-type", "test-count")
            page.fill("#field-batchSize", "1")
            page.click("#trigger-form button[type=submit]")
            expect(page.locator("#trigger-message")).to_contain_text("Started test-count operation")
            count_id = re.search(r"operation (\S+)\.", page.inner_text("#trigger-message"))
            assert count_id is not None
            active = page.locator(f"#active-ops tr[data-op-id='{count_id[1]}']")
            expect(active.locator(".op-status")).to_have_text("running", timeout=30_000)
            expect(active.locator("td.progress .count")).to_contain_text("/ 2000")
            expect(page.locator("#dlq tbody tr:not(.empty)").first).to_be_visible(timeout=10_000)
            # the CI artifact: every view populated, one op live, the failed scan's details open
            page.locator(f"#history-ops tr[data-op-id='{bad_id[1]}'] button.op-open").click()
            expect(detail).to_have_attribute("data-op-id", bad_id[1])
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            shot = ARTIFACTS / "dashboard.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            active.locator("button.danger").click()
            expect(page.locator("#confirm-dialog")).to_be_visible()
            expect(page.locator("#confirm-text")).to_contain_text(count_id[1])
            page.click("#confirm-no")
            expect(page.locator("#confirm-dialog")).to_be_hidden()
            expect(active.locator(".op-status")).to_have_text("running")
            active.locator("button.danger").click()
            page.click("#confirm-yes")
            cancelled = page.locator(f"#history-ops tr[data-op-id='{count_id[1]}'] .op-status")
            expect(cancelled).to_have_text("cancelled", timeout=30_000)

            # the dead-letter queue: entries from the cancelled op; dismissing one asks, then removes it
            # the op has ended, so the queue no longer grows: wait for the view to show its settled size
            before = httpx.get(f"{server.url}/xrpc/{ids.PUB_CHIVE_ADMIN_LIST_DLQ_ENTRIES}", headers=bearer(key)).json()[
                "total"
            ]
            assert before >= 1
            expect(page.locator("#dlq-total")).to_have_text(f"({before})", timeout=10_000)
            page.locator("#dlq tbody tr:not(.empty)").first.get_by_role("button", name="Dismiss").click()
            page.click("#confirm-yes")
            expect(page.locator("#dlq-message")).not_to_be_empty()
            expect(page.locator("#dlq-total")).to_have_text(f"({before - 1})")

            page.click("#sign-out")
            expect(page.locator("#signin")).to_be_visible()
            expect(page.locator("#op-detail")).to_be_hidden()
            assert page.evaluate("sessionStorage.getItem('chive-admin.key')") is None
            assert csp_violations == []
            assert not any(key in url for url in urls)
        finally:
            browser.close()
    output = server.output()
    assert key not in output
    # the page polled every second; none of it is at INFO, while what the operator did is
    assert f"INFO chive_admin.requests: GET {ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS}" not in output
    assert f"INFO chive_admin.requests: GET {ids.PUB_CHIVE_ADMIN_GET_BACKFILL_HISTORY}" not in output
    assert f"INFO chive_admin.requests: GET {ids.PUB_CHIVE_ADMIN_LIST_PDSES}" not in output
    assert f"INFO chive_admin.requests: POST {ids.PUB_CHIVE_ADMIN_CANCEL_BACKFILL}" in output
