"""Reconciliation: a validated results file becomes every reported piece's next fate, in one transaction.

Rules (after RICOH ProcessDirector's inserter reconciliation, stricter where it is blind):
- OK: mailed. A planned divert reported OK waits for the operator: it must not be mailed.
- DIVERTED: a planned divert in its planned bin is pulled (with its inspection reason); any other
  divert is a fault outsort and waits for the operator.
- DAMAGED: reprint. ATTENTION: reprint if the model says so, else the operator decides.
- PULLED: not mailed; waits for the operator to give the reason (`--action pull --reason`).
- MISSING (no record for a piece of a reported lot): the model's `missing_status` if it sets one,
  else the operator decides.
- Two records for one piece (a duplicate read), or a record for a piece already final: operator.
- Reprints above a lot's maximum share (`maximum_reprint_percent` of its model, or of the lot in
  `inserters/lots.toml`): all of that lot's reprints from the file wait for the operator.
A piece whose planned divert fails any other way is pulled (it was never to be mailed) unless it
may have reached the mail stream (OK, ATTENTION), which waits.
"""
from __future__ import annotations

from pathlib import Path

from stmtprod.engine import crashpoints
from stmtprod.cardnumbers import redact
from stmtprod.errors import UsageError
from stmtprod.inserting import fates
from stmtprod.inserting.complete import settle
from stmtprod.inserting.fates import FINAL, MAILED, PULLED, REPRINT, REPRINTED, WAITING
from stmtprod.inserting.lotmodels import covered_lots, load_lot_models, results_model
from stmtprod.inserting.models import MISSING, InserterModel
from stmtprod.inserting.pieces import Slot
from stmtprod.inserting.results import ResultRecord, records, scan
from stmtprod.inserting.runctx import RunFolder
from stmtprod.engine.ledger import Ledger

ACTIONS = {"ok": MAILED, "pull": PULLED, "reprint": REPRINT}


def _fate(piece: Slot, status: str, rec: ResultRecord | None, model: InserterModel) -> tuple[str, str]:
    """(fate, reason) for one piece with one status."""
    if piece.divert:
        if status in ("OK", "ATTENTION"):
            return WAITING, (f"planned divert ({piece.divert_why}) reported {status}: find the piece, it must "
                             "not be mailed; then --action pull")
        if status == MISSING:
            return WAITING, "planned divert not reported: find the piece, then --action pull"
        if status == "DIVERTED" and rec is not None and rec.bin not in (None, model.divert_bin):
            return WAITING, f"planned divert went to bin {rec.bin}, not bin {model.divert_bin}: find it, then --action pull"
        return PULLED, f"planned divert ({piece.divert_why}), reported {status}"
    if status == "OK":
        return MAILED, "inserted and sealed"
    if status == "DIVERTED":
        where = f"bin {rec.bin}" if rec is not None and rec.bin is not None else "a bin"
        return WAITING, f"diverted to {where} though no divert was planned (fault outsort): --action reprint or pull"
    if status == "DAMAGED":
        return REPRINT, "damaged at the inserter"
    if status == "ATTENTION":
        if model.attention_reprints:
            return REPRINT, "attention at the inserter (model reprints ATTENTION)"
        return WAITING, "attention at the inserter: check the piece, then --action ok, pull or reprint"
    if status == "PULLED":
        return WAITING, "pulled at the inserter: give the reason with --action pull (or reprint)"
    return WAITING, "missing: no record from the inserter; find the piece, then --action ok, pull or reprint"


def decide(piece: Slot, recs: list[ResultRecord], before: dict | None, model: InserterModel) -> dict | None:
    """The piece's next fate from this file's records, or None when the file says nothing new about it."""
    base = {"sequence": piece.sequence, "who": f"inserter:{model.name}"}
    details = {"records": [{"line": r.line, "code": r.code, "bin": r.bin, "timestamp": r.timestamp,
                            "note": redact(r.note)} for r in recs]}
    if len(recs) > 1:
        return {**base, "status": "+".join(r.status for r in recs), "fate": WAITING, "details": details,
                "reason": f"duplicate: {len(recs)} records for one piece (lines "
                          f"{', '.join(str(r.line) for r in recs)}): find every copy, then decide"}
    if not recs:
        if before is not None:
            return None
        status = MISSING
        if model.missing_status and not piece.divert:
            fate, reason = _fate(piece, model.missing_status, None, model)
            return {**base, "status": MISSING, "fate": fate, "details": details,
                    "reason": f"missing; the model treats it as {model.missing_status}: {reason}"}
        fate, reason = _fate(piece, status, None, model)
        return {**base, "status": status, "fate": fate, "reason": reason, "details": details}
    rec = recs[0]
    if before is not None and before["fate"] == REPRINTED:
        return {**base, "status": rec.status, "fate": REPRINTED, "details": details,
                "reason": f"the original was reported {rec.status} after it went to reprint: it must not be mailed; "
                          "take it out (its reprint is the piece that counts)"}
    if before is not None and before["fate"] in FINAL:
        return {**base, "status": rec.status, "fate": WAITING, "details": details,
                "reason": f"reported {rec.status} again after it was already {before['fate']}: check for a second copy"}
    fate, reason = _fate(piece, rec.status, rec, model)
    if rec.note:
        reason += f" (inserter note: {redact(rec.note[:200])})"
    return {**base, "status": rec.status, "fate": fate, "reason": reason, "details": details}


def reconcile(run_dir: Path, results_file: Path, model: str | None = None, lots: list[str] | None = None) -> dict:
    """Apply one results file to the run whole, or refuse it whole (ResultsRefused). Applying the
    same file again changes nothing and says so.

    The file reports on `lots` (default: every lot of the run): a piece of those lots with no record
    is MISSING, a record for a piece of another lot is refused. The file is streamed twice (checked,
    then applied in one transaction); memory does not grow with the run."""
    run = RunFolder.open(run_dir)
    covered = covered_lots(run, lots)
    inserter = results_model(run, covered, model)
    config = load_lot_models()
    first = scan(results_file, inserter, run.run_id, run.map, frozenset(covered))
    ledger = Ledger(run.out)
    try:
        done = fates.applied(ledger, run.run_id, first.sha256)
        if done is not None:
            return {"run_id": run.run_id, "file": str(results_file), "already_applied": done["at"],
                    "lots": done["lots"], "counts": done["counts"], "check": settle(ledger, run)}
        codes = fates.current_codes(ledger, run.run_id, run.map.last)
        reprints = dict.fromkeys(covered, 0)

        def decisions():
            for recs in records(results_file, inserter, run.run_id, run.map, frozenset(covered), first):
                yield decide(run.map.slot(recs[0].sequence), recs, _before(codes, recs[0].sequence), inserter)
            for lot in covered:
                for seq in run.map.sequences(lot):
                    if first.counts[seq] == 0:
                        d = decide(run.map.slot(seq), [], _before(codes, seq), inserter)
                        if d is not None:
                            yield d

        def counted():
            for d in decisions():
                if d["fate"] == REPRINT:
                    reprints[run.map.lot_of(d["sequence"])] += 1
                yield d

        scheduled = run.map.lots
        shares = {lot: 100.0 * reprints[lot] / scheduled[lot] for lot in covered}
        held = []

        def hold(db, results_id: int) -> None:
            for lot in covered:
                limit = config.limit(lot, inserter)
                share = 100.0 * reprints[lot] / scheduled[lot]
                shares[lot] = share
                if share > limit:
                    held.append(lot)
                    fates.hold_reprints(db, results_id, [(a, b) for name, a, b in run.map.ranges if name == lot],
                                        f"; reprint share {share:.2f}% of lot {lot} is above its maximum {limit:g}%: "
                                        "the operator confirms (--action reprint)")

        written = fates.record(ledger, run.run_id, counted(),
                               {"file": str(Path(results_file).resolve()), "sha256": first.sha256,
                                "model": inserter.name, "lots": covered, "records": first.records},
                               before_commit=lambda: crashpoints.reached("reconcile:commit"), adjust=hold)
        return {"run_id": run.run_id, "file": str(results_file), "model": inserter.name, "lots": covered,
                "records": first.records, "fates": written["fates"], "statuses": written["statuses"],
                "reprint_share_percent": round(max(shares.values(), default=0.0), 3), "reprints_held": bool(held),
                "held_lots": held, "check": settle(ledger, run)}
    finally:
        ledger.close()


def _before(codes: bytearray, sequence: int) -> dict | None:
    fate = fates.fate_in(codes, sequence)
    return None if fate is None else {"fate": fate}


def operator_decision(run_dir: Path, sequences: list[int], action: str, reason: str, operator: str) -> dict:
    """An operator's decision on pieces that are not final; all of them, or none (UsageError)."""
    if action not in ACTIONS:
        raise UsageError(f"--action must be one of {', '.join(ACTIONS)}")
    if not reason.strip() or not operator.strip():
        raise UsageError("an operator decision needs --reason and --operator")
    run = RunFolder.open(run_dir)
    ledger = Ledger(run.out)
    try:
        state = fates.current(ledger, run.run_id)
        decisions = []
        for seq in sequences:
            if run.map.lot_of(seq) is None:
                raise UsageError(f"run {run.run_id} has no piece {seq}")
            now_ = state.get(seq)
            if now_ is not None and now_["fate"] == REPRINTED:
                raise UsageError(f"piece {seq} is in a reprint child ({now_['reason']}): decide on the child's piece")
            if now_ is not None and now_["fate"] in FINAL:
                raise UsageError(f"piece {seq} is already {now_['fate']} ({now_['reason']}): a final fate is not changed")
            if action == "ok" and seq in run.map.diverts:
                why = run.map.slot(seq).divert_why
                raise UsageError(f"piece {seq} is a planned divert ({why}): it cannot be mailed")
            decisions.append({"sequence": seq, "status": (now_ or {}).get("status"), "fate": ACTIONS[action],
                              "who": redact(operator.strip()), "reason": redact(reason.strip()), "details": {"action": action}})
        fates.record(ledger, run.run_id, decisions)
        return {"run_id": run.run_id, "pieces": sequences, "action": action, "fate": ACTIONS[action],
                "check": settle(ledger, run)}
    finally:
        ledger.close()


def status(run_dir: Path) -> dict:
    """The run's count check; completes the run if every piece is final (after a crash, say)."""
    run = RunFolder.open(run_dir)
    ledger = Ledger(run.out)
    try:
        return {"run_id": run.run_id, "check": settle(ledger, run)}
    finally:
        ledger.close()
