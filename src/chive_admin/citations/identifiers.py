"""Identifiers of cited works in free text: DOIs, arXiv ids (new and old style) and URLs, normalised.

Text from PDFs breaks identifiers across lines (``10.1000/abc-\\ndef``); lines are re-joined where a DOI or URL
obviously continues, before matching.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A DOI: 10.<registrant>/<suffix>; the suffix may hold almost anything, so it ends at whitespace or a quote and
# loses trailing punctuation that belongs to the sentence.
_DOI = re.compile(r"\b(10\.\d{4,9}/[^\s\"'<>\]\[{}|\\^`]+)", re.IGNORECASE)
_DOI_URL = re.compile(r"https?://(?:dx\.)?doi\.org/(10\.\d{4,9}/[^\s\"'<>]+)", re.IGNORECASE)
_ARXIV_NEW = re.compile(r"(?:arxiv[:\s]*|arxiv\.org/(?:abs|pdf)/)?\b(\d{4}\.\d{4,5})(v\d+)?\b", re.IGNORECASE)
_ARXIV_OLD = re.compile(
    r"(?:arxiv[:\s]*|arxiv\.org/(?:abs|pdf)/)\b([a-z][a-z.-]*(?:\.[A-Z]{2})?/\d{7})(v\d+)?\b", re.IGNORECASE
)
_ARXIV_CONTEXT = re.compile(r"arxiv", re.IGNORECASE)
_URL = re.compile(r"\bhttps?://[^\s\"'<>()\[\]{}]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}>'\""
# a line break inside an identifier: "10.1000/abc-\n def" or "https://exa-\nmple.org"
_BROKEN = re.compile(r"((?:10\.\d{4,9}/|https?://)\S*-)\s*\n\s*(\S)")


@dataclass(frozen=True)
class Identifier:
    kind: str  # doi | arxiv | url
    value: str
    #: the arXiv version (v2…) when one was given
    version: str | None = None


def _trim(value: str) -> str:
    while value and value[-1] in _TRAILING:
        if value[-1] == ")" and value.count("(") >= value.count(")"):
            break  # a DOI like 10.1002/(SICI)1097 keeps its balanced parenthesis
        value = value[:-1]
    return value


def rejoin(text: str) -> str:
    return _BROKEN.sub(lambda m: m.group(1) + m.group(2), text)


def normalise_doi(doi: str) -> str:
    return _trim(doi).lower()


def find_identifiers(text: str) -> list[Identifier]:
    """Every identifier in ``text``, first occurrence order, without duplicates (URLs of DOIs/arXiv excluded)."""
    text = rejoin(text)
    found: dict[tuple[str, str], Identifier] = {}
    covered: list[tuple[int, int]] = []

    def add(ident: Identifier, span: tuple[int, int]) -> None:
        found.setdefault((ident.kind, ident.value), ident)
        covered.append(span)

    for match in _DOI_URL.finditer(text):
        add(Identifier("doi", normalise_doi(match.group(1))), match.span())
    for match in _DOI.finditer(text):
        if not _inside(match.span(), covered):
            add(Identifier("doi", normalise_doi(match.group(1))), match.span())
    for pattern in (_ARXIV_OLD, _ARXIV_NEW):
        for match in pattern.finditer(text):
            if _inside(match.span(), covered):
                continue
            if pattern is _ARXIV_NEW and not _arxiv_context(text, match):
                continue  # a bare 2101.01234 is an arXiv id only when arXiv is named nearby
            add(Identifier("arxiv", match.group(1).lower(), (match.group(2) or "").lower() or None), match.span())
    for match in _URL.finditer(text):
        url = _trim(match.group(0))
        lowered = url.lower()
        if "doi.org/10." in lowered or "arxiv.org/" in lowered or _inside(match.span(), covered):
            continue
        found.setdefault(("url", url), Identifier("url", url))
    return list(found.values())


def _inside(span: tuple[int, int], covered: list[tuple[int, int]]) -> bool:
    return any(start <= span[0] and span[1] <= end for start, end in covered)


def _arxiv_context(text: str, match: re.Match[str]) -> bool:
    if match.group(0).lower().startswith("arxiv"):
        return True
    return bool(_ARXIV_CONTEXT.search(text, max(0, match.start() - 40), match.start()))
