"""The run report's operating-characteristic charts: Pa against lot quality, with the AQL and the lots.

The x axis is logarithmic, from a tenth of the AQL to where the steepest plan's Pa falls below 1%,
so the region around the AQL (small fractions the plans must accept) is as readable as the region
they must reject. The AQL is a shaded band and a labelled line; each lot is marked on its plan's
curve at the fraction defective its sample showed (a lot whose sample was clean is marked at the
left edge, "0 in n"). A plan that samples the whole lot is 100% inspection and is said so.
"""
from __future__ import annotations

import math

from reportlab.graphics.shapes import Circle, Drawing, Line, PolyLine, Rect, String
from reportlab.lib import colors
from reportlab.lib.units import mm

from stmtprod.sampling.oc import binomial_pa

PALETTE = [colors.HexColor(c) for c in ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")]


def _top(plans: list[tuple[int, int]], aql: float) -> float:
    """The fraction where every plan's Pa is below 1% (at least ten times the AQL), capped at 1."""
    top = aql * 10
    for n, c in plans:
        p = aql / 10
        while p < 1 and binomial_pa(n, c, p) >= 0.01:
            p *= 1.05
        top = max(top, min(p, 1.0))
    return top


def oc_chart(title: str, aql_percent: float, plans: list[tuple[int, int]], lots: list[dict], font: str) -> Drawing:
    """`plans`: distinct (n, Ac); `lots`: dicts with lot, sample_size, accept, defective, lot_size."""
    aql = aql_percent / 100
    width, height = 170 * mm, 62 * mm
    x0, y0, w, h = 14 * mm, 9 * mm, 118 * mm, 44 * mm
    lo, hi = aql / 10, _top(plans, aql)
    span = math.log10(hi) - math.log10(lo)

    def x(p: float) -> float:
        return x0 + w * (math.log10(min(max(p, lo), hi)) - math.log10(lo)) / span

    def y(pa: float) -> float:
        return y0 + h * pa

    d = Drawing(width, height)
    d.add(String(x0, height - 5 * mm, title, fontName=font, fontSize=8))
    d.add(Rect(x0, y0, x(aql) - x0, h, fillColor=colors.HexColor("#e3f2e3"), strokeColor=None))
    d.add(Rect(x0, y0, w, h, fillColor=None, strokeColor=colors.grey, strokeWidth=0.5))
    for pa in (0.25, 0.5, 0.75, 1.0):
        d.add(Line(x0, y(pa), x0 + w, y(pa), strokeColor=colors.HexColor("#dddddd"), strokeWidth=0.3))
        d.add(String(x0 - 1.5 * mm, y(pa) - 2, f"{pa:.2f}", fontName=font, fontSize=6, textAnchor="end"))
    d.add(String(x0 - 1.5 * mm, y0 - 2, "0", fontName=font, fontSize=6, textAnchor="end"))
    decade = 10 ** math.floor(math.log10(lo))
    while decade <= hi:
        for m in (1, 2, 5):
            p = decade * m
            if lo <= p <= hi:
                d.add(Line(x(p), y0, x(p), y0 - 1 * mm, strokeColor=colors.grey, strokeWidth=0.4))
                d.add(String(x(p), y0 - 4 * mm, f"{p * 100:g}%", fontName=font, fontSize=6, textAnchor="middle"))
        decade *= 10
    d.add(Line(x(aql), y0, x(aql), y0 + h, strokeColor=colors.HexColor("#2e7d32"), strokeWidth=1,
               strokeDashArray=[3, 2]))
    d.add(String(x(aql) + 1 * mm, y0 + 2 * mm, f"AQL {aql_percent:g}%", fontName=font, fontSize=6.5,
                 fillColor=colors.HexColor("#2e7d32")))
    d.add(String(x0 + w / 2, 1.5 * mm, "fraction nonconforming in the lot (log scale); y: probability of acceptance",
                 fontName=font, fontSize=6, textAnchor="middle"))
    legend_y = y0 + h - 2 * mm
    for i, (n, c) in enumerate(plans):
        colour = PALETTE[i % len(PALETTE)]
        steps = 80
        points = []
        for k in range(steps + 1):
            p = lo * (hi / lo) ** (k / steps)
            points += [x(p), y(binomial_pa(n, c, p))]
        d.add(PolyLine(points, strokeColor=colour, strokeWidth=1.1))
        d.add(String(x0 + w + 3 * mm, legend_y - 4 * mm * i, f"n={n} Ac={c}: Pa at AQL {binomial_pa(n, c, aql):.3f}",
                     fontName=font, fontSize=6, fillColor=colour))
    for j, lot in enumerate(lots):
        n, c = lot["sample_size"], lot["accept"]
        colour = PALETTE[plans.index((n, c)) % len(PALETTE)] if (n, c) in plans else colors.black
        found = lot["defective"] or 0
        p = found / n if n else 0
        px, py = (x(p), y(binomial_pa(n, c, p))) if found else (x0, y(1.0))
        d.add(Circle(px, py, 1.4, fillColor=colour, strokeColor=colors.black, strokeWidth=0.3))
        full = ", 100%" if lot.get("lot_size") and n >= lot["lot_size"] else ""
        d.add(Circle(x0 + w + 4 * mm, legend_y - 4 * mm * (len(plans) + j + 0.5) + 2, 1.2, fillColor=colour,
                     strokeColor=colors.black, strokeWidth=0.3))
        d.add(String(x0 + w + 6 * mm, legend_y - 4 * mm * (len(plans) + j + 0.5),
                     f"lot {lot['lot']}: {found} in {n}{full}, {lot['decision'] or 'pending'}",
                     fontName=font, fontSize=6))
    return d
