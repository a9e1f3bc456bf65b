"""Inspection stage 3, insertion: sampled envelopes from the inserter's log against the source data.

The simulated inserter has already consumed the whole lot by its barcodes alone (the envelope log).
For each sampled piece its envelope must exist; the inserts it holds must be exactly those the
eligibility rules choose afresh from the source record (`select_inserts`); each insert must come from
the hopper the catalog assigns it; and the envelope must hold the piece's sheets, collated from the
batch and page where the manifest says the piece starts.
"""
from __future__ import annotations

from pathlib import PurePath

from stmtprod.catalog import select_inserts
from stmtprod.inspect.context import InspectionContext


def _defect(sequence: int, kind: str, evidence: str) -> dict:
    return {"piece": sequence, "kind": kind, "evidence": evidence}


def check_envelope(ctx: InspectionContext, seq: int) -> list[dict]:
    piece = ctx.piece(seq)
    env = ctx.envelope(seq)
    if env is None:
        return [_defect(seq, "missing-envelope", f"no envelope log row for piece {seq} ({piece['account_id']})")]
    defects = []
    wanted = [i.code for i in select_inserts(ctx.catalog, ctx.record(seq))]
    held = list(env.get("inserts", []))
    for code in held:
        if code not in wanted:
            defects.append(_defect(seq, "insert-not-allowed",
                                   f"envelope holds {code}; the rules allow only {wanted or 'no inserts'}"))
    if len(set(held)) != len(held):
        defects.append(_defect(seq, "insert-not-allowed", f"envelope holds an insert twice: {held}"))
    for code in wanted:
        if code not in held:
            defects.append(_defect(seq, "insert-missing", f"envelope lacks {code}; the rules choose {wanted}, "
                                                          f"it holds {held}"))
    hopper_of = {i.code: i.hopper for i in ctx.catalog.insert}
    expected_hoppers = sorted(hopper_of[c] for c in held if c in hopper_of)
    if sorted(env.get("hoppers", [])) != expected_hoppers or len(expected_hoppers) != len(held):
        defects.append(_defect(seq, "wrong-hopper", f"inserts {held} come from hoppers {expected_hoppers} in the "
                                                    f"catalog; the envelope log pulled {env.get('hoppers')}"))
    checks = [("sheets", piece["sheets"], env.get("sheets")),
              ("batch", PurePath(piece["file"]).stem, env.get("batch")),
              ("first_page", piece["first_page"], env.get("first_page")),
              ("region", piece["region"], env.get("region"))]
    for name, want, got in checks:
        if want != got:
            defects.append(_defect(seq, "collation", f"{name}: manifest says {want}, envelope log says {got}"))
    return defects


def inspect(ctx: InspectionContext, lot: str, sample: list[int]) -> list[dict]:
    """Insertion defects of the sampled pieces of one lot."""
    defects: list[dict] = []
    for seq in sample:
        defects += check_envelope(ctx, seq)
    return defects
