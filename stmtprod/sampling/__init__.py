"""Acceptance sampling by attributes: ANSI/ASQ Z1.4-2008 (MIL-STD-105E) single sampling.

* ``tables``: Table I and Tables II-A, II-B, II-C, transcribed as data (sources named there).
* ``plans.plan(lot_size, aql, level, severity)``: the plan for a lot, arrows followed.
* ``switching.SwitchingState``: normal / tightened / reduced / discontinued, kept across runs.
* ``oc``: operating characteristic (binomial or hypergeometric) and its chart.
* ``draw``: seeds derived from run, stage and lot, and samples anyone can redraw.
* ``commands.qa``: the ``stmtprod qa`` click group (plan, oc).
"""
from stmtprod.sampling.draw import draw_sample, redraw, sample_seed
from stmtprod.sampling.oc import oc_chart, oc_points
from stmtprod.sampling.plans import Plan, code_letter, plan
from stmtprod.sampling.switching import InspectionDiscontinued, SwitchingState

__all__ = [
    "InspectionDiscontinued",
    "Plan",
    "SwitchingState",
    "code_letter",
    "draw_sample",
    "oc_chart",
    "oc_points",
    "plan",
    "redraw",
    "sample_seed",
]
