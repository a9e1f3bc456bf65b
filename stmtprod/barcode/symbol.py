"""Code 128 drawn as vector bars on a ReportLab canvas.

python-barcode does the symbology (character sets, check symbol, stop pattern);
this module only turns its module string into filled rectangles, so the bars
stay crisp at any printer resolution and cost one PDF path per sheet.
No human-readable text is drawn here; the layout draws that.

Speed: every sheet's payload is new, and python-barcode's encoder (a method call and a look-ahead
per character) took about 20 us of it. A payload of digits and capital letters (every sheet
payload) is encoded by `_alnum_codes`, the same steps with python-barcode's own tables: charset C
for pairs of digits, B from the first letter on, back to C before more than three digits, a lone
digit in B at the end, the start code folded as python-barcode folds it; anything else goes to
python-barcode itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from barcode.charsets import code128
from barcode.codex import Code128
from reportlab.lib.rl_accel import fp_str
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import PATH_OPS

_BAR = re.compile("1+")


_ALNUM = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _alnum_codes(payload: str) -> list[int]:
    """What python-barcode's `Code128(payload)._build()` returns for a non-empty payload of digits and
    capital letters (every such character is in charsets A and B, so A is never chosen)."""
    charset_c, pending = True, ""  # python-barcode starts in C with an empty digit buffer
    encoded = [code128.START_CODES["C"]]
    for pos, char in enumerate(payload):
        if charset_c:
            if char.isdigit():
                if pending:
                    encoded.append(int(pending + char))
                    pending = ""
                else:
                    pending = char
                continue
            encoded.append(code128.C["TO_B"])
            charset_c = False
            if pending:
                encoded.append(code128.B[pending])
                pending = ""
            encoded.append(code128.B[char])
            continue
        digits = 0
        for ahead in payload[pos:pos + 10]:
            if not ahead.isdigit():
                break
            digits += 1
        if digits > 3:
            encoded.append(code128.B["TO_C"])
            charset_c, pending = True, char
        else:
            encoded.append(code128.B[char])
    if pending:
        encoded += [code128.C["TO_B"], code128.B[pending]]
    if encoded[1] in code128.TO:
        encoded[:2] = [code128.TO[encoded[1]]]
    return encoded


@lru_cache(maxsize=256)  # small: payloads are nearly all unique, this only helps repeat draws
def modules(payload: str) -> str:
    """Module string ('1' bar, '0' space) of the Code 128 symbol, quiet zones excluded: what
    `Code128(payload).build()[0]` gives."""
    if not payload or not _ALNUM.issuperset(payload):
        return Code128(payload).build()[0]
    encoded = _alnum_codes(payload)
    check = encoded[0]
    for i in range(1, len(encoded)):
        check += i * encoded[i]
    encoded.append(check % 103)
    return "".join([code128.CODES[c] for c in encoded]) + code128.STOP + "11"


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


_BLACK = f"{fp_str(0, 0, 0, 1)} k"  # what `setFillColorCMYK(0, 0, 0, 1)` writes


def draw(canvas, payload: str, x_mm: float, y_mm: float, spec: SymbolSpec = SymbolSpec()) -> None:
    """Draw the bars as one filled path in 100% K.

    (x_mm, y_mm) is the bottom-left corner of the symbol *including* its left
    quiet zone, in mm from the page's bottom-left (default canvas coordinates).
    Nothing is painted in the quiet zones; the caller keeps them clear.

    Written as `saveState`, `setFillColorCMYK(0, 0, 0, 1)`, `drawPath(path, fill=1, stroke=0)` and
    `restoreState` write it; with no colour-space rule on the canvas and bars to draw, their operators
    are appended at once (the state they change is restored by the same `Q`).
    """
    x = spec.narrow_bar_mm * mm
    x0 = x_mm * mm + spec.quiet_zone_modules * x
    y, h = y_mm * mm, spec.height_mm * mm
    bars = path_code(modules(payload), x0, x, y, h)
    if bars and canvas._enforceColorSpace is None:
        canvas._code.extend(("q", _BLACK, "n " + bars, PATH_OPS[0, 1, canvas._fillMode], "Q"))
        return
    path = canvas.beginPath()
    if bars:
        path._code_append(bars)  # what the first `path.rect` does: a new path ("n"), then the rectangles
    canvas.saveState()
    canvas.setFillColorCMYK(0, 0, 0, 1)
    canvas.drawPath(path, fill=1, stroke=0)
    canvas.restoreState()
