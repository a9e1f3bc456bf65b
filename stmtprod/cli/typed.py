"""Text a person types into a command (an inspector's name, a reason, a note, an operator): one line of
printable characters. It is printed back in `qa status`, `stmtprod show`, the run report and halt
messages, where a line break, a terminal control or a bidirectional override would let it pass for a
line of its own (a forged history line) or hide what it says.
"""
from __future__ import annotations

import unicodedata

from stmtprod.errors import UsageError

_HIDDEN = ("Cc", "Cf", "Zl", "Zp")  # controls; format characters (direction marks and overrides, zero-width
# characters, soft hyphen, BOM); line and paragraph separators
_DASH_LIKE = frozenset({"\u1680"})  # the Ogham space mark, a space that may show as a dash
MAX_TYPED = 500
"""Characters a typed value may hold: a name or a reason, not a document (it is printed back whole)."""


def unprintable(text: str) -> str | None:
    """The first control, format or separator character in `text` (what hides, reorders or breaks what
    it says), as U+XXXX with its position; None when there is none."""
    for index, c in enumerate(text):
        if unicodedata.category(c) in _HIDDEN or c in _DASH_LIKE:
            return f"U+{ord(c):04X} at character {index + 1}"
    return None


def typed(what: str, value: str | None, required: bool = True) -> str | None:
    """`value` stripped: refused (UsageError, exit 2) when it holds a character `unprintable` finds, or
    when it is empty and `required`. The value itself is not echoed: the character is named instead."""
    if value is None or not value.strip():
        if required:
            raise UsageError(f"{what} must not be empty")
        return None
    found = unprintable(value)
    if found:
        raise UsageError(f"{what} must be one line of printable text: it holds {found} (a control, format or "
                         "invisible character, line break or direction mark); type it again without")
    if len(value.strip()) > MAX_TYPED:
        raise UsageError(f"{what} is {len(value.strip()):,} characters long: at most {MAX_TYPED} are kept and shown")
    return value.strip()
