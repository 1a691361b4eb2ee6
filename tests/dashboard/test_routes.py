"""The dashboard as served: the three files under a strict CSP, no inline script anywhere, and a config that only an
admin credential opens."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from conftest import AppFactory, running_client
from support.auth import ADMIN, USER, FixedTokens

from chive_admin._generated.catalog import ROUTES
from chive_admin.dashboard.routes import CSP, METHODS


class _Inline(HTMLParser):
    """Collects what a CSP without 'unsafe-inline' would block: inline scripts, event-handler attributes, inline
    styles, and any resource from another origin."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "script":
            self._in_script = True
            if not named.get("src"):
                self.problems.append("inline <script>")
        if tag == "style":
            self.problems.append("inline <style>")
        for name, value in attrs:
            if name.startswith("on") or name == "style":
                self.problems.append(f"{tag}[{name}]")
            if name in ("src", "href", "action") and value and re.match(r"^(https?:)?//", value):
                self.problems.append(f"{tag}[{name}] from another origin: {value}")

    def handle_endtag(self, tag: str) -> None:
        self._in_script = self._in_script and tag != "script"

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append("script body")


async def test_page_and_assets_are_served_under_a_strict_csp(make_app: AppFactory) -> None:
    async with running_client(make_app(authenticator=FixedTokens())) as client:
        bare = await client.get("/admin", follow_redirects=False)
        page = await client.get("/admin/")
        script = await client.get("/admin/app.js")
        style = await client.get("/admin/app.css")
        missing = await client.get("/admin/../pyproject.toml")
        other = await client.get("/admin/settings.py")
    assert (bare.status_code, bare.headers["location"]) == (308, "/admin/")
    for response, kind in ((page, "text/html"), (script, "text/javascript"), (style, "text/css")):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith(kind)
        assert response.headers["content-security-policy"] == CSP
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-frame-options"] == "DENY"
    for directive in ("default-src 'none'", "script-src 'self'", "form-action 'none'", "frame-ancestors 'none'"):
        assert directive in CSP
    assert "unsafe" not in CSP
    assert (missing.status_code, other.status_code) == (404, 404)
    parser = _Inline()
    parser.feed(page.text)
    assert parser.problems == []
    assert '<script type="module" src="/admin/app.js">' in page.text
    # the script writes server data as text only: PDS-supplied strings must never become markup
    assert "innerHTML" not in script.text
    assert "insertAdjacentHTML" not in script.text
    assert "eval(" not in script.text
    assert "new Function" not in script.text
    # the key lives in sessionStorage, never in localStorage or a URL
    assert "localStorage" not in script.text
    assert 'id="api-key"' in page.text
    assert 'name="' not in page.text.split('id="signin-form"')[1].split("</form>")[0]


async def test_config_needs_an_admin_and_names_real_methods(make_app: AppFactory) -> None:
    async with running_client(make_app(authenticator=FixedTokens())) as client:
        anonymous = await client.get("/admin/config.json")
        not_admin = await client.get("/admin/config.json", headers=USER)
        admin = await client.get("/admin/config.json", headers=ADMIN)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"] == "AuthenticationRequired"
    assert not_admin.status_code == 403
    assert not_admin.json()["error"] == "AdminRequired"
    assert admin.status_code == 200
    assert admin.headers["cache-control"] == "no-store"
    body = admin.json()
    assert body["methods"] == METHODS
    assert all(nsid in ROUTES for nsid in body["methods"].values())
    forms = {form["type"]: form for form in body["triggers"]}
    assert set(forms) == {
        "pds-scan",
        "did-sync",
        "freshness-scan",
        "citation-extraction",
        "full-reindex",
        "governance-sync",
    }
    assert all(form["method"] in ROUTES for form in forms.values())
