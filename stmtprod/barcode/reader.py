"""Optical read-back of sheet barcodes: rasterise with pdfium, decode with zxing-cpp.

Deliberately shares no code with the drawing side (symbol.py): it sees only
pixels, the way a camera on the line would, so an encoding or drawing bug
cannot be hidden by the same bug on the reading side.

pdfium is not thread-safe: parallelise with processes (one document per
process), never threads.
"""

from __future__ import annotations

from os import PathLike

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
