"""COMPLETE: the end of a run's life, and the lodgement it makes final.

A released run reaches COMPLETE only when every scheduled piece is final: mailed exactly once, or
pulled with a reason (scheduled = mailed + pulled). Only then is the lodgement written: the mailing
manifest as the postal operator is paid for it, counting only the pieces that were mailed (the
release's `mailing/` is the plan, made before the inserter ran). Lodgement first, then the ledger's
COMPLETE transition: a crash between the two leaves the run RELEASED and the next `settle` (any
`stmtprod reconcile` of the run) writes the same bytes again and completes it.
"""
from __future__ import annotations

import json
from contextlib import ExitStack
from typing import IO, Iterator

from stmtprod import crashpoints
from stmtprod.fsutil import atomic_open
from stmtprod.inserting import fates
from stmtprod.inserting.pieces import iter_pieces
from stmtprod.inserting.runctx import RunFolder
from stmtprod.ledger import Ledger

RELEASED, COMPLETE = "RELEASED", "COMPLETE"
SETTLED = (RELEASED, COMPLETE)
LODGEMENT = "lodgement"


def settled(state: str | None) -> bool:
    """A run in this state is released (and maybe complete): `resume` must leave it alone."""
    return state in SETTLED


def settle(ledger: Ledger, run: RunFolder) -> dict:
    """The count check; a RELEASED run whose pieces are all final gets its lodgement and becomes COMPLETE."""
    check = fates.count_check(ledger, run.run_id)
    state = (ledger.run(run.run_id) or {}).get("state")
    if check["complete"] and state == RELEASED:
        summary = write_lodgement(ledger, run)
        crashpoints.reached("complete:lodged")
        ledger.transition(run.run_id, COMPLETE, scheduled=check["scheduled"], mailed=check["mailed"],
                          pulled=check["pulled"], lodgement=summary["by_lot"])
        state = COMPLETE
    return {**check, "state": state}


def _mailed_rows(run: RunFolder, codes: bytearray) -> Iterator[tuple[str, dict]]:
    """(lot, row) of every mailed piece: the mailing manifest's rows (tray and presort order) where
    the line writes one, else the pieces' own weight and postage class (cards)."""
    mailing = sorted((run.release / "mailing").glob("*.jsonl")) if (run.release / "mailing").is_dir() else []
    if mailing:
        for path in mailing:
            with open(path, encoding="utf-8") as fh:
                for raw in fh:
                    row = json.loads(raw)
                    if fates.fate_in(codes, row["sequence"]) == fates.MAILED:
                        yield run.map.lot_of(row["sequence"]) or path.stem, row
        return
    for piece in iter_pieces(run.release, run.run_dir / "work" / "accepted", run.catalog, run.layouts):
        if fates.fate_in(codes, piece.sequence) == fates.MAILED:
            yield piece.lot, {"sequence": piece.sequence, "weight_g": piece.weight_g,
                              "postage_class": piece.postage_class}


def write_lodgement(ledger: Ledger, run: RunFolder) -> dict:
    """`<run>/lodgement/<lot>.jsonl` (mailed pieces only) and `summary.json`; deterministic bytes."""
    codes = fates.current_codes(ledger, run.run_id, run.map.last)
    folder = run.run_dir / LODGEMENT
    by_lot: dict[str, dict] = {}
    with ExitStack() as stack:
        handles: dict[str, IO[str]] = {}
        for lot, row in _mailed_rows(run, codes):
            if lot not in handles:
                handles[lot] = stack.enter_context(atomic_open(folder / f"{lot}.jsonl", "w"))
                by_lot[lot] = {"pieces": 0, "weight_g": 0.0, "postage_classes": {}}
            handles[lot].write(json.dumps({"lot": lot, **row}, ensure_ascii=False, sort_keys=True) + "\n")
            entry = by_lot[lot]
            entry["pieces"] += 1
            entry["weight_g"] = round(entry["weight_g"] + float(row["weight_g"]), 1)
            entry["postage_classes"][row["postage_class"]] = entry["postage_classes"].get(row["postage_class"], 0) + 1
    check = fates.count_check(ledger, run.run_id)
    summary = {"run_id": run.run_id, "scheduled": check["scheduled"], "mailed": check["mailed"],
               "pulled": check["pulled"], "by_lot": dict(sorted(by_lot.items()))}
    with atomic_open(folder / "summary.json", "w") as fh:
        fh.write(json.dumps(summary, ensure_ascii=False, sort_keys=True, indent=1) + "\n")
    return summary
