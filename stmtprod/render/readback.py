"""Which characters a layout's fonts print so that the PDF's text reads back as the same character.

A glyph in the font is not enough: ReportLab writes a 16-bit ToUnicode map, so characters above
U+FFFF (emoji, rare CJK ideographs) read back as something else; presentation forms and ligatures
(`ﬁ`, Arabic and Hebrew forms) read back as their decompositions; variation selectors and some
symbols read back as nothing or a space. The composition inspector compares the text read back from
the print file with the record, so such a character would halt the whole lot. Instead of a list
written by hand, every character a face covers is drawn once into a PDF, in this process, and read
back with pdfium, the inspector's own reader; the characters that come back unchanged are the
printable ones. About 0.3 s to 0.6 s per layout font on an idle machine, once per process.
"""
from __future__ import annotations

import io
import unicodedata
from functools import lru_cache

import pypdfium2 as pdfium
from reportlab.pdfgen.canvas import Canvas

from stmtprod.layout import Fonts
from stmtprod.render import fonts as font_registry

_PER_PAGE = 60
_GUARD = "a"
_SIZE, _ROW, _LEFT = 9, 13, 40  # points: each character in its own row of 13 pt


def _top(row: int) -> float:
    return 820 - row * _ROW


def _reads_back(face: str, code_points: list[int]) -> set[int]:
    """The code points whose row reads back as guard + character + guard: the page's text split into
    lines, or where a character upset the line structure, each row read from its own box."""
    if not code_points:
        return set()
    buffer = io.BytesIO()
    canvas = Canvas(buffer, invariant=1)
    pages = [code_points[i:i + _PER_PAGE] for i in range(0, len(code_points), _PER_PAGE)]
    for page in pages:
        canvas.setFont(face, _SIZE)
        for row, cp in enumerate(page):
            canvas.drawString(_LEFT, _top(row) - _SIZE, _GUARD + chr(cp) + _GUARD)
        canvas.showPage()
    canvas.save()
    good: set[int] = set()
    pdf = pdfium.PdfDocument(buffer.getvalue())
    try:
        for index, page in enumerate(pages):
            textpage = pdf[index].get_textpage()
            try:
                lines = textpage.get_text_range().replace("\r\n", "\n").split("\n")
                if len(lines) != len(page):  # a character upset the page's lines: read each row's box
                    lines = [textpage.get_text_bounded(left=0, bottom=_top(row) - _ROW + 1, right=300,
                                                       top=_top(row)).strip() for row in range(len(page))]
                good.update(cp for cp, line in zip(page, lines) if line == _GUARD + chr(cp) + _GUARD)
            finally:
                textpage.close()
    finally:
        pdf.close()
    return good


@lru_cache(maxsize=None)
def readable(fonts: Fonts) -> frozenset[int]:
    """Code points the layout's styles draw and that read back unchanged from the PDF text, plus the space.

    Each character is measured in the face the regular face stack draws it with: what reads back
    depends on the code point (ReportLab's 16-bit ToUnicode map, pdfium's handling of ligatures and
    marks) and the face's cmap, not on the weight. The unified ideographs and Hangul syllables
    (`ASSUMED`: plain BMP letters without decompositions, two thirds of a CJK font) are not drawn, nor
    is anything above U+FFFF (the ToUnicode map is 16-bit: none reads back), to keep this near a
    second; tests/test_records.py measures both and checks that the assumptions hold for every layout.
    """
    covered = font_registry.coverage(fonts)
    assumed = {cp for cp in covered if _assumed(cp)}
    candidates = [cp for cp in sorted(covered) if cp > 0x20 and cp <= BMP_LAST and cp not in assumed
                  and not unicodedata.category(chr(cp)).startswith(("C", "Z"))]
    return frozenset(measure(fonts, candidates) | assumed | {0x20})


BMP_LAST = 0xFFFF
ASSUMED = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xAC00, 0xD7A3))


def _assumed(cp: int) -> bool:
    return any(lo <= cp <= hi for lo, hi in ASSUMED)


def measure(fonts: Fonts, code_points: list[int]) -> set[int]:
    """Of `code_points`, those that read back, each drawn in the face the regular style uses for it."""
    regular, _bold = font_registry.register(fonts)
    stack = font_registry.stack(regular)
    by_face: dict[str, list[int]] = {}
    for cp in code_points:
        face = stack.runs(chr(cp))[0][0] if stack is not None else regular
        by_face.setdefault(face, []).append(cp)
    return set().union(*(_reads_back(face, cps) for face, cps in by_face.items()))
