"""Text a person types into a command (an inspector's name, a reason, a note, an operator): one line of
printable characters. It is printed back in `qa status`, `stmtprod show`, the run report and halt
messages, where a line break, a terminal control or a bidirectional override would let it pass for a
line of its own (a forged history line) or hide what it says.
"""
from __future__ import annotations

import unicodedata

from stmtprod.errors import UsageError

_OVERRIDES = frozenset(map(chr, (*range(0x202A, 0x202F), *range(0x2066, 0x206A))))  # bidirectional controls


def unprintable(text: str) -> str | None:
    """The first control character, line or paragraph separator (U+2028, U+2029) or bidirectional
    control in `text`, as U+XXXX with its position; None when there is none."""
    for index, c in enumerate(text):
        if unicodedata.category(c) in ("Cc", "Zl", "Zp") or c in _OVERRIDES:
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
        raise UsageError(f"{what} must be one line of printable text: it holds {found} (a control character, "
                         "line break or direction override); type it again without")
    return value.strip()
