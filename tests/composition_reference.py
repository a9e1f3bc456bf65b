"""The composition check's parts as they were before their quick paths (issue 18), kept as the
reference the quick ones are held to (tests/test_quick_checks.py runs both over real and mutated
sheets and wants the same defects, evidence included).

`reference()` puts them in place of the quick ones for the length of a `with` block: every amount
formatted in integer minor units (`expect.money_exact`), every label searched for and then its value
looked for after each occurrence, every transaction row matched and marked one by one, every running
total summed afresh, what follows a value read in the text mapped back (`Flat.where`).
"""
from __future__ import annotations

from contextlib import contextmanager
from decimal import Decimal

import pytest

from stmtprod.inspect import composition, expect
from stmtprod.inspect.composition import Flat, Row


def cover_all(self: Flat, needle: str) -> bool:
    starts = self.find_all(needle) if needle else []
    self.spans += [(start, start + len(needle)) for start in starts]
    return bool(starts)


def cover_each(self: Flat, needles) -> None:
    for needle in needles:
        start = self.flat.find(needle, self._cursor)
        if start >= 0:
            self._cursor = start + len(needle)
            self.spans.append((start, self._cursor))


class Mapped(Flat):
    """A Flat that reads what follows a value in the text mapped back (`Flat.where`) every time, as
    `ends_cleanly` did before it saw line breaks in the squashed lines."""

    def line_break_before(self, offset: int) -> bool:
        return False


def labelled(text: Flat, head: str, value: str, times: int) -> str | None:
    heads = text.find_all(head)
    good = [h for h in heads if text.flat.startswith(value, h + len(head))
            and text.ends_cleanly(h + len(head) + len(value))]
    size = len(head) + len(value)
    text.spans += [(h, h + size) for h in good]
    found = len(good)
    if found >= times:
        return None
    if not heads:
        return f"label {head!r} not found"
    shown = [text.after(h + len(head)) for h in heads if h not in good] or [text.after(h + len(head)) for h in heads]
    return f"found {found} of {times} after the label; it reads " + " | ".join(repr(a) for a in shown[:3])


def check_transactions(seq, layout, record, texts, flats) -> list[dict]:
    known = composition._squashed(layout)
    want = [(expect.squash(expect.date(layout.date_format, t.date)), t.description,
             expect.squash(expect.money_exact(layout.currency, t.amount)), expect.squash(t.description))
            for t in record.transactions]
    pattern = composition._patterns(layout).row
    rows = [Row(*found, sheet) for sheet, flat in enumerate(flats, 1) for found in pattern.findall(flat.lines)]
    defects = composition._match_rows(seq, want, rows, flats)
    lang = record.language
    per_sheet = [sum(1 for r in rows if r.sheet == n) for n in range(1, len(texts) + 1)]
    running, done = Decimal(0), 0
    for n in range(1, len(texts) + 1):
        done += per_sheet[n - 1]
        running = sum((t.amount for t in record.transactions[:done]), Decimal(0))
        value = expect.money_exact(layout.currency, running)
        if n < len(texts):
            checks = [("carried_forward", value, "carried forward", n),
                      ("brought_forward", value, f"brought forward on sheet {n + 1}", n + 1)]
        else:
            checks = [("total_new_charges", expect.money_exact(layout.currency, record.new_charges),
                       "total new charges", n)]
        for key, amount, what, sheet in checks:
            found = labelled(flats[sheet - 1], known.label(lang, key), expect.squash(amount), 1)
            if found:
                defects.append(composition._defect(seq, "wrong-amount", f"{what} (sheet {n}): expected {amount}, {found}",
                                                   sheet))
    return defects


def _money(self, amount: Decimal) -> tuple[str, str]:
    text = expect.money_exact(self.layout.currency, amount)
    return text, expect.squash(text)


def _money_list(self, amounts) -> tuple[list[str], list[str]]:
    texts = [expect.money_exact(self.layout.currency, amount) for amount in amounts]
    return texts, [expect.squash(text) for text in texts]


@contextmanager
def reference():
    """The composition check with the reference parts in place of the quick ones."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Flat, "cover_all", cover_all)
        mp.setattr(Flat, "cover_each", cover_each)
        mp.setattr(Flat, "line_break_before", Mapped.line_break_before)
        mp.setattr(composition, "_labelled", labelled)
        mp.setattr(composition, "_check_transactions", check_transactions)
        mp.setattr(composition._Squashed, "money", _money)
        mp.setattr(composition._Squashed, "money_list", _money_list)
        composition._SQUASHED.clear()
        try:
            yield
        finally:
            composition._SQUASHED.clear()
