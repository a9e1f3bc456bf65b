"""The simulated inserter: collation, hopper pulls, weight and inventory, and every way it stops.

Expected weights are literal sums of the catalog's figures (envelope 6.0 g, sheet 5.0 g, inserts by
hopper: 1 TRVL26 4.0, 2 DINE26 3.0, 3 PLAT-UP 5.0, 4 BT0-26 3.0, 5 WELCOME 6.0, 6 ESTMT 2.0,
7 PREM-LNG 4.0, 8 empty), not recomputed with the code under test.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from stmtprod.barcode.payload import build
from stmtprod.catalog import Catalog, load_catalog
from stmtprod.errors import Halt
from stmtprod.inserting.machine import Inserter, write_envelope_log

ROOT = Path(__file__).resolve().parent.parent
RUN = "20261120-AB12CD"
OTHER_RUN = "20261119-ZZ99ZZ"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(ROOT / "inserts" / "catalog.toml")[0]


def small_catalog(inventory: int = 2, **limits) -> Catalog:
    return Catalog.model_validate({
        "inserter": {"hoppers": 4, "max_per_envelope": 2, "max_envelope_weight_g": 30.0,
                     "envelope_weight_g": 5.0, "sheet_weight_g": 4.5, **limits},
        "insert": [
            {"code": "AAA", "title": "A", "hopper": 1, "weight_g": 2.5, "regions": ["AU"], "inventory": inventory},
            {"code": "BBB", "title": "B", "hopper": 2, "weight_g": 7.0, "regions": ["AU"], "inventory": 100},
        ],
    })


def piece(ins: Inserter, seq: int, sheets: int, hoppers=(), *, region="AU", batch="AU-0001", page=1, run=RUN):
    """Feed all sheets of one piece in order; returns the next free page."""
    for sheet in range(1, sheets + 1):
        ins.feed(build(region, run, seq, sheet, sheets, hoppers), batch=batch, page=page)
        page += 1
    return page


def halt_of(fn, *args, **kwargs) -> Halt:
    with pytest.raises(Halt) as info:
        fn(*args, **kwargs)
    assert info.value.details["step"] == "inserter"
    assert info.value.details["action"]
    return info.value


def has(h: Halt, **expected) -> bool:
    """The Halt's details include these values (others, e.g. action, are checked separately)."""
    return {k: h.details.get(k) for k in expected} == expected


# -- clean path ------------------------------------------------------------------------------------

def test_clean_lot_gives_envelope_rows_and_draws_inventory(catalog, tmp_path):
    ins = Inserter(catalog, "AB12CD")
    page = piece(ins, 1, 3, {3, 1})                      # 6 + 3*5 + 4 + 5
    page = piece(ins, 2, 1, (), page=page)               # 6 + 5
    piece(ins, 5, 2, {6, 2, 5}, page=page)               # gap 2 -> 5 is fine: 6 + 10 + 3 + 6 + 2
    rows = ins.finish()
    assert rows == [
        {"sequence": 1, "region": "AU", "sheets": 3, "hoppers": [1, 3], "inserts": ["TRVL26", "PLAT-UP"],
         "weight_g": 30.0, "batch": "AU-0001", "first_page": 1},
        {"sequence": 2, "region": "AU", "sheets": 1, "hoppers": [], "inserts": [],
         "weight_g": 11.0, "batch": "AU-0001", "first_page": 4},
        {"sequence": 5, "region": "AU", "sheets": 2, "hoppers": [2, 5, 6], "inserts": ["DINE26", "WELCOME", "ESTMT"],
         "weight_g": 27.0, "batch": "AU-0001", "first_page": 5},
    ]
    assert ins.inventory == {"TRVL26": 249999, "DINE26": 249999, "PLAT-UP": 99999, "BT0-26": 150000,
                             "WELCOME": 299999, "ESTMT": 299999, "PREM-LNG": 80000}
    assert catalog.insert[0].inventory == 250000         # the catalog itself is not drawn down

    out = tmp_path / "log" / "envelopes.jsonl"
    assert write_envelope_log(out, rows) == 3
    assert [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()] == rows
    assert not list(out.parent.glob(".*.tmp"))


def test_weight_is_rounded_to_a_tenth():
    cat = small_catalog(sheet_weight_g=0.1, envelope_weight_g=0.2, max_envelope_weight_g=50.0)
    ins = Inserter(cat, RUN)                              # a full run id is accepted as well as its tag
    piece(ins, 9, 1, {1})
    assert ins.finish()[0]["weight_g"] == 2.8             # 0.2 + 0.1 + 2.5 (0.30000000000000004 + 2.5)


def test_inventory_carries_over_to_the_next_lot():
    cat = small_catalog(inventory=2)
    first = Inserter(cat, RUN)
    piece(first, 1, 1, {1}, batch="AU-0001")
    assert first.finish() and first.inventory == {"AAA": 1, "BBB": 100}

    second = Inserter(cat, RUN, inventory=first.inventory)
    piece(second, 2, 2, {1, 2}, region="NZ", batch="NZ-0001")
    assert second.finish()[0]["weight_g"] == 23.5        # 5 + 2*4.5 + 2.5 + 7
    assert second.inventory == {"AAA": 0, "BBB": 99}
    assert first.inventory == {"AAA": 1, "BBB": 100}     # each feed keeps its own count

    third = Inserter(cat, RUN, inventory=second.inventory)
    h = halt_of(piece, third, 3, 1, {1}, batch="NZ-0002", page=7)
    assert "hopper 1 (AAA) ran out" in h.reason
    assert has(h, piece=3, sheet=1, batch="NZ-0002", page=7, found=0)


def test_bad_run_tag_is_refused_at_construction(catalog):
    with pytest.raises(ValueError):
        Inserter(catalog, "ab12")


# -- faults ----------------------------------------------------------------------------------------

def test_unreadable_payload(catalog):
    ins = Inserter(catalog, RUN)
    good = build("AU", RUN, 1, 1, 1, ())
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    h = halt_of(ins.feed, bad, batch="AU-0003", page=17)
    assert "unreadable barcode at page 17 of AU-0003" in h.reason and "bad check character" in h.reason
    assert h.details["batch"] == "AU-0003" and h.details["page"] == 17
    assert h.details["field"] == "payload" and h.details["found"] == bad
    h = halt_of(ins.feed, "", batch="AU-0003", page=18)
    assert "wrong length: 0" in h.reason


def test_sheet_from_another_run(catalog):
    ins = Inserter(catalog, RUN)
    h = halt_of(ins.feed, build("AU", OTHER_RUN, 4, 1, 2, ()), batch="AU-0001", page=3)
    assert "another run" in h.reason
    assert has(h, piece=4, sheet=1, field="run_tag", expected="AB12CD", found="ZZ99ZZ")


def test_sheet_out_of_order_within_a_piece(catalog):
    ins = Inserter(catalog, RUN)
    ins.feed(build("AU", RUN, 7, 1, 3, ()), batch="AU-0001", page=1)
    h = halt_of(ins.feed, build("AU", RUN, 7, 3, 3, ()), batch="AU-0001", page=2)
    assert h.reason == "piece 7: sheet 3 arrived when sheet 2 was expected"
    assert (h.details["piece"], h.details["sheet"], h.details["expected"], h.details["found"]) == (7, 2, 2, 3)
    assert h.details["page"] == 2 and h.details["action"] == "reprint piece 7"


def test_repeated_sheet_within_a_piece(catalog):
    ins = Inserter(catalog, RUN)
    ins.feed(build("AU", RUN, 7, 1, 2, ()), batch="AU-0001", page=1)
    h = halt_of(ins.feed, build("AU", RUN, 7, 1, 2, ()), batch="AU-0001", page=2)
    assert (h.details["expected"], h.details["found"]) == (2, 1)


def test_next_piece_while_one_is_still_open(catalog):
    ins = Inserter(catalog, RUN)
    piece(ins, 6, 1)
    ins.feed(build("AU", RUN, 7, 1, 3, ()), batch="AU-0001", page=2)
    ins.feed(build("AU", RUN, 7, 2, 3, ()), batch="AU-0001", page=3)
    h = halt_of(ins.feed, build("AU", RUN, 8, 1, 1, ()), batch="AU-0001", page=4)
    assert h.reason == "piece 7 is missing sheet 3 of 3: got sheet 1 of piece 8"
    assert (h.details["piece"], h.details["sheet"]) == (7, 3)
    assert h.details["expected"] == "piece 7 sheet 3" and h.details["found"] == "piece 8 sheet 1"
    assert h.details["action"] == "reprint piece 7"


def test_piece_without_its_first_sheet(catalog):
    ins = Inserter(catalog, RUN)
    h = halt_of(ins.feed, build("AU", RUN, 7, 2, 2, ()), batch="AU-0001", page=1)
    assert "piece 7 is missing sheet 1" in h.reason
    assert (h.details["piece"], h.details["sheet"], h.details["expected"], h.details["found"]) == (7, 1, 1, 2)


def test_piece_appearing_twice(catalog):
    ins = Inserter(catalog, RUN)
    page = piece(ins, 41, 1)
    page = piece(ins, 42, 2, page=page)
    h = halt_of(piece, ins, 42, 2, page=page)
    assert h.reason == "piece 42 appears twice"
    assert (h.details["piece"], h.details["sheet"], h.details["field"]) == (42, 1, "sequence")
    assert (h.details["expected"], h.details["found"]) == ("> 42", 42)
    # an earlier piece coming back is a duplicate too, not merely out of order
    assert halt_of(piece, ins, 41, 1, page=page).reason == "piece 41 appears twice"


def test_sequence_going_backwards(catalog):
    ins = Inserter(catalog, RUN)
    page = piece(ins, 10, 1)
    page = piece(ins, 12, 1, page=page)
    h = halt_of(piece, ins, 11, 1, page=page)
    assert h.reason == "sequence goes backwards: piece 11 after piece 12"
    assert (h.details["piece"], h.details["expected"], h.details["found"]) == (11, "> 12", 11)


@pytest.mark.parametrize("field, second, expected, found", [
    ("region", dict(region="NZ"), "AU", "NZ"),
    ("sheets", dict(sheets=4), 3, 4),
    ("hoppers", dict(hoppers={1, 2}), [1], [1, 2]),
])
def test_fields_must_agree_across_a_piece(catalog, field, second, expected, found):
    ins = Inserter(catalog, RUN)
    first = dict(region="AU", sheets=3, hoppers={1})
    ins.feed(build(first["region"], RUN, 7, 1, first["sheets"], first["hoppers"]), batch="AU-0001", page=1)
    args = {**first, **second}
    h = halt_of(ins.feed, build(args["region"], RUN, 7, 2, args["sheets"], args["hoppers"]), batch="AU-0001", page=2)
    assert f"piece 7 sheet 2: {field}" in h.reason
    assert has(h, piece=7, sheet=2, field=field, expected=expected, found=found)


def test_bit_for_an_empty_hopper(catalog):
    ins = Inserter(catalog, RUN)
    h = halt_of(piece, ins, 3, 2, {1, 8})
    assert h.reason == "piece 3 calls for hopper 8, which holds no insert"
    assert (h.details["piece"], h.details["sheet"], h.details["page"]) == (3, 2, 2)
    assert h.details["expected"] == [1, 2, 3, 4, 5, 6, 7] and h.details["found"] == [1, 8]
    assert ins.inventory["TRVL26"] == 250000


def test_bit_for_a_hopper_the_inserter_does_not_have():
    h = halt_of(piece, Inserter(small_catalog(), RUN), 3, 1, {6})
    assert "hopper 6, which does not exist (4 hoppers)" in h.reason


def test_too_many_inserts(catalog):
    ins = Inserter(catalog, RUN)
    h = halt_of(piece, ins, 5, 1, {1, 2, 4, 6})
    assert "calls for 4 inserts" in h.reason and "at most 3" in h.reason
    assert (h.details["piece"], h.details["expected"], h.details["found"]) == (5, "<= 3", 4)


def test_overweight(catalog):
    ins = Inserter(catalog, RUN)
    piece(ins, 1, 7, {1, 3, 5})                           # 6 + 35 + 15 = 56 g passes
    h = halt_of(piece, ins, 2, 8, {1, 3, 5}, page=8)      # 6 + 40 + 15 = 61 g
    assert h.reason == "piece 2 weighs 61.0 g, over the 60.0 g limit"
    assert (h.details["piece"], h.details["sheet"], h.details["page"]) == (2, 8, 15)
    assert (h.details["field"], h.details["expected"], h.details["found"]) == ("weight_g", "<= 60.0", 61.0)


def test_exactly_at_the_weight_limit_passes():
    ins = Inserter(small_catalog(), RUN)
    piece(ins, 1, 3, {1, 2})                              # 5 + 13.5 + 2.5 + 7 = 28.0 <= 30
    piece(ins, 2, 2, (), page=4)
    assert [r["weight_g"] for r in ins.finish()] == [28.0, 14.0]
    ins = Inserter(small_catalog(max_envelope_weight_g=28.0), RUN)
    piece(ins, 1, 3, {1, 2})
    assert ins.finish()[0]["weight_g"] == 28.0


def test_out_of_stock_then_replenish_and_resume(catalog):
    ins = Inserter(catalog, RUN, inventory={"TRVL26": 5, "PLAT-UP": 1})
    page = piece(ins, 41, 1, {3})
    ins.feed(build("AU", RUN, 42, 1, 2, {1, 3}), batch="AU-0002", page=page)
    last = build("AU", RUN, 42, 2, 2, {1, 3})
    h = halt_of(ins.feed, last, batch="AU-0002", page=page + 1)
    assert h.reason == "hopper 3 (PLAT-UP) ran out of inserts at piece 42"
    assert h.details["action"] == "replenish hopper 3 with PLAT-UP and resume"
    assert has(h, piece=42, sheet=2, field="inventory", expected=">= 1", found=0, batch="AU-0002", page=3)
    assert ins.inventory == {"TRVL26": 5, "PLAT-UP": 0}   # nothing pulled from hopper 1 either

    ins.inventory["PLAT-UP"] += 100                       # the operator's fix; the same sheet again
    ins.feed(last, batch="AU-0002", page=page + 1)
    assert [r["sequence"] for r in ins.finish()] == [41, 42]
    assert ins.inventory == {"TRVL26": 4, "PLAT-UP": 99}


def test_lot_ending_with_a_piece_open(catalog):
    ins = Inserter(catalog, RUN)
    page = piece(ins, 1, 1)
    ins.feed(build("AU", RUN, 2, 1, 3, ()), batch="AU-0009", page=page)
    ins.feed(build("AU", RUN, 2, 2, 3, ()), batch="AU-0009", page=page + 1)
    h = halt_of(ins.finish)
    assert h.reason == "lot ended with piece 2 open: sheet 3 of 3 missing"
    assert has(h, piece=2, sheet=3, field="sheet", expected=3, found="end of lot", batch="AU-0009", page=3)


def test_empty_lot_finishes_with_no_rows(catalog):
    assert Inserter(catalog, RUN).finish() == []
