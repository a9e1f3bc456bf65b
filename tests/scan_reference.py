"""The pure-Python content read that `stmtprod/barcode/_scan.c` replaced, kept as the reference the
compiled scan is held to (tests/test_scan.py runs both over real and mutated pages).

This is the code `content.py` ran before the scan was compiled, unchanged but for one hole closed in
both: a bar whose numbers are not finite (`nan`, `inf`) is not vouched for (before, a bottom of `nan`
passed every comparison); and the proof that the text prints as it reads (`drawing_facts`,
`text_prints`), added since, written here first and then in C. Fonts are the scan's `Font` objects
(widths, first code, ToUnicode chars).
"""
from __future__ import annotations

import codecs
import math
import re
import warnings
from operator import add

import numpy as np
import zxingcpp

from stmtprod.barcode import content
from stmtprod.barcode.content import GEOMETRY_TOLERANCE, POSITION_TOLERANCE_PT, Contract, PageRead

_FILL_OPERATORS = (b"f", b"f*")
_K100 = [b"0", b"0", b"0", b"1"]
_IDENTITY = [b"1", b"0", b"0", b"1", b"0", b"0"]
_PX_PER_PT = 600 / 72
_QUIET_PX = int(15 * _PX_PER_PT)
_STRING = rb"[^\\()]*(?:\\.[^\\()]*)*"
_SHOW = rb"(?:/\S+ \S+ Tf \S+ TL )?\(" + _STRING + rb"\) Tj "
_TEXT = re.compile(rb"BT (?:/(\S+) (\S+) Tf \S+ TL ET|1 0 0 1 (\S+) (\S+) Tm (?:/(\S+) (\S+) Tf \S+ TL )?\(("
                   + _STRING + rb")\) Tj ((?:" + _SHOW + rb")*)T\* ET)", re.S)
_GROUPS = 8
_RUN = re.compile(rb"(?:/(\S+) (\S+) Tf \S+ TL )?\((" + _STRING + rb")\) Tj ", re.S)
_OTHER_ESCAPE = re.compile(rb"\\[^0-7nrtbf\\\r\n]")
_ESCAPE = re.compile(rb"\\([0-7]{1,3}|.)", re.S)
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}
_PAINT = {b"S", b"s", b"f", b"F", b"f*", b"B", b"B*", b"b", b"b*"}
_STATE = {b"w", b"J", b"j", b"M", b"rg", b"RG", b"g", b"G", b"k", b"K", b"q", b"Q", b"n", b"h"}


def unescape(raw: bytes) -> bytes:
    if b"\\" not in raw:
        return raw
    if not _OTHER_ESCAPE.search(raw):
        with warnings.catch_warnings():  # Python's decoder warns of backslash-CR and octal over 255: both kept
            warnings.simplefilter("ignore", DeprecationWarning)
            return codecs.escape_decode(raw)[0]

    def one(m: re.Match) -> bytes:
        s = m.group(1)
        if s[:1].isdigit():
            return bytes([int(s, 8) & 0xFF])
        return _ESCAPES.get(s, b"" if s in b"\r\n" else s)

    return _ESCAPE.sub(one, raw)


def advance(font, raw: bytes) -> float:
    widths, first, count = font.widths, font.first, len(font.widths)
    return sum(widths[c - first] if 0 <= c - first < count else 1000 for c in unescape(raw))


def decode(font, raw: bytes) -> str:
    return unescape(raw).decode("latin-1").translate(font.chars)


def _bars(tokens: list[bytes], zone_pt: tuple[float, float, float, float]) -> np.ndarray | None:
    first = 0
    while first < len(tokens) and tokens[first] == b"n":
        first += 1
    count = tokens.count(b"re")
    end = first + 5 * count
    rest = tokens[end:]
    if (not count or tokens[first + 4:end:5].count(b"re") != count or not rest
            or rest[0] not in _FILL_OPERATORS or rest.count(b"Q") != len(rest) - 1):
        return None
    xs, ys, ws, hs = (tokens[first + k:end:5] for k in range(4))
    try:
        number = {t: float(t) for t in set(ys + ws + hs)}
        x = np.array(list(map(float, xs)))
    except ValueError:
        return None
    if not all(map(math.isfinite, number.values())) or not np.isfinite(x).all():
        return None
    x0, y0, x1, y1 = zone_pt
    spans = {(number[y], number[h]) for y, h in set(zip(ys, hs))}
    if len(spans) != 1:
        return None
    bottom, height = spans.pop()
    low, high = min(bottom, bottom + height), max(bottom, bottom + height)
    if height == 0 or low < y0 or high > y1:
        return None
    w = np.array(list(map(number.__getitem__, ws)))
    bars = np.column_stack((np.minimum(x, x + w), np.maximum(x, x + w)))
    bars = bars[np.argsort(bars[:, 0], kind="stable")]
    if not w.all() or bars[0, 0] < x0 or bars[:, 1].max() > x1:
        return None
    return np.column_stack((bars, np.full(len(bars), low), np.full(len(bars), high)))


def row(bars: np.ndarray) -> np.ndarray:
    """The bars laid out on one row of pixels (white is 255), as `_decode` laid them."""
    edges = np.rint((bars[:, :2] - bars[0, 0]) * _PX_PER_PT).astype(np.intp) + _QUIET_PX
    starts, ends = edges[:, 0], edges[:, 1]
    gaps = starts[1:] - ends[:-1]
    if (gaps >= 0).all():
        runs = np.empty(2 * len(starts) + 1, dtype=np.intp)
        runs[0], runs[1::2], runs[2:-1:2], runs[-1] = _QUIET_PX, ends - starts, gaps, _QUIET_PX
        colours = np.zeros(len(runs), dtype=np.uint8)
        colours[0::2] = 255
        return np.repeat(colours, runs)
    row = np.full(int(ends.max()) + _QUIET_PX, 255, dtype=np.uint8)
    for s, e in zip(starts.tolist(), ends.tolist()):
        row[s:e] = 0
    return row


def _decode(bars: np.ndarray) -> list[str]:
    found = zxingcpp.read_barcodes(row(bars).reshape(1, -1), formats=zxingcpp.BarcodeFormat.Code128,
                                   try_invert=False, try_rotate=False, try_downscale=False)
    return [b.text for b in found]


def geometry_holds(bars: np.ndarray, contract: Contract) -> bool:
    height = bars[0, 3] - bars[0, 2]
    if (abs(bars[0, 0] - contract.left) > POSITION_TOLERANCE_PT or abs(bars[0, 2] - contract.bottom) > POSITION_TOLERANCE_PT
            or abs(height - contract.height) > contract.height * GEOMETRY_TOLERANCE):
        return False
    grid = (bars[:, :2] - bars[0, 0]) / contract.narrow
    return bool(np.abs(grid - np.rint(grid)).max() <= GEOMETRY_TOLERANCE
                and (bars[:, 1] - bars[:, 0]).min() >= contract.narrow * (1 - GEOMETRY_TOLERANCE))


def _overlaps(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def drawing_clear(tokens: list[bytes], zone: tuple[float, float, float, float]) -> bool:
    stack: list[bytes] = []
    xs: list[float] = []
    ys: list[float] = []
    i, count = 0, len(tokens)
    while i < count:
        t = tokens[i]
        if t[:1] in b"0123456789-.+":
            if not stack and i + 4 < count and tokens[i + 4] == b"re":
                end = i + 5
                while end + 4 < count and tokens[end + 4] == b"re":
                    end += 5
                try:
                    x, y, w, h = (list(map(float, tokens[i + k:end:5])) for k in range(4))
                except ValueError:
                    return False
                if not math.isfinite(sum(x) + sum(y) + sum(w) + sum(h)):
                    stack.append(t)
                    i += 1
                    continue
                xs += x
                xs += map(add, x, w)
                ys += y
                ys += map(add, y, h)
                i = end
                continue
            stack.append(t)
            i += 1
            continue
        try:
            if t == b"cm":
                if stack != _IDENTITY:
                    return False
            elif t in (b"m", b"l"):
                xs.append(float(stack[-2]))
                ys.append(float(stack[-1]))
            elif t in (b"c", b"v", b"y"):
                xs.extend(map(float, stack[0::2]))
                ys.extend(map(float, stack[1::2]))
            elif t == b"re":
                x0, y0, w0, h0 = map(float, stack[-4:])
                xs += [x0, x0 + w0]
                ys += [y0, y0 + h0]
            elif t in _PAINT:
                if xs and _overlaps((min(xs) - 3, min(ys) - 3, max(xs) + 3, max(ys) + 3), zone):
                    return False
                xs, ys = [], []
            elif t == b"n":
                xs, ys = [], []
            elif t not in _STATE:
                return False
        except (ValueError, IndexError):
            return False
        stack = []
        i += 1
    return not stack


def _text_lines(items: list[tuple], fonts: dict):
    ys: list[bytes] = []
    shown: list[str] = []
    states: list[tuple[bytes, bytes]] = []
    current, current_size = b"", b"0"
    font = None
    readable = True
    for set_font, set_size, _x, y, name, size, raw, more in items:
        if set_font:
            current, current_size = set_font, set_size
            font = fonts.get(current)
            continue
        states.append((current, current_size))
        if name and name != current:
            current = name
            font = fonts.get(current)
        if name:
            current_size = size
        if font is None or font.chars is None:
            readable = False
            text = ""
        else:
            text = decode(font, raw)
        if more:
            for run_name, run_size, run_raw in _RUN.findall(more):
                if run_name:
                    current, current_size = run_name, run_size
                    font = fonts.get(current)
                if font is None or font.chars is None:
                    readable = False
                else:
                    text += decode(font, run_raw)
        ys.append(y)
        shown.append(text)
    if not readable:
        return None, ys, states
    lines: list[str] = []
    last = None
    for y, text in zip(ys, shown):
        if y == last:
            lines[-1] += " " + text
        else:
            lines.append(text)
            last = y
    return lines, ys, states


def _text_clear(items, ys, states, fonts, zone) -> bool:
    x0, y0, x1, y1 = zone
    low, high = y0 - 1, y1 + 1
    texts = [item for item in items if not item[0]]
    return not any(_reaches(item, state, fonts, low, high, x0 - 1, x1 + 1)
                   for item, state, y in zip(texts, states, map(float, ys)) if low - 40 < y < high + 40)


def _runs(item, state) -> list[tuple[bytes, bytes, bytes]]:
    """A text's runs: (font name, size, string as written), each in the font in force."""
    _f, _s, _x, _y, name, size, raw, more = item
    current, current_size = state
    runs = [(name or current, size or current_size, raw)]
    if more:
        for run_name, run_size, run_raw in _RUN.findall(more):
            runs.append((run_name or runs[-1][0], run_size or runs[-1][1], run_raw))
    return runs


def _reaches(item, state, fonts, low, high, left, right) -> bool:
    x, y = float(item[2]), float(item[3])
    runs = _runs(item, state)
    width, tallest = 0.0, 0.0
    for font_name, sizes, run_raw in runs:
        font, size = fonts.get(font_name), float(sizes)
        tallest = max(tallest, size)
        if font is None:
            return low < y + 40 and y - 40 < high
        width += advance(font, run_raw) * size / 1000
    return y - 0.3 * tallest < high and y + tallest > low and x < right and x + width > left


def _finite_numbers(operands: list[bytes]) -> list[float] | None:
    try:
        values = [float(v) for v in operands]
    except ValueError:
        return None
    return values if all(map(math.isfinite, values)) else None


def legible_fill(operator: bytes, values: list[float]) -> bool:
    if operator == b"g":
        return len(values) == 1 and values[0] <= 0.55
    if operator == b"rg":
        return len(values) == 3 and values[0] == values[1] == values[2] <= 0.55
    return len(values) == 4 and values[3] >= 0.45 and values[0] <= values[3] and values[1] <= values[3] \
        and values[2] <= values[3]


def drawing_facts(tokens: list[bytes]) -> tuple[bool, bool, list[tuple]]:
    """(plain, text_safe, fills) over every token: the definition `_scan.c`'s `drawing_facts` follows."""
    stack: list[bytes] = []
    xs: list[float] = []
    ys: list[float] = []
    text_safe, fills = True, []
    for t in tokens:
        if t[:1] in b"0123456789-.+":
            stack.append(t)
            continue
        values = _finite_numbers(stack) if len(stack) <= 6 else None
        if values is None:
            return False, False, []
        depth = len(values)
        if t == b"cm":
            if stack != _IDENTITY:
                return False, False, []
        elif t in (b"m", b"l"):
            if depth != 2:
                return False, False, []
            xs.append(values[0])
            ys.append(values[1])
        elif t in (b"c", b"v", b"y"):
            if depth != (6 if t == b"c" else 4):
                return False, False, []
            xs += values[0::2]
            ys += values[1::2]
        elif t == b"re":
            if depth != 4:
                return False, False, []
            xs += [values[0], values[0] + values[2]]
            ys += [values[1], values[1] + values[3]]
        elif t in _PAINT or t == b"n":
            if depth:
                return False, False, []
            if xs and t in (b"f", b"F", b"f*", b"B", b"B*", b"b", b"b*"):
                fills.append((min(xs), min(ys), max(xs), max(ys)))
            xs, ys = [], []
        elif t in (b"g", b"rg", b"k"):
            if not legible_fill(t, values):
                text_safe = False
        elif t == b"w":
            if depth != 1:
                return False, False, []
            if not values[0] <= content.MAX_STROKE_PT:
                text_safe = False
        elif t not in _STATE:
            return False, False, []
        stack = []
    if stack:
        return False, False, []
    return True, text_safe, fills


def text_prints(items, states, fonts, tokens, page, zone) -> bool:
    """Every text prints as it reads (`content.read_page`'s definition), with `drawing_facts` over the tokens."""
    plain, text_safe, fills = drawing_facts(tokens)
    if not plain or not text_safe or page is None:
        return False
    margin = content.PRINTABLE_MARGIN_PT
    left, bottom, right, top = page[0] + margin, page[1] + margin, page[2] - margin, page[3] - margin
    for item, state in zip([item for item in items if not item[0]], states):
        try:
            x, y = float(item[2]), float(item[3])
        except ValueError:
            return False
        width, tallest = 0.0, 0.0
        for font_name, sizes, run_raw in _runs(item, state):
            try:
                points = float(sizes)
            except ValueError:
                return False
            font = fonts.get(font_name)
            if font is None or not points >= content.TEXT_MIN_PT:
                return False
            tallest = max(tallest, points)
            try:
                width += advance(font, run_raw) * points / 1000
            except (ValueError, UnicodeDecodeError):
                return False
        box = (x, y - 0.3 * tallest, x + width, y + tallest)
        if not (box[0] >= left and box[1] >= bottom and box[2] <= right and box[3] <= top):
            return False
        for f in fills:
            if zone[0] <= f[0] and zone[1] <= f[1] and f[2] <= zone[2] and f[3] <= zone[3]:
                continue
            if f[0] < box[2] and box[0] < f[2] and f[1] < box[3] and box[1] < f[3]:
                return False
    return True


def read_page(data: bytes, contract: Contract, fonts: dict | None = None, page: tuple | None = None) -> PageRead:
    """The barcode texts and text lines of one page's content, as the pure-Python reader read them."""
    try:
        return _read_page(data, contract, fonts, page)
    except (ValueError, IndexError, UnicodeDecodeError):
        return PageRead(None, None)


def _read_page(data: bytes, contract: Contract, fonts: dict | None, page: tuple | None) -> PageRead:
    parts = _TEXT.split(data)
    rest = b" ".join(parts[0::_GROUPS + 1])
    items = [tuple(parts[i:i + _GROUPS]) for i in range(1, len(parts), _GROUPS + 1)]
    zone = contract.strip
    lines, ys, states = _text_lines(items, fonts or {}) if items else ([], [], [])
    text_clear = _text_clear(items, ys, states, fonts or {}, zone) if items else True
    tokens = rest.split()
    if not text_clear:
        return PageRead(None, lines, ("background", "text is printed in the barcode strip", None))
    if b"BT" in tokens:
        return PageRead(None, None)
    if lines is not None and not text_prints(items, states, fonts or {}, tokens, page, zone):
        lines = None
    if b"k" not in tokens:
        return PageRead(None, lines)
    at = len(tokens) - 1 - tokens[::-1].index(b"k")
    if tokens[at - 4:at] != _K100 or at < 5 or tokens[at - 5] != b"q":
        return PageRead(None, lines)
    if not drawing_clear(tokens[:at - 4], zone):
        return PageRead(None, lines)
    bars = _bars(tokens[at + 1:], zone)
    if bars is None:
        return PageRead(None, lines)
    texts = _decode(bars)
    if len(texts) != 1 or not geometry_holds(bars, contract):
        return PageRead(None, lines)
    return PageRead(texts, lines)
