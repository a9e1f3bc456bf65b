"""Inspection stage 1, composition: the text of each sampled statement against its source record.

The text of every sheet of the piece is extracted from the print file itself (pdfium's text page) and
compared with expectations computed afresh from the source record and the layout (`expect.py`): the
name and the address block, the account, the dates, every amount of the summary and of the
transaction table with its totals, the reward points, and the "Page n of m" marker of every sheet.

Comparisons ignore whitespace (`expect.squash`), since text extraction may break a line at a space or
join two words; they never ignore a character. A printed value is read in context, right after its
label (`New balance` then `¥114,581`), so a right amount on the wrong line is still a defect.

Finding every expected text is not enough: a sheet could still carry a second, altered copy of a
value, or text nobody asked for. So each check marks the characters it accounted for (`Flat.cover`),
and whatever no check accounted for is itself a defect (`unexpected-text`): every printed character
of a sheet is explained by the source record or by the layout.
"""
from __future__ import annotations

import re
from decimal import Decimal
from operator import attrgetter
from typing import NamedTuple

import numpy as np
import pypdfium2 as pdfium

from stmtprod.cardnumbers import redact
from stmtprod.ingest.models import StatementRecord
from stmtprod.inspect import expect
from stmtprod.inspect.context import InspectionContext, OpenPrints, PrintJob, parse_record
from stmtprod.layout import Layout

_LINES = re.compile(r"\r\n|\r|\n")
_INLINE_SPACE = re.compile(r"[^\S\r\n]+")  # white space but line breaks: what squash removes from a line
# Which code points are whitespace (str.isspace, which is also what `\s` and so `expect.squash` remove).
# The last one is U+3000 IDEOGRAPHIC SPACE; the table's last entry (not whitespace) stands for every
# code point above it.
_SPACE = np.array([chr(c).isspace() for c in range(0x3002)], dtype=bool)
_EVIDENCE_CHARS = 24
_DATE_DESCRIPTION_AMOUNT = attrgetter("date", "description", "amount")  # of a transaction
# The summary's amounts, each after its label, and how many times each is printed (the new balance in
# the summary and the box).
_SUMMARY = ("previous_balance", "payments", "credits", "new_charges", "fees", "interest", "new_balance",
            "minimum_due")
_SUMMARY_AMOUNTS = attrgetter(*_SUMMARY)
_SUMMARY_TIMES = (1, 1, 1, 1, 1, 1, 2, 1)
_DATES = ("statement_date", "period", "due_date")  # each after its label; the due date twice
_TABLE_HEADINGS = ("transactions", "date", "description", "amount")  # every sheet's table


class Row(NamedTuple):
    """One transaction row as printed (squashed text) and the sheet it is on (1-based)."""

    date: str
    description: str
    amount: str
    sheet: int


def _defect(sequence: int, kind: str, evidence: str, sheet: int | None = None) -> dict:
    """One defect of a piece; `sheet` (1-based) when it is known to be on a sheet other than the first."""
    found = {"piece": sequence, "kind": kind, "evidence": evidence}
    if sheet is not None and sheet > 1:
        found["sheet"] = sheet
    return found


def sheet_texts(pdf: pdfium.PdfDocument, first_page: int, last_page: int) -> list[str]:
    """The extracted text of pages first_page..last_page (1-based, inclusive) that the file has."""
    texts = []
    for index in range(first_page - 1, min(last_page, len(pdf))):
        page = pdf[index]
        try:
            textpage = page.get_textpage()
            try:
                texts.append(textpage.get_text_range())
            finally:
                textpage.close()
        finally:
            page.close()
    return texts


class _Patterns:
    """The transaction-row pattern (over squashed text) for one layout's dates and money, built once."""

    def __init__(self, layout: Layout):
        cur = layout.currency
        parts, pos = [], 0
        fmt = expect.squash(layout.date_format)
        for m in re.finditer(r"\{(year|month|day|date)(?::[^}]*)?\}", fmt):
            parts.append(re.escape(fmt[pos:m.start()]))
            parts.append({"year": r"\d{4}", "month": r"\d{1,2}", "day": r"\d{1,2}"}.get(m.group(1), r".+?"))
            pos = m.end()
        parts.append(re.escape(fmt[pos:]))
        self.date = "".join(parts)
        # A transaction row: date, description, amount, nothing else on the line. The amount is read
        # loosely (any digits and separators after the symbol) so a misprinted one is reported as a
        # wrong amount rather than as a missing row.
        loose = "-?" + re.escape(expect.squash(cur.symbol)) + r"[0-9][0-9.,]*"
        self.row = re.compile(f"^({self.date})(.*?)({loose})$", re.M)  # each line of a squashed sheet
        # The same rows, over the lines with a line break put first: each begins after a line break and
        # ends before one or at the end, as `^` and `$` have it, but the engine can skip to each break.
        self.after_breaks = re.compile(rf"\n({self.date})(.*?)({loose})(?=\n|\Z)")


_PATTERNS: dict[tuple, _Patterns] = {}


def _patterns(layout: Layout) -> _Patterns:
    key = (layout.date_format, layout.currency)  # by content: a layout object's id may be reused
    if key not in _PATTERNS:
        _PATTERNS[key] = _Patterns(layout)
    return _PATTERNS[key]


class _Squashed:
    """A layout's own text as every piece's check needs it, squashed once: labels by language, page
    markers, the page marker's pattern and the fixed text every sheet carries (every sheet of the
    night is checked, so this is worth keeping)."""

    def __init__(self, layout: Layout):
        self.layout = layout
        page_word = re.escape(layout.labels["en"].page).replace(r"\{n\}", r"(\d+)").replace(r"\{m\}", r"(\d+)")
        self.page_re = re.compile(expect.squash(page_word.replace("\\ ", " ")))
        self.fixed = [(line, expect.squash(line)) for line in expect.fixed_text(layout)]
        self.rows_pattern = _patterns(layout).after_breaks
        self._labels: dict[tuple[str, str, str], str] = {}
        self._texts: dict[tuple[str, str], tuple[str, str]] = {}
        self._markers: dict[tuple[int, int, str], str] = {}
        self._label_lists: dict[tuple[str, tuple[str, ...], str], list[str]] = {}
        self._format_money = expect.money_format(layout.currency)
        self._format_money_list = expect.money_list_format(layout.currency)
        cur = layout.currency  # money text holds no white space unless one of these does: squashing it is a no-op
        self._money_squashed = not cur.symbol_space and squash_free(cur.symbol + cur.group_separator
                                                                     + cur.decimal_separator)
        self._dates: dict[object, tuple[str, str]] = {}
        self._squashed_dates: dict[object, str] = {}
        self._descriptions: dict[str, str] = {}
        self._every_sheet: dict[str, list[tuple[str, str]]] = {}

    def every_sheet(self, language: str) -> list[tuple[str, str]]:
        """The text every sheet must carry in `language`, as written and squashed: the layout's fixed
        text, the titles and the transaction table's headings."""
        found = self._every_sheet.get(language)
        if found is None:
            texts = [*expect.titles(self.layout, language),
                     *(expect.label(self.layout, language, key) for key in _TABLE_HEADINGS)]
            found = self._every_sheet[language] = self.fixed + [(t, expect.squash(t)) for t in texts]
        return found

    def description(self, text: str) -> str:
        """A transaction description squashed (merchants repeat from statement to statement)."""
        found = self._descriptions.get(text)
        if found is None:
            if len(self._descriptions) >= _KEPT:
                self._descriptions.clear()
            found = self._descriptions[text] = expect.squash(text)
        return found

    def money(self, amount: Decimal) -> tuple[str, str]:
        """`expect.money` in the layout's currency, and squashed."""
        text = self._format_money(amount)
        return text, text if self._money_squashed else expect.squash(text)

    def money_list(self, amounts) -> tuple[list[str], list[str]]:
        """`money` of each amount, as printed and squashed (`expect.money_list_format`)."""
        texts = self._format_money_list(amounts)
        return texts, texts if self._money_squashed else [expect.squash(text) for text in texts]

    def columns(self, transactions) -> tuple[list[str], list[str], list[str]]:
        """The transactions' dates, descriptions and amounts as the table should print them, squashed."""
        if not transactions:
            return [], [], []
        values, descriptions, amounts = zip(*map(_DATE_DESCRIPTION_AMOUNT, transactions))
        dates = list(map(self._squashed_dates.get, values))
        if None in dates:
            dates = [date if date is not None else self.date(value)[1] for date, value in zip(dates, values)]
        squashed = list(map(self._descriptions.get, descriptions))
        if None in squashed:
            squashed = [text if text is not None else self.description(description)
                        for text, description in zip(squashed, descriptions)]
        return dates, squashed, self.money_list(amounts)[1]

    def date(self, value) -> tuple[str, str]:
        """`expect.date` in the layout's format, and squashed."""
        found = self._dates.get(value)
        if found is None:
            text = expect.date(self.layout.date_format, value)
            found = self._dates[value] = (text, expect.squash(text))
            self._squashed_dates[value] = found[1]
        return found

    def labels(self, language: str, keys: tuple[str, ...], suffix: str = "") -> list[str]:
        """`label` of each key."""
        found = self._label_lists.get((language, keys, suffix))
        if found is None:
            found = self._label_lists[(language, keys, suffix)] = [self.label(language, key, suffix) for key in keys]
        return found

    def text(self, language: str, key: str) -> tuple[str, str]:
        """The label `key` as printed (`expect.label`) and squashed."""
        found = self._texts.get((language, key))
        if found is None:
            text = expect.label(self.layout, language, key)
            found = self._texts[(language, key)] = (text, expect.squash(text))
        return found

    def label(self, language: str, key: str, suffix: str = "") -> str:
        """The squashed label (`expect.label`) followed by `suffix`."""
        found = self._labels.get((language, key, suffix))
        if found is None:
            found = self._labels[(language, key, suffix)] = expect.squash(
                expect.label(self.layout, language, key) + suffix)
        return found

    def marker(self, n: int, m: int, language: str) -> str:
        """The squashed "Page n of m" (`expect.page_marker`)."""
        found = self._markers.get((n, m, language))
        if found is None:
            found = self._markers[(n, m, language)] = expect.squash(expect.page_marker(self.layout, n, m, language))
        return found


def squash_free(text: str) -> bool:
    """Whether `expect.squash` leaves the text as it is (it holds no white space)."""
    return expect.squash(text) == text


_SQUASHED: dict[int, _Squashed] = {}
# Descriptions kept per layout: the common ones repeat; a bound that keeps a worker's memory the same at
# 10,000 and 100,000 accounts (50,000 took about 12 MiB a layout).
_KEPT = 2048


def _squashed(layout: Layout) -> _Squashed:
    """The layout's `_Squashed`, by the object's id: the entry holds the layout, so the id cannot be
    reused while it is kept."""
    known = _SQUASHED.get(id(layout))
    if known is None or known.layout is not layout:
        if len(_SQUASHED) >= 64:
            _SQUASHED.clear()
        known = _SQUASHED[id(layout)] = _Squashed(layout)
    return known


class Flat:
    """A sheet's extracted text without whitespace, remembering where each character came from, so a
    search ignores whitespace but can still tell whether a value runs on into more digits.

    A quick Flat (`quick=True`) marks only the first copy of a text, and of a label and its value only
    as many as the check asks for: the checks run on quick Flats find a subset of what they find on
    full ones, so a piece they pass is one the full checks pass (`check_piece`)."""

    def __init__(self, text: str, quick: bool = False):
        self.text = text
        # Each line squashed, line breaks made `\n` (for the transaction rows); without the line breaks,
        # the squashed text (`expect.squash`). Text whose only white space is spaces and line breaks
        # (nearly all) is done with str.replace; any other white space goes through the regexes.
        lines = text.replace(" ", "")
        if "\r" in lines:
            lines = _LINES.sub("\n", lines)
        flat = lines.replace("\n", "")
        if flat and flat.split() != [flat]:
            lines = _LINES.sub("\n", _INLINE_SPACE.sub("", text))
            flat = lines.replace("\n", "")
        self.lines, self.flat = lines, flat
        self._where: np.ndarray | None = None
        self.spans: list[tuple[int, int]] = []
        self._cursor = 0
        self.quick = quick

    def cover_all(self, needle: str) -> bool:
        """Mark every occurrence of the squashed needle as accounted for; whether there was one."""
        if not needle:
            return False
        flat = self.flat
        start = flat.find(needle)
        if start < 0:
            return False
        if self.quick:
            self.spans.append((start, start + len(needle)))
            return True
        size, spans = len(needle), self.spans
        while start >= 0:
            spans.append((start, start + size))
            start = flat.find(needle, start + 1)
        return True

    def cover_next(self, needle: str) -> None:
        """Mark the first occurrence of the squashed needle after the last one marked this way (rows
        come in printing order)."""
        self.cover_each((needle,))

    def cover_each(self, needles: list[str]) -> None:
        """`cover_next` of each needle in turn. Needles printed one right after another (a sheet's rows)
        are marked as one run: when the first is found first where all of them joined are, each next one
        is found first right after the one before, and the characters marked are the same."""
        flat, cursor, spans = self.flat, self._cursor, self.spans
        if len(needles) > 1 and all(needles):
            joined = "".join(needles)
            start = flat.find(joined, cursor)
            if start >= 0 and flat.find(needles[0], cursor) == start:
                self._cursor = start + len(joined)
                spans.append((start, self._cursor))
                return
        for needle in needles:
            start = flat.find(needle, cursor)
            if start >= 0:
                cursor = start + len(needle)
                spans.append((start, cursor))
        self._cursor = cursor

    def unexplained(self) -> tuple[int, int] | None:
        """The first run of flat text no check accounted for, or None."""
        at = 0
        for start, end in sorted(self.spans):
            if start > at:
                return at, start
            if end > at:
                at = end
        return (at, len(self.flat)) if at < len(self.flat) else None

    def shown(self, start: int, end: int) -> str:
        """Flat text [start, end) as printed (whitespace kept, a little context before and after,
        anything that could be a card number masked), for evidence."""
        first = self.where(start)
        last = self.where(end - 1) + 1
        if last - first > _EVIDENCE_CHARS * 2:
            last = first + _EVIDENCE_CHARS * 2
        before = self.text[max(0, first - 8):first]
        return redact(expect.normalise(f"{before}[{self.text[first:last]}]{self.text[last:last + 8]}"))

    def where(self, offset: int) -> int:
        """The offset in the original text of the flat text's character at `offset`."""
        if self._where is None:
            codes = np.frombuffer(self.text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
            self._where = np.flatnonzero(~_SPACE[np.minimum(codes, len(_SPACE) - 1)])
        return int(self._where[offset])

    def find_all(self, needle: str) -> list[int]:
        """Start offsets (in the flat text) of every occurrence of the squashed needle."""
        found, start = [], self.flat.find(needle)
        while start >= 0:
            found.append(start)
            start = self.flat.find(needle, start + 1)
        return found

    def ends_cleanly(self, end: int) -> bool:
        """Whether the flat text's [..end) is not followed directly (no space) by more of a number."""
        if end <= 0 or end >= len(self.flat):
            return True
        following = self.flat[end]  # what follows, unless white space comes between
        if not following.isdigit() and following not in ".,":
            return True
        if self.line_break_before(end):  # white space comes between
            return True
        after = self.where(end - 1) + 1
        text = self.text
        if after >= len(text):
            return True
        if text[after].isdigit():
            return False
        return not (text[after] in ".," and after + 1 < len(text) and text[after + 1].isdigit())

    def line_break_before(self, offset: int) -> bool:
        """Whether a line ends between the flat text's characters at offset - 1 and offset (0 < offset <
        len(flat)), found in the squashed lines without mapping the whole text back (`where`): a value
        at the end of a line is followed by white space, whatever the next line starts with."""
        lines, at = self.lines, offset
        while True:  # the place of flat character `offset` in the lines: offset plus the breaks before it
            place = offset + lines.count("\n", 0, at + 1)
            if place == at:
                return lines[place - 1] == "\n"
            at = place

    def after(self, end: int) -> str:
        """A few characters of the original text from flat offset `end`, for evidence."""
        start = self.where(end) if end < len(self.flat) else len(self.text)
        return expect.normalise(self.text[start:start + _EVIDENCE_CHARS])


def _labelled(text: Flat, head: str, value: str, times: int) -> str | None:
    """None when `head` followed by `value` occurs at least `times` times in the extracted text
    (whitespace ignored, the value not running on into more digits); otherwise what was found there,
    for the evidence. `head` and `value` are squashed already."""
    # An occurrence of head + value is an occurrence of the head with the value right after it.
    flat, needle = text.flat, head + value
    size, length = len(needle), len(text.flat)
    good, spans, enough = [], text.spans, times if text.quick else None  # quick: the first copies, until enough
    h = flat.find(needle)
    while h >= 0:
        end = h + size
        if end >= length or (not flat[end].isdigit() and flat[end] not in ".,") or text.ends_cleanly(end):
            good.append(h)
            spans.append((h, end))
            if len(good) == enough:
                break
        h = flat.find(needle, h + 1)
    found = len(good)
    if found >= times:
        return None
    heads = text.find_all(head)
    if not heads:
        return f"label {head!r} not found"
    shown = [text.after(h + len(head)) for h in heads if h not in good] or [text.after(h + len(head)) for h in heads]
    return f"found {found} of {times} after the label; it reads " + " | ".join(repr(a) for a in shown[:3])


def _sheet_rows(layout: Layout, flats: list[Flat]) -> list[list[tuple[str, str, str]]]:
    """The transaction rows (date, description, amount) of each sheet: the row pattern run over the
    sheet's squashed lines at once (each row a whole line)."""
    pattern = _squashed(layout).rows_pattern
    return [pattern.findall("\n" + flat.lines) for flat in flats]


def _check_transactions(seq: int, layout: Layout, record: StatementRecord, texts: list[str],
                        flats: list[Flat]) -> list[dict]:
    known = _squashed(layout)
    transactions = record.transactions
    dates, descriptions, amounts = known.columns(transactions)
    by_sheet = _sheet_rows(layout, flats)
    per_sheet = [len(found) for found in by_sheet]
    if [row for found in by_sheet for row in found] == list(zip(dates, descriptions, amounts)):
        # Every row printed as expected, in order (what the matching below finds then, row by row).
        for flat, found in zip(flats, by_sheet):
            flat.cover_each(list(map("".join, found)))
        defects = []
    else:
        want = list(zip(dates, [t.description for t in transactions], amounts, descriptions))
        defects = _match_rows(seq, want, [Row(*row, sheet) for sheet, found in enumerate(by_sheet, 1)
                                          for row in found], flats)

    # Running totals: carried forward at the foot of sheet k, brought forward at the head of k+1,
    # and the total of new charges on the last sheet.
    lang = record.language
    amounts = [t.amount for t in transactions]
    running, done = Decimal(0), 0
    for n in range(1, len(texts) + 1):
        if n < len(texts):
            # The same additions, in the same order, as summing the first `done` amounts afresh.
            running = sum(amounts[done:done + per_sheet[n - 1]], running)
            done += per_sheet[n - 1]
            value = known.money(running)
            checks = [("carried_forward", value, "carried forward", n),
                      ("brought_forward", value, f"brought forward on sheet {n + 1}", n + 1)]
        else:  # the new charges: the rest of the amounts added on, as `record.new_charges` adds them all
            checks = [("total_new_charges", known.money(sum(amounts[done:], running)), "total new charges", n)]
        for key, (amount, squashed), what, sheet in checks:
            found = _labelled(flats[sheet - 1], known.label(lang, key), squashed, 1)
            if found:
                defects.append(_defect(seq, "wrong-amount", f"{what} (sheet {n}): expected {amount}, {found}", sheet))
    return defects


def _match_rows(seq: int, want: list[tuple[str, str, str, str]], rows: list[Row], flats: list[Flat]) -> list[dict]:
    """The transactions printed against the record's, matched in order: which are missing, extra or
    wrong (date, description, amount). `want`: (date, description, amount, squashed description)."""
    defects = []

    def same(e, r: Row) -> bool:  # rows are squashed already: equal descriptions need no more work
        return e[0] == r.date and e[2] == r.amount and (e[3] == r.description
                                                        or expect.description_matches(e[1], r.description))

    def show(r: Row) -> str:
        return f"{r.date} {r.description} {r.amount} (sheet {r.sheet})"

    def missing(i: int) -> None:
        e = want[i]
        sheet = rows[min(j, len(rows) - 1)].sheet if rows else None  # where the row was looked for
        defects.append(_defect(seq, "missing-transaction",
                               f"transaction {i + 1} of {len(want)} ({e[0]} {e[1]} {e[2]}) is not printed", sheet))

    i = j = 0
    while i < len(want) and j < len(rows):
        if same(want[i], rows[j]):
            r = rows[j]
            flats[r.sheet - 1].cover_next(r.date + r.description + r.amount)
            i, j = i + 1, j + 1
            continue
        k = next((k for k in range(j + 1, len(rows)) if same(want[i], rows[k])), None)
        lk = next((lk for lk in range(i + 1, len(want)) if same(want[lk], rows[j])), None)
        if lk is not None and (k is None or lk - i <= k - j):
            for x in range(i, lk):
                missing(x)
            i = lk
            continue
        if k is not None:
            for x in range(j, k):
                defects.append(_defect(seq, "extra-transaction",
                                       f"printed row {show(rows[x])} is not in the source record", rows[x].sheet))
            j = k
            continue
        e, r = want[i], rows[j]
        where = f"transaction {i + 1} of {len(want)} on sheet {r.sheet}"
        if e[0] != r.date:
            defects.append(_defect(seq, "wrong-date", f"{where}: expected date {e[0]}, found {r.date}", r.sheet))
        if not expect.description_matches(e[1], r.description):
            defects.append(_defect(seq, "wrong-description",
                                   f"{where}: expected description {e[1]!r}, found {r.description!r}", r.sheet))
        if e[2] != r.amount:
            defects.append(_defect(seq, "wrong-amount", f"{where}: expected amount {e[2]}, found {r.amount}",
                                   r.sheet))
        i, j = i + 1, j + 1
    for x in range(i, len(want)):
        missing(x)
    for x in range(j, len(rows)):
        defects.append(_defect(seq, "extra-transaction", f"printed row {show(rows[x])} is not in the source record",
                               rows[x].sheet))
    return defects


def _check_enclosures(seq: int, layout: Layout, record: StatementRecord, flat: Flat,
                      inserts: list[tuple[str, dict[str, str]]]) -> list[dict]:
    """Sheet 1 names the piece's inserts after the enclosures label (whitespace and line breaks aside),
    and a piece without inserts shows no such label."""
    want = expect.enclosures(layout, record.language, inserts)
    head = _squashed(layout).label(record.language, "enclosures", ":")
    if want is None:
        return [_defect(seq, "wrong-enclosures", "no inserts, but sheet 1 shows an enclosures line")] \
            if head in flat.flat else []
    if not flat.cover_all(expect.squash(want)):
        return [_defect(seq, "wrong-enclosures", f"expected {want!r} on sheet 1, not found")]
    return []


def _check_unexplained(seq: int, flats: list[Flat]) -> list[dict]:
    """Text on a sheet that no check accounted for: an altered second copy of a value, or text added."""
    defects = []
    for n, flat in enumerate(flats, 1):
        gap = flat.unexplained()
        if gap is not None:
            defects.append(_defect(seq, "unexpected-text", f"sheet {n}: text the source record and the layout "
                                                           f"do not account for: {flat.shown(*gap)}", n))
    return defects


def check_piece(seq: int, layout: Layout, record: StatementRecord, piece: dict, texts: list[str],
                inserts: list[tuple[str, dict[str, str]]] | None = None) -> list[dict]:
    """Every composition defect of one piece, given the extracted text of each of its sheets; with
    `inserts` ((code, titles by language) by the eligibility rules applied afresh), its enclosures too.

    The checks run on quick Flats first: a piece they pass has no defect (they find less than the full
    ones, and finding less never hides a defect); any other runs them again on full Flats, for exactly
    the defects and evidence the full search gives."""
    return (_check_piece(seq, layout, record, piece, texts, inserts, quick=True)
            and _check_piece(seq, layout, record, piece, texts, inserts, quick=False))


def _check_piece(seq: int, layout: Layout, record: StatementRecord, piece: dict, texts: list[str],
                 inserts: list[tuple[str, dict[str, str]]] | None, quick: bool) -> list[dict]:
    defects: list[dict] = []
    sheets = piece["sheets"]
    if len(texts) != sheets or piece["last_page"] - piece["first_page"] + 1 != sheets:
        defects.append(_defect(seq, "wrong-page-count",
                               f"manifest says {sheets} sheets on pages {piece['first_page']}-{piece['last_page']}"
                               f" of {piece['file']}; the file has {len(texts)} of them"))
    known = _squashed(layout)
    flats = [Flat(t, quick) for t in texts]
    for n, text in enumerate(texts, 1):
        flat = flats[n - 1].flat
        if not flats[n - 1].cover_all(known.marker(n, sheets, record.language)):
            seen = [f"{a} of {b}" for a, b in known.page_re.findall(flat)]
            defects.append(_defect(seq, "wrong-page-count", f"sheet {n}: expected marker "
                                   f"{expect.page_marker(layout, n, sheets, record.language)!r}, found {seen or 'none'}",
                                   n))
    if not texts:
        return defects

    for n, flat in enumerate(flats, 1):
        for line, want in known.every_sheet(record.language):
            if not flat.cover_all(want) and not flat.cover_all(expect.shortened_in(want, flat.flat)):
                defects.append(_defect(seq, "wrong-layout-text", f"sheet {n}: expected {line!r}, not found", n))
    summary, squashed = known.text(record.language, "summary")
    if not flats[0].cover_all(squashed):
        defects.append(_defect(seq, "wrong-layout-text", f"sheet 1: expected {summary!r}, not found"))

    first = flats[0].flat
    lang, cur = record.language, layout.currency

    # Name and address: the whole block, contiguous and in the market's order.
    block = expect.address_block(layout, record)
    if not flats[0].cover_all(expect.squash("".join(block))):
        name_line = next(line for line in block if record.name in line)
        missing = [line for line in block if expect.squash(line) not in first]
        if expect.squash(name_line) not in first:
            defects.append(_defect(seq, "wrong-name", f"expected name {name_line!r} on sheet 1, not found"))
        others = [line for line in missing if line != name_line]
        if others or not missing:
            detail = (f"lines not found: {others}" if others
                      else "every line is there but not as one block in order")
            defects.append(_defect(seq, "wrong-address", f"expected address block {block}; {detail}"))

    # Account and masked card number in the header of every sheet.
    for key, label, value in zip(("account", "card"), known.labels(lang, ("account", "card"), ":"),
                                 (record.account_id, "**** " + record.card_last5)):
        want = expect.squash(value)
        for n, flat in enumerate(flats, 1):
            found = _labelled(flat, label, want, 1)
            if found:
                defects.append(_defect(seq, "wrong-account", f"{key} (sheet {n}): expected {value}, {found}", n))

    # Dates, each after its label: statement date, period, due date (info block and summary box).
    end = known.date(record.period_end)[0]
    dates = (end, f"{known.date(record.period_start)[0]} - {end}", known.date(record.due_date)[0])
    for key, label, value, times in zip(_DATES, known.labels(lang, _DATES), dates, (1, 1, 2)):
        found = _labelled(flats[0], label, expect.squash(value), times)
        if found:
            defects.append(_defect(seq, "wrong-date", f"{key}: expected {value}, {found}"))

    # Summary amounts, each after its label; the new balance twice (summary and box).
    values, squashed = known.money_list(_SUMMARY_AMOUNTS(record))
    for key, label, times, value, want in zip(_SUMMARY, known.labels(lang, _SUMMARY), _SUMMARY_TIMES, values, squashed):
        found = _labelled(flats[0], label, want, times)
        if found:
            defects.append(_defect(seq, "wrong-amount", f"{key}: expected {value}, {found}"))

    # Reward points, grouped as the market groups amounts.
    points = expect.count(cur, record.points)
    found = _labelled(flats[0], known.label(lang, "points"), expect.squash(points), 1)
    if found:
        defects.append(_defect(seq, "wrong-amount", f"points: expected {points}, {found}"))

    if not record.transactions:
        empty = expect.label(layout, lang, "no_transactions")
        if not flats[0].cover_all(expect.squash(empty)):
            defects.append(_defect(seq, "missing-transaction", f"no transactions, but {empty!r} is not on sheet 1"))

    defects += _check_transactions(seq, layout, record, texts, flats)
    if inserts is not None:
        defects += _check_enclosures(seq, layout, record, flats[0], inserts)
        defects += _check_unexplained(seq, flats)
    return defects


def inspect_job(job: PrintJob, prints: OpenPrints) -> list[dict]:
    """Composition defects of a job's pieces (one print file); a missing print file is a
    wrong-page-count defect of each piece. Runs the same in any process."""
    defects: list[dict] = []
    for seq, piece, layout, line, pdf in job.printed(prints, "wrong-page-count", defects):
        texts = sheet_texts(pdf, piece["first_page"], piece["last_page"])
        defects += check_piece(seq, layout, parse_record(line, piece["region"]), piece, texts)
    return defects


def inspect(ctx: InspectionContext, lot: str, sample: list[int]) -> list[dict]:
    """Composition defects of the sampled pieces of one lot, in sample order (each print file opened
    once). `stmtprod.inspect.parallel` runs the same jobs in worker processes."""
    with OpenPrints(keep=max(1, len(sample))) as prints:
        return [d for job in ctx.print_jobs(sample) for d in inspect_job(job, prints)]
