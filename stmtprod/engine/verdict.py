"""The run report's first answer: can we mail tonight? The decision, why, the evidence and what to run.

Read from the run's summary (its state, halt or wait) and the ledger's batches (which sheets were
read back and verified), so the first lines of `report.json` and `report.pdf` say what a night
supervisor needs before anything else, for statement and card runs alike.
"""
from __future__ import annotations

from pathlib import Path

from stmtprod.engine.ledger import Ledger


def verdict(ledger: Ledger, run_id: str, run_dir: Path, summary: dict) -> dict:
    """`decision` (YES / NO / NOT YET), `headline`, `why`, `evidence` (lines), `fix` and `next` (commands)."""
    from stmtprod.engine.wayout import resume_command

    cards = summary.get("line") == "cards"
    batches = list(ledger.batches(run_id).values())
    sheets = sum(b["sheets"] or 0 for b in batches)
    verified = sum(b["sheets"] or 0 for b in batches if b["verified_at"])
    pieces = sum(b["pieces"] for b in batches)
    lots = ledger.stages(run_id)
    accepted = sum(1 for s in lots if s["decision"] == "accepted")
    evidence = []
    if sheets and verified == sheets:
        evidence.append(f"all {sheets} sheets of {pieces} {'carriers' if cards else 'pieces'} verified "
                        "(every barcode read back from the print files)")
    elif sheets:
        evidence.append(f"{verified} of {sheets} sheets verified")
    else:
        evidence.append("no sheet rendered yet")
    if lots:
        evidence.append(f"{accepted} of {len(lots)} inspection lots accepted")
    counts = summary["counts"]
    evidence.append(f"input {counts['input']} records reconciled" if summary.get("reconciled")
                    else f"input {counts['input']} records DO NOT RECONCILE")
    state = summary["state"]
    mail = "sealing" if cards else "mailing"
    drill = (ledger.run(run_id)["options"] or {}).get("drill")
    if state == "RELEASED" and drill:
        return {"decision": "NO", "headline": f"NO: a drill run ({drill}) is training, not for {mail}",
                "why": "a drill injects a fault to prove the line stops; its output is never mailed",
                "evidence": evidence, "fix": None, "next": []}
    if state == "RELEASED":
        return {"decision": "YES", "headline": f"YES: released for {mail} tonight",
                "why": f"every sheet verified and every inspection lot accepted; the files are in {run_dir / 'release'}",
                "evidence": evidence, "fix": None, "next": []}
    if state == "HALTED" and summary.get("halt"):
        halt = summary["halt"]
        where = ", ".join(f"{k} {halt[k]}" for k in ("step", "batch", "lot", "piece", "sheet", "slot", "field")
                          if halt.get(k) is not None)
        found = [", ".join(f"{k} {halt[k]}" for k in ("expected", "found") if halt.get(k) is not None)]
        found = [line for line in found if line]
        return {"decision": "NO", "headline": f"NO: the run halted; nothing was released for {mail}",
                "why": halt["reason"], "evidence": [where, *found, *([halt["evidence"]] if halt.get("evidence") else []),
                                                    *evidence],
                "fix": halt.get("action"), "next": halt.get("next") or []}
    if state == "INSPECTING" and summary.get("waiting"):
        waiting = summary["waiting"]
        return {"decision": "NOT YET", "headline": f"NOT YET: waiting for an inspector at stage {waiting['stage']}",
                "why": waiting["message"], "evidence": evidence,
                "fix": "inspect the drawn sample and record the findings", "next": waiting.get("next") or []}
    return {"decision": "NOT YET", "headline": f"NOT YET: the run stopped in state {state} before release",
            "why": "the run did not finish (a crash or a stop); resume continues it", "evidence": evidence,
            "fix": None, "next": [resume_command(run_id, Path(run_dir).parent, summary.get("line", "statements"))]}
