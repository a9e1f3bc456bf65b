"""Postal barcodes drawn as vector bars: one path of rectangles filled in DeviceGray black (`0 g`).

DeviceGray black prints with black ink alone, as postal readers want, and stays apart from the pure
CMYK black (`0 0 0 1 k`) that the print contract keeps for the Code 128 sheet barcode, so the
sheet barcode's content reader and the postal reader each find their own path.

Speed: a bar's rectangle depends only on its position and state, so each (position, state) is
formatted once per placement (a Japan Post symbol is 67 rectangles of four numbers each, and
formatting them was a tenth of a Japanese sheet's render time); the operators are the ones
`PDFPathObject.rect` writes.
"""
from __future__ import annotations

from reportlab.lib.rl_accel import fp_str
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from stmtprod.postal.geometry import BarGeometry, Placement

# (placement, geometry, page height) -> (bar position, state) -> the bar's `re` operator.
_RECTS: dict[tuple[Placement, BarGeometry, float], dict[tuple[int, str], str]] = {}
_RECTS_LIMIT = 64


def rect_code(placement: Placement, geo: BarGeometry, page_height_mm: float, i: int, state: str) -> str:
    """The `re` operator of bar `i` in `state`, as `path.rect` writes it."""
    base = page_height_mm - placement.top - geo.full  # the symbol's bottom edge, from the page's bottom
    bottom, top = geo.extent(state)
    return "%s re" % fp_str(((placement.x + i * geo.pitch) * mm, (base + bottom) * mm, geo.width * mm,
                             (top - bottom) * mm))


def path_code(bars: str, placement: Placement, geo: BarGeometry, page_height_mm: float) -> str:
    """The rectangles of the bars at `placement`, each as tall as its state, joined as a path's operators."""
    key = (placement, geo, page_height_mm)
    rects = _RECTS.get(key)
    if rects is None:
        if len(_RECTS) >= _RECTS_LIMIT:
            _RECTS.clear()
        rects = _RECTS[key] = {}
    codes = []
    for bar in enumerate(bars):
        code = rects.get(bar)
        if code is None:
            code = rects[bar] = rect_code(placement, geo, page_height_mm, *bar)
        codes.append(code)
    return " ".join(codes)


def draw(c: Canvas, bars: str, placement: Placement, geo: BarGeometry, page_height_mm: float) -> None:
    """The bars at `placement` (mm from the page's top-left), each as tall as its state."""
    path = c.beginPath()
    if bars:
        path._code_append(path_code(bars, placement, geo, page_height_mm))  # "n", then the rectangles
    c.setFillGray(0)
    c.drawPath(path, stroke=0, fill=1)
    c.setFillColorRGB(0, 0, 0)
