"""Code 128 drawn as vector bars on a ReportLab canvas.

python-barcode does the symbology (character sets, check symbol, stop pattern);
this module only turns its module string into filled rectangles, so the bars
stay crisp at any printer resolution and cost one PDF path per sheet.
No human-readable text is drawn here; the layout draws that.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from barcode.codex import Code128
from reportlab.lib.rl_accel import fp_str
from reportlab.lib.units import mm

_BAR = re.compile("1+")


@lru_cache(maxsize=256)  # small: payloads are nearly all unique, this only helps repeat draws
def modules(payload: str) -> str:
    """Module string ('1' bar, '0' space) of the Code 128 symbol, quiet zones excluded."""
    return Code128(payload).build()[0]


def runs(modules: str) -> list[tuple[int, int]]:
    """(start module, width in modules) of each bar, i.e. each run of consecutive '1's."""
    return [(m.start(), m.end() - m.start()) for m in _BAR.finditer(modules)]


@dataclass(frozen=True)
class SymbolSpec:
    """Print geometry. 0.33 mm X-dimension and a 10X quiet zone meet ISO/IEC 15417 minimums."""

    narrow_bar_mm: float = 0.33
    height_mm: float = 8.0
    quiet_zone_modules: int = 10

    def width_mm(self, payload: str) -> float:
        """Total symbol width including both quiet zones."""
        return (len(modules(payload)) + 2 * self.quiet_zone_modules) * self.narrow_bar_mm


# Bars, as path operators, of one slice of a module string at one offset, for one geometry.
_SLICE = 11  # a Code 128 symbol character's width in modules: a bar never crosses its boundary
_SLICES: dict[tuple[float, float, float, float], dict[tuple[int, str], str]] = {}
_SLICES_LIMIT = 4096


def _rects(modules: str, x0: float, x: float, y: float, h: float, offset: int = 0) -> str:
    """`re` operators of each bar (run of '1's), as `PDFPathObject.rect` writes them; `modules` starts
    at module `offset` of the symbol."""
    return " ".join(f"{fp_str((x0 + (offset + start) * x, y, width * x, h))} re" for start, width in runs(modules))


def path_code(modules: str, x0: float, x: float, y: float, h: float) -> str:
    """The path operators of the bars of `modules` with module 0 at x0: one rectangle per bar.

    Same text as adding `path.rect(x0 + start * x, y, width * x, h)` per run, but built from cached
    slices of `_SLICE` modules, which is exact whenever no bar runs across a slice boundary (always
    for Code 128, whose characters start with a bar and end with a space); otherwise bar by bar."""
    n = len(modules)
    if any(modules[i - 1] == "1" == modules[i] for i in range(_SLICE, n, _SLICE)):
        return _rects(modules, x0, x, y, h)
    cache = _SLICES.setdefault((x0, x, y, h), {})
    parts = []
    for i in range(0, n, _SLICE):
        key = (i, modules[i:i + _SLICE])
        code = cache.get(key)
        if code is None:
            code = _rects(key[1], x0, x, y, h, offset=i)
            if len(cache) < _SLICES_LIMIT:
                cache[key] = code
        if code:
            parts.append(code)
    return " ".join(parts)


def draw(canvas, payload: str, x_mm: float, y_mm: float, spec: SymbolSpec = SymbolSpec()) -> None:
    """Draw the bars as one filled path in 100% K.

    (x_mm, y_mm) is the bottom-left corner of the symbol *including* its left
    quiet zone, in mm from the page's bottom-left (default canvas coordinates).
    Nothing is painted in the quiet zones; the caller keeps them clear.
    """
    x = spec.narrow_bar_mm * mm
    x0 = x_mm * mm + spec.quiet_zone_modules * x
    y, h = y_mm * mm, spec.height_mm * mm
    path = canvas.beginPath()
    bars = path_code(modules(payload), x0, x, y, h)
    if bars:
        path._code_append(bars)  # what the first `path.rect` does: a new path ("n"), then the rectangles
    canvas.saveState()
    canvas.setFillColorCMYK(0, 0, 0, 1)
    canvas.drawPath(path, fill=1, stroke=0)
    canvas.restoreState()
