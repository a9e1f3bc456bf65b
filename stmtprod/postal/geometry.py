"""Print geometry of the two postal barcodes and where they go in the envelope window.

Australia Post (Customer Barcoding Technical Specifications): bars 0.4-0.6 mm wide, 22-25 bars to
the inch, tracker 1.0-1.6 mm, full bar 4.2-5.8 mm, quiet zone 6 mm left and right and 2 mm above and
below. Japan Post (バーコードマニュアル p12-13) at point size a (8-11.5): long bar 3.6a/10 mm, timing
bar 1.2a/10, pitch 1.2a/10, bar width 0.6a/10, at least 2 mm clear on every side.

The symbol sits at the bottom left of the envelope window, below the whole address block (for
Japan that is below the addressee's name), with its clear zones inside the window even when the
insert shifts in the envelope by the layout's tolerance in any direction.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BarGeometry:
    """mm: bar width, pitch (bar to bar), full and tracker heights, clear zones; allowed ranges too."""

    width: float
    pitch: float
    full: float
    tracker: float
    clear_side: float
    clear_top_bottom: float
    width_range: tuple[float, float]
    pitch_range: tuple[float, float]
    full_range: tuple[float, float]
    tracker_range: tuple[float, float]

    def length(self, bars: int) -> float:
        return (bars - 1) * self.pitch + self.width

    def extent(self, state: str) -> tuple[float, float]:
        """(bottom, top) of a bar of state F/A/D/T, in mm above the symbol's bottom edge."""
        low, high = (self.full - self.tracker) / 2, (self.full + self.tracker) / 2
        return {"F": (0.0, self.full), "A": (low, self.full), "D": (0.0, high), "T": (low, high)}[state]


AUSPOST = BarGeometry(width=0.5, pitch=25.4 / 23.5, full=5.0, tracker=1.3, clear_side=6.0, clear_top_bottom=2.0,
                      width_range=(0.4, 0.6), pitch_range=(25.4 / 25, 25.4 / 22), full_range=(4.2, 5.8),
                      tracker_range=(1.0, 1.6))


def japanpost(point_size: float) -> BarGeometry:
    a = point_size / 10
    return BarGeometry(width=0.6 * a, pitch=1.2 * a, full=3.6 * a, tracker=1.2 * a, clear_side=2.0,
                       clear_top_bottom=2.0, width_range=(0.5 * a, 0.7 * a), pitch_range=(0.95 * a, 1.3 * a),
                       full_range=(3.4 * a, 3.6 * a), tracker_range=(1.05 * a, 1.35 * a))


def geometry_for(symbology: str, point_size: float = 10.0) -> BarGeometry:
    return AUSPOST if symbology == "auspost" else japanpost(point_size)


BAR_COUNT = {"auspost": 37, "japanpost": 67}


@dataclass(frozen=True)
class Placement:
    """Where the bars go, in mm from the page's top-left: the symbol's box (bars only) and the band
    it reserves at the bottom of the window (the address text stays above `band_top`, out of the
    clear zone; text and bars move together with the sheet)."""

    x: float
    top: float
    length: float
    height: float
    band_top: float


def place(window, symbology: str, point_size: float, tolerance: float, bars: int | None = None) -> Placement:
    """The symbol's place in the window: bottom left, clear zones and tolerance inside. ValueError when
    the window is too small for it."""
    geo = geometry_for(symbology, point_size)
    length = geo.length(bars or BAR_COUNT[symbology])
    x = window.x_mm + tolerance + geo.clear_side
    bottom = window.y_mm + window.height_mm - tolerance - geo.clear_top_bottom
    top = bottom - geo.full
    if x + length + geo.clear_side + tolerance > window.x_mm + window.width_mm + 1e-9:
        raise ValueError(f"a {length:.1f} mm {symbology} symbol with {geo.clear_side} mm clear zones and "
                         f"{tolerance} mm tolerance does not fit the {window.width_mm} mm window")
    band_top = top - geo.clear_top_bottom
    if band_top - window.y_mm < 15:
        raise ValueError(f"the {symbology} symbol leaves under 15 mm of the window for the address text")
    return Placement(x=x, top=top, length=length, height=geo.full, band_top=band_top)
