"""COMPLETE: the end of a run's life, and the lodgement it makes final.

A released run reaches COMPLETE only when every scheduled piece is final: mailed exactly once, or
pulled with a reason (scheduled = mailed + pulled). A piece sent to a reprint child is REPRINTED
until the child's piece is final, then takes its fate (status REPRINTED: mailed or pulled through
its reprint); `settle` carries that up from child to parent, round after round.

The lodgement is written once per family, by the root run when it completes: the mailing manifest as
the postal operator is paid for it, counting only the pieces physically mailed (the root's and its
children's, each once, with its run id; a piece mailed through its reprint is lodged as the
reprint). The release's `mailing/` is the plan, made before the inserter ran. Lodgement first, then
the ledger's COMPLETE transition: a crash between the two leaves the run RELEASED and the next
`settle` (any `stmtprod reconcile` of the run) writes the same bytes again and completes it.
"""
from __future__ import annotations

import json
from contextlib import ExitStack
from typing import IO, Iterator

from stmtprod.engine import crashpoints
from stmtprod.fsutil import atomic_open
from stmtprod.inserting import fates
from stmtprod.inserting.pieces import iter_pieces
from stmtprod.inserting.runctx import RunFolder
from stmtprod.engine.ledger import Ledger, now

RELEASED, COMPLETE = "RELEASED", "COMPLETE"
SETTLED = (RELEASED, COMPLETE)
LODGEMENT = "lodgement"


def settled(state: str | None) -> bool:
    """A run in this state is released (and maybe complete): `resume` must leave it alone."""
    return state in SETTLED


def settle(ledger: Ledger, run: RunFolder) -> dict:
    """The count check, after carrying this run's final pieces up to the pieces they reprint; a RELEASED
    run whose pieces are all final becomes COMPLETE (the root writes the family's lodgement first)."""
    parents = _carry_up(ledger, run.run_id)
    check = fates.count_check(ledger, run.run_id)
    state = (ledger.run(run.run_id) or {}).get("state")
    open_children = _open_children(ledger, run.run_id)
    if check["complete"] and state == RELEASED and not open_children:
        root = _root(ledger, run.run_id)
        lodged = write_lodgement(ledger, run) if root == run.run_id else {"by_lot": f"lodged with {root}"}
        crashpoints.reached("complete:lodged")
        ledger.transition(run.run_id, COMPLETE, scheduled=check["scheduled"], mailed=check["mailed"],
                          pulled=check["pulled"], lodgement=lodged["by_lot"])
        state = COMPLETE
        parents = sorted({*parents, *_parent_runs(ledger, run.run_id)})   # they may have waited for this one
    if state == COMPLETE:
        _report(ledger, run)
    for parent in parents:
        settle(ledger, RunFolder.open(run.out / parent))
    return {**check, "state": state, **({"waiting_for_children": open_children} if open_children else {})}


def _open_children(ledger: Ledger, run_id: str) -> list[str]:
    """The reprint children of the run not yet COMPLETE. A run completes after its children: one may
    still wait for an operator (a second envelope of a piece it mailed), and the family's lodgement,
    written by the root as it completes, must not come before every envelope in the mail is settled."""
    rows = ledger.db.execute("SELECT DISTINCT child_run FROM reprints WHERE parent_run = ? ORDER BY child_run",
                             (run_id,))
    return [r["child_run"] for r in rows if (ledger.run(r["child_run"]) or {}).get("state") != COMPLETE]


def _parent_runs(ledger: Ledger, run_id: str) -> list[str]:
    rows = ledger.db.execute("SELECT DISTINCT parent_run FROM reprints WHERE child_run = ?", (run_id,))
    return [r["parent_run"] for r in rows]


def _report(ledger: Ledger, run: RunFolder) -> None:
    """The run report again, now with the loop's final count check (once: a later settle of a COMPLETE
    run whose report already says so writes nothing)."""
    from stmtprod.engine.report import write_report

    report = run.run_dir / "report.json"
    if report.exists() and json.loads(report.read_text("utf-8")).get("state") == COMPLETE:
        return
    summary = json.loads((run.run_dir / "summary.json").read_text("utf-8"))
    write_report(ledger, run.run_id, run.run_dir, summary, run.catalog)


def _root(ledger: Ledger, run_id: str) -> str:
    row = ledger.db.execute("SELECT parent_run FROM reprints WHERE child_run = ? LIMIT 1", (run_id,)).fetchone()
    return run_id if row is None else _root(ledger, row["parent_run"])


def _carry_up(ledger: Ledger, child: str) -> list[str]:
    """Parent pieces REPRINTED in `child` whose child piece is now final take its fate; returns the
    parents that changed."""
    rows = ledger.db.execute(
        "SELECT r.parent_run, r.parent_seq, r.child_seq, c.fate, c.reason FROM reprints r "
        "JOIN piece_state c ON c.run_id = r.child_run AND c.sequence = r.child_seq "
        "JOIN piece_state p ON p.run_id = r.parent_run AND p.sequence = r.parent_seq "
        "WHERE r.child_run = ? AND c.fate IN (?, ?) AND p.fate = ? ORDER BY r.line",
        (child, fates.MAILED, fates.PULLED, fates.REPRINTED)).fetchall()
    if not rows:
        return []
    decisions = [(r["parent_run"], {"sequence": r["parent_seq"], "status": fates.REPRINTED, "fate": r["fate"],
                                    "who": f"reprint:{child}",
                                    "reason": f"{r['fate'].lower()} as piece {r['child_seq']} of {child}: {r['reason']}",
                                    "details": {"child": child, "child_seq": r["child_seq"]}}) for r in rows]
    with ledger.transaction() as db:
        fates.write_fates(db, decisions, now())
    return sorted({r["parent_run"] for r in rows})


def family(ledger: Ledger, root: str) -> list[str]:
    """The root and every child below it, in round order."""
    rows = ledger.db.execute("SELECT DISTINCT child_run, round FROM reprints WHERE child_run LIKE ? ORDER BY round",
                             (f"{root}-R%",)).fetchall()
    return [root, *(r["child_run"] for r in rows)]


def _mailed_rows(ledger: Ledger, run: RunFolder) -> Iterator[tuple[str, dict]]:
    """(lot, row) of every piece of `run` physically mailed: the mailing manifest's rows (tray and
    presort order) where the line writes one, else the pieces' own weight and postage class (cards)."""
    codes = fates.current_codes(ledger, run.run_id, run.map.last)
    via = fates.via_reprint(ledger, run.run_id, run.map.last)

    def mailed(seq: int) -> bool:
        return fates.fate_in(codes, seq) == fates.MAILED and not (0 < seq < len(via) and via[seq])

    base = {"run_id": run.run_id}
    mailing = sorted((run.release / "mailing").glob("*.jsonl")) if (run.release / "mailing").is_dir() else []
    if mailing:
        for path in mailing:
            with open(path, encoding="utf-8") as fh:
                for raw in fh:
                    row = json.loads(raw)
                    if mailed(row["sequence"]):
                        yield run.map.lot_of(row["sequence"]) or path.stem, {**base, **row}
        return
    for piece in iter_pieces(run.release, run.run_dir / "work" / "accepted", run.catalog, run.layouts):
        if mailed(piece.sequence):
            yield piece.lot, {**base, "sequence": piece.sequence, "weight_g": piece.weight_g,
                              "postage_class": piece.postage_class}


def write_lodgement(ledger: Ledger, run: RunFolder) -> dict:
    """`<root>/lodgement/<lot>.jsonl` (the family's physically mailed pieces) and `summary.json`;
    deterministic bytes."""
    folder = run.run_dir / LODGEMENT
    by_lot: dict[str, dict] = {}
    children: dict[str, int] = {}
    with ExitStack() as stack:
        handles: dict[str, IO[str]] = {}
        for member in family(ledger, run.run_id):
            member_run = run if member == run.run_id else RunFolder.open(run.out / member)
            for lot, row in _mailed_rows(ledger, member_run):
                if lot not in handles:
                    handles[lot] = stack.enter_context(atomic_open(folder / f"{lot}.jsonl", "w"))
                    by_lot[lot] = {"pieces": 0, "weight_g": 0.0, "postage_classes": {}}
                handles[lot].write(json.dumps({"lot": lot, **row}, ensure_ascii=False, sort_keys=True) + "\n")
                entry = by_lot[lot]
                entry["pieces"] += 1
                entry["weight_g"] = round(entry["weight_g"] + float(row["weight_g"]), 1)
                entry["postage_classes"][row["postage_class"]] = entry["postage_classes"].get(row["postage_class"], 0) + 1
                if member != run.run_id:
                    children[member] = children.get(member, 0) + 1
    check = fates.count_check(ledger, run.run_id)
    summary = {"run_id": run.run_id, "scheduled": check["scheduled"], "mailed": check["mailed"],
               "pulled": check["pulled"], "mailed_via_reprint": check["mailed_via_reprint"],
               "lodged_from_reprints": children, "by_lot": dict(sorted(by_lot.items()))}
    with atomic_open(folder / "summary.json", "w") as fh:
        fh.write(json.dumps(summary, ensure_ascii=False, sort_keys=True, indent=1) + "\n")
    return summary
