"""Citations of one document: its identifiers, and its reference-list entries with the identifiers each holds."""

from __future__ import annotations

from dataclasses import dataclass

from chive_admin.citations.identifiers import find_identifiers
from chive_admin.citations.references import reference_entries


@dataclass(frozen=True)
class Citation:
    kind: str  # doi | arxiv | url | reference
    value: str  # the normalised identifier, or the entry text for a reference without one
    raw: str  # the reference entry it came from, or the identifier as found in the text
    entry: int | None = None


def extract_citations(text: str) -> list[Citation]:
    citations: dict[tuple[str, str], Citation] = {}
    for number, entry in enumerate(reference_entries(text)):
        idents = find_identifiers(entry)
        for ident in idents:
            citations.setdefault((ident.kind, ident.value), Citation(ident.kind, ident.value, entry, number))
        if not idents:
            citations.setdefault(("reference", entry), Citation("reference", entry, entry, number))
    for ident in find_identifiers(text):  # identifiers in the body, outside any reference entry
        citations.setdefault((ident.kind, ident.value), Citation(ident.kind, ident.value, ident.value))
    return list(citations.values())
