"""Inspection stage 2, print: sampled sheets seen as pixels, the way a verifier's camera sees them.

For every sheet of a sampled piece the barcode strip (the symbol as the layout places it, plus its
quiet zones and 5 mm more on each side) is rasterised at 600 dpi across the bars and decoded with
zxing-cpp: exactly one Code 128 whose text is the manifest's payload for that sheet. Then, on a scan
line through the middle of the symbol, the bars are located by their pattern (the payload's Code 128
modules) and measured: the white run before the first bar and after the last one (the quiet zones,
at least 90% of the layout's `quiet_zone_modules` x `narrow_bar_mm`) and the module width (the
symbol's width between its outer bar edges over its module count, within 15% of `narrow_bar_mm`).

On sheet 1 the address block must sit inside the envelope window: the text pdfium finds inside the
window rectangle must hold the name and every line of the address. A postal barcode there is
measured too (stmtprod.postal.measure).

Resolution. Everything checked here is read along scan lines, across the bars: the payload (zxing
decodes Code 128 row by row), the quiet zones and the module width. So the strip is rasterised at
600 dpi horizontally, as before (0.042 mm a pixel: a 0.33 mm module is 7.8 pixels, the allowed
module width 0.28-0.38 mm is 6.6-9.0 pixels, and the 3.3 mm quiet zone 78 pixels against a
2.97 mm minimum of 70), and at 150 dpi vertically: a row every 0.17 mm, so a 10 mm symbol still
spans 59 rows, all of which zxing scans. Each row is, pixel for pixel, the row a 600 x 600 dpi
rendering has at that height (pdfium draws the page with the same horizontal transform; a test
checks it), so decoding and measuring see the same pixels as at 600 x 600 dpi, for a quarter of the
rasterising and decoding work.

pdfium is not thread-safe: call this from one thread per process (`stmtprod.inspect.parallel` runs
jobs in worker processes).
"""
from __future__ import annotations

import ctypes
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import zxingcpp

from stmtprod.barcode.symbol import modules
from stmtprod.inspect import expect
from stmtprod.inspect.context import InspectionContext, OpenPrints, PrintJob, parse_record
from stmtprod.layout import Layout
from stmtprod.postal import measure as postal_measure

DPI = 600                # across the bars: every measurement is taken at this resolution
ROW_DPI = 150            # along the bars: how far apart the rendered scan lines are
PT_PER_MM = 72 / 25.4
MM_PER_PX = 25.4 / DPI
MM_PER_ROW = 25.4 / ROW_DPI
MARGIN_MM = 5.0          # inspected beyond each quiet zone
VERTICAL_MARGIN_MM = 3.0
WIDTH_SLACK = 1.3        # room for a symbol printed wider than specified
QUIET_ZONE_TOLERANCE = 0.9
MODULE_TOLERANCE = 0.15
FIT_TOLERANCE = 0.5      # bar centres may sit this many modules off the payload's pattern
DARK = 128               # grey level below which a pixel is ink


def _defect(sequence: int, kind: str, evidence: str) -> dict:
    return {"piece": sequence, "kind": kind, "evidence": evidence}


@dataclass(frozen=True)
class Profile:
    """The symbol as measured on one scan line."""

    left_quiet_mm: float
    right_quiet_mm: float
    module_mm: float
    left_bounded: bool   # the left white run ends at a mark (False: at the edge of the inspected strip)
    right_bounded: bool


@lru_cache(maxsize=64)
def _pattern(payload: str) -> str:
    """The payload's Code 128 modules between the outer bar edges ('1' bar, '0' space)."""
    return modules(payload).strip("0")


@lru_cache(maxsize=64)
def _bars(payload: str) -> tuple[np.ndarray, np.ndarray, int]:
    """Centres and widths (in modules, from the first bar's leading edge) of the payload's bars, and the
    symbol's module count between its outer bar edges. Kept per payload (a sheet's scan line may be
    measured twice), so the arrays are read-only."""
    pattern = _pattern(payload)
    bar = np.frombuffer(pattern.encode("ascii"), dtype=np.uint8) == ord("1")
    edges = np.diff(np.concatenate(([0], bar.astype(np.int8), [0])))
    starts_a = np.nonzero(edges == 1)[0].astype(float)
    widths_a = np.nonzero(edges == -1)[0] - starts_a
    centres = starts_a + widths_a / 2
    centres.flags.writeable = widths_a.flags.writeable = False
    return centres, widths_a, len(pattern)


def _dark_runs(line: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) pixel indexes (end exclusive) of each run of ink on the scan line."""
    dark = np.concatenate(([0], (line < DARK).astype(np.int8), [0]))
    edges = np.diff(dark)
    return np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]


def measure(line: np.ndarray, payload: str) -> Profile | None:
    """Find the payload's bar pattern among the ink runs of a scan line and measure it; None when no run
    of ink matches the pattern."""
    centres, _widths, count = _bars(payload)
    starts, ends = _dark_runs(line)
    bars = len(centres)
    if len(starts) < bars:
        return None
    best, best_k = None, None
    for k in range(len(starts) - bars + 1):
        s, e = starts[k:k + bars], ends[k:k + bars]
        span = e[-1] - s[0]
        if span <= 0:
            continue
        scale = span / count
        found = ((s + e) / 2 - s[0]) / scale
        error = float(np.max(np.abs(found - centres)))
        if best is None or error < best:
            best, best_k = error, k
    if best is None or best > FIT_TOLERANCE:
        return None
    k = best_k
    first, last = starts[k], ends[k + bars - 1]
    before = ends[k - 1] if k > 0 else 0
    after = starts[k + bars] if k + bars < len(starts) else len(line)
    return Profile(left_quiet_mm=(first - before) * MM_PER_PX, right_quiet_mm=(after - last) * MM_PER_PX,
                   module_mm=(last - first) / count * MM_PER_PX, left_bounded=k > 0,
                   right_bounded=k + bars < len(starts))


def strip_mm(layout: Layout, payload: str) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) in mm from the page's top-left: the symbol where the layout puts it,
    its quiet zones, and MARGIN_MM more on each side (the right side with room for a wider symbol)."""
    bc = layout.barcode
    quiet = bc.quiet_zone_modules * bc.narrow_bar_mm
    width = len(_pattern(payload)) * bc.narrow_bar_mm
    left = bc.x_mm - MARGIN_MM  # x_mm already includes the left quiet zone
    right = bc.x_mm + quiet + width * WIDTH_SLACK + quiet + MARGIN_MM
    return left, bc.y_mm - VERTICAL_MARGIN_MM, right, bc.y_mm + bc.height_mm + VERTICAL_MARGIN_MM


def render_strip(page: pdfium.PdfPage, box_mm: tuple[float, float, float, float]) -> tuple[np.ndarray, float]:
    """The page region (mm from top-left, clamped to the page) as a grayscale array, DPI pixels a inch
    across and ROW_DPI rows an inch down, and the top of the rendered region in mm from the page's top.

    The pixel grid is the one pypdfium2's `render(scale=DPI / 72, crop=...)` gives, so each row is, pixel
    for pixel, a row of the full 600 dpi rendering; pdfium draws straight into the returned array."""
    width, height = page.get_size()
    left, top, right, bottom = box_mm
    top = max(0.0, top)
    crop = (max(0.0, left * PT_PER_MM), max(0.0, height - bottom * PT_PER_MM),
            max(0.0, width - right * PT_PER_MM), top * PT_PER_MM)
    x_scale, y_scale = DPI / 72, ROW_DPI / 72
    full_w, full_h = math.ceil(width * x_scale), math.ceil(height * y_scale)
    cut_left, cut_right = math.ceil(crop[0] * x_scale), math.ceil(crop[2] * x_scale)
    cut_bottom, cut_top = math.ceil(crop[1] * y_scale), math.ceil(crop[3] * y_scale)
    w, h = full_w - cut_left - cut_right, full_h - cut_top - cut_bottom
    if w < 1 or h < 1:
        raise ValueError(f"strip {box_mm} lies outside the page")
    image = np.full((h, w), 255, dtype=np.uint8)
    bitmap = pdfium_c.FPDFBitmap_CreateEx(w, h, pdfium_c.FPDFBitmap_Gray, image.ctypes.data_as(ctypes.c_void_p), w)
    try:
        # The page scaled to the whole-page bitmap size (as FPDF_RenderPageBitmap does), then shifted.
        matrix = pdfium_c.FS_MATRIX(full_w / width, 0, 0, full_h / height, -cut_left, -cut_top)
        pdfium_c.FPDF_RenderPageBitmapWithMatrix(bitmap, page, matrix, pdfium_c.FS_RECTF(0, 0, w, h),
                                                 pdfium_c.FPDF_GRAYSCALE | pdfium_c.FPDF_ANNOT)
    finally:
        pdfium_c.FPDFBitmap_Destroy(bitmap)
    return image, top


def _geometry(seq: int, where: str, layout: Layout, line: np.ndarray, payload: str) -> list[dict] | None:
    """Quiet zones and module width measured on one scan line; None when the payload's bar pattern is
    not found on it."""
    profile = measure(line, payload)
    if profile is None:
        return None
    bc = layout.barcode
    defects = []
    minimum = bc.quiet_zone_modules * bc.narrow_bar_mm * QUIET_ZONE_TOLERANCE
    for side, run, bounded in (("left", profile.left_quiet_mm, profile.left_bounded),
                               ("right", profile.right_quiet_mm, profile.right_bounded)):
        if run < minimum:
            end = "a mark" if bounded else "the edge of the inspected strip"
            defects.append(_defect(seq, "quiet-zone", f"{where}: {side} quiet zone {run:.2f} mm (white up to {end}), "
                                                      f"expected >= {minimum:.2f} mm"))
    low, high = bc.narrow_bar_mm * (1 - MODULE_TOLERANCE), bc.narrow_bar_mm * (1 + MODULE_TOLERANCE)
    if not low <= profile.module_mm <= high:
        defects.append(_defect(seq, "bar-width", f"{where}: module width {profile.module_mm:.3f} mm, expected "
                                                 f"{bc.narrow_bar_mm} mm (allowed {low:.3f}-{high:.3f})"))
    return defects


def check_sheet_barcode(seq: int, sheet: int, layout: Layout, page: pdfium.PdfPage, payload: str) -> list[dict]:
    """Decode the sheet's symbol and measure it. When nothing decodes, the scan line through where the
    layout puts the symbol is still measured, so the report says why (a mark in the quiet zone, say)."""
    where = f"sheet {sheet}"
    image, top_mm = render_strip(page, strip_mm(layout, payload))
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.Code128, try_rotate=False,
                                   try_downscale=False, try_invert=False)
    texts = [b.text for b in found]
    if found and texts != [payload]:
        return [_defect(seq, "wrong-payload", f"{where}: expected exactly one symbol {payload}, decoded {texts}")]
    if found:
        pos = found[0].position
        row = (pos.top_left.y + pos.bottom_left.y + pos.top_right.y + pos.bottom_right.y) / 4
    else:
        row = (layout.barcode.y_mm + layout.barcode.height_mm / 2 - top_mm) / MM_PER_ROW
    row = min(max(int(round(row)), 0), image.shape[0] - 1)
    geometry = _geometry(seq, where, layout, image[row], payload)
    if not found:
        return [_defect(seq, "unreadable", f"{where}: no Code 128 decoded at {DPI} dpi; expected {payload}")] + (
            geometry or [])
    if geometry is None:
        return [_defect(seq, "bar-width", f"{where}: the bars on the scan line do not match the Code 128 pattern "
                                          f"of {payload}")]
    return geometry


def window_text(page: pdfium.PdfPage, layout: Layout) -> str:
    """The text pdfium finds inside the envelope window (layout mm from top-left -> PDF points)."""
    win = layout.window
    height = page.get_size()[1]
    textpage = page.get_textpage()
    try:
        return textpage.get_text_bounded(left=win.x_mm * PT_PER_MM,
                                         bottom=height - (win.y_mm + win.height_mm) * PT_PER_MM,
                                         right=(win.x_mm + win.width_mm) * PT_PER_MM,
                                         top=height - win.y_mm * PT_PER_MM)
    finally:
        textpage.close()


def check_window(seq: int, layout: Layout, page: pdfium.PdfPage, record) -> list[dict]:
    inside = expect.squash(window_text(page, layout))
    outside = [line for line in expect.address_block(layout, record) if expect.squash(line) not in inside]
    if not outside:
        return []
    win = layout.window
    return [_defect(seq, "address-outside-window",
                    f"not inside the window ({win.x_mm},{win.y_mm} {win.width_mm}x{win.height_mm} mm): {outside}; "
                    f"the window shows {expect.normalise(window_text(page, layout))!r}")]


def inspect_job(job: PrintJob, prints: OpenPrints) -> list[dict]:
    """Print defects of a job's pieces (one print file); a missing print file makes each piece
    unreadable. Runs the same in any process."""
    defects: list[dict] = []
    for seq, piece, layout, line, pdf in job.printed(prints, "unreadable", defects):
        for sheet, payload in enumerate(piece["payloads"], 1):
            index = piece["first_page"] - 1 + sheet - 1
            if index >= len(pdf):
                defects.append(_defect(seq, "unreadable", f"sheet {sheet}: page {index + 1} is not in "
                                                          f"{piece['file']} ({len(pdf)} pages)"))
                continue
            page = pdf[index]
            try:
                defects += check_sheet_barcode(seq, sheet, layout, page, payload)
                if sheet == 1:
                    defects += check_window(seq, layout, page, parse_record(line, piece["region"]))
                    defects += postal_measure.inspect_sheet(seq, layout, page, piece.get("postal"))
            finally:
                page.close()
    return defects


def inspect(ctx: InspectionContext, lot: str, sample: list[int]) -> list[dict]:
    """Print defects of the sampled pieces of one lot, in sample order (each print file opened once).
    `stmtprod.inspect.parallel` runs the same jobs in worker processes."""
    with OpenPrints(keep=max(1, len(sample))) as prints:
        return [d for job in ctx.print_jobs(sample) for d in inspect_job(job, prints)]
