"""The fitting policy: how large each free-text field prints, how far it may shrink, and how wide it may be.

One policy for both lines, used by the painters (the size a field prints at) and by ingest (a record
whose field would not fit is quarantined there, naming the field, its width and the room it has):

| field | prints at | may shrink to | room | beyond it |
|---|---|---|---|---|
| name, each address line, the locality line (window) | 9.5 pt | 8 pt | window width - 8 mm | quarantined |
| transaction description | 8.5 pt | 5.5 pt | the description column | quarantined |
| "Account: ..." / "Reference: ..." (header, with the record's labels) | 8 pt | 5.5 pt | 80 mm | quarantined |
| embossed name (card carrier, beside the window) | 10 pt bold | 7 pt | page margin - column | quarantined |
| "Name on card: ..." under the attach area | 8 pt | 5.5 pt | attach area width | quarantined |

The address is never wrapped or cut: a postal address split or shortened by software may not be
delivered, and 8 pt is the smallest size the envelope window's readers are given. Nothing the record
supplies is ever cut with an ellipsis, so the composition inspector expects each field in full.
Widths are measured with the layout's own faces (ReportLab's metrics of the embedded TrueType faces,
run by run through the layout's face stack, as the painters draw them).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import lru_cache

from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics

from stmtprod.render import fonts as font_registry

MIN_FONT = 5.5
WINDOW_SIZE, WINDOW_MIN = 9.5, 8.0
WINDOW_PADDING_MM = 4.0      # each side of the window
DESCRIPTION_SIZE = 8.5
EMBOSSED_SIZE, EMBOSSED_MIN = 10.0, 7.0


@dataclass(frozen=True)
class Fit:
    """A field's box: nominal size, smallest size, width in millimetres, face."""

    size: float
    min_size: float
    width_mm: float
    bold: bool = False


@lru_cache(maxsize=None)
def _widest(name: str) -> float:
    """The widest advance of any character the style `name` draws (a face stack, its faces scaled as
    they print), in thousandths of an em: a bound that lets the common short string pass unmeasured."""
    stack = font_registry.stack(name)
    chars = stack.covers() if stack is not None else pdfmetrics.getFont(name).face.charWidths
    return max((font_registry.string_width(chr(cp), name, 1000) for cp in chars), default=1000)


def warm(name: str) -> None:
    """Work out the style's bound now (about 0.1 s for a stack of CJK faces), so that processes forked
    afterwards inherit it instead of each working it out."""
    _widest(name)


_SURE: dict[tuple[str, float, float], int] = {}


def sure_length(name: str, fit: Fit) -> int:
    """The most characters a text may have and still pass `fits`'s widest-glyph bound in style `name`
    (so it fits `fit` whatever its characters, unmeasured): a record's fields are compared by length."""
    key = (name, fit.min_size, fit.width_mm)
    known = _SURE.get(key)
    if known is None:
        known = _SURE[key] = _longest_bounded(_widest(name), fit.min_size, fit.width_mm * mm)
    return known


def _longest_bounded(widest: float, min_size: float, room: float) -> int:
    """The largest n with `n * widest * min_size / 1000 <= room`, evaluated as `fits` evaluates it: the
    product grows with n (each rounding is monotonic), so the lengths that pass are 0..n."""
    if widest * min_size <= 0:
        return sys.maxsize if room >= 0 else -1
    n = max(int(room * 1000 / (widest * min_size)), 0)
    while n >= 0 and not n * widest * min_size / 1000 <= room:
        n -= 1
    while (n + 1) * widest * min_size / 1000 <= room:
        n += 1
    return n


def width_mm(name: str, text: str, size: float) -> float:
    return font_registry.string_width(text, name, size) / mm


def fits(name: str, text: str, fit: Fit) -> bool:
    """Whether `text` fits its box at the field's smallest size, in the style `name` (a face stack)."""
    room = fit.width_mm * mm
    if len(text) * _widest(name) * fit.min_size / 1000 <= room:
        return True
    return font_registry.string_width(text, name, fit.min_size) <= room


def too_wide(face: str, text: str, fit: Fit, what: str) -> str | None:
    """None when the text fits; otherwise the quarantine reason (widths, never the text itself)."""
    if fits(face, text, fit):
        return None
    return (f"{what} is {width_mm(face, text, fit.min_size):.1f} mm wide at {fit.min_size:g} pt in the layout's "
            f"font; the room is {fit.width_mm:.1f} mm")


def window(layout) -> Fit:
    return Fit(WINDOW_SIZE, WINDOW_MIN, layout.window.width_mm - 2 * WINDOW_PADDING_MM)
