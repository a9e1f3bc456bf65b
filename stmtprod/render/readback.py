"""Which characters a layout's fonts print so that the PDF's text reads back as the same character.

A glyph in the font is not enough: ReportLab writes a 16-bit ToUnicode map, so characters above
U+FFFF (emoji, rare CJK ideographs) read back as something else; presentation forms and ligatures
(`ﬁ`, Arabic and Hebrew forms) read back as their decompositions; variation selectors and some
symbols read back as nothing or a space. The composition inspector compares the text read back from
the print file with the record, so such a character would halt the whole lot. Instead of a list
written by hand, every character a face covers is drawn once into a PDF, in this process, and read
back with pdfium, the inspector's own reader; the characters that come back unchanged are the
printable ones. About 0.3 s (DejaVu Sans) to 2 s (AR PL UMing) per face pair, once per process.
"""
from __future__ import annotations

import io
import unicodedata
from functools import lru_cache

import pypdfium2 as pdfium
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas

from stmtprod.layout import Fonts
from stmtprod.render import fonts as font_registry

_PER_PAGE = 60
_GUARD = "a"


def _candidates(face: str) -> list[int]:
    """Code points the face has a glyph for, except controls and whitespace (never in validated text
    except the plain space, which reads back as a word break)."""
    cmap = pdfmetrics.getFont(face).face.charToGlyph
    return sorted(cp for cp in cmap if cp > 0x20 and not unicodedata.category(chr(cp)).startswith(("C", "Z")))


def _reads_back(face: str, code_points: list[int]) -> set[int]:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, invariant=1)
    pages = [code_points[i:i + _PER_PAGE] for i in range(0, len(code_points), _PER_PAGE)]
    for page in pages:
        canvas.setFont(face, 9)
        for row, cp in enumerate(page):
            canvas.drawString(40, 800 - row * 13, _GUARD + chr(cp) + _GUARD)
        canvas.showPage()
    canvas.save()
    good: set[int] = set()
    pdf = pdfium.PdfDocument(buffer.getvalue())
    try:
        for index, page in enumerate(pages):
            textpage = pdf[index].get_textpage()
            lines = textpage.get_text_range().replace("\r\n", "\n").split("\n")
            textpage.close()
            if len(lines) == len(page):
                good.update(cp for cp, line in zip(page, lines) if line == _GUARD + chr(cp) + _GUARD)
            else:  # a character that broke the line structure: decide this page's characters one by one
                good.update(cp for cp in page if len(page) > 1 and _reads_back(face, [cp]))
    finally:
        pdf.close()
    return good


@lru_cache(maxsize=None)
def readable(fonts: Fonts) -> frozenset[int]:
    """Code points that both faces of `fonts` draw and that read back unchanged from the PDF text,
    plus the space."""
    regular, bold = font_registry.register(fonts)
    faces = [regular] if bold == regular else [regular, bold]
    result = None
    for face in faces:
        good = _reads_back(face, _candidates(face))
        result = good if result is None else result & good
    return frozenset(result | {0x20})
