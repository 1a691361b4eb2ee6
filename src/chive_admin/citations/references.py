"""The reference list of a paper: its section, split into entries."""

from __future__ import annotations

import re

_HEADING = re.compile(
    r"^\s*(?:\d+\.?\s*)?(references|bibliography|works cited|literature cited|literatur|literaturverzeichnis"
    r"|références|referencias)\s*:?\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_THEBIB = re.compile(r"\\begin\{thebibliography\}(.*?)(?:\\end\{thebibliography\}|$)", re.DOTALL)
_BIBITEM = re.compile(r"\\bibitem(?:\[[^\]]*\])?\{[^}]*\}")
_NUMBERED = re.compile(r"^\s*(?:\[(\d{1,4})\]|(\d{1,4})\.)\s+", re.MULTILINE)
_ENDS = re.compile(r"^\s*(appendix|acknowledg(e)?ments?|supplementary)\b", re.IGNORECASE | re.MULTILINE)
MAX_ENTRIES = 2000
MAX_ENTRY_CHARS = 2000


def reference_section(text: str) -> str | None:
    bib = _THEBIB.search(text)
    if bib:
        return bib.group(1)
    headings = list(_HEADING.finditer(text))
    if not headings:
        return None
    section = text[headings[-1].end() :]  # the last such heading: a "References" in the body is usually earlier
    end = _ENDS.search(section)
    return section[: end.start()] if end else section


def split_entries(section: str) -> list[str]:
    if "\\bibitem" in section:
        parts = _BIBITEM.split(section)[1:]
    elif len(_NUMBERED.findall(section)) >= 2:
        parts = _NUMBERED.split(section)
        # split() interleaves the captured numbers: keep the texts after each marker
        parts = [p for i, p in enumerate(parts) if i % 3 == 0][1:]
    else:
        parts = re.split(r"\n\s*\n", section)
    entries = [" ".join(p.split())[:MAX_ENTRY_CHARS] for p in parts]
    return [e for e in entries if len(e) >= 10][:MAX_ENTRIES]


def reference_entries(text: str) -> list[str]:
    section = reference_section(text)
    return split_entries(section) if section else []
