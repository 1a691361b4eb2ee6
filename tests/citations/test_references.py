"""The reference list of a paper: finding its section, and splitting it into entries (bracketed or dotted numbers,
\\bibitem, or paragraphs)."""

from __future__ import annotations

from chive_admin.citations.references import (
    MAX_ENTRIES,
    MAX_ENTRY_CHARS,
    reference_entries,
    reference_section,
    split_entries,
)

PAPER = """On Backfill

As shown before [2], listing from both ends halves the round trips.

References

[1] A. Author. Listing Repositories. Proc. Federated Systems, 2021.
[2] B. Writer and C. Coauthor. Two-Ended Scans. arXiv:2301.00001.
[3] D. Person. A Book on Queues. Publisher, 1999.

Appendix A: proofs
[4] Not a reference: an appendix's own numbered list.
"""


def test_reference_entries_numbered() -> None:
    assert reference_entries(PAPER) == [
        "A. Author. Listing Repositories. Proc. Federated Systems, 2021.",
        "B. Writer and C. Coauthor. Two-Ended Scans. arXiv:2301.00001.",
        "D. Person. A Book on Queues. Publisher, 1999.",
    ]


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


def test_the_section_ends_at_an_appendix_and_the_last_heading_wins() -> None:
    section = reference_section(PAPER)
    assert section is not None
    assert "Appendix" not in section
    assert "Not a reference" not in section
    # a "References" inside the body comes before the real list: the list is under the last heading
    text = "Intro\nReferences\nare discussed below.\n\n2. References:\n[1] The only entry, 2020.\n[2] Another, 2021."
    assert reference_entries(text) == ["The only entry, 2020.", "Another, 2021."]


def test_headings_in_other_languages_and_numbered() -> None:
    for heading in (
        "Bibliography",
        "WORKS CITED",
        "Literaturverzeichnis",
        "Références",
        "Referencias",
        "7. References",
    ):
        assert reference_entries(f"{heading}\n[1] First entry, 2001.\n[2] Second entry, 2002.") == [
            "First entry, 2001.",
            "Second entry, 2002.",
        ], heading


def test_entries_are_whitespace_normalised_and_short_fragments_dropped() -> None:
    section = "[1] Spread\n   over   lines,\n   Publisher 2020.\n[2] short\n[3] Third entry here, 2003."
    assert split_entries(section) == ["Spread over lines, Publisher 2020.", "Third entry here, 2003."]


def test_a_single_numbered_line_is_a_paragraph_not_a_list() -> None:
    # one "[1]" alone is no numbering scheme: the section is split by blank lines
    assert split_entries("[1] Only this one entry, 2001.\n\nAnd a paragraph after it.") == [
        "[1] Only this one entry, 2001.",
        "And a paragraph after it.",
    ]


def test_entries_and_their_length_are_bounded() -> None:
    many = "\n".join(f"[{n}] Entry number {n} of a very long list." for n in range(1, MAX_ENTRIES + 500))
    entries = split_entries(many)
    assert len(entries) == MAX_ENTRIES
    assert entries[0] == "Entry number 1 of a very long list."
    huge = split_entries("[1] " + "word " * MAX_ENTRY_CHARS + "\n[2] Second entry, 2002.")
    assert [len(e) for e in huge] == [MAX_ENTRY_CHARS, len("Second entry, 2002.")]
