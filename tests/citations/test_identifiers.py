"""Identifiers in free text: DOIs, arXiv ids (both styles) and URLs, normalised and de-duplicated."""

from __future__ import annotations

import pytest

from chive_admin.citations.identifiers import Identifier, find_identifiers

CASES: list[tuple[str, list[tuple[str, str]]]] = [
    ("see 10.1000/xyz123", [("doi", "10.1000/xyz123")]),
    ("doi:10.1000/XYZ123.", [("doi", "10.1000/xyz123")]),
    ("DOI: 10.1145/3368089.3409741,", [("doi", "10.1145/3368089.3409741")]),
    ("https://doi.org/10.1038/nphys1170", [("doi", "10.1038/nphys1170")]),
    ("http://dx.doi.org/10.1038/nphys1170).", [("doi", "10.1038/nphys1170")]),
    (
        "(10.1002/(SICI)1097-4571(199806)49:8<693::AID-ASI4>3.0.CO;2-0)",
        [("doi", "10.1002/(sici)1097-4571(199806)49:8")],
    ),
    ("10.1000/abc; 10.1000/abc again", [("doi", "10.1000/abc")]),
    ("10.123/short registrant is not a DOI", []),
    ("version 10.1 of the software", []),
    ("broken 10.1000/abc-\ndef across lines", [("doi", "10.1000/abc-def")]),
    ("arXiv:2101.01234", [("arxiv", "2101.01234")]),
    ("arXiv:2101.01234v2", [("arxiv", "2101.01234")]),
    ("arxiv 1706.03762", [("arxiv", "1706.03762")]),
    ("https://arxiv.org/abs/2312.00752", [("arxiv", "2312.00752")]),
    ("https://arxiv.org/pdf/2312.00752v1", [("arxiv", "2312.00752")]),
    ("arXiv:hep-th/9901001", [("arxiv", "hep-th/9901001")]),
    ("arXiv:math.GT/0309136", [("arxiv", "math.gt/0309136")]),
    ("https://arxiv.org/abs/cond-mat/0102536v1", [("arxiv", "cond-mat/0102536")]),
    ("in 2101.01234 without arXiv nearby", []),
    ("page 1234.5678", []),
    ("see https://example.org/paper.", [("url", "https://example.org/paper")]),
    ("(https://example.org/a?b=1)", [("url", "https://example.org/a?b=1")]),
    ("<https://example.org/x>", [("url", "https://example.org/x")]),
    ("http://example.org and http://example.org", [("url", "http://example.org")]),
    ("ftp://example.org is not cited", []),
    # a hyphen at a line end inside an identifier is kept: typesetters break URLs and DOIs at their own hyphens
    ("https://exa-\nmple.org/long", [("url", "https://exa-mple.org/long")]),
    ("mailto:someone@example.org", []),
    (
        "both https://doi.org/10.1000/q1 and arXiv:1706.03762 and https://x.org",
        [("doi", "10.1000/q1"), ("arxiv", "1706.03762"), ("url", "https://x.org")],
    ),
    ("", []),
    ("10.1000/", []),
    ("ÜberPaper 10.5555/ümlaut-ok", [("doi", "10.5555/ümlaut-ok")]),
    ("[1] 10.1000/a1]", [("doi", "10.1000/a1")]),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_identifiers(text: str, expected: list[tuple[str, str]]) -> None:
    assert sorted((i.kind, i.value) for i in find_identifiers(text)) == sorted(expected)


def test_arxiv_versions_are_kept_apart() -> None:
    assert find_identifiers("arXiv:2101.01234v3") == [Identifier("arxiv", "2101.01234", "v3")]
