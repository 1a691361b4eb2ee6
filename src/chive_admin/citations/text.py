"""The text of a document: PDF through pypdf, HTML through the stdlib parser, Markdown/LaTeX/plain as they are.

Hostile documents are bounded: at most MAX_PAGES pages and MAX_CHARS characters are read, and anything pypdf raises
on a broken file becomes ``CorruptDocument``.
"""

from __future__ import annotations

import io
import logging
from html.parser import HTMLParser

MAX_PAGES = 200
MAX_CHARS = 2_000_000

TEXT_TYPES = ("text/plain", "text/markdown", "text/x-markdown", "text/x-tex", "application/x-tex", "text/x-latex")


class DocumentError(Exception):
    """A document whose text cannot be read; ``code`` is the dead-letter errorType."""

    code = "unreadable_document"


class CorruptDocument(DocumentError):
    code = "corrupt_document"


class EncryptedDocument(DocumentError):
    code = "encrypted_document"


class UnsupportedDocument(DocumentError):
    code = "unsupported_document"


class EmptyDocument(DocumentError):
    code = "empty_document"


def sniff(data: bytes, declared: str | None) -> str:
    """The MIME type to read ``data`` as: the magic bytes win over a missing or generic declaration."""
    mime = (declared or "").split(";")[0].strip().lower()
    if data.lstrip()[:5] == b"%PDF-":
        return "application/pdf"
    if mime in ("", "application/octet-stream", "binary/octet-stream"):
        head = data[:512].lstrip().lower()
        if head.startswith((b"<!doctype html", b"<html")):
            return "text/html"
        return "text/plain"
    return mime


def extract_text(data: bytes, mime: str | None) -> str:
    kind = sniff(data, mime)
    if kind == "application/pdf":
        text = _pdf_text(data)
    elif kind in ("text/html", "application/xhtml+xml"):
        text = _html_text(data.decode("utf-8", "replace"))
    elif kind in TEXT_TYPES or kind.startswith("text/"):
        text = data.decode("utf-8", "replace")
    else:
        raise UnsupportedDocument(f"documents of type {kind} are not read")
    text = text[:MAX_CHARS]
    if not text.strip():
        raise EmptyDocument("the document has no extractable text (scanned images?)")
    return text


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # broken files are expected here; their warnings are noise
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                opened = bool(reader.decrypt(""))  # only an empty user password is tried
            except Exception:
                opened = False
            if not opened:
                raise EncryptedDocument("the PDF is encrypted")
        parts: list[str] = []
        size = 0
        for page in reader.pages[:MAX_PAGES]:
            chunk = page.extract_text() or ""
            parts.append(chunk)
            size += len(chunk)
            if size > MAX_CHARS:
                break
        return "\n".join(parts)
    except DocumentError:
        raise
    except FileNotDecryptedError:
        raise EncryptedDocument("the PDF is encrypted") from None
    except (PdfReadError, Exception) as exc:  # pypdf raises many types on malformed input; all mean "corrupt"
        raise CorruptDocument(f"the PDF cannot be read ({type(exc).__name__})") from None


class _TextOnly(HTMLParser):
    _SKIP = frozenset({"script", "style", "noscript", "template"})
    _BREAKS = frozenset({"p", "div", "li", "br", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BREAKS:
            self.parts.append("\n")
        if tag == "a":  # a link's target is often the only place a DOI or URL appears
            href = dict(attrs).get("href")
            if href and href.startswith(("http://", "https://", "doi:")):
                self.parts.append(f" {href} ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1
        elif tag in self._BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def _html_text(html: str) -> str:
    parser = _TextOnly()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)
