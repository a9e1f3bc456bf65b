"""ANSI/ASQ Z1.4 (MIL-STD-105E) sampling: tables against published cases, switching rules, OC, seeds, CLI."""
from __future__ import annotations

import hashlib
import json
import math
import random
from fractions import Fraction

import pytest
from click.testing import CliRunner

from stmtprod.sampling import tables
from stmtprod.cli.qa import qa
from stmtprod.sampling.draw import draw_sample, redraw, sample_seed
from stmtprod.sampling.oc import binomial_pa, hypergeometric_pa, oc_chart, oc_points
from stmtprod.sampling.plans import code_letter, plan, resolve
from stmtprod.sampling.switching import InspectionDiscontinued, SwitchingState

# ---------------------------------------------------------------------------------------------
# Published cases: (lot size, level, AQL, severity) -> (code letter, plan letter, n, Ac, Re).
# Sources:
#   MONT  D. C. Montgomery, Introduction to Statistical Quality Control, MIL STD 105E example:
#         lots of 2000, AQL 0.65%, level II -> K; normal 125 2/3, tightened 125 1/2, reduced 50 1/3.
#   PLOS  Jenkins, Peck & Fernando (2023), PLOS ONE, figure "Operating characteristic curves from
#         ISO 2859-1:1999 for the lot size range of 35,001-500,000": normal plans
#         0.65/S-4 80 1/2; 0.65/S-3 20 0/1; 0.40/S-4 125 1/2; 0.40/S-3 32 0/1; 0.25/S-4 50 0/1;
#         0.15/S-4 80 0/1.
#   NIBS  NIBS FMOC "AC-TABLE" Table 1-A (MIL-STD-105E II-A, level II, AQL 0.65-15, Re and
#         arrows) and Table 1-B (II-B, tightened).
#   LAW   J. S. Lawson, AQLSchemes (CRAN) AAZ14Single, the resolved MIL-STD-105E tables
#         (tightened row S, reduced plans).
#   STD   MIL-STD-105E / Z1.4 note to Tables II: "If sample size equals or exceeds lot or batch
#         size, do 100 percent inspection."
# ---------------------------------------------------------------------------------------------
PUBLISHED = [
    # source, lot, level, aql, severity, letter, plan letter, n, Ac, Re
    ("MONT", 2000, "II", 0.65, "normal", "K", "K", 125, 2, 3),
    ("MONT", 2000, "II", 0.65, "tightened", "K", "K", 125, 1, 2),
    ("MONT", 2000, "II", 0.65, "reduced", "K", "K", 50, 1, 3),  # reduced gap
    ("PLOS", 100000, "S-4", 0.65, "normal", "J", "J", 80, 1, 2),
    ("PLOS", 100000, "S-3", 0.65, "normal", "G", "F", 20, 0, 1),  # up arrow
    ("PLOS", 400000, "S-4", 0.40, "normal", "J", "K", 125, 1, 2),  # down arrow
    ("PLOS", 400000, "S-3", 0.40, "normal", "G", "G", 32, 0, 1),
    ("PLOS", 200000, "S-4", 0.25, "normal", "J", "H", 50, 0, 1),  # up arrow
    ("PLOS", 40000, "S-4", 0.15, "normal", "J", "J", 80, 0, 1),
    ("NIBS", 5, "II", 6.5, "normal", "A", "A", 2, 0, 1),
    ("NIBS", 5, "II", 4.0, "normal", "A", "B", 3, 0, 1),  # down arrow
    ("NIBS", 12, "II", 6.5, "normal", "B", "A", 2, 0, 1),  # up arrow
    ("NIBS", 12, "II", 10, "normal", "B", "C", 5, 1, 2),  # down arrow
    ("NIBS", 20, "II", 15, "normal", "C", "C", 5, 2, 3),
    ("NIBS", 40, "II", 4.0, "normal", "D", "E", 13, 1, 2),  # down arrow
    ("NIBS", 80, "II", 1.5, "normal", "E", "D", 8, 0, 1),  # up arrow
    ("NIBS", 120, "II", 1.0, "normal", "F", "E", 13, 0, 1),  # up arrow
    ("NIBS", 120, "II", 15, "normal", "F", "F", 20, 7, 8),
    ("NIBS", 200, "II", 0.65, "normal", "G", "F", 20, 0, 1),  # up arrow
    ("NIBS", 200, "II", 1.0, "normal", "G", "H", 50, 1, 2),  # down arrow
    ("NIBS", 400, "II", 0.65, "normal", "H", "J", 80, 1, 2),  # down arrow
    ("NIBS", 1000, "II", 2.5, "normal", "J", "J", 80, 5, 6),
    ("NIBS", 3000, "II", 10, "normal", "K", "K", 125, 21, 22),
    ("NIBS", 3000, "II", 15, "normal", "K", "J", 80, 21, 22),  # up arrow
    ("NIBS", 5000, "II", 10, "normal", "L", "K", 125, 21, 22),  # up arrow
    ("NIBS", 20000, "II", 2.5, "normal", "M", "M", 315, 14, 15),
    ("NIBS", 100000, "II", 1.5, "normal", "N", "N", 500, 14, 15),
    ("NIBS", 200000, "II", 1.5, "normal", "P", "P", 800, 21, 22),
    ("NIBS", 200000, "II", 2.5, "normal", "P", "N", 500, 21, 22),  # up arrow
    ("NIBS", 600000, "II", 1.0, "normal", "Q", "Q", 1250, 21, 22),
    ("NIBS", 600000, "II", 1.5, "normal", "Q", "P", 800, 21, 22),  # up arrow
    ("NIBS", 5, "II", 6.5, "tightened", "A", "B", 3, 0, 1),  # down arrow
    ("NIBS", 12, "II", 6.5, "tightened", "B", "B", 3, 0, 1),
    ("NIBS", 12, "II", 10, "tightened", "B", "D", 8, 1, 2),  # down through two arrows
    ("NIBS", 20, "II", 15, "tightened", "C", "C", 5, 1, 2),
    ("NIBS", 150, "II", 1.5, "tightened", "F", "H", 50, 1, 2),  # down through two arrows
    ("NIBS", 150, "II", 15, "tightened", "F", "F", 20, 5, 6),
    ("NIBS", 200, "II", 15, "tightened", "G", "G", 32, 8, 9),
    ("NIBS", 400, "II", 15, "tightened", "H", "H", 50, 12, 13),
    ("NIBS", 1000, "II", 15, "tightened", "J", "J", 80, 18, 19),
    ("NIBS", 3000, "II", 15, "tightened", "K", "J", 80, 18, 19),  # up arrow
    ("LAW", 600000, "III", 0.010, "tightened", "R", "R", 2000, 0, 1),
    ("LAW", 600000, "II", 0.025, "tightened", "Q", "S", 3150, 1, 2),  # down to the extra row S
    ("LAW", 600000, "III", 0.025, "tightened", "R", "S", 3150, 1, 2),
    ("LAW", 600000, "III", 0.015, "tightened", "R", "Q", 1250, 0, 1),  # up arrow from the last row
    ("LAW", 80, "II", 6.5, "reduced", "E", "E", 5, 1, 3),  # gap
    ("LAW", 1000, "II", 2.5, "reduced", "J", "J", 32, 2, 5),  # gap
    ("LAW", 10000, "II", 1.0, "reduced", "L", "L", 80, 2, 5),  # gap
    ("LAW", 1000, "II", 0.65, "reduced", "J", "J", 32, 0, 2),  # gap
    ("LAW", 1000, "II", 0.40, "reduced", "J", "K", 50, 0, 2),  # down arrow
    ("LAW", 500, "II", 0.40, "reduced", "H", "G", 13, 0, 1),  # up arrow
    ("LAW", 3000, "II", 6.5, "reduced", "K", "K", 50, 7, 10),  # gap
    ("LAW", 3000, "II", 15, "reduced", "K", "J", 32, 10, 13),  # up arrow, gap
    ("LAW", 600000, "II", 0.015, "reduced", "Q", "P", 315, 0, 1),  # up arrow
]


@pytest.mark.parametrize("case", PUBLISHED, ids=lambda c: f"{c[0]}-{c[1]}-{c[2]}-{c[3]}-{c[4]}")
def test_published_plans(case):
    _src, lot, level, aql, severity, letter, plan_letter, n, ac, re_ = case
    p = plan(lot, aql, level, severity)
    assert (p.code_letter, p.plan_letter, p.sample_size, p.accept, p.reject) == (letter, plan_letter, n, ac, re_)
    assert p.full_inspection is (n >= lot)
    assert p.effective_sample_size == min(n, lot)


def test_enough_published_cases_of_every_kind():
    assert len(PUBLISHED) >= 40
    arrows = [c for c in PUBLISHED if c[5] != c[6]]
    assert {c[4] for c in arrows} == {"normal", "tightened", "reduced"}
    assert any(c[9] > c[8] + 1 for c in PUBLISHED)  # reduced plans with a gap


# STD: 100% inspection when the plan's n equals or exceeds the lot.
@pytest.mark.parametrize("lot, level, aql, severity, plan_letter, n, ac, re_", [
    (5, "II", 0.65, "normal", "F", 20, 0, 1),  # A, arrow down to F
    (10, "II", 1.0, "normal", "E", 13, 0, 1),  # B, arrow down to E
    (30, "II", 0.10, "normal", "K", 125, 0, 1),  # D, arrow down to K
    (1200, "II", 0.010, "normal", "Q", 1250, 0, 1),  # J, arrow down to Q: 1250 >= 1200
    (2, "II", 6.5, "normal", "A", 2, 0, 1),  # n equal to the lot
    (50, "II", 0.25, "tightened", "J", 80, 0, 1),  # D, arrow down to J
])
def test_full_inspection(lot, level, aql, severity, plan_letter, n, ac, re_):
    p = plan(lot, aql, level, severity)
    assert (p.plan_letter, p.sample_size, p.accept, p.reject) == (plan_letter, n, ac, re_)
    assert p.full_inspection
    assert p.effective_sample_size == lot
    assert p.as_dict()["sample_size"] == n  # the table's n is kept


def test_not_full_inspection_just_above():
    p = plan(1201, 0.010)  # K, arrow down to Q: 1250 >= 1201, full
    assert p.full_inspection
    p = plan(1251, 0.010)
    assert p.code_letter == "K" and p.sample_size == 1250 and not p.full_inspection


# Table I, boundaries and special levels (MIL-STD-105E Table I; AQL Sampling Chart).
@pytest.mark.parametrize("lot, level, letter", [
    (1, "II", "A"), (8, "II", "A"), (9, "II", "B"), (15, "II", "B"), (16, "II", "C"), (500, "II", "H"),
    (501, "II", "J"), (1200, "II", "J"), (1201, "II", "K"), (2000, "II", "K"), (10000, "II", "L"),
    (500000, "II", "P"), (500001, "II", "Q"), (10**9, "II", "Q"),
    (8, "III", "B"), (50, "III", "E"), (500001, "III", "R"), (10000, "I", "J"), (500001, "I", "N"),
    (25, "S-1", "A"), (51, "S-1", "B"), (100000, "S-1", "D"), (1000, "S-2", "C"), (1201, "S-2", "D"),
    (35001, "S-2", "E"), (16, "S-3", "B"), (3201, "S-3", "F"), (500001, "S-3", "H"), (26, "S-4", "C"),
    (10001, "S-4", "H"), (500001, "S-4", "K"),
])
def test_table_i(lot, level, letter):
    assert code_letter(lot, level) == letter


def test_level_spellings():
    assert code_letter(1000, "s3") == code_letter(1000, "S-3") == "E"
    assert code_letter(1000, "ii") == "J"
    with pytest.raises(ValueError, match="S-1"):
        code_letter(1000, "IV")


def test_unknown_aql_lists_the_valid_ones():
    with pytest.raises(ValueError) as err:
        plan(1000, 0.7)
    assert "0.010" in str(err.value) and "1000" in str(err.value) and "0.65" in str(err.value)
    assert plan(1000, "1").aql == 1.0 and plan(1000, "0.65").aql_label == "0.65"
    with pytest.raises(ValueError):
        plan(0, 1.0)
    with pytest.raises(ValueError):
        plan(100, 1.0, severity="strict")


def test_aql_labels_match_columns():
    assert [float(label) for label in tables.AQL_LABELS] == list(tables.AQLS)


# The plans of each row of Table II-A, in order, as in the text transcription of MIL-STD-105E
# Table II-A ("Tablas", page 19 of 74) and the AQL Sampling Chart.
def test_table_ii_a_rows_hold_the_published_plans():
    def plans_of(letter):
        return [c for c in tables.TABLE_II_A[letter].values() if isinstance(c, tuple)]

    ladder = [(0, 1), (1, 2), (2, 3), (3, 4), (5, 6), (7, 8), (10, 11), (14, 15), (21, 22), (30, 31), (44, 45)]
    assert plans_of("A") == ladder[:10]
    for letter in "BCDE":
        assert plans_of(letter) == ladder
    for letter in "FGHJKLMNPQ":
        assert plans_of(letter) == ladder[:9]
    assert plans_of("R") == ladder[1:9]


def test_table_shapes_and_invariants():
    for severity, table in tables.TABLES.items():
        for letter, row in table.items():
            assert list(row) == list(tables.AQLS)
            for aql, cell in row.items():
                if isinstance(cell, tuple):
                    ac, re_ = cell
                    if severity == "reduced":
                        assert re_ >= ac + 1
                    else:
                        assert re_ == ac + 1, (severity, letter, aql)
                elif letter != "S":
                    # Every arrow leads to a plan of the same column without leaving the table.
                    assert cell in (tables.DOWN, tables.UP)
                    resolve(letter, aql, severity)
    # Row S of II-B holds one plan only, reached from the 0.025 column.
    assert [a for a, c in tables.TABLE_II_B["S"].items() if c is not None] == [0.025]
    # Every letter / AQL combination resolves, in every table.
    for severity in tables.TABLES:
        for letter in tables.LETTERS:
            for aql in tables.AQLS:
                pl, n, ac, re_ = resolve(letter, aql, severity)
                assert n == tables.SAMPLE_SIZES[severity][pl]


def test_reduced_table_has_the_gap_plans():
    gaps = {c for row in tables.TABLE_II_C.values() for c in row.values() if isinstance(c, tuple) and c[1] > c[0] + 1}
    assert {(0, 2), (1, 3), (1, 4), (2, 5), (3, 6), (5, 8), (7, 10), (10, 13), (14, 17), (21, 24)} <= gaps


def test_plan_accepts_and_gap():
    p = plan(2000, 0.65, severity="reduced")  # 50, 1/3
    assert p.accepts(0) and p.accepts(1) and p.accepts(2) and not p.accepts(3)
    assert p.in_gap(2) and not p.in_gap(1) and not p.in_gap(3)
    q = plan(2000, 0.65)  # 125, 2/3
    assert q.accepts(2) and not q.accepts(3) and not q.in_gap(2)


# ---------------------------------------------------------------------------------------------
# Switching rules
# ---------------------------------------------------------------------------------------------
NORMAL = plan(2000, 0.65, severity="normal")  # 125, 2/3
TIGHT = plan(2000, 0.65, severity="tightened")  # 125, 1/2
REDUCED = plan(2000, 0.65, severity="reduced")  # 50, 1/3


def _plan_for(state):
    return {"normal": NORMAL, "tightened": TIGHT, "reduced": REDUCED}[state.severity]


def run(outcomes, state=None, **kw):
    """outcomes: 'A' accepted (0 defects), 'R' not accepted (Re defects), or an int defect count."""
    state = state or SwitchingState()
    for i, o in enumerate(outcomes):
        p = _plan_for(state)
        defects = 0 if o == "A" else p.reject if o == "R" else o
        state = state.record(p.accepts(defects), defects, p, lot=f"lot-{i}", **kw)
    return state


def test_two_rejects_within_five_tighten():
    assert run("ARAR").severity == "tightened"
    assert run("RAAAR").severity == "tightened"  # 2 within exactly 5 lots
    assert run("RR").severity == "tightened"
    s = run("RAAAAR")  # 6 lots apart: stays normal
    assert s.severity == "normal"
    assert run("A", state=s).severity == "normal"
    assert run("R", state=s).severity == "tightened"  # the 2nd within the last 2
    last = run("ARAR").history[-1]
    assert last["switched"] and last["severity"] == "normal" and last["next_severity"] == "tightened"
    assert "2 of the last 3" in last["reason"]


def test_five_accepted_on_tightened_return_to_normal():
    s = run("RR")
    assert run("AAAA", state=s).severity == "tightened"
    back = run("AAAAA", state=s)
    assert back.severity == "normal"
    assert "5 consecutive" in back.history[-1]["reason"]
    # An interruption restarts the count.
    assert run("AAAARAAAA", state=s).severity == "tightened"
    assert run("AAAARAAAAA", state=s).severity == "normal"
    # Back on normal, the window is fresh: one reject does not tighten again.
    assert run("R", state=back).severity == "normal"


def test_ten_accepted_on_normal_reduce():
    assert run("A" * 9).severity == "normal"
    s = run("A" * 10)
    assert s.severity == "reduced"
    assert "10 consecutive" in s.history[-1]["reason"]
    assert run("A" * 4 + "R" + "A" * 9).severity == "normal"
    assert run("A" * 4 + "R" + "A" * 10).severity == "reduced"


def test_reduced_needs_steady_production_and_approval():
    s = run("A" * 12, approved_for_reduced=False)
    assert s.severity == "normal" and "not approved" in s.history[-1]["reason"]
    s = run("A" * 10, steady_production=False)
    assert s.severity == "normal" and "not steady" in s.history[-1]["reason"]
    assert run("A", state=s).severity == "reduced"  # once steady again (11 in a row)


def test_limit_numbers_by_configuration():
    ten = [1] * 10  # 10 accepted lots with 1 defect each (Ac 2)
    s = run(ten, use_limit_numbers=True, limit_number=9)
    assert s.severity == "normal" and "exceed the limit number 9" in s.history[-1]["reason"]
    assert s.last_ten_totals() == (1250, 10)
    s = run(ten, use_limit_numbers=True, limit_number=10)
    assert s.severity == "reduced" and "<= limit number 10" in s.history[-1]["reason"]
    assert run(ten).severity == "reduced"  # limit numbers off by default
    with pytest.raises(ValueError, match="limit_number"):
        SwitchingState().record(True, 0, NORMAL, use_limit_numbers=True)


def test_reduced_back_to_normal():
    on_reduced = run("A" * 10)
    assert run("A" * 20, state=on_reduced).severity == "reduced"
    s = run("R", state=on_reduced)  # 3 defects, Re 3
    assert s.severity == "normal" and "not accepted" in s.history[-1]["reason"]
    s = run([2], state=on_reduced)  # accepted with Ac < 2 < Re
    assert s.severity == "normal" and s.history[-1]["accepted"]
    assert "between Ac 1 and Re 3" in s.history[-1]["reason"]
    assert run([1], state=on_reduced).severity == "reduced"  # d = Ac: stays
    s = on_reduced.record(True, 0, REDUCED, steady_production=False)
    assert s.severity == "normal" and "irregular" in s.history[-1]["reason"]
    # Back on normal, 10 more accepted lots are needed.
    assert run("A" * 9, state=s).severity == "normal"


def test_five_not_accepted_on_tightened_discontinue():
    s = run("RR")  # tightened
    s = run("RAARARA", state=s)  # 3 not accepted, never 5 accepted in a row
    assert s.severity == "tightened" and s.tightened_not_accepted == 3
    s = run("R", state=s)
    assert s.severity == "tightened"
    s = run("R", state=s)
    assert s.severity == "discontinued" and s.halted
    assert "operator action" in s.history[-1]["reason"]
    with pytest.raises(InspectionDiscontinued):
        s.record(True, 0, TIGHT)
    with pytest.raises(ValueError):
        s.resume("  ")
    resumed = s.resume("supplier replaced the inserter feed", operator="qa-lead")
    assert resumed.severity == "tightened" and resumed.tightened_not_accepted == 0
    assert resumed.history[-1]["event"] == "resume"
    with pytest.raises(ValueError):
        resumed.resume("again")


def test_record_refuses_inconsistent_input():
    s = SwitchingState()
    with pytest.raises(ValueError, match="tightened plan"):
        s.record(True, 0, TIGHT)
    with pytest.raises(ValueError, match="contradicts"):
        s.record(True, 3, NORMAL)
    with pytest.raises(ValueError, match="contradicts"):
        s.record(False, 0, NORMAL)
    with pytest.raises(ValueError):
        s.record(True, -1, NORMAL)
    assert s.history == ()  # the state itself never changes


def test_state_round_trips_through_json():
    s = run("AARAAAR")  # tightened, with history
    data = json.loads(json.dumps(s.to_dict()))
    again = SwitchingState.from_dict(data)
    assert again == s
    more = "AAAARAAA"
    assert run(more, state=again).to_dict() == run(more, state=s).to_dict()
    s2 = run("A" * 7)
    assert SwitchingState.from_dict(json.loads(json.dumps(s2.to_dict()))) == s2
    with pytest.raises(ValueError):
        SwitchingState.from_dict({"version": 99, "severity": "normal"})
    with pytest.raises(ValueError):
        SwitchingState.from_dict({"version": 1, "severity": "lenient"})
    with pytest.raises(ValueError):
        SwitchingState.from_dict({"version": 1})


def test_every_history_entry_has_a_reason():
    s = run("AARAR" + "A" * 5 + "A" * 10 + "R")
    assert len(s.history) == 21
    assert all(entry["reason"] for entry in s.history)
    assert [e["next_severity"] for e in s.history if e["switched"]] == ["tightened", "normal", "reduced", "normal"]


# ---------------------------------------------------------------------------------------------
# Operating characteristic
# ---------------------------------------------------------------------------------------------
def test_binomial_hand_computed():
    # n=50, c=1, p=0.02: 0.98^50 + 50 * 0.02 * 0.98^49
    expected = 0.98**50 + 50 * 0.02 * 0.98**49
    assert binomial_pa(50, 1, 0.02) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(0.7358, abs=5e-5)
    # Montgomery's example: n=89, c=2, p=0.01 -> Pa = 0.9397.
    assert binomial_pa(89, 2, 0.01) == pytest.approx(0.9397, abs=5e-5)
    assert binomial_pa(125, 0, 0.0) == 1.0 and binomial_pa(125, 2, 1.0) == 0.0
    assert binomial_pa(3, 5, 0.5) == 1.0  # Ac >= n


def test_hypergeometric_hand_computed():
    # Lot of 10 with 2 nonconforming (p=0.2), sample 2, Ac 0: C(8,2)/C(10,2) = 28/45.
    assert hypergeometric_pa(2, 0, 0.2, 10) == pytest.approx(28 / 45, rel=1e-12)
    # Lot of 500 with 10 nonconforming, n=50, Ac=1: exact fractions.
    c = math.comb
    exact = Fraction(c(490, 50) + 10 * c(490, 49), c(500, 50))
    assert hypergeometric_pa(50, 1, 0.02, 500) == pytest.approx(float(exact), rel=1e-12)
    # A sample as large as the lot sees every nonconforming unit.
    assert hypergeometric_pa(20, 0, 0.2, 5) == 0.0  # 1 nonconforming of 5, all inspected
    assert hypergeometric_pa(20, 1, 0.2, 5) == 1.0


def test_oc_points():
    pts = oc_points(50, 1, [0.01, 0.02])
    assert [pt["p"] for pt in pts] == [0.01, 0.02]
    assert pts[1]["pa"] == pytest.approx(0.7358, abs=5e-5)
    hyp = oc_points(50, 1, [0.02], lot_size=500)
    assert hyp[0]["pa"] != pts[1]["pa"]
    pas = [pt["pa"] for pt in oc_points(125, 2, [i / 200 for i in range(40)])]
    assert all(a >= b for a, b in zip(pas, pas[1:]))  # decreasing in p
    with pytest.raises(ValueError):
        oc_points(50, 1, [1.5])


def test_oc_chart_is_a_png(tmp_path):
    out = tmp_path / "oc.png"
    oc_chart({"sample_size": 125, "accept": 2}, out, aql=0.65)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out2 = tmp_path / "oc2.png"
    oc_chart(oc_points(50, 1, [0.0, 0.02, 0.05, 0.1]), out2)
    assert out2.stat().st_size > 1000


# ---------------------------------------------------------------------------------------------
# Seeds and draws
# ---------------------------------------------------------------------------------------------
def test_seed_is_sha256_of_run_stage_lot():
    seed = sample_seed("2024-06-cycle", 2, "EU-batch-0003")
    digest = hashlib.sha256(b"2024-06-cycle\n2\nEU-batch-0003").digest()
    assert seed == int.from_bytes(digest[:8], "big")
    assert 0 <= seed < 2**64
    assert sample_seed("2024-06-cycle", 2, "EU-batch-0003") == seed
    assert len({seed, sample_seed("2024-06-cycle", 3, "EU-batch-0003"), sample_seed("2024-06-cycle", 2, "EU-batch-0004"),
                sample_seed("2024-07-cycle", 2, "EU-batch-0003")}) == 4
    with pytest.raises(ValueError):
        sample_seed("run\n1", 1, "lot")


def test_draws_are_redrawable():
    population = list(range(1, 2001))
    seed = sample_seed("run-1", 1, "lot-A")
    first = draw_sample(population, 125, seed)
    assert first == draw_sample(list(reversed(population)), 125, seed)  # order does not matter
    assert first == sorted(first) and len(set(first)) == 125 and set(first) <= set(population)
    # The recipe in stmtprod.sampling.draw's docstring, by hand:
    assert first == sorted(random.Random(seed).sample(sorted(set(population)), 125))
    assert draw_sample(population, 125, seed + 1) != first
    assert draw_sample([5, 3, 9], 20, seed) == [3, 5, 9]  # n >= lot: the whole lot
    assert redraw("run-1", 1, "lot-A", population, 125) == (seed, first)


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------
def test_cli_plan_json():
    res = CliRunner().invoke(qa, ["plan", "--lot-size", "2000", "--aql", "0.65", "--json"])
    assert res.exit_code == 0, res.output
    obj = json.loads(res.output)
    assert {k: obj[k] for k in ("code_letter", "plan_letter", "sample_size", "accept", "reject")} == {
        "code_letter": "K", "plan_letter": "K", "sample_size": 125, "accept": 2, "reject": 3}
    res = CliRunner().invoke(qa, ["plan", "--lot-size", "100000", "--aql", "0.65", "--level", "S-3",
                                  "--severity", "normal", "--json"])
    obj = json.loads(res.output)
    assert (obj["code_letter"], obj["plan_letter"], obj["sample_size"], obj["accept"], obj["reject"]) == ("G", "F", 20, 0, 1)
    res = CliRunner().invoke(qa, ["plan", "--lot-size", "5", "--aql", "0.65", "--json"])
    obj = json.loads(res.output)
    assert obj["full_inspection"] is True and obj["sample_size"] == 20 and obj["effective_sample_size"] == 5


def test_cli_plan_text_and_errors():
    res = CliRunner().invoke(qa, ["plan", "--lot-size", "2000", "--aql", "0.65", "--severity", "reduced"])
    assert res.exit_code == 0
    assert "code letter" in res.output and "50" in res.output and "reinstate normal" in res.output
    res = CliRunner().invoke(qa, ["plan", "--lot-size", "2000", "--aql", "0.7"])
    assert res.exit_code == 2 and "valid AQLs" in res.output
    res = CliRunner().invoke(qa, ["plan", "--lot-size", "2000", "--aql", "1.0", "--level", "IV"])
    assert res.exit_code == 2


def test_cli_oc_json_and_chart(tmp_path):
    res = CliRunner().invoke(qa, ["oc", "--sample-size", "50", "--accept", "1", "--p", "0.01,0.02", "--json"])
    assert res.exit_code == 0, res.output
    obj = json.loads(res.output)
    assert [pt["p"] for pt in obj["points"]] == [0.01, 0.02]
    assert obj["points"][1]["pa"] == pytest.approx(0.7358, abs=5e-5)
    res = CliRunner().invoke(qa, ["oc", "--sample-size", "50", "--accept", "1", "--lot-size", "500",
                                  "--p", "0.02", "--json"])
    assert json.loads(res.output)["points"][0]["pa"] == pytest.approx(hypergeometric_pa(50, 1, 0.02, 500))
    chart = tmp_path / "oc.png"
    res = CliRunner().invoke(qa, ["oc", "--sample-size", "125", "--accept", "2", "--aql", "0.65",
                                  "--chart", str(chart)])
    assert res.exit_code == 0, res.output
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    res = CliRunner().invoke(qa, ["oc", "--sample-size", "50", "--accept", "1", "--p", "2"])
    assert res.exit_code == 2
