"""The shape of a service URL: a bare http(s) origin, normalised, refused before any address is looked up."""

from __future__ import annotations

import re

import pytest

from chive_admin.upstream.urls import normalise_service_url


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://PDS.Example/", "https://pds.example"),
        ("  https://pds.example  ", "https://pds.example"),
        ("http://pds.example:2583", "http://pds.example:2583"),
        ("HTTP://LocalHost:2583/", "http://localhost:2583"),
        ("https://pds.example:443", "https://pds.example:443"),  # a port said is kept: it names the same row
        ("http://[::1]:2583/", "http://[::1]:2583"),
        ("http://[2001:DB8::1]", "http://[2001:db8::1]"),
        ("https://xn--bcher-kva.example", "https://xn--bcher-kva.example"),
    ],
)
def test_an_origin_is_normalised(url: str, origin: str) -> None:
    assert normalise_service_url(url) == origin
    assert normalise_service_url(origin) == origin  # normalising twice changes nothing


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("ftp://pds.example", "is not an http(s) URL"),
        ("pds.example", "is not an http(s) URL"),
        ("https://", "has no host"),
        ("https://:443", "has no host"),
        ("https://user:pw@pds.example", "must not carry credentials"),
        ("https://user@pds.example", "must not carry credentials"),
        ("https://pds.example/xrpc", "must be a bare origin"),
        ("https://pds.example?q=1", "must be a bare origin"),
        ("https://pds.example#x", "must be a bare origin"),
        ("https://pds.example:99999", "is not a valid URL"),
        ("http://[::1", "is not a valid URL"),
    ],
)
def test_anything_but_a_bare_http_origin_is_refused_naming_the_url(url: str, said: str) -> None:
    with pytest.raises(ValueError, match=re.escape(said)) as refused:
        normalise_service_url(url)
    assert str(refused.value).startswith(repr(url))
