"""Literal text on a layout's page, placed in millimetres from the top-left: what every painter shares.

Low-level canvas calls only (no markup parser): untrusted text goes to `drawString`, which writes
it as literal text. Statement and card-carrier painters inherit this, so a line of text is fitted,
positioned and coloured the same way on both.
"""
from __future__ import annotations

from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from stmtprod.barcode import symbol
from stmtprod.layout import Layout
from stmtprod.render import fonts as font_registry

MIN_FONT = 5.5
GREY = (0.45, 0.45, 0.45)


class LayoutPainter:
    """Base of the painters: page geometry, fonts (registered once per process) and the text helpers."""

    layout: Layout

    def __post_init__(self) -> None:
        self.regular, self.bold = font_registry.register(self.layout.fonts)
        self.width_mm, self.height_mm = self.layout.page.size_mm
        self.left = self.layout.page.margin_mm
        self.right = self.width_mm - self.layout.page.margin_mm
        bc = self.layout.barcode
        self.spec = symbol.SymbolSpec(bc.narrow_bar_mm, bc.height_mm, bc.quiet_zone_modules)

    def _y(self, top_mm: float) -> float:
        return (self.height_mm - top_mm) * mm

    def _text(self, c: Canvas, x_mm: float, top_mm: float, text: str, size: float = 8.5, bold: bool = False,
              align: str = "left", max_mm: float | None = None, grey: bool = False) -> None:
        """One line of literal text; shrunk (never below MIN_FONT) to fit `max_mm` when given."""
        face = self.bold if bold else self.regular
        if max_mm is not None:
            width = stringWidth(text, face, size)
            if width > max_mm * mm:
                size = max(MIN_FONT, size * max_mm * mm / width)
                while stringWidth(text, face, size) > max_mm * mm and len(text) > 1:
                    text = text[:-2] + "…"
        c.setFont(face, size)
        if grey:
            c.setFillColorRGB(*GREY)
        x, y = x_mm * mm, self._y(top_mm)
        if align == "right":
            c.drawRightString(x, y, text)
        else:
            c.drawString(x, y, text)
        if grey:
            c.setFillColorRGB(0, 0, 0)
