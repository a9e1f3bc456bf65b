"""Stage 2 for postal barcodes: the printed symbol seen as pixels and measured against its specification.

The symbol's box, its clear zones and the layout's tolerance around it are rasterised at 600 dpi;
the bars found there are read (stmtprod.postal.read) and must decode to the manifest's bars; their
width, pitch, full and tracker heights must lie in the specification's ranges (widened by one pixel
for the measuring resolution); no ink may lie in the clear zones; and the symbol with its clear zones
and tolerance must lie inside the envelope window.
"""
from __future__ import annotations

import ctypes
import math

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from stmtprod.layout import Layout
from stmtprod.postal.geometry import geometry_for
from stmtprod.postal.read import PostalReadError, bars_in_image, letters
from stmtprod.postal.verify import decoded_fields

DPI = 600
MM_PER_PX = 25.4 / DPI
PT_PER_MM = 72 / 25.4
SLACK_MM = 1.5 * MM_PER_PX  # what rasterising may add or take at each measured edge


def _defect(seq: int, kind: str, evidence: str) -> dict:
    return {"piece": seq, "kind": kind, "evidence": evidence}


def render_box(page: pdfium.PdfPage, left: float, top: float, right: float, bottom: float) -> np.ndarray:
    """The page region (mm from the page's top-left) in gray at DPI dots an inch both ways.

    The very call pypdfium2's `page.render(scale=DPI / 72, crop=..., grayscale=True)` makes, drawn
    straight into the returned array (no bitmap object, no copy)."""
    width, height = page.get_size()
    scale = DPI / 72
    crop = [math.ceil(max(0.0, c) * scale) for c in (left * PT_PER_MM, height - bottom * PT_PER_MM,
                                                      width - right * PT_PER_MM, top * PT_PER_MM)]
    full_w, full_h = math.ceil(width * scale), math.ceil(height * scale)
    w, h = full_w - crop[0] - crop[2], full_h - crop[1] - crop[3]
    if w < 1 or h < 1:
        raise ValueError("Crop exceeds page dimensions")
    image = np.full((h, w), 255, dtype=np.uint8)
    bitmap = pdfium_c.FPDFBitmap_CreateEx(w, h, pdfium_c.FPDFBitmap_Gray, image.ctypes.data_as(ctypes.c_void_p), w)
    try:
        pdfium_c.FPDF_RenderPageBitmap(bitmap, page, -crop[0], -crop[3], full_w, full_h, 0,
                                       pdfium_c.FPDF_GRAYSCALE | pdfium_c.FPDF_ANNOT)
    finally:
        pdfium_c.FPDFBitmap_Destroy(bitmap)
    return image


def _out_of_range(value: float, allowed: tuple[float, float]) -> bool:
    return not allowed[0] - SLACK_MM <= value <= allowed[1] + SLACK_MM


def inspect_sheet(seq: int, layout: Layout, page: pdfium.PdfPage, postal: dict | None) -> list[dict]:
    """Defects of the postal barcode on a piece's first sheet (none when the piece carries none)."""
    if not postal or not postal.get("bars") or layout.postal is None:
        return []
    symbology, want = postal["symbology"], postal["bars"]
    geo = geometry_for(symbology, layout.postal.point_size)
    place = layout.postal_placement(symbology)
    tol = layout.postal.tolerance_mm
    box = (place.x - geo.clear_side - tol, place.top - geo.clear_top_bottom - tol,
           place.x + place.length + geo.clear_side + tol, place.top + place.height + geo.clear_top_bottom + tol)
    image = render_box(page, *box)
    bars = bars_in_image(image, MM_PER_PX)
    where = "postal barcode"
    if not bars:
        return [_defect(seq, "postal-missing", f"{where}: nothing printed where the layout puts it "
                                               f"(x {box[0]:.1f}-{box[2]:.1f}, y {box[1]:.1f}-{box[3]:.1f} mm)")]
    try:
        found = letters(bars)
        decoded_fields(symbology, found)
    except (PostalReadError, ValueError) as exc:
        return [_defect(seq, "postal-unreadable", f"{where}: {exc} ({len(bars)} marks in its box)")]
    if found != want:
        return [_defect(seq, "postal-wrong-bars", f"{where}: printed {found}, the manifest says {want}")]
    defects = []
    widths = [b.right - b.left for b in bars]
    centres = np.array([(b.left + b.right) / 2 for b in bars])
    pitch = float(np.median(np.diff(centres)))
    full = [b.top - b.bottom for b, s in zip(bars, found) if s == "F"]
    tracker = [b.top - b.bottom for b, s in zip(bars, found) if s == "T"]
    for name, values, allowed in (("bar width", widths, geo.width_range), ("pitch", [pitch], geo.pitch_range),
                                  ("full bar", full, geo.full_range), ("tracker", tracker, geo.tracker_range)):
        bad = [v for v in values if _out_of_range(v, allowed)]
        if bad:
            defects.append(_defect(seq, "postal-dimension", f"{where}: {name} {bad[0]:.3f} mm, allowed "
                                                            f"{allowed[0]:.3f}-{allowed[1]:.3f} mm"))
    # Ink found in the box: its left/right/top/bottom against the symbol's own box, in mm of the page.
    height_mm = image.shape[0] * MM_PER_PX
    ink = (box[0] + min(b.left for b in bars), box[0] + max(b.right for b in bars),
           box[1] + height_mm - max(b.top for b in bars), box[1] + height_mm - min(b.bottom for b in bars))
    clear = {"left": place.x - ink[0], "right": ink[1] - (place.x + place.length),
             "top": place.top - ink[2], "bottom": ink[3] - (place.top + place.height)}
    for side, overrun in clear.items():
        if overrun > SLACK_MM * 2:
            defects.append(_defect(seq, "postal-clear-zone", f"{where}: ink {overrun:.2f} mm into the {side} "
                                                             "clear zone or off its place"))
    win = layout.window
    outer = (ink[0] - geo.clear_side - tol, ink[1] + geo.clear_side + tol,
             ink[2] - geo.clear_top_bottom - tol, ink[3] + geo.clear_top_bottom + tol)
    if (outer[0] < win.x_mm - SLACK_MM or outer[1] > win.x_mm + win.width_mm + SLACK_MM
            or outer[2] < win.y_mm - SLACK_MM or outer[3] > win.y_mm + win.height_mm + SLACK_MM):
        defects.append(_defect(seq, "postal-outside-window", f"{where} with its clear zones and the {tol} mm "
                                                             f"tolerance spans x {outer[0]:.1f}-{outer[1]:.1f}, "
                                                             f"y {outer[2]:.1f}-{outer[3]:.1f} mm; the window is "
                                                             f"{win.x_mm},{win.y_mm} {win.width_mm}x{win.height_mm}"))
    return defects
