"""Citations of a whole document: the identifiers of each reference entry, the entries without one, and the
identifiers cited in the body, each once."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from chive_admin.citations.extract import Citation, extract_citations

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
