"""Every piece's fate in the ledger: its history, its current fate, and the count check.

Fates: MAILED and PULLED are final; REPRINT (to print again), REPRINTED (in a reprint child, final
when the child's piece is) and WAITING (an operator decides) are not. A piece with no fate has not
been reported by the inserter yet. The run's inserter loop is complete only when every scheduled
piece is final: scheduled = mailed + pulled (a piece mailed through its reprint counts as mailed,
with status REPRINTED), and no second envelope waits.

A report on a piece already MAILED, PULLED or REPRINTED never changes its fate: it is a second copy
(`second_copies`). One whose envelope may be in the mail stream (OK, ATTENTION) waits for the
operator to take it out (`pull`) or to find it was a duplicate report (`ack`); others are out of the
mail stream already and are only kept.
"""
from __future__ import annotations

import json
import sqlite3
from typing import Callable, Iterable

from stmtprod.engine.ledger import Ledger, now

MAILED, PULLED, REPRINT, WAITING, REPRINTED = "MAILED", "PULLED", "REPRINT", "WAITING", "REPRINTED"
FINAL = (MAILED, PULLED)
SETTLED_FATES = (MAILED, PULLED, REPRINTED)  # a later report is a second copy, never a new fate
IN_MAIL = ("OK", "ATTENTION")  # statuses whose envelope may have reached the mail stream
WAITING_SHOWN = 200  # waiting pieces listed by the count check (all are counted)


_CODES = (None, MAILED, PULLED, REPRINT, WAITING, REPRINTED)


def current(ledger: Ledger, run_id: str) -> dict[int, dict]:
    rows = ledger.db.execute("SELECT sequence, fate, status, reason, at FROM piece_state WHERE run_id = ?", (run_id,))
    return {r["sequence"]: dict(r) for r in rows}


def current_codes(ledger: Ledger, run_id: str, size: int) -> bytearray:
    """Each piece's current fate as one byte (index into `_CODES`; 0: none yet), for runs of any size."""
    codes = bytearray(size + 1)
    for seq, fate in ledger.db.execute("SELECT sequence, fate FROM piece_state WHERE run_id = ?", (run_id,)):
        if 0 < seq <= size:
            codes[seq] = _CODES.index(fate)
    return codes


def fate_in(codes: bytearray, sequence: int) -> str | None:
    return _CODES[codes[sequence]] if 0 < sequence < len(codes) else None


def applied(ledger: Ledger, run_id: str, sha256: str) -> dict | None:
    row = ledger.db.execute("SELECT * FROM inserter_results WHERE run_id = ? AND sha256 = ?",
                            (run_id, sha256)).fetchone()
    return None if row is None else {**dict(row), "lots": json.loads(row["lots"]), "counts": json.loads(row["counts"])}


def record(ledger: Ledger, run_id: str, decisions: Iterable[dict], results: dict | None = None,
           before_commit=lambda: None, adjust: Callable[[sqlite3.Connection, int], None] | None = None) -> dict:
    """Write `decisions` (sequence, status, fate, who, reason, details; any iterable, consumed once)
    and, for a results file, its row (file, sha256, model, lots, records), all in one transaction.
    `adjust(db, results_id)` may change this file's fates before they become current (held reprints).
    A decision with `second` set is a second copy (`second_copy`), kept apart from the fates.
    Returns the fates and statuses written, counted."""
    stamp = now()
    seconds: list[dict] = []

    def fates_only():
        for d in decisions:
            if d.get("second"):
                seconds.append(d)
            else:
                yield d

    with ledger.transaction() as db:
        results_id = None
        if results is not None:
            cur = db.execute("INSERT INTO inserter_results (run_id, file, sha256, model, lots, counts, at) "
                             "VALUES (?,?,?,?,?,?,?)", (run_id, results["file"], results["sha256"], results["model"],
                                                        json.dumps(results["lots"]), "{}", stamp))
            results_id = cur.lastrowid
        first = db.execute("SELECT COALESCE(MAX(id), 0) FROM piece_fates").fetchone()[0]
        db.executemany("INSERT INTO piece_fates (run_id, sequence, results_id, status, fate, who, reason, details, at) "
                       "VALUES (?,?,?,?,?,?,?,?,?)",
                       ((run_id, d["sequence"], results_id, d["status"], d["fate"], d.get("who"), d.get("reason"),
                         json.dumps(d.get("details") or {}, ensure_ascii=False, sort_keys=True), stamp)
                        for d in fates_only()))
        _write_seconds(db, run_id, results_id, seconds, stamp)
        if adjust is not None and results_id is not None:
            adjust(db, results_id)
        written = {"fates": {}, "statuses": {}}
        for key, column in (("fates", "fate"), ("statuses", "status")):
            for value, n in db.execute(f"SELECT {column}, COUNT(*) FROM piece_fates WHERE id > ? GROUP BY {column} "
                                       f"ORDER BY {column}", (first,)):
                written[key][value] = n
        if seconds:
            written["second_copies"] = {"waiting": sum(d["open"] for d in seconds),
                                        "kept": sum(not d["open"] for d in seconds)}
        if results_id is not None:
            db.execute("UPDATE inserter_results SET counts = ? WHERE id = ?",
                       (json.dumps({**written, "records": results["records"]}, sort_keys=True), results_id))
        db.execute("INSERT OR REPLACE INTO piece_state (run_id, sequence, fate, status, reason, at) "
                   "SELECT run_id, sequence, fate, status, reason, at FROM piece_fates WHERE id > ? ORDER BY id",
                   (first,))
        before_commit()
    return written


def second_copy(base: dict, status: str, before: dict, details: dict, reason: str) -> dict:
    """A report on a piece whose fate is settled (`before`): its fate stays; it waits for the operator
    when the envelope may be in the mail stream (any record OK or ATTENTION)."""
    waits = any(s in IN_MAIL for s in status.split("+"))
    if waits:
        reason += ("; a second envelope may be in the mail stream: find it, then --action pull (taken out) "
                   "or --action ack (a duplicate report, no second envelope)")
    else:
        reason += "; out of the mail stream already: destroy that copy"
    return {**base, "second": True, "open": waits, "status": status, "fate": before["fate"], "details": details,
            "reason": reason}


def _write_seconds(db: sqlite3.Connection, run_id: str, results_id: int | None, seconds: list[dict],
                   stamp: str) -> None:
    db.executemany("INSERT INTO second_copies (run_id, sequence, results_id, status, fate, reason, details, at, "
                   "action, who, decided_reason, decided_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                   [(run_id, d["sequence"], results_id, d["status"], d["fate"], d["reason"],
                     json.dumps(d.get("details") or {}, ensure_ascii=False, sort_keys=True), stamp,
                     None if d["open"] else "none", None if d["open"] else d.get("who"),
                     None if d["open"] else "out of the mail stream", None if d["open"] else stamp)
                    for d in seconds])


def open_seconds(ledger: Ledger, run_id: str, sequence: int) -> list[dict]:
    """The piece's second copies still waiting for the operator, oldest first."""
    return [dict(r) for r in ledger.db.execute(
        "SELECT id, status, fate, reason FROM second_copies WHERE run_id = ? AND sequence = ? AND action IS NULL "
        "ORDER BY id", (run_id, sequence))]


def close_seconds(db: sqlite3.Connection, ids: list[int], action: str, who: str, reason: str, stamp: str) -> None:
    """Inside a transaction: the operator's decision on second copies (`pull`: taken out; `ack`: a
    duplicate report); the piece's fate is not touched."""
    db.executemany("UPDATE second_copies SET action = ?, who = ?, decided_reason = ?, decided_at = ? WHERE id = ? "
                   "AND action IS NULL", [(action, who, reason, stamp, i) for i in ids])


def last_final(ledger: Ledger, run_id: str, sequence: int) -> str | None:
    """The last final fate the piece's history holds (a ledger from before second copies may show a
    final piece turned WAITING by a repeated report: it is still final)."""
    row = ledger.db.execute("SELECT fate FROM piece_fates WHERE run_id = ? AND sequence = ? AND fate IN (?, ?) "
                            "ORDER BY id DESC LIMIT 1", (run_id, sequence, *FINAL)).fetchone()
    return None if row is None else row[0]


def write_fates(db: sqlite3.Connection, decisions: list[tuple[str, dict]], stamp: str) -> None:
    """Inside a transaction: (run id, decision) pairs, pieces of any runs, into history and current state."""
    db.executemany("INSERT INTO piece_fates (run_id, sequence, results_id, status, fate, who, reason, details, at) "
                   "VALUES (?,?,NULL,?,?,?,?,?,?)",
                   [(run_id, d["sequence"], d["status"], d["fate"], d.get("who"), d.get("reason"),
                     json.dumps(d.get("details") or {}, ensure_ascii=False, sort_keys=True), stamp)
                    for run_id, d in decisions])
    db.executemany("INSERT OR REPLACE INTO piece_state (run_id, sequence, fate, status, reason, at) VALUES (?,?,?,?,?,?)",
                   [(run_id, d["sequence"], d["fate"], d["status"], d.get("reason"), stamp) for run_id, d in decisions])


def via_reprint(ledger: Ledger, run_id: str, size: int) -> bytearray:
    """1 for each piece mailed or pulled through its reprint (the physical piece is the child's)."""
    flags = bytearray(size + 1)
    for (seq,) in ledger.db.execute("SELECT sequence FROM piece_state WHERE run_id = ? AND status = ?",
                                    (run_id, REPRINTED)):
        if 0 < seq <= size:
            flags[seq] = 1
    return flags


def hold_reprints(db: sqlite3.Connection, results_id: int, ranges: list[tuple[int, int]], why: str) -> None:
    """Inside `record`'s transaction: this file's reprints in `ranges` of sequences wait for the operator."""
    db.executemany("UPDATE piece_fates SET fate = ?, reason = reason || ? WHERE results_id = ? AND fate = ? "
                   "AND sequence BETWEEN ? AND ?", [(WAITING, why, results_id, REPRINT, a, b) for a, b in ranges])


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
    """scheduled = mailed + pulled + reprinted + to reprint + waiting + not yet reported; complete when
    every piece is final (mailed or pulled). Scheduled: the run's pieces and its challenge pieces (issue 16)."""
    run = ledger.run(run_id) or {}
    challenges = ((run.get("summary") or {}).get("challenges") or {}).get("pieces", 0)
    scheduled = ledger.piece_count(run_id) + challenges  # challenge pieces go through the inserter too
    counts = {MAILED: 0, PULLED: 0, REPRINT: 0, WAITING: 0, REPRINTED: 0}
    for row in ledger.db.execute("SELECT fate, COUNT(*) AS n FROM piece_state WHERE run_id = ? GROUP BY fate",
                                 (run_id,)):
        counts[row["fate"]] = row["n"]
    reported = sum(counts.values())
    waiting = [dict(r) for r in ledger.db.execute(
        "SELECT sequence, status, reason FROM piece_state WHERE run_id = ? AND fate = ? ORDER BY sequence LIMIT ?",
        (run_id, WAITING, WAITING_SHOWN))]
    files = ledger.db.execute("SELECT COUNT(*) FROM inserter_results WHERE run_id = ?", (run_id,)).fetchone()[0]
    via = ledger.db.execute("SELECT COUNT(*) FROM piece_state WHERE run_id = ? AND fate = ? AND status = ?",
                            (run_id, MAILED, REPRINTED)).fetchone()[0]
    check = {"scheduled": scheduled, "mailed": counts[MAILED], "pulled": counts[PULLED], "mailed_via_reprint": via,
             "reprinted": counts[REPRINTED], "to_reprint": counts[REPRINT], "waiting": counts[WAITING],
             "not_reported": scheduled - reported, "results_files": files, "waiting_pieces": waiting,
             "challenge_pieces": challenges}
    seconds = [dict(r) for r in ledger.db.execute(
        "SELECT sequence, status, fate, reason FROM second_copies WHERE run_id = ? AND action IS NULL "
        "ORDER BY sequence, id", (run_id,))]
    check["second_copies"], check["second_copy_pieces"] = len(seconds), seconds[:WAITING_SHOWN]
    check["balanced"] = scheduled == reported + check["not_reported"] and not seconds
    check["complete"] = scheduled > 0 and counts[MAILED] + counts[PULLED] == scheduled and not seconds
    check["loop"] = ("COMPLETE" if check["complete"] else "WAITING FOR OPERATOR" if counts[WAITING] or seconds
                     else "REPRINTS PENDING" if counts[REPRINT] else "IN REPRINT" if counts[REPRINTED]
                     else "OPEN" if files else "NOT STARTED")
    return check


def check_lines(check: dict) -> list[str]:
    """The count check for people (`stmtprod show`, `stmtprod reconcile`)."""
    equation = f"  scheduled {check['scheduled']} = mailed {check['mailed']} + pulled {check['pulled']}"
    if not check["complete"]:
        equation += (f" + in reprint {check['reprinted']} + to reprint {check['to_reprint']} + waiting "
                     f"{check['waiting']} + not yet reported {check['not_reported']}")
    if check["mailed_via_reprint"]:
        equation += f"  ({check['mailed_via_reprint']} mailed through a reprint)"
    lines = [f"inserter loop: {check['loop']}", equation + ("" if check["balanced"] else "  (DOES NOT BALANCE)")]
    if check.get("challenge_pieces"):
        lines.append(f"  of which {check['challenge_pieces']} challenge pieces, planned diverts that are pulled")
    for w in check["waiting_pieces"][:20]:
        lines.append(f"  WAITING piece {w['sequence']} ({w['status']}): {w['reason']}")
    if check["waiting"] > 20:
        lines.append(f"  ... and {check['waiting'] - 20} more waiting pieces")
    if check.get("second_copies"):
        lines.append(f"  {check['second_copies']} second envelopes of pieces already settled wait: more envelopes "
                     "than pieces until each is pulled or acknowledged")
    for w in check.get("second_copy_pieces", [])[:20]:
        lines.append(f"  WAITING second envelope of piece {w['sequence']} ({w['status']}, piece {w['fate']}): "
                     f"{w['reason']}")
    return lines


def waits(check: dict) -> bool:
    """Someone must decide: a waiting piece or a second envelope (exit 6)."""
    return bool(check["waiting"] or check.get("second_copies"))
