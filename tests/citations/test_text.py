"""Document text: real PDFs (plain, encrypted, truncated, text-less), HTML, Markdown, LaTeX; hostile bytes never
raise anything but the typed document errors."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfReader, PdfWriter

from chive_admin.citations.text import (
    CorruptDocument,
    DocumentError,
    EmptyDocument,
    EncryptedDocument,
    UnsupportedDocument,
    extract_text,
    sniff,
)
from testnet.records import minimal_pdf

LINES = ["A Study of Things", "We build on doi:10.1000/xyz123 and arXiv:2101.01234.", "References", "[1] A. B. 2020."]


def _outcome(data: bytes, mime: str | None) -> str:
    """ "text" when text came out, else the code of the document error; anything else raised fails the test."""
    try:
        text = extract_text(data, mime)
    except DocumentError as exc:
        return exc.code
    return "text" if text.strip() else "blank text returned"


def encrypted(pdf: bytes, password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.encrypt(user_password=password, owner_password="owner")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_pdf_text() -> None:
    text = extract_text(minimal_pdf(LINES), "application/pdf")
    assert "10.1000/xyz123" in text
    assert "References" in text


def test_pdf_found_by_its_magic_whatever_the_declared_type() -> None:
    assert "A Study of Things" in extract_text(minimal_pdf(LINES), "application/octet-stream")
    assert "A Study of Things" in extract_text(minimal_pdf(LINES), None)
    assert sniff(minimal_pdf(LINES), "text/plain") == "application/pdf"


def test_encrypted_pdf() -> None:
    with pytest.raises(EncryptedDocument):
        extract_text(encrypted(minimal_pdf(LINES), "secret"), "application/pdf")


def test_pdf_encrypted_with_an_empty_user_password_is_read() -> None:
    assert "A Study of Things" in extract_text(encrypted(minimal_pdf(LINES), ""), "application/pdf")


@pytest.mark.parametrize("cut", [20, 100, 300])
def test_truncated_pdf_is_corrupt(cut: int) -> None:
    with pytest.raises(DocumentError) as caught:
        extract_text(minimal_pdf(LINES)[:cut], "application/pdf")
    assert isinstance(caught.value, (CorruptDocument, EmptyDocument))


def test_garbage_after_the_magic_is_corrupt() -> None:
    with pytest.raises(CorruptDocument):
        extract_text(b"%PDF-1.7\n" + bytes(range(256)) * 10, "application/pdf")


def test_pdf_without_text() -> None:
    with pytest.raises(EmptyDocument):
        extract_text(minimal_pdf([]), "application/pdf")


def test_html_drops_scripts_and_keeps_link_targets() -> None:
    html = (
        b"<html><head><style>p{}</style><script>var doi='10.9999/evil'</script></head><body>"
        b"<p>Cites <a href='https://doi.org/10.1000/a1'>this</a></p></body></html>"
    )
    text = extract_text(html, "text/html")
    assert "10.9999" not in text
    assert "https://doi.org/10.1000/a1" in text


def test_markdown_and_latex_are_text() -> None:
    assert "10.1000/md" in extract_text(b"# Title\n\nSee [x](https://doi.org/10.1000/md).", "text/markdown")
    latex = rb"\begin{thebibliography}{9}\bibitem{a} A. Author, arXiv:1706.03762.\end{thebibliography}"
    assert "1706.03762" in extract_text(latex, "application/x-tex")


def test_unsupported_types() -> None:
    with pytest.raises(UnsupportedDocument):
        extract_text(b"\x89PNG\r\n\x1a\n....", "image/png")


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=4096), st.sampled_from([None, "application/pdf", "text/html", "text/plain", "image/png"]))
def test_hostile_bytes_only_raise_document_errors(data: bytes, mime: str | None) -> None:
    outcome = _outcome(data, mime)
    assert outcome.endswith("_document") or outcome == "text"


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=2048))
def test_hostile_bytes_after_a_pdf_header(data: bytes) -> None:
    outcome = _outcome(b"%PDF-1.4\n" + data, "application/pdf")
    assert outcome.endswith("_document") or outcome == "text"
