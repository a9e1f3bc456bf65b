"""The postal read-back and check as they were before their quick paths (issue 18), kept as the
reference the quick ones are held to (tests/test_quick_checks.py): a Bar made of every rectangle and
the bars sorted, and the address number's round trip encoded and decoded afresh (put in place of
`postal.verify.address_number_as_printed` by the test).
"""
from __future__ import annotations

from operator import attrgetter

from stmtprod.barcode._scan import floats
from stmtprod.postal import japanpost
from stmtprod.postal.read import POSTAL_FILL, Bar, PostalReadError


def letters(bars: list[Bar]) -> str:
    if not bars:
        raise PostalReadError("no bars")
    bars = sorted(bars, key=attrgetter("left"))
    bottoms, tops = [b.bottom for b in bars], [b.top for b in bars]
    band_bottom, band_top = max(bottoms), min(tops)
    if band_top <= band_bottom:
        raise PostalReadError("the bars share no tracker band")
    full_bottom, full_top = min(bottoms), max(tops)
    reach = min(band_bottom - full_bottom, full_top - band_top)
    if reach <= (band_top - band_bottom) * 0.2:
        raise PostalReadError("no ascenders or descenders: not a 4-state symbol")
    eps = reach / 2
    out = []
    for b in bars:
        up, down = b.top > band_top + eps, b.bottom < band_bottom - eps
        out.append("F" if up and down else "A" if up else "D" if down else "T")
    return "".join(out)


def bars_in_content(data: bytes) -> list[Bar] | None:
    start = data.find(b"\n" + POSTAL_FILL + b"\n")
    if start < 0:
        return None
    if data.find(b"\n" + POSTAL_FILL + b"\n", start + 1) >= 0:
        raise PostalReadError("more than one postal barcode path on the page")
    end = data.find(b"f", start + len(POSTAL_FILL) + 2)
    tokens = data[start + len(POSTAL_FILL) + 2:end + 2 if end >= 0 else len(data)].split()
    first = 0
    while first < len(tokens) and tokens[first] == b"n":
        first += 1
    i = first
    while i + 4 < len(tokens) and tokens[i + 4] == b"re":
        i += 5
    try:
        xs, ys, ws, hs = (floats(tokens[first + k:i:5]) for k in range(4))
    except ValueError:
        raise PostalReadError("a postal bar's rectangle is not numbers") from None
    bars = [Bar(x, y, x + w, y + h) if w > 0 and h > 0 else Bar(min(x, x + w), min(y, y + h), max(x, x + w), max(y, y + h))
            for x, y, w, h in zip(xs, ys, ws, hs)]
    if not bars or i >= len(tokens) or tokens[i] not in (b"f", b"f*"):
        raise PostalReadError("the postal path is not rectangles filled")
    return bars


def address_number_as_printed(wanted, fields: dict, bars: str) -> tuple[str, None]:
    """The round trip encoded and decoded afresh, from the printed postcode (`postal.verify.check_piece`
    runs with this in place of its own)."""
    return japanpost.decode(japanpost.encode(fields["postcode"], wanted.fields["address_number"])).address_number, None
