"""Query parameters: each string coerced by its lexicon type, then the params model; every bad value a 400 naming
the parameter, never a silent default. Cursors: only what ASCII digits spell is a number."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qsl

import httpx
import pytest
from conftest import AppFactory, running_client
from pydantic import Field
from support.auth import ADMIN, FixedTokens

from chive_admin._generated import ids
from chive_admin._generated.catalog import ROUTES
from chive_admin._generated.models.pub.chive.admin import get_backfill_status, list_pdses
from chive_admin.lex import LexModel, LexStrictModel, ParamKind, ParamSpec
from chive_admin.xrpc.errors import XRPCError
from chive_admin.xrpc.params import id_cursor, parse_params


def parsed(query: str, route_nsid: str = ids.PUB_CHIVE_ADMIN_LIST_PDSES) -> LexModel:
    route = ROUTES[route_nsid]
    return parse_params(parse_qsl(query, keep_blank_values=True), route.param_specs, route.params)


def refused(query: str, route_nsid: str = ids.PUB_CHIVE_ADMIN_LIST_PDSES) -> str:
    with pytest.raises(XRPCError) as caught:
        parsed(query, route_nsid)
    assert (caught.value.status, caught.value.error) == (400, "InvalidRequest")
    assert caught.value.message.startswith("Invalid params: ")
    return caught.value.message


def test_typed_values_and_the_lexicons_defaults() -> None:
    assert parsed("") == list_pdses.Params(limit=50)
    assert parsed("limit=7") == list_pdses.Params(limit=7)
    assert parsed("id=01ABC&status=running", ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS) == get_backfill_status.Params(
        id="01ABC", status="running"
    )


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("limit=abc", "limit: expected an integer"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=1.0", "limit: expected an integer"),
        ("limit= 5", "limit: expected an integer"),
        ("limit=", "limit: expected an integer"),
        ("limit=99999999999999999999999", "limit: expected an integer"),
        ("limit=5&limit=6", "limit: given more than once"),
        ("stauts=running", "unknown parameter 'stauts'"),
    ],
)
def test_bad_values_name_the_parameter(query: str, fragment: str) -> None:
    assert fragment in refused(query)


def test_a_scalar_given_twice_is_refused_whatever_its_type() -> None:
    assert "id: given more than once" in refused("id=a&id=b", ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS)


def test_an_unknown_name_is_shown_cut_short() -> None:
    message = refused("x" * 1000 + "=1")
    assert len(message) < 200


class Flags(LexStrictModel):
    verbose: bool = False
    tags: list[str] = Field(default_factory=list)


FLAG_SPECS = {"verbose": ParamSpec(ParamKind.BOOLEAN), "tags": ParamSpec(ParamKind.STRING, is_array=True)}


def test_booleans_are_true_or_false_and_arrays_gather_every_value() -> None:
    got = parse_params([("verbose", "true"), ("tags", "a"), ("tags", "b")], FLAG_SPECS, Flags)
    assert got == Flags(verbose=True, tags=["a", "b"])
    assert parse_params([("verbose", "false")], FLAG_SPECS, Flags) == Flags(verbose=False)
    for word in ("yes", "1", "True", ""):
        with pytest.raises(XRPCError, match="verbose: expected true or false"):
            parse_params([("verbose", word)], FLAG_SPECS, Flags)


def test_an_array_takes_at_most_a_hundred_values() -> None:
    hundred = parse_params([("tags", str(n)) for n in range(100)], FLAG_SPECS, Flags)
    assert hundred == Flags(tags=[str(n) for n in range(100)])
    with pytest.raises(XRPCError, match="tags: more than 100 values"):
        parse_params([("tags", str(n)) for n in range(101)], FLAG_SPECS, Flags)


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
    async with running_client(make_app(authenticator=FixedTokens())) as client:
        yield client


@pytest.mark.parametrize("raw", NON_ASCII_DIGITS)
async def test_get_audit_log_answers_400_for_a_unicode_digit_cursor(api: httpx.AsyncClient, raw: str) -> None:
    response = await api.get(AUDIT_LOG, params={"cursor": raw}, headers=ADMIN)
    assert response.status_code == 400, response.text
    assert response.json() == {"error": "InvalidRequest", "message": "Invalid cursor"}
