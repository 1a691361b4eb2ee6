"""Text from the server on the operator's terminal: always literal, with control characters made visible.

What the server answers can hold what any PDS wrote (an error message, a record's ``$type``). Printed as it is, an
``ESC`` sequence would retitle the window or clear the screen, and through rich's markup ``[link=…]`` would become
a link and ``[/]`` would crash the command. So server text becomes a :class:`rich.text.Text` (never markup), on a
console with markup, highlighting and emoji codes off, after :func:`visible` has escaped every character that moves
or hides things: C0 and C1 controls, DEL, line and paragraph separators, and the bidirectional overrides that can
make a line read other than it is.
"""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.text import Text

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_INVISIBLE = (
    *range(0x00, 0x20),  # C0 controls, ESC among them
    *range(0x7F, 0xA0),  # DEL and the C1 controls (0x9B is a one-byte CSI)
    *(0x061C, 0x200E, 0x200F, 0x2028, 0x2029),  # direction marks, line and paragraph separators
    *range(0x202A, 0x202F),  # bidirectional embeddings and overrides
    *range(0x2066, 0x206A),  # bidirectional isolates
)
_ESCAPES = {
    code: _NAMED.get(chr(code)) or (f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}") for code in _INVISIBLE
}


def visible(value: Any) -> str:
    """``value`` as one line of inert text: a string as it is, anything else as compact JSON; controls escaped."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text.translate(_ESCAPES)


def literal(value: Any, style: str = "") -> Text:
    """Server text for a rich renderable (a table cell, a line): never parsed as markup."""
    return Text(visible(value), style=style)


def console(*, stderr: bool = False) -> Console:
    """A console that prints what it is given and nothing more: no markup, no highlighting, no emoji codes."""
    return Console(stderr=stderr, markup=False, highlight=False, emoji=False)
