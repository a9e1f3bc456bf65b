"""Whether a record can be printed and inspected: decided at ingest, per record, for both lines.

Everything that would otherwise pass ingest and then halt the whole night at a later step is checked
here, so that one record is quarantined with its field and reason and the others go on:

- every character must print with the region layout's font *and* read back unchanged from the PDF's
  text (`stmtprod.render.readback`); no combining mark may be left once the text is in NFC
  (ReportLab does not position marks: `か` + U+3099 prints as `か ゙`), and no right-to-left
  character (it would print in the wrong order and unjoined);
- every free-text field must fit its box at its smallest size (`stmtprod.render.fitting`);
- a statement's envelope (sheets and inserts) must be within the inserter's weight limit.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from operator import itemgetter
from typing import NamedTuple

from stmtprod.catalog import Catalog, Insert
from stmtprod.layout import Fonts, Layout
from stmtprod.render import fitting
from stmtprod.render import fonts as font_registry
from stmtprod.render.formatting import address_fields
from stmtprod.render.readback import readable


class Unprintable(Exception):
    """A field that cannot be printed or inspected; the ingest turns it into a quarantine row."""

    def __init__(self, field: str, reason: str, kind: str):
        self.field, self.reason, self.kind = field, reason, kind
        super().__init__(reason)


_RIGHT_TO_LEFT = frozenset({"R", "AL", "AN"})


def _unshaped(ch: str) -> bool:
    """A combining mark (ReportLab does not position marks) or a right-to-left character (it neither
    reorders nor joins them): it would read back, but print wrongly."""
    return unicodedata.category(ch).startswith("M") or unicodedata.bidirectional(ch) in _RIGHT_TO_LEFT


@lru_cache(maxsize=None)
def _styles(fonts: Fonts) -> tuple[str, str]:
    """The layout's regular and bold style names, registered once (registering builds the face stacks)."""
    return font_registry.register(fonts)


_PRINTABLE: dict[Fonts, frozenset[int]] = {}  # worked out once per process (or handed over by `prepare_all`)


def printable_set(fonts: Fonts) -> frozenset[int]:
    """Code points record text may hold: drawn and read back by the layout's faces (spaces of any width
    read back as white space, which every comparison ignores), and printed as written."""
    known = _PRINTABLE.get(fonts)
    if known is None:
        known = _PRINTABLE[fonts] = _printable(fonts)
    return known


_UNPRINTABLE: dict[Fonts, re.Pattern] = {}


def unprintable_pattern(fonts: Fonts) -> re.Pattern:
    """A pattern that matches exactly the characters outside `printable_set(fonts)`, built from the set
    (its runs of code points as ranges): one regex search runs over a record's text in C, where the
    set took a look-up per character (about 9 us of a record's 15)."""
    pattern = _UNPRINTABLE.get(fonts)
    if pattern is None:
        pattern = _UNPRINTABLE[fonts] = _complement(printable_set(fonts))
    return pattern


def _complement(allowed: frozenset[int]) -> re.Pattern:
    if not allowed:
        return re.compile(r"[\s\S]")
    runs, points = [], sorted(allowed)
    start = end = points[0]
    for cp in points[1:]:
        if cp != end + 1:
            runs.append((start, end))
            start = cp
        end = cp
    runs.append((start, end))
    return re.compile("[^" + "".join("\\U%08x-\\U%08x" % run for run in runs) + "]")


def prints(fonts: Fonts, text: str) -> bool:
    """Whether every character of `text` is in `printable_set(fonts)`."""
    return unprintable_pattern(fonts).search(text) is None


def _printable(fonts: Fonts) -> frozenset[int]:
    spaces = {cp for cp in font_registry.coverage(fonts) if unicodedata.category(chr(cp)) == "Zs"}
    return frozenset(cp for cp in readable(fonts) | spaces if not _unshaped(chr(cp)) and cp != REPLACEMENT)


REPLACEMENT = 0xFFFD
"""U+FFFD stands where a decoder upstream met bytes it could not read: the text is damaged, not printable."""


def _printables(fonts: list[Fonts]) -> list[frozenset[int]]:
    """Printable sets worked out in a helper process."""
    return [_printable(f) for f in fonts]


def prepare(layout: Layout) -> None:
    """Register the layout's faces and work out its printable set and its regular style's width bound
    (what the statement's boxes are measured in) now (about a second for a market's fonts), so that
    worker processes forked afterwards start with them instead of each doing it."""
    fitting.warm(_styles(layout.fonts)[0])
    unprintable_pattern(layout.fonts)


def prepare_all(layouts: list[Layout], workers: int = 1) -> None:
    """`prepare` for every layout. With `workers` above 1, the printable sets of every other distinct
    font set (largest first; each takes a fifth of a second or so, drawing and reading back every
    character) are worked out in a helper process meanwhile, instead of one after the other here,
    where the other core would wait for the ingest's workers."""
    todo = [f for f in dict.fromkeys(layout.fonts for layout in layouts) if f not in _PRINTABLE]
    if workers <= 1 or len(todo) <= 1:
        for layout in layouts:
            prepare(layout)
        return
    from stmtprod.engine.workers import pool, stop

    todo.sort(key=lambda f: len(font_registry.coverage(f)), reverse=True)
    helper = pool(1)
    try:
        away = todo[0::2]
        sets = helper.submit(_printables, away)
        for layout in layouts:
            fitting.warm(_styles(layout.fonts)[0])
        for fonts in todo[1::2]:
            printable_set(fonts)
        _PRINTABLE.update(zip(away, sets.result()))
        for layout in layouts:
            unprintable_pattern(layout.fonts)
    except BaseException:
        stop(helper)
        raise
    helper.shutdown(wait=True)


def _why(ch: str, covered: frozenset[int], region: str) -> str:
    name = f"{ch!r} (U+{ord(ch):04X})"
    if ord(ch) == REPLACEMENT:
        return f"replacement character {name}: the text was damaged when it was decoded upstream"
    if unicodedata.category(ch).startswith("M"):
        return f"combining mark {name} left after composing the text (NFC): it would print detached"
    if unicodedata.bidirectional(ch) in _RIGHT_TO_LEFT:
        return f"right-to-left character {name}: the layout prints left to right, unshaped"
    if ord(ch) in covered:
        return f"character {name} prints with the {region} layout's font but does not read back from the PDF text"
    return f"character {name} cannot be printed with the {region} layout's font"


def check_characters(texts: list[tuple[str, str]], fonts: Fonts, region: str) -> None:
    """Raise for the first (path, text) holding a character that does not print and read back."""
    if prints(fonts, "".join([text for _path, text in texts])):  # the common case: once, in C
        return
    allowed = printable_set(fonts)
    for path, text in texts:
        if allowed.issuperset(map(ord, text)):
            continue
        for ch in text:
            if ord(ch) not in allowed:
                kind = "glyph" if ord(ch) not in font_registry.coverage(fonts) else "readback"
                raise Unprintable(path, _why(ch, font_registry.coverage(fonts), region), kind)


class _Measures(NamedTuple):
    """What a layout's width checks use for every record, worked out once."""

    regular: str
    bold: str
    window: fitting.Fit
    window_short: int   # `fitting.sure_length` of the window in the regular style
    unprintable: re.Pattern


def layout_prints(layout: Layout, text: str) -> bool:
    """`prints(layout.fonts, text)`, without hashing the fonts."""
    return _measures(layout).unprintable.search(text) is None


_MEASURES: dict[int, tuple[Layout, _Measures]] = {}   # by identity: a frozen model hashes in Python, field by field


def _measures(layout: Layout) -> _Measures:
    known = _MEASURES.get(id(layout))
    if known is not None and known[0] is layout:   # the layout is held here, so its id is not reused
        return known[1]
    regular, bold = _styles(layout.fonts)
    window = fitting.window(layout)
    measures = _Measures(regular, bold, window, fitting.sure_length(regular, window), unprintable_pattern(layout.fonts))
    if len(_MEASURES) >= 64:   # a run has 7 layouts; a process that loads them again and again keeps few
        _MEASURES.clear()
    _MEASURES[id(layout)] = (layout, measures)
    return measures


def check_window(layout: Layout, name: str, address) -> None:
    """Every line of the address block must fit the envelope window (never wrapped, never cut)."""
    face, _bold, fit, short, _chars = _measures(layout)
    for field, line in address_fields(layout, name, address):
        if len(line) <= short:  # fits whatever its characters; only a longer line is measured
            continue
        reason = fitting.too_wide(face, line, fit, f"the {field} line of the envelope window")
        if reason:
            raise Unprintable(field, reason, "width")


def check_fits(layout: Layout, boxes: list[tuple[str, str, fitting.Fit]]) -> None:
    """Each (field, text, box) must fit its box at the box's smallest size."""
    regular, bold = _measures(layout)[:2]
    if boxes and _all_short(boxes, regular, bold):
        return
    short: dict[int, int] = {}  # by box: a statement's descriptions share one
    for field, text, fit in boxes:
        room = short.get(id(fit))
        if room is None:
            room = short[id(fit)] = fitting.sure_length(bold if fit.bold else regular, fit)
        if len(text) <= room:
            continue
        reason = fitting.too_wide(bold if fit.bold else regular, text, fit, field)
        if reason:
            raise Unprintable(field, reason, "width")


_BOX = itemgetter(2)


def _all_short(boxes: list[tuple[str, str, fitting.Fit]], regular: str, bold: str) -> bool:
    """True when no text is longer than the shortest `fitting.sure_length` of the boxes: then each
    fits its own box, unmeasured (a statement's boxes are its descriptions' column and the header)."""
    fits = list(map(_BOX, boxes))
    room = min(fitting.sure_length(bold if fit.bold else regular, fit) for fit in dict(zip(map(id, fits), fits)).values())
    return max(map(len, map(_TEXT, boxes))) <= room


_TEXT = itemgetter(1)


def check_weight(catalog: Catalog, sheets: int, inserts: list[Insert]) -> None:
    """The envelope the inserter will weigh must be within its limit (heavy mail is not this line's)."""
    limits = catalog.inserter
    weight = limits.envelope_weight(sheets, (i.weight_g for i in inserts))
    if weight > limits.max_envelope_weight_g + 1e-9:
        raise Unprintable("transactions", f"{sheets} sheets and {len(inserts)} inserts weigh {weight:.1f} g, over "
                                          f"the {limits.max_envelope_weight_g:g} g envelope limit", "weight")
