"""Query parameters and cursors: what the wire sends is a string, and only what it spells in ASCII is a number."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from conftest import AppFactory, running_client
from support.auth import FixedTokens

from chive_admin._generated import ids
from chive_admin.xrpc.errors import XRPCError
from chive_admin.xrpc.params import id_cursor

AUDIT_LOG = f"/xrpc/{ids.PUB_CHIVE_ADMIN_GET_AUDIT_LOG}"
#: digits to ``str.isdigit`` (superscripts, Arabic-Indic, fullwidth, Devanagari), not to a cursor
NON_ASCII_DIGITS = ["²", "٣", "１２", "१", "1²", "¹²³"]


@pytest.mark.parametrize("raw", ["0", "1", "42", "999999999999999999"])
def test_an_id_cursor_is_ascii_digits(raw: str) -> None:
    assert id_cursor(raw) == int(raw)


def test_no_cursor_is_the_first_page() -> None:
    assert id_cursor(None) is None


@pytest.mark.parametrize("raw", ["", "abc", "-1", "+1", " 1", "1 ", "1.0", "1e3", "0x10", "1_000", "9" * 19])
def test_what_is_not_an_id_cursor_is_invalid_request(raw: str) -> None:
    with pytest.raises(XRPCError) as caught:
        id_cursor(raw)
    assert (caught.value.status, caught.value.error) == (400, "InvalidRequest")


@pytest.mark.parametrize("raw", NON_ASCII_DIGITS)
def test_unicode_digits_are_not_a_cursor(raw: str) -> None:
    assert raw.isdigit() or raw.isdecimal() or any(c.isdigit() for c in raw)
    with pytest.raises(XRPCError):
        id_cursor(raw)


@pytest.fixture
async def api(make_app: AppFactory) -> AsyncIterator[httpx.AsyncClient]:
    async for client in running_client(make_app(authenticator=FixedTokens())):
        yield client


@pytest.mark.parametrize("raw", NON_ASCII_DIGITS)
async def test_get_audit_log_answers_400_for_a_unicode_digit_cursor(api: httpx.AsyncClient, raw: str) -> None:
    response = await api.get(AUDIT_LOG, params={"cursor": raw}, headers={"Authorization": "Bearer admin"})
    assert response.status_code == 400, response.text
    assert response.json() == {"error": "InvalidRequest", "message": "Invalid cursor"}
