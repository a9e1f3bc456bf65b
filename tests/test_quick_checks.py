"""The verify step's quick paths (issue 18) give exactly what their references give.

Verification checks every sheet of the night, so its per-piece work was made cheaper: money formatted
by Decimal's own grouping, a label and its value searched for as one, the transaction table compared
whole before row by row, running totals added up as they go; the postal bars read without a Bar made
of each, the address number's round trip taken from the reference encoding. Each is held here to the
code it replaced (tests/composition_reference.py, tests/postal_reference.py) on real released sheets
and on them changed in the ways a fault changes them: the same defects, halts and evidence.
"""
from __future__ import annotations

import json
import random
from decimal import Decimal
from pathlib import Path

import pikepdf
import pytest

from stmtprod import verify
from stmtprod.barcode._scan import postal_letters
from stmtprod.barcode.content import page_streams
from stmtprod.errors import Halt
from stmtprod.inspect import expect
from stmtprod.inspect.composition import Flat, _check_piece, _patterns, _sheet_rows, check_piece
from stmtprod.layout import Currency
from stmtprod.postal import japanpost
from stmtprod.postal import read as postal_read
from stmtprod.postal import verify as postal_verify
from stmtprod.postal.piece import decide
from tests import composition_reference, postal_reference
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


def test_a_piece_the_quick_flats_pass_is_one_the_full_ones_pass(pieces):
    """The checks on quick Flats (first copies only) pass no piece the full checks fault, and pass the
    real pieces (else every piece would be checked twice)."""
    rng = random.Random(31)
    passed = faulted = 0
    for piece in pieces:
        layout, record, row, texts, inserts = piece
        assert _check_piece(row["sequence"], layout, record, row, texts, inserts, quick=True) == []
        for changed in _variants(piece, rng):
            full = _check_piece(row["sequence"], layout, record, row, changed, inserts, quick=False)
            quick = _check_piece(row["sequence"], layout, record, row, changed, inserts, quick=True)
            assert quick or not full, (row["sequence"], full[:1])
            passed, faulted = passed + (not quick), faulted + bool(full)
    assert faulted > 5_000 and passed >= len(pieces), (passed, faulted)


def test_flat_marks_and_reads_values_as_its_reference_does(pieces):
    """`Flat.cover_each` (a sheet's rows marked as one run) and `Flat.ends_cleanly` (a line break seen in
    the squashed lines) against the reference's, on texts of digits, separators and every kind of white
    space, and on real sheets."""
    rng = random.Random(12)
    parts = ["1", "2", ".", ",", "a", "ab", " ", "\n", "\r\n", "\r", "\u3000", "\xa0", "\n\n", "¥", "\u2028"]
    texts = ["".join(rng.choice(parts) for _ in range(rng.randint(0, 30))) for _ in range(3_000)]
    texts += [t for piece in pieces for t in piece[3]]
    clean = 0
    for text in texts:
        flat, mapped = Flat(text), composition_reference.Mapped(text)
        for end in range(-1, len(flat.flat) + 2):
            quick = flat.ends_cleanly(end)
            assert quick == mapped.ends_cleanly(end), (text, end)
            clean += quick
        for _ in range(3):
            size = len(flat.flat)
            cuts = sorted(rng.randrange(size + 1) for _ in range(rng.randint(0, 6))) if size else []
            needles = [flat.flat[a:b] for a, b in zip(cuts, cuts[1:])] + rng.sample(["1", "a", "x", "2.", ""], 2)
            if rng.random() < 0.3:
                rng.shuffle(needles)
            start = rng.randrange(size + 1)
            quick, slow = Flat(text), Flat(text)
            quick._cursor = slow._cursor = start
            quick.cover_each(needles)
            composition_reference.cover_each(slow, needles)
            assert (quick._cursor, quick.unexplained()) == (slow._cursor, slow.unexplained()), (text, needles)
    assert 0 < clean < sum(len(Flat(t).flat) + 3 for t in texts)


def test_the_transaction_rows_are_the_lines_the_multiline_pattern_finds(pieces):
    """The rows are found after each line break put first; `^...$` over the lines finds the same."""
    rng, tried = random.Random(5), 0
    for piece in pieces:
        layout = piece[0]
        for texts in _variants(piece, rng):
            flats = [Flat(t) for t in texts]
            reference = [_patterns(layout).row.findall(flat.lines) for flat in flats]
            assert _sheet_rows(layout, flats) == reference
            tried += 1
    extra = [Flat("01/02/2026 A $1.00\n\n01/02/2026B$2\r\n01/02/2026 C $3 x\n01/02/2026 D -$4,0")]
    assert _sheet_rows(LAYOUTS["AU"], extra) == [_patterns(LAYOUTS["AU"]).row.findall(extra[0].lines)] != [[]]
    assert tried > 5_000


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
        # A list at once (`money_list_format`): lists of valid amounts, and lists with one of every kind
        listed, proven = expect.money_list_format(currency), 0
        for size in [0, 1, 2, 5, 14, 30] * 40:
            picked = [Decimal(f"{rng.randint(-10**(size % 9), 10**(size % 9))}E-{currency.minor_units}")
                      for _ in range(size)]
            if size and rng.random() < 0.5:
                picked[rng.randrange(size)] = rng.choice(amounts[:16] if rng.random() < 0.5 else amounts)
            exact = outcome(lambda c, a: [expect.money_exact(c, x) for x in a], currency, picked)
            assert outcome(lambda c, a: listed(a), currency, picked) == exact, (currency, picked)
            proven += isinstance(exact, list)
        assert 120 < proven < 240
    assert expect.money(currencies[1], Decimal("-120000")) == "-¥120,000"


@pytest.fixture(scope="module")
def first_sheets(sample_run) -> list[tuple]:
    """(record, manifest row, content of the first sheet) of every Australian and Japanese piece."""
    run_dir, found = Path(sample_run["run_dir"]), []
    for manifest in map(Path, sample_run["manifest_files"]):
        if manifest.stem[:2] not in ("AU", "JP"):
            continue
        rows = [json.loads(x) for x in manifest.read_text(encoding="utf-8").splitlines()]
        sources = verify.source_records(run_dir / "work" / "accepted" / f"{manifest.stem[:2]}.jsonl",
                                        {r["line"] for r in rows})
        pdf = next(p for p in map(Path, sample_run["print_files"]) if p.stem == manifest.stem)
        with pikepdf.open(pdf) as doc:
            found += [(sources[r["line"]], r, page_streams(doc.pages[r["first_page"] - 1].obj)) for r in rows]
    return found


def _outcome(function, *args):
    try:
        return repr(function(*args))  # repr: a nan in a bar is equal to itself
    except Exception as exc:
        return type(exc), str(exc)


def _postal_variants(data: bytes, rng: random.Random):
    """A page's content with its postal path's tokens changed: numbers (negative, zero, nan, inf, not a
    number), operators dropped or replaced, rectangles in another order, the path twice."""
    yield data
    start = data.find(b"\n0 g\n")
    if start < 0:
        yield data.replace(b"\nf\n", b"\n0 g\nn 1 1 1 1 re f\n", 1)
        return
    start += 5
    end = data.find(b"f", start) + 1
    tokens = data[start:end].split()

    def put(new: list[bytes]) -> bytes:
        return data[:start] + b" ".join(new) + data[end:]

    for _ in range(24):
        changed = list(tokens)
        k = rng.randrange(len(changed))
        changed[k] = rng.choice([b"-1.5", b"0", b"-0", b"nan", b"inf", b"-inf", b"x", b"1e3", b"S", b"m", b"",
                                 changed[k] + b"5", b"-" + changed[k], b"1e308", b"0.0001", b"1_0",
                                 rng.choice(tokens), rng.choice(tokens), rng.choice(tokens)])
        yield put(changed)
    for _ in range(12):  # a bar moved or stretched a little: the band and the reach of the others change
        changed = list(tokens)
        k = rng.randrange(1, len(changed) - 1)
        if changed[k] != b"re":
            changed[k] = repr(float(changed[k]) + rng.choice([-3, -1.5, -0.7, -0.3, 0.3, 0.7, 1.5, 3])).encode()
            yield put(changed)
    rectangles = [tokens[i:i + 5] for i in range(1, len(tokens) - 1, 5)]
    rng.shuffle(rectangles)
    yield put(tokens[:1] + [t for r in rectangles for t in r] + tokens[-1:])
    yield put(tokens[:-1] + [b"f*"])
    yield put(tokens[:-1] + [b"S"])
    yield put(tokens[:1] + tokens[6:])
    yield data[:end] + b"\n0 g\n" + data[start:end] + data[end:]


def test_postal_bars_read_as_the_reference_reads_them(first_sheets):
    """Every variant reads as the reference reads it, whether the C reader answers it (the plain case,
    counted: most of them) or leaves it to the Python one."""
    rng = random.Random(4)
    tried = in_c = 0
    for _record, _row, data in first_sheets:
        for page in _postal_variants(data, rng):
            tried += 1
            in_c += isinstance(postal_letters(page, b"\n0 g\n"), str)
            reference = _outcome(postal_reference.bars_in_content, page)
            assert _outcome(postal_read.bars_in_content, page) == reference
            bars = postal_reference.bars_in_content(page) if isinstance(reference, str) else None
            assert _outcome(postal_read.content_letters, page) == (
                _outcome(postal_reference.letters, bars) if bars is not None else reference)
            if bars is not None:
                assert _outcome(postal_read.letters, bars) == _outcome(postal_reference.letters, bars)
    assert tried > 500 and any(postal_read.content_letters(d) for _r, _w, d in first_sheets)
    assert tried / 10 < in_c < tried, (in_c, tried)


def _postal_page(bars: list[tuple[float, float, float, float]]) -> bytes:
    """A page's content holding one postal path of the given rectangles (x, y, width, height), as drawn."""
    path = b" ".join(b"%r %r %r %r re" % bar for bar in bars)
    return b"q\n0 g\nn " + path + b" f\nQ\n"


@pytest.mark.parametrize("rise, drop, wanted", [
    (1.0, 1.0, "DTT"),              # ends exactly on the thresholds: trackers
    (1.0 + 2 ** -40, 1.0, "DAT"),   # a hair beyond: an ascender, a descender
    (1.0, 1.0 + 2 ** -40, "DTD"),
    (1.0 - 2 ** -40, 1.0 - 2 ** -40, "DTT"),
])
def test_postal_letters_at_the_thresholds_read_as_the_reference_reads_them(rise, drop, wanted):
    """Bars whose ends lie exactly on, or a hair off, the thresholds that tell a tracker from an
    ascender or descender (half the shorter reach beyond the band) and a 4-state symbol from one
    without ascenders and descenders (a reach of at most a fifth of the band): the C reader and the
    Python one read them as the reference does, and the C one answers the plain case itself."""
    band = (10.0, 12.0)  # trackers from 10 to 12; the reach (2 each way) puts the thresholds at 13 and 9
    bars = [(1.0, 10.0, 0.5, 2.0), (2.0, 10.0, 0.5, 4.0), (3.0, 8.0, 0.5, 4.0),
            (4.0, 10.0, 0.5, band[1] - band[0] + rise), (5.0, band[0] - drop, 0.5, 2.0 + drop)]
    page = _postal_page(bars)
    reference = postal_reference.letters(postal_reference.bars_in_content(page))
    assert reference == "TA" + wanted
    assert postal_letters(page, b"\n0 g\n") == postal_read.content_letters(page) == reference
    # A reach of exactly a fifth of the band (0.5 of 2.5) is no 4-state symbol; a hair more is one.
    for reach, read in ((0.5, None), (0.5 + 2 ** -40, "TAD")):
        page = _postal_page([(1.0, 10.0, 0.5, 2.5), (2.0, 10.0, 0.5, 2.5 + reach), (3.0, 10.0 - reach, 0.5, 2.5 + reach)])
        reference = _outcome(postal_reference.letters, postal_reference.bars_in_content(page))
        assert _outcome(postal_read.content_letters, page) == reference
        if read is None:
            assert postal_letters(page, b"\n0 g\n") is False and "no ascenders or descenders" in str(reference)
        else:
            assert postal_letters(page, b"\n0 g\n") == read and reference == repr(read)


def test_the_postal_check_halts_as_the_reference_halts(first_sheets, monkeypatch):
    rng = random.Random(9)
    quick = postal_verify.address_number_as_printed
    printed = [postal_read.content_letters(data) for _record, _row, data in first_sheets]
    others = [bars for bars in printed if bars]
    tried = halts = 0
    for (record, row, _data), bars in zip(first_sheets, printed):
        variants = [bars, None, rng.choice(others)]
        if bars:
            for k in rng.sample(range(len(bars)), 12):
                variants.append(bars[:k] + rng.choice("FADT".replace(bars[k], "")) + bars[k + 1:])
        wanted = decide(record).wanted
        if wanted is not None and wanted.symbology == "japanpost":  # the record's postcode, another number
            number = wanted.fields["address_number"]
            variants += [japanpost.encode(wanted.fields["postcode"], other)
                         for other in ("9-9-9", number + "1", number[:-1], number + "-1-2-3-4-5-6-7")]
        rows = [row, {**row, "postal": {**row["postal"], "bars": rng.choice(others)}},
                {**row, "postal": {**row["postal"], "class": "NON-BARCODED"}}]
        for r in rows:
            for found in variants:
                at = {"step": "verify", "piece": r["sequence"]}
                outcomes = []
                for number in (quick, postal_reference.address_number_as_printed):
                    monkeypatch.setattr(postal_verify, "address_number_as_printed", number)
                    try:
                        outcomes.append(postal_verify.check_piece(r, record, found, at))
                    except Halt as halt:
                        outcomes.append(halt.as_dict())
                assert outcomes[0] == outcomes[1], (r["sequence"], found)
                tried, halts = tried + 1, halts + bool(outcomes[0])
    assert tried > 300 and 0.5 * tried < halts < tried
