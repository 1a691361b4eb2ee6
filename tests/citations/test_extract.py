"""Citations of a whole document: reference entries (numbered, bracketed, \\bibitem, paragraphs) and identifiers."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from chive_admin.citations.extract import Citation, extract_citations
from chive_admin.citations.references import reference_entries

PAPER = """Title

We follow Smith (doi:10.1000/body1) and https://example.org/tool.

References

[1] A. Smith. Backfill. J. Dec. Sch. 2020. https://doi.org/10.1000/ref1
[2] B. Jones. Preprint. arXiv:2101.01234.
[3] C. Brown. A Book Without Identifiers. Publisher, 1999.
[4] A. Smith again, doi:10.1000/body1.

Appendix A
10.1000/appendix-not-a-reference
"""


def test_reference_entries_numbered() -> None:
    entries = reference_entries(PAPER)
    assert len(entries) == 4
    assert entries[2] == "C. Brown. A Book Without Identifiers. Publisher, 1999."


def test_reference_entries_dotted_and_bibitem() -> None:
    dotted = "References\n1. First entry here, 2001.\n2. Second entry there, 2002.\n"
    assert reference_entries(dotted) == ["First entry here, 2001.", "Second entry there, 2002."]
    latex = r"\begin{thebibliography}{9}\bibitem{a} First, 2001. \bibitem[B]{b} Second, 2002.\end{thebibliography}"
    assert reference_entries(latex) == ["First, 2001.", "Second, 2002."]


def test_reference_entries_as_paragraphs() -> None:
    text = "Bibliography\n\nSmith, A. (2020). A paper.\n\nJones, B. (2021). Another paper.\n"
    assert reference_entries(text) == ["Smith, A. (2020). A paper.", "Jones, B. (2021). Another paper."]


def test_no_reference_section() -> None:
    assert reference_entries("Just a body citing nothing.") == []


def test_citations_of_a_paper() -> None:
    found = extract_citations(PAPER)
    kinds = {(c.kind, c.value) for c in found}
    assert ("doi", "10.1000/ref1") in kinds
    assert ("arxiv", "2101.01234") in kinds
    assert ("reference", "C. Brown. A Book Without Identifiers. Publisher, 1999.") in kinds
    assert ("doi", "10.1000/body1") in kinds
    assert ("url", "https://example.org/tool") in kinds
    # de-duplicated: body1 appears in the body and in entry 4, once here, attributed to the entry
    body1 = [c for c in found if c.value == "10.1000/body1"]
    assert body1 == [Citation("doi", "10.1000/body1", "A. Smith again, doi:10.1000/body1.", 3)]
    assert extract_citations(PAPER) == found  # deterministic


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=3000))
def test_any_text_extracts_without_error(text: str) -> None:
    for citation in extract_citations(text):
        assert citation.kind in ("doi", "arxiv", "url", "reference")
        assert citation.value
