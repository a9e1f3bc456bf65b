"""Postal barcodes drawn as vector bars: one path of rectangles filled in DeviceGray black (`0 g`).

DeviceGray black prints with black ink alone, as postal readers want, and stays apart from the pure
CMYK black (`0 0 0 1 k`) that the print contract keeps for the Code 128 sheet barcode, so the
sheet barcode's content reader and the postal reader each find their own path.
"""
from __future__ import annotations

from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from stmtprod.postal.geometry import BarGeometry, Placement


def draw(c: Canvas, bars: str, placement: Placement, geo: BarGeometry, page_height_mm: float) -> None:
    """The bars at `placement` (mm from the page's top-left), each as tall as its state."""
    base = page_height_mm - placement.top - geo.full  # the symbol's bottom edge, from the page's bottom
    path = c.beginPath()
    for i, state in enumerate(bars):
        bottom, top = geo.extent(state)
        path.rect((placement.x + i * geo.pitch) * mm, (base + bottom) * mm, geo.width * mm, (top - bottom) * mm)
    c.setFillGray(0)
    c.drawPath(path, stroke=0, fill=1)
    c.setFillColorRGB(0, 0, 0)
