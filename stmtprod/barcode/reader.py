"""Optical read-back of sheet barcodes: rasterise with pdfium, decode with zxing-cpp.

Deliberately shares no code with the drawing side (symbol.py): it sees only
pixels, the way a camera on the line would, so an encoding or drawing bug
cannot be hidden by the same bug on the reading side.

pdfium is not thread-safe: parallelise with processes (one document per
process), never threads.
"""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike

import numpy as np

import pypdfium2 as pdfium
import zxingcpp

_PT_PER_MM = 72 / 25.4


def decode_image(pil_image) -> list[str]:
    """All Code 128 texts zxing-cpp finds in the image (callers check 'exactly one').

    Sheets carry one horizontal symbol at print resolution, so zxing's rotated and downscaled
    retries only cost time (they took 60% of decoding, with identical results on every sheet read).
    """
    found = zxingcpp.read_barcodes(pil_image, formats=zxingcpp.BarcodeFormat.Code128, try_invert=False,
                                   try_rotate=False, try_downscale=False)
    return [b.text for b in found]


def _crop(page_w: float, page_h: float, region_mm) -> tuple[float, float, float, float]:
    """pdfium's render crop is the amount cut OFF each side (left, bottom, right, top), in points."""
    if region_mm is None:
        return (0, 0, 0, 0)
    x, y, w, h = (v * _PT_PER_MM for v in region_mm)
    left, bottom = max(0.0, x), max(0.0, y)
    right, top = max(0.0, page_w - (x + w)), max(0.0, page_h - (y + h))
    if left + right >= page_w or bottom + top >= page_h:
        raise ValueError(f"region_mm {region_mm} lies outside the page")
    return (left, bottom, right, top)


def read_page_barcodes(
    pdf_path: str | PathLike, page_indexes=None, dpi: int = 200, region_mm=None
) -> list[list[str]]:
    """For each requested page (0-based; None = all), the Code 128 texts found on it.

    region_mm=(x, y, w, h) in mm from the page's bottom-left (as seen, i.e. the
    crop box after /Rotate) limits rendering to that strip, which is much
    faster than the whole page; None renders the whole page.
    """
    pdf = pdfium.PdfDocument(str(pdf_path))
    try:
        indexes = range(len(pdf)) if page_indexes is None else page_indexes
        results = []
        for i in indexes:
            page = pdf[i]
            try:
                crop = _crop(*page.get_size(), region_mm)
                bitmap = page.render(scale=dpi / 72, crop=crop, grayscale=True)
                try:
                    results.append(decode_image(bitmap.to_pil()))
                finally:
                    bitmap.close()
            finally:
                page.close()
        return results
    finally:
        pdf.close()


# The print contract seen as a red-light camera sees it: the red channel of the colour rendering (red
# ink vanishes, K, rich black and blue stay dark), at 200 dpi across and down the bars.
CONTRACT_DPI = 200
INK = 128                 # grey level below which a pixel is ink
BAR_DARK = 64             # every bar must reach this dark (a 25% tint of K renders at about 191)
PAPER = 200               # every space, quiet zone and the rest of the strip must be this light
MODULE_TOLERANCE = 0.15
INK_SPREAD_TOLERANCE = 0.15  # bars' ink over what their modules call for: print gain or loss allowed
POSITION_TOLERANCE_MM = 1.0
HEIGHT_TOLERANCE_MM = 0.4
QUIET_TOLERANCE = 0.9
EDGE_ROWS = 2             # rows at the bars' top and bottom edges, where antialiasing varies


@dataclass(frozen=True)
class SheetRead:
    """One sheet's barcode texts as the camera reads them, and the first breach of the print contract
    measured on its pixels (field, reason, found), if any."""

    texts: list[str]
    breach: tuple[str, str, object] | None = None


def read_sheets(pdf_path: str | PathLike, page_indexes, contract, dpi: int = CONTRACT_DPI) -> list[SheetRead]:
    """Each requested page's (0-based) barcode strip rendered in colour, decoded from its red channel
    and measured against `contract` (a `content.Contract`). Raises `content.Damaged` for a file or page
    pdfium cannot read."""
    from stmtprod.barcode.content import Damaged

    try:
        pdf = pdfium.PdfDocument(str(pdf_path))
    except (pdfium.PdfiumError, OSError) as exc:
        raise Damaged(None, f"pdfium cannot open it: {exc}") from None
    try:
        results = []
        for i in page_indexes:
            try:
                page = pdf[i]
            except (pdfium.PdfiumError, IndexError) as exc:
                raise Damaged(i + 1, f"pdfium cannot load the page: {exc}") from None
            try:
                width, height = page.get_size()
                crop = _crop(width, height, contract.strip_mm)
                bitmap = page.render(scale=dpi / 72, crop=crop, rev_byteorder=True)
                try:
                    red = np.ascontiguousarray(bitmap.to_numpy()[:, :, 0])
                finally:
                    bitmap.close()
            finally:
                page.close()
            texts = decode_image(red)
            origin = (crop[0], height - crop[3])  # the image's top-left, in points from the bottom-left
            breach = measure_contract(red, texts, contract, dpi, origin) if len(texts) == 1 else None
            results.append(SheetRead(texts, breach))
        return results
    finally:
        pdf.close()


def _bar_modules(text: str) -> int:
    """How many of the symbol's modules are bar (python-barcode's encoding)."""
    from barcode.codex import Code128

    return Code128(text).build()[0].count("1")


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]


def measure_contract(red: np.ndarray, texts: list[str], contract, dpi: int,
                     origin: tuple[float, float]) -> tuple[str, str, object] | None:
    """The first breach of the contract on the pixels: bars not where the layout puts them, too thin
    or wide, too short, not dark enough; quiet zones, spaces or the strip around the bars not paper
    white (a tinted band, text or a mark under or near the strip)."""
    from stmtprod.barcode.content import modules_of

    px_per_pt = dpi / 72
    mm_per_px = 25.4 / dpi
    left_pt, top_pt = origin
    band_top = int(round((top_pt - contract.bottom - contract.height) * px_per_pt))
    band_bottom = int(round((top_pt - contract.bottom) * px_per_pt))
    rows = red.shape[0]
    centre = min(max((band_top + band_bottom) // 2, 0), rows - 1)
    line = red[centre]
    starts, ends = _runs(line < INK)
    if not len(starts):
        return ("contrast", "the bars are not dark under red light", int(line.min()))
    first, last = int(starts[0]), int(ends[-1])
    expected_left = (contract.left - left_pt) * px_per_pt
    if abs(first - expected_left) * mm_per_px > POSITION_TOLERANCE_MM:
        return ("position", "ink where the symbol's left edge or quiet zone should be",
                f"{(first - expected_left) * mm_per_px:+.2f} mm from the layout's position")
    module_mm = (last - first) / modules_of(texts[0]) * mm_per_px
    narrow_mm = contract.narrow * 25.4 / 72
    if abs(module_mm - narrow_mm) > narrow_mm * MODULE_TOLERANCE:
        return ("bar-width", f"module width {module_mm:.3f} mm, expected {narrow_mm:.2f} mm",
                round(module_mm, 3))
    darkest = np.minimum.reduceat(line, starts)
    ink_level = float(np.median(darkest))  # solid ink as rendered (100% K is not 0 on the red channel)
    shade = np.clip((255.0 - line[first:last]) / max(255.0 - ink_level, 1.0), 0, 1)
    coverage = float(shade.sum()) / (_bar_modules(texts[0]) * (last - first) / modules_of(texts[0]))
    if abs(coverage - 1) > INK_SPREAD_TOLERANCE:
        return ("bar-width", f"the bars carry {coverage:.0%} of the ink their modules call for (bars drawn "
                             "thinner or thicker than the module width)", round(coverage, 3))
    quiet_mm = contract.quiet * 25.4 / 72 * QUIET_TOLERANCE
    if (len(line) - last) * mm_per_px < quiet_mm:
        return ("quiet-zone", "ink in the right quiet zone", f"{(len(line) - last) * mm_per_px:.2f} mm of white")
    if int(darkest.max()) > BAR_DARK:
        return ("contrast", "a bar is not dark enough under red light (a tint or a colour, not 100% K)",
                int(darkest.max()))
    white_starts, _ = _runs(line >= INK)
    spaces = np.maximum.reduceat(line, white_starts)  # each white run and the bar after it: its white
    if int(spaces.min()) < PAPER:
        return ("background", "a space or quiet zone is not paper white under red light", int(spaces.min()))
    column = (int(starts[0]) + int(ends[0])) // 2
    dark_rows = red[:, column] < INK
    top = bottom = centre
    while top > 0 and dark_rows[top - 1]:
        top -= 1
    while bottom < rows - 1 and dark_rows[bottom + 1]:
        bottom += 1
    if abs(top - band_top) * mm_per_px > POSITION_TOLERANCE_MM:
        return ("position", "the bars are not at the layout's height on the page",
                f"{(band_top - top) * mm_per_px:+.2f} mm from the layout's position")
    height_mm = (bottom - top + 1) * mm_per_px
    if abs(height_mm - contract.height * 25.4 / 72) > HEIGHT_TOLERANCE_MM:
        return ("bar-height", f"bars {height_mm:.1f} mm tall, expected {contract.height * 25.4 / 72:.1f} mm",
                round(height_mm, 1))
    inked = line < PAPER  # at the paper threshold: a hairline or a light tint under the bars shows too
    for r in range(top + EDGE_ROWS, bottom - EDGE_ROWS + 1):
        if int(np.count_nonzero((red[r] < PAPER) != inked)) > 2:
            return ("background", "something is printed under the bars or in their quiet zones",
                    f"row {(r - top) * mm_per_px:.1f} mm below the bars' top differs from the middle row")
    outside = np.concatenate((red[:max(top - EDGE_ROWS, 0)].ravel(), red[bottom + EDGE_ROWS + 1:].ravel()))
    if outside.size and int(outside.min()) < PAPER:
        return ("background", "ink in the barcode strip above or below the bars", int(outside.min()))
    return None
