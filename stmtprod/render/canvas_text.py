"""Literal text on a layout's page, placed in millimetres from the top-left: what every painter shares.

Low-level canvas calls only (no markup parser): untrusted text is written as literal text, exactly as
ReportLab's `drawString` writes it. Statement and card-carrier painters inherit this, so a line of
text is fitted, positioned and coloured the same way on both.

Speed: a statement page is about 80 short strings, and ReportLab's generic `drawString` path (a text
object per string, a width computed even for left-aligned text, a Python loop per character to
assign subset codes) was most of the render step's time. `TextWriter` writes the very same content
stream operators, byte for byte, through a faster path: the per-document character-to-subset-code
assignments that ReportLab's `TTFont.splitString` makes are mirrored in a `str.translate` table, so a
string whose characters have all been seen in the document is encoded in C; a string with a new
character goes through `splitString` itself, so codes are assigned in exactly ReportLab's order.
Repeated strings (labels, fixed layout text, common dates and amounts) are cached fully formatted.
"""
from __future__ import annotations

import math
import re
import weakref
from itertools import groupby, islice

from reportlab.lib.rl_accel import escapePDF, fp_str
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas

from stmtprod.barcode import symbol
from stmtprod.layout import Layout
from stmtprod.render import fonts as font_registry
from stmtprod.render import fitting
from stmtprod.render.fitting import MIN_FONT

GREY = (0.45, 0.45, 0.45)
# Entries in each cache of formatted text; a full cache is emptied and refills with what still repeats
# (labels, fixed layout text): memory stays bounded however large a print file. Sized so that a
# 1,000-piece batch (about 14 new strings a sheet, mostly amounts) seldom fills it: at 4,096 a quarter
# of the strings formatted were ones emptied out earlier in the same batch (amounts and labels
# recur), now 4%, for about 13 MiB more at a worker's peak.
_CACHE_LIMIT = 32768
# Fittings a painter remembers across print files (`LayoutPainter._fits`): a worker keeps a painter per
# layout for its whole life, so this bounds seven of them; what repeats (labels, dates, common amounts)
# is back soon after a full memo is emptied.
_FITS_LIMIT = 4096
_SAME_BYTES = re.compile(rb"(.)\1*", re.DOTALL)  # a run of one byte value


class _Codes(dict):
    """Code point -> its one-character subset code (`chr(n)`, n = subset * 256 + byte) in one document.

    A code point not assigned yet maps to None, so `str.translate` drops it and the shorter result
    says "take ReportLab's own path for this string"."""

    def __missing__(self, key):
        return None


_SIZES: dict[tuple[float, float], str] = {}


def _font_size(size: float, leading: float) -> str:
    """`size Tf leading TL`, as `setFont` then a text object's `TL` write them; formatted once."""
    key = (size, leading)
    text = _SIZES.get(key)
    if text is None:
        if len(_SIZES) >= _CACHE_LIMIT:
            _SIZES.clear()
        text = _SIZES[key] = f"{fp_str(size)} Tf {fp_str(leading)} TL"
    return text


def subset_runs(coded: str) -> list[tuple[int, bytes]]:
    """(subset, bytes) runs of a string of subset codes (`chr(subset * 256 + byte)`), in order."""
    try:
        pairs = coded.encode("utf-16-be")  # two bytes a code: its subset, then its byte in that subset
    except UnicodeEncodeError:  # a code among the surrogates (subsets 216 to 223)
        return [(subset, bytes(ord(ch) & 0xFF for ch in run))
                for subset, run in groupby(coded, key=lambda ch: ord(ch) >> 8)]
    subsets, codes = pairs[0::2], pairs[1::2]
    return [(subsets[m.start()], codes[m.start():m.end()]) for m in _SAME_BYTES.finditer(subsets)]


class _Formatter:
    """Formats a string's text-object body from its (font resource name, bytes) chunks, remembered."""

    __slots__ = ("formatted",)

    def named_chunks(self, text: str) -> list[tuple[str, float, bytes]]:
        """(font resource name, size factor, bytes) runs of the string, in order."""
        raise NotImplementedError

    def format(self, text: str, size: float, leading: float) -> str:
        """The text object's body after its `Tm`, as `PDFTextObject.textLine` then `getCode` write it."""
        key = (text, size)
        body = self.formatted.get(key)
        if body is None:
            body = self._body(text, size, leading)
            if len(self.formatted) >= _CACHE_LIMIT:
                self.formatted.clear()
            self.formatted[key] = body
        return body

    def _body(self, text: str, size: float, leading: float) -> str:
        parts, current = [], None
        for name, scale, chunk in self.named_chunks(text):
            if name != current:
                parts.append(f"{name} {_font_size(size * scale, leading)}")
                current = name
            parts.append(f"({escapePDF(chunk)}) Tj")
        return " ".join(parts) + " T* ET"


class _FaceWriter(_Formatter):
    """One TrueType face in one document: ReportLab's subset state mirrored, and formatted strings."""

    __slots__ = ("codes", "doc", "font", "names", "state", "synced")

    def __init__(self, font, doc):
        self.font, self.doc = font, doc
        self.font.splitString("", doc)  # creates ReportLab's per-document state if needed
        self.state = font.state[doc]
        self.codes = _Codes()
        self.synced = 0
        self.names: dict[int, str] = {}
        self.formatted: dict[tuple[str, float], str] = {}
        self._sync()

    def _sync(self) -> None:
        assignments = self.state.assignments
        if len(assignments) != self.synced:
            codes = self.codes
            for code, n in islice(assignments.items(), self.synced, None):  # only ever appended to
                codes[code] = chr(n)
            if 32 in assignments:
                codes[0xA0] = chr(assignments[32])  # ReportLab prints a no-break space as a space
            self.synced = len(assignments)

    def chunks(self, text: str) -> list[tuple[int, bytes]]:
        """What `TTFont.splitString(text, doc)` returns: (subset, bytes) runs."""
        coded = text.translate(self.codes)
        if len(coded) != len(text):
            chunks = self.font.splitString(text, self.doc)
            self._sync()
            return chunks
        if not coded:
            return []
        if max(coded) < "\u0100":
            return [(0, coded.encode("latin-1"))]
        return subset_runs(coded)

    def name(self, subset: int) -> str:
        try:
            return self.names[subset]
        except KeyError:
            name = self.names[subset] = self.font.getSubsetInternalName(subset, self.doc)
            return name

    def named_chunks(self, text: str):
        return [(self.name(subset), 1, chunk) for subset, chunk in self.chunks(text)]

    def _body(self, text: str, size: float, leading: float) -> str:
        """The common string (characters seen before, all in the first subset: amounts, most Latin
        text) written at once, as its one (name, bytes) chunk would be; any other through its chunks."""
        coded = text.translate(self.codes)
        if not coded or len(coded) != len(text) or max(coded) >= "\u0100":
            return super()._body(text, size, leading)
        return f"{self.name(0)} {_font_size(size, leading)} ({escapePDF(coded.encode('latin-1'))}) Tj T* ET"


class _StackWriter(_Formatter):
    """A face stack (`fonts.FaceStack`) in one document: a string is written as runs of one face each,
    switching fonts inside one text object as ReportLab does between a face's subsets, so text
    extraction reads the string back in order and without added spaces. It reaches its document's
    writer through a weak reference: the writer holds it, and a reference cycle there kept each print
    file's whole object graph (about 60 objects a sheet) for the cyclic collector to find and free."""

    __slots__ = ("font", "writer")

    def __init__(self, stack, writer: TextWriter):
        self.font, self.writer = stack, weakref.proxy(writer)
        self.formatted: dict[tuple[str, float], str] = {}

    def format(self, text: str, size: float, leading: float) -> str:
        """A string in one face at its own size is that face's text (and its cache's)."""
        runs = self.font.runs(text)
        if len(runs) == 1 and runs[0][0] not in self.font.scales:
            return self.writer.face(runs[0][0]).format(text, size, leading)
        return super().format(text, size, leading)

    def named_chunks(self, text: str):
        runs, scales = self.font.runs(text), self.font.scales  # several runs, or one scaled (`format`)
        return [(name, scales.get(face, 1), chunk) for face, run in runs
                for name, _one, chunk in self.writer.face(face).named_chunks(run)]


class TextWriter:
    """Literal one-line strings on one canvas, written as `Canvas.drawString` / `drawRightString` would."""

    def __init__(self, doc):
        self.doc = doc  # not the canvas: the canvas holds its writer, and no cycle keeps a document alive
        self.faces: dict[str, _FaceWriter | _StackWriter] = {}
        # A string in its box at its x, whatever its height -> (`BT 1 0 0 1 x`, text object body, face, size).
        self.fitted: dict[tuple, tuple[str, str, str, float]] = {}
        # A run of strings that is the same on every sheet of its kind (`LayoutPainter._fixed_texts`) ->
        # its operators and the font state they leave.
        self.fixed: dict[tuple, tuple[list[str], tuple | None]] = {}

    @classmethod
    def of(cls, canvas: Canvas) -> TextWriter:
        writer = canvas.__dict__.get("_stmtprod_text")
        if writer is None or writer.doc is not canvas._doc:
            writer = canvas._stmtprod_text = cls(canvas._doc)
        return writer

    def face(self, name: str) -> _FaceWriter | _StackWriter:
        """The writer of a face, or of a face stack of several faces (`fonts.register`)."""
        try:
            return self.faces[name]
        except KeyError:
            stack = font_registry.stack(name)
            if stack is not None and not stack.single:
                writer = self.faces[name] = _StackWriter(stack, self)
            else:
                writer = self.faces[name] = _FaceWriter(pdfmetrics.getFont(name), self.doc)
            return writer

    def code(self, face: str, size: float, x: float, y: float, text: str, width: float | None = None,
             right: bool = False) -> str:
        """The operators `drawString(x, y, text)` (or `drawRightString` when `right`) writes in `face` at
        `size`; `width`, when given, must be the string's width at `size`."""
        fw = self.face(face)
        if right:
            if width is None:
                width = fw.font.stringWidth(text, size)
            x = x - width
        return self.place(x, y) + fw.format(text, size, size * 1.2)

    @staticmethod
    def place(x: float, y: float) -> str:
        """A text object's start at (x, y) points, as `drawString` writes it: `BT 1 0 0 1 x y Tm `."""
        return f"BT 1 0 0 1 {fp_str(x, y)} Tm "

    def draw(self, c: Canvas, face: str, size: float, x: float, y: float, text: str, width: float | None = None,
             right: bool = False) -> None:
        """`c.setFont(face, size)` then `c.drawString(x, y, text)`, or `c.drawRightString` when `right`."""
        c._fontname, c._fontsize, c._leading = face, size, size * 1.2
        c._code.append(self.code(face, size, x, y, text, width, right))


def enclosure_names(titles: dict[str, dict[str, str]], codes, language: str) -> list[str]:
    """`CODE title` of each insert, the title in the record's language when the catalog has it."""
    names = []
    for code in codes:
        title = titles.get(code, {})
        names.append(f"{code} {title.get(language) or title.get('en', '')}".strip())
    return names


class LayoutPainter:
    """Base of the painters: page geometry, fonts (registered once per process) and the text helpers."""

    layout: Layout

    def __post_init__(self) -> None:
        self.regular, self.bold = font_registry.register(self.layout.fonts)
        # Widths from the face itself when a style has one face (ReportLab's C-accelerated method).
        self._fonts = {bold: stack if not stack.single else pdfmetrics.getFont(stack.primary)
                       for bold, stack in ((False, font_registry.stack(self.regular)),
                                           (True, font_registry.stack(self.bold)))}
        self._primary = {False: font_registry.stack(self.regular).primary, True: font_registry.stack(self.bold).primary}
        self._fits: dict[tuple, tuple[str, float, str]] = {}  # `_fitted`: the same in every document
        self.initial_font = self._primary[False]  # a canvas's initial font is one face
        self.width_mm, self.height_mm = self.layout.page.size_mm
        self._heights: dict[float, str] = {}  # top in mm -> ` y Tm ` (`_texts`)
        self.left = self.layout.page.margin_mm
        self.right = self.width_mm - self.layout.page.margin_mm
        bc = self.layout.barcode
        self.spec = symbol.SymbolSpec(bc.narrow_bar_mm, bc.height_mm, bc.quiet_zone_modules)

    def _y(self, top_mm: float) -> float:
        return (self.height_mm - top_mm) * mm

    def _text(self, c: Canvas, x_mm: float, top_mm: float, text: str, size: float = 8.5, bold: bool = False,
              align: str = "left", max_mm: float | None = None, grey: bool = False,
              min_size: float = MIN_FONT) -> None:
        """One line of literal text; shrunk (never below `min_size`) to fit `max_mm` when given. Text
        from a record always fits by then (`stmtprod.render.fitting`, checked at ingest); only
        configuration text could still be too long, and is cut with an ellipsis.

        Written as `setFont` then `drawString` / `drawRightString` would write it (see `TextWriter`):
        the string is fitted once per document at its x, whatever its height (`TextWriter.fitted`: table
        rows repeat dates, amounts and labels at other heights)."""
        if grey:
            c.setFillColorRGB(*GREY)
        self._texts(c, ((x_mm, top_mm, text, size, bold, align == "right", max_mm),), min_size)
        if grey:
            c.setFillColorRGB(0, 0, 0)

    def _texts(self, c: Canvas, items, min_size: float = MIN_FONT) -> None:
        """`_text` of each (x_mm, top_mm, text, size, bold, right, max_mm) in turn, in black: the same
        operators, with the canvas's writer and caches looked up once for all of them (a table's rows,
        a page's header: most of a sheet's strings).

        A string fitted in its box at its x is remembered with the start of its `Tm` (`TextWriter.fitted`);
        the height's number is formatted once per height (`LayoutPainter._heights`): `fp_str(x, y)` is
        `fp_str(x)`, a space and `fp_str(y)`."""
        writer = TextWriter.of(c)
        fitted, heights, append = writer.fitted, self._heights, c._code.append
        primary = None
        for x_mm, top_mm, text, size, bold, right, max_mm in items:
            key = (self.bold if bold else self.regular, text, size, right, max_mm, min_size, x_mm)
            found = fitted.get(key)
            if found is None:
                found = self._fitted(writer, key, x_mm, text, size, bold, right, max_mm, min_size)
                if len(fitted) >= _CACHE_LIMIT:
                    fitted.clear()
                fitted[key] = found
            start, body, primary, size = found
            at = heights.get(top_mm)
            if at is None:
                if len(heights) >= _CACHE_LIMIT:
                    heights.clear()
                at = heights[top_mm] = f" {fp_str((self.height_mm - top_mm) * mm)} Tm "
            append(start + at + body)
        if primary is not None:  # what setFont(face, size) records (for a stack of several faces: its
            # first face, the one a later setFont-less call would use)
            c._fontname, c._fontsize, c._leading = primary, size, size * 1.2

    def _fixed_texts(self, c: Canvas, key: tuple, items) -> None:
        """`_texts(c, items())` for strings that are the same, in the same places, on every sheet of a
        kind (a header's issuer and title, a footer, a table's column heads): written in full the first
        time in a document, which assigns their characters' subset codes in the same order, and then
        repeated from what that wrote. `key` names the kind (with the language, where labels are in it)."""
        writer = TextWriter.of(c)
        found = writer.fixed.get(key)
        if found is None:
            start = len(c._code)
            self._texts(c, items())
            state = (c._fontname, c._fontsize, c._leading) if len(c._code) > start else None
            writer.fixed[key] = found = (c._code[start:], state)
        else:
            c._code.extend(found[0])
        if found[1] is not None:
            c._fontname, c._fontsize, c._leading = found[1]

    def _enclosures(self, c: Canvas, x_mm: float, top_mm: float, head: str, items: list[str], width_mm: float,
                    max_lines: int, size: float = 7) -> None:
        """`head: a, b, c` broken between items into at most `max_lines` lines of the width, the size
        lowered (not below MIN_FONT) until they fit: no insert's title is cut."""
        font, limit = self._fonts[False], width_mm * mm
        while True:
            lines = [f"{head}:"]
            for i, item in enumerate(items):
                piece = item + ("," if i < len(items) - 1 else "")
                joined = f"{lines[-1]} {piece}"
                if font.stringWidth(joined, size) <= limit or lines[-1] == f"{head}:":
                    lines[-1] = joined
                else:
                    lines.append(piece)
            if len(lines) <= max_lines or size <= MIN_FONT:
                break
            size = max(MIN_FONT, size - 0.25)
        for i, line in enumerate(lines):
            self._text(c, x_mm, top_mm + i * size * 1.25 / mm, line, size, max_mm=width_mm)

    def _window(self, c: Canvas, lines: list[str], height_mm: float | None = None) -> None:
        """The address block in the envelope window (its top `height_mm` when a postal barcode takes the
        rest), each line fitted by the window policy."""
        win, fit = self.layout.window, fitting.window(self.layout)
        leading = min(4.4, ((win.height_mm if height_mm is None else height_mm) - 4) / len(lines))
        self._texts(c, [(win.x_mm + fitting.WINDOW_PADDING_MM, win.y_mm + 5 + i * leading, line, fit.size, False,
                         False, fit.width_mm) for i, line in enumerate(lines)], fit.min_size)

    def _fitted(self, writer: TextWriter, key: tuple, x_mm: float, text: str, size: float, bold: bool, right: bool,
                max_mm: float | None, min_size: float) -> tuple[str, str, str, float]:
        """(`BT 1 0 0 1 x`, text object body, face, size) of a string in its box at `x_mm`, as
        `TextWriter.code` writes it. Its fitting is the same in every document (`_fits`, by the same
        key); only its body depends on the document's subset codes."""
        fit = self._fits.get(key)
        if fit is None:
            fit = self._fit(x_mm, text, size, bold, right, max_mm, min_size)
            if len(self._fits) >= _FITS_LIMIT:
                self._fits.clear()
            self._fits[key] = fit
        text, size, start = fit
        return start, writer.face(self.bold if bold else self.regular).format(text, size, size * 1.2), \
            self._primary[bold], size

    def _fit(self, x_mm: float, text: str, size: float, bold: bool, right: bool, max_mm: float | None,
             min_size: float) -> tuple[str, float, str]:
        """(text as printed, size, `BT 1 0 0 1 x`) of a string in its box at `x_mm`: shrunk, or cut with
        an ellipsis, when it does not fit."""
        font = self._fonts[bold]
        width = None
        if max_mm is not None:
            width = font.stringWidth(text, size)
            if width > max_mm * mm:
                # Rounded down to 1/100 pt: the exact ratio can overshoot by a rounding error, which
                # would cut the last character of a string that fits.
                size = max(min_size, math.floor(size * max_mm * mm / width * 100) / 100)
                while font.stringWidth(text, size) > max_mm * mm and len(text) > 1:
                    text = text[:-2] + "…"
                width = None
        x = x_mm * mm
        if right:
            x -= font.stringWidth(text, size) if width is None else width
        return text, size, f"BT 1 0 0 1 {fp_str(x)}"
