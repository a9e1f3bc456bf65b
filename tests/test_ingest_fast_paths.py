"""Ingest's quick decisions are the exact ones: each quick path says "passes" only where the exact
check (a set look-up per character, a width measured per line, the card-number screen over every
field) would pass, and otherwise hands the record to that check, which names the field.

Held here against the exact code over every code point, every length a box allows and records with
planted card numbers and wide or unprintable text in every field.
"""
from __future__ import annotations

import copy
import json
import random
import sys
from decimal import Decimal

import pytest

from stmtprod import cardnumbers
from stmtprod.ingest import printable
from stmtprod.ingest.models import StatementRecord
from stmtprod.layout import load_layouts
from stmtprod.regions import REGIONS
from stmtprod.render import fitting
from stmtprod.render.formatting import address_fields
from stmtprod.render.statement import HEADER_BOX, description_fit, record_boxes
from tests.conftest import ROOT, volume
from tests.test_card_numbers import ENCODINGS, luhn_complete
from tests.test_records import GOOD

LAYOUTS = load_layouts(ROOT / "layouts")
FONT_SETS = list(dict.fromkeys(LAYOUTS[r].fonts for r in REGIONS))


RECORDS = [r for records in GOOD.values() for r in records if r["transactions"]]


@pytest.mark.parametrize("fonts", FONT_SETS, ids=[f.regular for f in FONT_SETS])
def test_the_unprintable_pattern_matches_exactly_the_characters_outside_the_printable_set(fonts):
    allowed = printable.printable_set(fonts)
    every = "".join(map(chr, range(sys.maxunicode + 1)))
    found = {ord(m) for m in printable.unprintable_pattern(fonts).findall(every)}
    assert found == set(range(sys.maxunicode + 1)) - allowed
    assert printable.prints(fonts, "".join(map(chr, sorted(allowed))))


def _bound_fits(name: str, n: int, fit: fitting.Fit) -> bool:
    """`fitting.fits`'s widest-glyph bound for a text of n characters, written as it writes it."""
    return n * fitting._widest(name) * fit.min_size / 1000 <= fit.width_mm * fitting.mm


def _fits_in_use() -> list[tuple[str, fitting.Fit]]:
    out = []
    for region in REGIONS:
        layout = LAYOUTS[region]
        regular, bold = printable._styles(layout.fonts)
        for fit in (fitting.window(layout), description_fit(layout), HEADER_BOX):
            out += [(regular, fit), (bold, fit)]
    return out


def test_sure_length_is_exactly_where_the_widest_glyph_bound_stops():
    rng = random.Random(18)
    cases = _fits_in_use()
    name = cases[0][0]
    cases += [(name, fitting.Fit(9, rng.uniform(0.5, 12), rng.uniform(-1, 300))) for _ in range(300)]
    for name, fit in cases:
        short = fitting.sure_length(name, fit)
        assert all((n <= short) == _bound_fits(name, n, fit) for n in range(0, max(short, 0) + 400)), (name, fit)
    assert fitting._longest_bounded(1000.0, 0.0, 1.0) == sys.maxsize


def _wide_texts(rng: random.Random) -> list[str]:
    """Texts near each box's limits: narrow and wide Latin, ideographs, mixed, of every length to 130."""
    alphabets = ["i", "W", "iW .,", "山本明美", "山iW", "ＡＢＣ", "WWWWM@%", "\u3000 x"]
    return [rng.choice(alphabets)[0] * n if rng.random() < 0.3 else "".join(rng.choice(a) for _ in range(n))
            for a in alphabets for n in range(1, 122, 3)]


def _exact(layout, boxes, what: str = "{}") -> tuple | None:
    """The first box whose text does not fit, measured one by one with `fitting.too_wide`."""
    regular, bold = printable._styles(layout.fonts)
    for field, text, fit in boxes:
        reason = fitting.too_wide(bold if fit.bold else regular, text, fit, what.format(field))
        if reason:
            return field, reason, "width"
    return None


def _quick(check, *args) -> tuple | None:
    try:
        check(*args)
    except printable.Unprintable as exc:
        return exc.field, exc.reason, exc.kind
    return None


@pytest.mark.parametrize("region", REGIONS)
def test_window_and_box_checks_decide_as_measuring_every_line(region):
    rng = random.Random(region)
    layout = LAYOUTS[region]
    texts = _wide_texts(rng)
    records = [r for r in RECORDS if r["region"] == region and r["transactions"]][:6]
    seen = set()
    for i, text in enumerate(texts):
        rec = copy.deepcopy(records[i % len(records)])
        where = i % 4
        if where == 0:
            rec["name"] = text or "x"
        elif where == 1:
            rec["address"]["lines"][-1] = text or "x"
        elif where == 2:
            rec["address"]["city"] = text or "x"
        else:
            rec["transactions"][i % len(rec["transactions"])]["description"] = text or "x"
        try:
            record = StatementRecord.model_validate(rec)
        except ValueError:  # blank or over 120 characters
            continue
        window = [(f, line, fitting.window(layout)) for f, line in address_fields(layout, record.name, record.address)]
        exact_window = _exact(layout, window, "the {} line of the envelope window")
        assert _quick(printable.check_window, layout, record.name, record.address) == exact_window
        boxes = record_boxes(layout, record)
        exact_boxes = _exact(layout, boxes)
        assert _quick(printable.check_fits, layout, boxes) == exact_boxes
        seen.add((exact_window is None, exact_boxes is None))
    assert {(True, True), (False, True), (True, False)} <= seen   # both pass, either fails


_FORMS = [*ENCODINGS.values(), lambda p: "".join(chr(0x2460 + int(d) - 1) if d != "0" else "0" for d in p),
          lambda p: p[:-1] + str((int(p[-1]) + 1) % 10), lambda p: p[:12], lambda p: "X".join((p[:8], p[8:]))]


def _full_screen(record: StatementRecord) -> str | None:
    """The exact screen: every field and every block, without the first look over the joined texts."""
    fields = [("account_id", record.account_id), ("product", record.product), ("points", str(record.points))]
    fields += [(f"segments.{i}", s) for i, s in enumerate(record.segments)]
    fields += [(path, str(amount)) for path, amount in record.amounts() if amount.adjusted() >= 10]
    blocks = [("address", cardnumbers._address_orders(record.name, record.address)),
              ("transactions", [[(f"transactions.{i}.description", t.description)
                                 for i, t in enumerate(record.transactions)]])]
    return cardnumbers.card_number_field(fields, blocks)


def _planted(rng: random.Random, rec: dict) -> dict:
    pan = luhn_complete("".join(str(rng.randrange(10)) for _ in range(rng.choice([12, 14, 15, 18]))))
    text = rng.choice(_FORMS)(pan)
    where = rng.randrange(7)
    if where == 0:
        rec["name"] = "Ref " + text
    elif where == 1:
        rec["address"]["lines"] = [text[: len(text) // 2], text[len(text) // 2:]]
    elif where == 2:
        rec["address"]["city"] = text
    elif where == 3 and len(rec["transactions"]) > 1:
        rec["transactions"][0]["description"] = "店 " + text[:7]
        rec["transactions"][1]["description"] = text[7:] + " 店"
    elif where == 4:
        rec["transactions"][-1]["description"] = text
    elif where == 5:
        rec["points"] = int(pan)
    else:
        amount = Decimal(pan) if rec["currency"] in ("JPY", "IDR") else Decimal(pan[:12] + ".00")
        rec["new_balance"] = str(Decimal(rec["new_balance"]) - Decimal(rec["fees"]) + amount)
        rec["fees"] = str(amount)
    return rec


def test_the_card_screen_decides_as_the_full_screen_for_every_form_and_field():
    rng = random.Random(13)
    found = 0
    cases = volume(600, 3000)
    for i in range(cases):
        rec = copy.deepcopy(RECORDS[i % len(RECORDS)])
        if i % 5:
            rec = _planted(rng, rec)
        try:
            record = StatementRecord.model_validate(rec)
        except Exception:
            continue
        for _twice in range(2):   # the second time from the remembered views
            quick = cardnumbers.statement_card_number(record)
            assert quick == _full_screen(record), (i, rec)
        found += quick is not None
    assert cases // 3 < found < cases


def _verdict(line: str):
    from stmtprod.catalog import load_catalog
    from stmtprod.ingest import reader

    catalog, _ = load_catalog(ROOT / "inserts" / "catalog.toml")
    return reader.verdict(line.encode() + b"\n", LAYOUTS, REGIONS, catalog)


@pytest.mark.parametrize("where", ["name", "city", "description", "amount", "date"])
def test_a_key_given_twice_anywhere_is_refused_and_colons_in_values_are_not_keys(where):
    rec = copy.deepcopy(next(r for r in RECORDS if r["region"] == "AU" and r["delivery"] == "paper"))
    rec["transactions"][0]["description"] = "PAID 10:30 \"REF\": 7"
    rec["name"] = "Ms: A \\\": B"
    line = json.dumps(rec, ensure_ascii=False)
    assert _verdict(line).reject is None and _verdict(line).key is not None
    first = {"name": '"name": "Ms: A', "city": '"city": "', "description": '"description": "PAID',
             "amount": '"amount": "', "date": '"date": "'}[where]
    key = first.split(":")[0]
    twice = line.replace(first, f'{key}: "Card 4111 1111 1111 1111", {first}', 1)
    assert twice != line
    verdict = _verdict(twice)
    assert verdict.reject == ("(record)", "a key is given twice in the record; which value counts would be a guess",
                              "json")
