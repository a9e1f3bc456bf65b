"""Reading a 4-state barcode back: from the bars a page's content states, or from a raster.

No common reader decodes 4-state codes (zxing-cpp has no postal formats), so this one is small and
shares nothing with the drawing code: it takes bars as rectangles, finds the tracker band (the part
every bar covers), calls a bar that reaches above it an ascender and one that reaches below it a
descender, and gives the letters F A D T; the symbology's decoder (auspost.decode,
japanpost.decode) then checks start, stop, parity or check character and gives the fields.
"""
from __future__ import annotations

from operator import add
from typing import NamedTuple

import numpy as np
import pikepdf

from stmtprod.barcode._scan import floats, postal_letters
from stmtprod.barcode.content import page_streams

POSTAL_FILL = b"0 g"  # DeviceGray black: the postal bars' own fill (stmtprod.postal.draw)
_MARK = b"\n" + POSTAL_FILL + b"\n"  # where the postal path starts in a page's content
DARK = 128
_POSITIVE = (0.0).__lt__


class PostalReadError(ValueError):
    """The bars do not make a 4-state symbol."""


class Bar(NamedTuple):
    """One bar; any unit, y growing upwards (a named tuple: a first sheet's 67 bars are made in bulk)."""

    left: float
    bottom: float
    right: float
    top: float


def letters(bars: list[Bar]) -> str:
    """F A D T for bars in any order (sorted left to right here)."""
    return _letters([b.left for b in bars], [b.bottom for b in bars], [b.top for b in bars])


def _letters(lefts: list[float], bottoms: list[float], tops: list[float]) -> str:
    """`letters` of the bars given by their left edges, bottoms and tops (in any order, one list each)."""
    if not lefts:
        raise PostalReadError("no bars")
    order = sorted(range(len(lefts)), key=lefts.__getitem__)  # stable, as sorting the bars by their left
    bottoms, tops = [bottoms[i] for i in order], [tops[i] for i in order]
    band_bottom, band_top = max(bottoms), min(tops)
    if band_top <= band_bottom:
        raise PostalReadError("the bars share no tracker band")
    full_bottom, full_top = min(bottoms), max(tops)
    reach = min(band_bottom - full_bottom, full_top - band_top)
    if reach <= (band_top - band_bottom) * 0.2:
        raise PostalReadError("no ascenders or descenders: not a 4-state symbol")
    eps = reach / 2
    above, below = band_top + eps, band_bottom - eps
    return "".join(["TDAF"[(top > above) * 2 + (bottom < below)] for bottom, top in zip(bottoms, tops)])


def bars_in_content(data: bytes) -> list[Bar] | None:
    """The postal bars a page's content states (points), None when it holds none.

    PostalReadError when there are two postal paths, or the path is not plain filled rectangles."""
    found = _rectangles(data)
    return None if found is None else [Bar(*bar) for bar in zip(*_edges(*found))]


def content_letters(data: bytes) -> str | None:
    """`letters(bars_in_content(data))`, or None when the page holds no postal bars; the same
    PostalReadError when either raises one. Every first sheet is read, so no Bar is made here, and
    the plain case (one path of rectangles of finite positive size drawn left to right, then filled,
    with a tracker band and ascenders or descenders: every path the renderer draws) is read in C
    (`_scan.postal_letters`, 3-5 us against 30-45); anything else is read here."""
    found = postal_letters(data, _MARK)
    if found is not False:
        return found
    found = _rectangles(data)
    if found is None:
        return None
    lefts, bottoms, _rights, tops = _edges(*found)
    return _letters(lefts, bottoms, tops)


def _edges(xs: list[float], ys: list[float], ws: list[float], hs: list[float]) -> tuple[list[float], ...]:
    """The left, bottom, right and top of each rectangle (x, y, width, height), one list each."""
    if all(map(_POSITIVE, ws)) and all(map(_POSITIVE, hs)):  # as drawn: each bar from its bottom-left corner
        return xs, ys, list(map(add, xs, ws)), list(map(add, ys, hs))
    lefts, bottoms, rights, tops = [], [], [], []
    for x, y, w, h in zip(xs, ys, ws, hs):
        if w > 0 and h > 0:
            left, bottom, right, top = x, y, x + w, y + h
        else:
            left, bottom, right, top = min(x, x + w), min(y, y + h), max(x, x + w), max(y, y + h)
        lefts.append(left), bottoms.append(bottom), rights.append(right), tops.append(top)
    return lefts, bottoms, rights, tops


def _rectangles(data: bytes) -> tuple[list[float], list[float], list[float], list[float]] | None:
    """The x, y, width and height of each postal bar's rectangle as the content states them (at least
    one), None when the page holds no postal path; PostalReadError as `bars_in_content` says."""
    start = data.find(b"\n" + POSTAL_FILL + b"\n")
    if start < 0:
        return None
    if data.find(b"\n" + POSTAL_FILL + b"\n", start + 1) >= 0:
        raise PostalReadError("more than one postal barcode path on the page")
    end = data.find(b"f", start + len(POSTAL_FILL) + 2)  # the first "f" is the fill ("re" holds none)
    tokens = data[start + len(POSTAL_FILL) + 2:end + 2 if end >= 0 else len(data)].split()
    first = 0
    while first < len(tokens) and tokens[first] == b"n":
        first += 1
    operators = tokens[first + 4::5]  # where each rectangle's "re" stands
    rectangles = len(operators)
    if operators.count(b"re") != rectangles:
        rectangles = next(k for k, token in enumerate(operators) if token != b"re")
    i = first + 5 * rectangles
    try:  # the rectangles' numbers converted in bulk
        xs, ys, ws, hs = (floats(tokens[first + k:i:5]) for k in range(4))
    except ValueError:
        raise PostalReadError("a postal bar's rectangle is not numbers") from None
    if not xs or i >= len(tokens) or tokens[i] not in (b"f", b"f*"):
        raise PostalReadError("the postal path is not rectangles filled")
    return xs, ys, ws, hs


class PageLetters:
    """`read_pages` done alongside another reader of the file's content (`content.read_file`'s
    `visit`), so the file is not opened and inflated a second time: call it with each page's index
    and content in turn, then `result()` gives what `read_pages` would, or raises what it would."""

    def __init__(self, page_indexes: list[int]):
        self.order, self.wanted = list(page_indexes), set(page_indexes)
        self.found: dict[int, str | None | PostalReadError] = {}
        self.pages = 0

    def __call__(self, index: int, data: bytes) -> None:
        self.pages = max(self.pages, index + 1)
        if index in self.wanted:
            try:
                self.found[index] = content_letters(data)
            except PostalReadError as exc:
                self.found[index] = exc

    def result(self) -> dict[int, str | None]:
        out: dict[int, str | None] = {}
        for index in self.order:  # in the order asked, as `read_pages` reads them
            if index >= self.pages:
                raise PostalReadError(f"page {index + 1} is not in the file ({self.pages} pages)")
            value = self.found[index]
            if isinstance(value, PostalReadError):
                raise value
            out[index] = value
        return out


def read_pages(pdf_path, page_indexes: list[int]) -> dict[int, str | None]:
    """page index (0-based) -> the postal bars' letters on that page from its content, or None."""
    out: dict[int, str | None] = {}
    with pikepdf.open(pdf_path) as pdf:
        for index in page_indexes:
            if index >= len(pdf.pages):
                raise PostalReadError(f"page {index + 1} is not in the file ({len(pdf.pages)} pages)")
            bars = bars_in_content(page_streams(pdf.pages[index].obj))
            out[index] = None if bars is None else letters(bars)
    return out


def bars_in_image(image: np.ndarray, mm_per_px: float) -> list[Bar]:
    """Bars in a grayscale raster (row 0 at the top), in mm from the raster's bottom-left: each run of
    columns holding ink is a bar, from its highest to its lowest ink.

    Which rows hold ink is found for all bars in one pass over the rows that hold any: each bar's
    columns, up to the next bar's, ORed row by row (the columns between two bars hold no ink, so
    they add none)."""
    dark = image < DARK
    columns = np.concatenate(([0], dark.any(axis=0).astype(np.int8), [0]))
    edges = np.diff(columns)
    starts, ends = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
    if not len(starts):
        return []
    height = image.shape[0]
    rows = np.nonzero(dark.any(axis=1))[0]
    first, last = int(rows[0]), int(rows[-1])
    inked = np.logical_or.reduceat(dark[first:last + 1], starts, axis=1)  # row x bar: ink in that row of the bar
    tops = first + np.argmax(inked, axis=0)                  # each bar's highest inked row
    bottoms = last - np.argmax(inked[::-1], axis=0)          # and its lowest
    return [Bar(s * mm_per_px, (height - bottom - 1) * mm_per_px, e * mm_per_px, (height - top) * mm_per_px)
            for s, e, top, bottom in zip(starts.tolist(), ends.tolist(), tops.tolist(), bottoms.tolist())]
