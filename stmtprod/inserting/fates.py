"""Every piece's fate in the ledger: its history, its current fate, and the count check.

Fates: MAILED and PULLED are final; REPRINT (to print again) and WAITING (an operator decides) are
not. A piece with no fate has not been reported by the inserter yet. The run's inserter loop is
complete only when every scheduled piece is final: scheduled = mailed + pulled.
"""
from __future__ import annotations

import json

from stmtprod.engine.ledger import Ledger, now

MAILED, PULLED, REPRINT, WAITING = "MAILED", "PULLED", "REPRINT", "WAITING"
FINAL = (MAILED, PULLED)


def current(ledger: Ledger, run_id: str) -> dict[int, dict]:
    rows = ledger.db.execute("SELECT sequence, fate, status, reason, at FROM piece_state WHERE run_id = ?", (run_id,))
    return {r["sequence"]: dict(r) for r in rows}


def applied(ledger: Ledger, run_id: str, sha256: str) -> dict | None:
    row = ledger.db.execute("SELECT * FROM inserter_results WHERE run_id = ? AND sha256 = ?",
                            (run_id, sha256)).fetchone()
    return None if row is None else {**dict(row), "lots": json.loads(row["lots"]), "counts": json.loads(row["counts"])}


def record(ledger: Ledger, run_id: str, decisions: list[dict], results: dict | None = None,
           before_commit=lambda: None) -> int | None:
    """Write `decisions` (sequence, status, fate, who, reason, details) and, for a results file, its
    row (file, sha256, model, lots, counts), all in one transaction; returns the results row's id."""
    stamp = now()
    with ledger.transaction() as db:
        results_id = None
        if results is not None:
            cur = db.execute("INSERT INTO inserter_results (run_id, file, sha256, model, lots, counts, at) "
                             "VALUES (?,?,?,?,?,?,?)", (run_id, results["file"], results["sha256"], results["model"],
                                                        json.dumps(results["lots"]), json.dumps(results["counts"],
                                                                                                sort_keys=True), stamp))
            results_id = cur.lastrowid
        db.executemany("INSERT INTO piece_fates (run_id, sequence, results_id, status, fate, who, reason, details, at) "
                       "VALUES (?,?,?,?,?,?,?,?,?)",
                       [(run_id, d["sequence"], results_id, d["status"], d["fate"], d.get("who"), d.get("reason"),
                         json.dumps(d.get("details") or {}, ensure_ascii=False, sort_keys=True), stamp)
                        for d in decisions])
        db.executemany("INSERT OR REPLACE INTO piece_state (run_id, sequence, fate, status, reason, at) "
                       "VALUES (?,?,?,?,?,?)",
                       [(run_id, d["sequence"], d["fate"], d["status"], d.get("reason"), stamp) for d in decisions])
        before_commit()
    return results_id


def history(ledger: Ledger, run_id: str, sequence: int | None = None) -> list[dict]:
    """Each piece's fate history, oldest first, with the results file each status came from."""
    sql = ("SELECT f.sequence, f.status, f.fate, f.who, f.reason, f.details, f.at, r.file FROM piece_fates f "
           "LEFT JOIN inserter_results r ON r.id = f.results_id WHERE f.run_id = ?")
    args: tuple = (run_id,)
    if sequence is not None:
        sql, args = sql + " AND f.sequence = ?", (run_id, sequence)
    rows = ledger.db.execute(sql + " ORDER BY f.sequence, f.id", args)
    return [{**dict(r), "details": json.loads(r["details"] or "{}")} for r in rows]


def count_check(ledger: Ledger, run_id: str) -> dict:
    """scheduled = mailed + pulled + to reprint + waiting + not yet reported; complete when all final."""
    scheduled = ledger.piece_count(run_id)
    counts = {MAILED: 0, PULLED: 0, REPRINT: 0, WAITING: 0}
    for row in ledger.db.execute("SELECT fate, COUNT(*) AS n FROM piece_state WHERE run_id = ? GROUP BY fate",
                                 (run_id,)):
        counts[row["fate"]] = row["n"]
    reported = sum(counts.values())
    waiting = [dict(r) for r in ledger.db.execute(
        "SELECT sequence, status, reason FROM piece_state WHERE run_id = ? AND fate = ? ORDER BY sequence",
        (run_id, WAITING))]
    files = ledger.db.execute("SELECT COUNT(*) FROM inserter_results WHERE run_id = ?", (run_id,)).fetchone()[0]
    check = {"scheduled": scheduled, "mailed": counts[MAILED], "pulled": counts[PULLED],
             "to_reprint": counts[REPRINT], "waiting": counts[WAITING], "not_reported": scheduled - reported,
             "results_files": files, "waiting_pieces": waiting}
    check["balanced"] = scheduled == sum(counts.values()) + check["not_reported"]
    check["complete"] = scheduled > 0 and counts[MAILED] + counts[PULLED] == scheduled
    check["loop"] = ("COMPLETE" if check["complete"] else "WAITING FOR OPERATOR" if counts[WAITING]
                     else "REPRINTS PENDING" if counts[REPRINT] else "OPEN" if files else "NOT STARTED")
    return check


def check_lines(check: dict) -> list[str]:
    """The count check for people (`stmtprod show`, `stmtprod reconcile`)."""
    lines = [f"inserter loop: {check['loop']}",
             f"  scheduled {check['scheduled']} = mailed {check['mailed']} + pulled {check['pulled']}"
             f" + to reprint {check['to_reprint']} + waiting {check['waiting']}"
             f" + not yet reported {check['not_reported']}" + ("" if check["balanced"] else "  (DOES NOT BALANCE)")]
    for w in check["waiting_pieces"][:20]:
        lines.append(f"  WAITING piece {w['sequence']} ({w['status']}): {w['reason']}")
    if len(check["waiting_pieces"]) > 20:
        lines.append(f"  ... and {len(check['waiting_pieces']) - 20} more waiting pieces")
    return lines
