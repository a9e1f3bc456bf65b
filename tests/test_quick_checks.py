"""The verify step's quick paths (issue 18) give exactly what their references give.

Verification checks every sheet of the night, so its per-piece work was made cheaper: money formatted
by Decimal's own grouping, a label and its value searched for as one, the transaction table compared
whole before row by row, running totals added up as they go. Each is held here to the code it replaced
(tests/composition_reference.py) on the text of real released sheets and on that text changed in the
ways a fault changes it: the same defects, in the same order, with the same evidence.
"""
from __future__ import annotations

import random
from decimal import Decimal

import pytest

from stmtprod.inspect import expect
from stmtprod.inspect.composition import check_piece
from stmtprod.layout import Currency
from tests.composition_reference import reference
from tests.test_text_complete import LAYOUTS, _changed, _pieces


@pytest.fixture(scope="module")
def pieces(sample_run) -> list[tuple]:
    return _pieces(sample_run, 3)


def _variants(piece: tuple, rng: random.Random):
    """The piece's sheet texts as read, and changed: characters (a sample of positions on every
    sheet), lines dropped, doubled with a change, swapped with the next, a digit added to a number."""
    texts = piece[3]
    yield texts
    for s, text in enumerate(texts):
        def sheet(new: str) -> list[str]:
            return texts[:s] + [new] + texts[s + 1:]
        for i in range(rng.randrange(4), len(text), 4):
            if not text[i].isspace():
                yield sheet(text[:i] + _changed(text[i]) + text[i + 1:])
        lines = text.split("\n")
        for k, line in enumerate(lines):
            yield sheet("\n".join(lines[:k] + lines[k + 1:]))
            yield sheet("\n".join(lines[:k + 1] + [line[::-1]] + lines[k + 1:]))
            yield sheet("\n".join(lines[:k] + lines[k + 1:k + 2] + [line] + lines[k + 2:]))
            digit = next((i for i in range(len(line) - 1, -1, -1) if line[i].isdigit()), None)
            if digit is not None:
                yield sheet("\n".join(lines[:k] + [line[:digit + 1] + "0" + line[digit + 1:]] + lines[k + 1:]))
    if len(texts) > 1:
        yield texts[:-1]
        yield texts[1:] + texts[:1]


def _defects(piece: tuple, texts: list[str]) -> list[dict]:
    layout, record, row, _texts, inserts = piece
    return check_piece(row["sequence"], layout, record, row, texts, inserts)


def test_the_composition_check_finds_what_its_reference_finds(pieces):
    rng = random.Random(18)
    cases = [(piece, texts) for piece in pieces for texts in _variants(piece, rng)]
    quick = [_defects(piece, texts) for piece, texts in cases]
    with reference():
        slow = [_defects(piece, texts) for piece, texts in cases]
    differ = [(c[0][2]["sequence"], q, s) for c, q, s in zip(cases, quick, slow) if q != s]
    assert len(cases) > 5_000 and sum(map(bool, slow)) > 0.9 * (len(cases) - len(pieces)), len(cases)
    assert differ == [], differ[:3]


def test_money_is_formatted_as_the_minor_unit_reference_formats_it():
    currencies = [LAYOUTS[r].currency for r in ("AU", "JP", "ID", "HK", "MY")] + [
        Currency(code="AUD", symbol="A$", minor_units=2, group_separator=" ", decimal_separator=",", symbol_space=True),
        Currency(code="JPY", symbol="¥", minor_units=0, group_separator="", decimal_separator=",")]
    rng = random.Random(7)
    amounts = [Decimal(x) for x in ("0", "-0", "0.00", "-0.00", "1E+3", "-1E+3", "1E-7", "0.005", "-0.005",
                                    "0.5", "12.345", "123456789012345678901234567890.12", "1.5E+2", "NaN",
                                    "-Infinity", "sNaN")]
    for _ in range(5_000):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 14)))
        places = rng.choice((0, 0, 2, 2, 1, 3))
        text = digits if not places else f"{digits[:-places] or '0'}.{digits[-places:].rjust(places, '0')}"
        amounts.append(Decimal(("-" if rng.random() < 0.5 else "") + text))

    def outcome(function, currency, amount):
        try:
            return function(currency, amount)
        except Exception as exc:  # the reference raises for what is not a finite number: so must the quick one
            return type(exc)

    for currency in currencies:
        quick = expect.money_format(currency)
        for amount in amounts:
            assert outcome(lambda c, a: quick(a), currency, amount) == outcome(expect.money_exact, currency, amount), \
                (currency, amount)
    assert expect.money(currencies[1], Decimal("-120000")) == "-¥120,000"
