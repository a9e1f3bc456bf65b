"""Reading each sheet's barcode out of the print file's content stream, for 100% verification.

DESIGN.md asks verification to read every sheet's barcode back out of the produced PDF,
independently of the code that drew it, and stage 2 to read a sample optically. Rasterising every
sheet (`reader.py`) costs about 0.9 ms a sheet, more than rendering it; this reader costs about
0.19 ms. It shares nothing with `symbol.py`: qpdf (pikepdf) decodes the page streams, the bars
are taken from the stream as the PDF operators state them, laid out on a one-pixel row and decoded
by zxing-cpp, the same decoder as the optical reader.

What it relies on is the print contract, not the drawing code: the symbol is a single path of
rectangles filled in 100% black ink (`0 0 0 1 k`, what a print room demands of barcodes), lying
in the layout's barcode zone, and it is the last thing painted on the page, so nothing can cover it;
nothing wraps the page's content (no clip, transformation, graphics state or marked content before
its first text), so the bars print where and as the stream states them. A sheet whose content does
not follow that contract exactly (a second barcode, anything painted after it, a path that is not
plain rectangles, bars outside the zone, a wrapper) is not guessed at: it is reported as `None`,
and the caller reads that sheet optically instead, which shows what prints. The same goes for a
page with a crop box, a rotation, a user unit or annotations.
"""
from __future__ import annotations

from os import PathLike

import numpy as np
import pikepdf
import zxingcpp

_PT_PER_MM = 72 / 25.4
_BLACK_FILL = b"0 0 0 1 k"
_FILL_OPERATORS = (b"f", b"f*")
_IDENTITY = b"1 0 0 1 0 0 cm"
# Row resolution: 600 dpi gives about 7.8 pixels to the narrowest allowed bar, so rounding each
# edge to a pixel moves it by at most 6% of a module.
_PX_PER_PT = 600 / 72
_QUIET_PX = int(15 * _PX_PER_PT)


def page_streams(page_dict: pikepdf.Dictionary) -> bytes:
    """The page's content, decoded, with several content streams joined as PDF readers join them."""
    contents = page_dict.get("/Contents")
    if contents is None:
        return b""
    if isinstance(contents, pikepdf.Array):
        return b"\n".join(part.read_bytes() for part in contents)
    return contents.read_bytes()


def _bars(data: bytes, start: int, zone_pt: tuple[float, float, float, float]) -> np.ndarray | None:
    """The bars of the black path that starts at `start`, as rows of (left, right) in points sorted by
    left edge, or None if the path is anything but rectangles filled inside the zone with nothing
    painted after it."""
    tokens = data[start + len(_BLACK_FILL):].split()
    first = 0
    while first < len(tokens) and tokens[first] == b"n":  # an empty path ended: paints nothing
        first += 1
    count = tokens.count(b"re")
    end = first + 5 * count
    rest = tokens[end:]
    # Only rectangles, filled, then nothing but restoring graphics states until the end of the page.
    if (not count or tokens[first + 4:end:5].count(b"re") != count or not rest
            or rest[0] not in _FILL_OPERATORS or rest.count(b"Q") != len(rest) - 1):
        return None
    xs, ys, ws, hs = (tokens[first + k:end:5] for k in range(4))
    try:
        # Bars share a few widths, one bottom and one height: each distinct token is converted once.
        number = {t: float(t) for t in set(ys + ws + hs)}
        x = np.array(list(map(float, xs)))
    except ValueError:
        return None
    x0, y0, x1, y1 = zone_pt
    for bottom, height in ((number[y], number[h]) for y, h in set(zip(ys, hs))):
        if height == 0 or min(bottom, bottom + height) < y0 or max(bottom, bottom + height) > y1:
            return None
    w = np.array(list(map(number.__getitem__, ws)))
    bars = np.column_stack((np.minimum(x, x + w), np.maximum(x, x + w)))
    bars = bars[np.argsort(bars[:, 0], kind="stable")]
    if not w.all() or bars[0, 0] < x0 or bars[:, 1].max() > x1:
        return None
    return bars


def _decode(bars: np.ndarray) -> list[str]:
    """Code 128 texts zxing-cpp finds in the bars laid out on one row of pixels (white is 255)."""
    edges = np.rint((bars - bars[0, 0]) * _PX_PER_PT).astype(np.intp) + _QUIET_PX
    starts, ends = edges[:, 0], edges[:, 1]
    gaps = starts[1:] - ends[:-1]
    if (gaps >= 0).all():
        # Alternating runs: quiet zone, bar, gap, bar, ..., bar, quiet zone.
        runs = np.empty(2 * len(starts) + 1, dtype=np.intp)
        runs[0], runs[1::2], runs[2:-1:2], runs[-1] = _QUIET_PX, ends - starts, gaps, _QUIET_PX
        colours = np.zeros(len(runs), dtype=np.uint8)
        colours[0::2] = 255
        row = np.repeat(colours, runs)
    else:  # overlapping bars merge, as ink would
        row = np.full(int(ends.max()) + _QUIET_PX, 255, dtype=np.uint8)
        for s, e in zip(starts.tolist(), ends.tolist()):
            row[s:e] = 0
    found = zxingcpp.read_barcodes(row.reshape(1, -1), formats=zxingcpp.BarcodeFormat.Code128,
                                   try_invert=False, try_rotate=False, try_downscale=False)
    return [b.text for b in found]


def read_page(data: bytes, zone_pt: tuple[float, float, float, float]) -> list[str] | None:
    """The barcode texts of one page's content, or None when the content must be read optically.

    Only the barcode is painted in pure black ink, so a second black path means an over-printed
    sheet: what prints then depends on what covers what, which only the optical read can tell.
    """
    start = data.rfind(_BLACK_FILL)
    if start < 0 or data.rfind(_BLACK_FILL, 0, start) >= 0 or not _plain(data):
        return None
    bars = _bars(data, start, zone_pt)
    return None if bars is None else _decode(bars)


def _plain(data: bytes) -> bool:
    """Nothing wraps the page's own content: its prologue, up to the text object that shows its first
    text, holds no clip, no graphics state dictionary, no marked content and no transformation but
    the identity.

    Tools that impose, scale or trim pages wrap the content they are given, so what they add comes
    first; what they append (stamps, over-prints) is seen at the barcode's tail. Looking only at the
    prologue keeps this check to a few microseconds.
    """
    first_shown = data.find(b"Tj")
    head = data if first_shown < 0 else data[:max(0, data.rfind(b"BT", 0, first_shown))]
    return (head.count(b"cm") == head.count(_IDENTITY) and b"W" not in head and b"gs" not in head
            and b"BDC" not in head)


def zone_points(strip_mm: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """(x, y, w, h) in mm from the page's bottom-left as (x0, y0, x1, y1) in points."""
    x, y, w, h = strip_mm
    return (x * _PT_PER_MM, y * _PT_PER_MM, (x + w) * _PT_PER_MM, (y + h) * _PT_PER_MM)


def read_file(pdf_path: str | PathLike, strip_mm: tuple[float, float, float, float]) -> list[list[str] | None]:
    """For each page, its barcode texts read from the content, or None where it must be read optically."""
    zone = zone_points(strip_mm)
    with pikepdf.open(pdf_path) as pdf:
        pages = [page.obj for page in pdf.pages]
        return [read_page(page_streams(page), zone) if _unframed(page) else None for page in pages]


def _unframed(page_dict: pikepdf.Dictionary) -> bool:
    """The page shows its whole media box, unrotated and unscaled, with nothing over it.

    qpdf pushes the attributes a page inherits from the page tree down to the page, so a crop box or
    rotation set on the whole file is seen here too. Annotations are drawn over the page by viewers
    and RIPs alike, so a page with any is read optically.
    """
    if int(page_dict.get("/Rotate", 0)) % 360 or "/UserUnit" in page_dict or "/Annots" in page_dict:
        return False
    crop = page_dict.get("/CropBox")
    return crop is None or [float(v) for v in crop] == [float(v) for v in page_dict.get("/MediaBox", crop)]
