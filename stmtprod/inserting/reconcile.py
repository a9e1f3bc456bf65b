"""Reconciliation: a validated results file becomes every reported piece's next fate, in one transaction.

Rules (after RICOH ProcessDirector's inserter reconciliation, stricter where it is blind):
- OK: mailed. A planned divert reported OK waits for the operator: it must not be mailed.
- DIVERTED: a planned divert in its planned bin is pulled (with its inspection reason); any other
  divert is a fault outsort and waits for the operator.
- DAMAGED: reprint. ATTENTION: reprint if the model says so, else the operator decides.
- PULLED: not mailed; waits for the operator to give the reason (`--action pull --reason`).
- MISSING (no record for a piece of a reported lot): the model's `missing_status` if it sets one,
  else the operator decides.
- Two records for one piece (a duplicate read): operator.
- A record for a piece already MAILED, PULLED or REPRINTED (in a reprint child) never changes its
  fate: it is a second copy, which waits for the operator (`pull` the envelope, or `ack` a duplicate
  report) when it may be in the mail stream (OK, ATTENTION).
- A planned divert (pulled at inspection, or a challenge piece) is never mailed and never reprinted:
  the operator can only pull it.
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
from stmtprod.inserting.fates import FINAL, MAILED, PULLED, REPRINT, REPRINTED, SETTLED_FATES, WAITING
from stmtprod.inserting.lotmodels import covered_lots, load_lot_models, results_model
from stmtprod.inserting.models import MISSING, InserterModel
from stmtprod.inserting.pieces import Slot
from stmtprod.inserting.results import ResultRecord, records, scan
from stmtprod.inserting.runctx import RunFolder
from stmtprod.engine.ledger import Ledger, now

ACTIONS = {"ok": MAILED, "pull": PULLED, "reprint": REPRINT, "ack": None}
_CLOSED = {"pull": "taken out", "ack": "acknowledged as a duplicate report"}


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
    if recs and before is not None and before["fate"] in SETTLED_FATES:
        return fates.second_copy(base, "+".join(r.status for r in recs), before, details, _again(recs, before))
    if len(recs) > 1:
        then = "--action pull (a planned divert)" if piece.divert else "--action ok, pull or reprint"
        return {**base, "status": "+".join(r.status for r in recs), "fate": WAITING, "details": details,
                "reason": f"duplicate: {len(recs)} records for one piece (lines "
                          f"{', '.join(str(r.line) for r in recs)}): find every copy, then {then}"}
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
    fate, reason = _fate(piece, rec.status, rec, model)
    if rec.note:
        reason += f" (inserter note: {redact(rec.note[:200])})"
    return {**base, "status": rec.status, "fate": fate, "reason": reason, "details": details}


def _again(recs: list[ResultRecord], before: dict) -> str:
    status = "+".join(r.status for r in recs)
    if before["fate"] == REPRINTED:
        return (f"the original was reported {status} after it went to reprint: it must not be mailed "
                "(its reprint is the piece that counts)")
    return f"reported {status} after it was already {before['fate']}: its fate stays {before['fate']}"


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
                "second_copies": written.get("second_copies", {"waiting": 0, "kept": 0}),
                "reprint_share_percent": round(max(shares.values(), default=0.0), 3), "reprints_held": bool(held),
                "held_lots": held, "check": settle(ledger, run)}
    finally:
        ledger.close()


def _before(codes: bytearray, sequence: int) -> dict | None:
    fate = fates.fate_in(codes, sequence)
    return None if fate is None else {"fate": fate}


def operator_decision(run_dir: Path, sequences: list[int], action: str, reason: str, operator: str) -> dict:
    """An operator's decision on pieces: all of them, or none (UsageError). A final fate is never
    changed, a planned divert can only be pulled, and a second envelope can only be pulled or
    acknowledged, so no decision can mail a piece twice."""
    if action not in ACTIONS:
        raise UsageError(f"--action must be one of {', '.join(ACTIONS)}")
    if not reason.strip() or not operator.strip():
        raise UsageError("an operator decision needs --reason and --operator")
    who, why = redact(operator.strip()), redact(reason.strip())
    run = RunFolder.open(run_dir)
    ledger = Ledger(run.out)
    try:
        state = fates.current(ledger, run.run_id)
        decisions, closed = [], []
        for seq in sequences:
            if run.map.lot_of(seq) is None:
                raise UsageError(f"run {run.run_id} has no piece {seq}")
            seconds = fates.open_seconds(ledger, run.run_id, seq)
            if seconds:
                closed += _second_decision(seq, seconds, action)
                continue
            fate = _decided_fate(ledger, run, seq, state.get(seq), action)
            decisions.append({"sequence": seq, "status": (state.get(seq) or {}).get("status"), "fate": fate,
                              "who": who, "reason": why, "details": {"action": action}})
        with ledger.transaction() as db:
            stamp = now()
            fates.write_fates(db, [(run.run_id, d) for d in decisions], stamp)
            fates.close_seconds(db, closed, action, who, why, stamp)
        return {"run_id": run.run_id, "pieces": sequences, "action": action, "second_copies_closed": len(closed),
                "fate": ACTIONS[action] if decisions else f"second envelope {_CLOSED[action]}, the piece's fate kept",
                "check": settle(ledger, run)}
    finally:
        ledger.close()


def _second_decision(seq: int, seconds: list[dict], action: str) -> list[int]:
    """The second copies of a settled piece that `action` closes; only pull or ack can."""
    if action not in ("pull", "ack"):
        raise UsageError(f"piece {seq} is {seconds[0]['fate']} and a second envelope of it was reported "
                         f"({seconds[0]['status']}): its fate is not changed; --action pull (the envelope taken out) "
                         "or --action ack (a duplicate report, no second envelope)")
    return [s["id"] for s in seconds]


def _decided_fate(ledger: Ledger, run: RunFolder, seq: int, now_: dict | None, action: str) -> str:
    """The fate `action` gives a piece with no second copy waiting, or UsageError saying what is allowed."""
    if action == "ack":
        raise UsageError(f"piece {seq} has no second envelope waiting: --action ack acknowledges one")
    fate = (now_ or {}).get("fate")
    if fate == REPRINTED:
        child = _child_of(ledger, run.run_id, seq)
        if child is not None and ledger.run(child) is None:
            raise UsageError(f"piece {seq} is recorded in reprint child {child}, which was never made: run "
                             f"`stmtprod reprint {run.run_dir}`, which plans it again")
        raise UsageError(f"piece {seq} is in a reprint child ({now_['reason']}): decide on the child's piece")
    if fate in FINAL:
        raise UsageError(f"piece {seq} is already {fate} ({now_['reason']}): a final fate is not changed")
    was = fates.last_final(ledger, run.run_id, seq)
    if was is not None:
        if action != "pull":
            raise UsageError(f"piece {seq} was already {was} before it was reported again: a final fate is not "
                             "changed; --action pull once any second envelope is taken out")
        return was
    if seq in run.map.diverts and action != "pull":
        why = run.map.slot(seq).divert_why
        raise UsageError(f"piece {seq} is a planned divert ({why}): it cannot be mailed and is never reprinted; "
                         "--action pull only")
    return ACTIONS[action]


def _child_of(ledger: Ledger, run_id: str, seq: int) -> str | None:
    row = ledger.db.execute("SELECT child_run FROM reprints WHERE parent_run = ? AND parent_seq = ? "
                            "ORDER BY round DESC LIMIT 1", (run_id, seq)).fetchone()
    return None if row is None else row[0]


def status(run_dir: Path) -> dict:
    """The run's count check; completes the run if every piece is final (after a crash, say)."""
    run = RunFolder.open(run_dir)
    ledger = Ledger(run.out)
    try:
        return {"run_id": run.run_id, "check": settle(ledger, run)}
    finally:
        ledger.close()
