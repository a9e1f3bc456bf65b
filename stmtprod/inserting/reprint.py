"""Reprint children: the pieces to print again become a run of their own, `<root>-R<round>`.

The pieces with fate REPRINT anywhere in a run's family (the root run and its children) make the
next round's child. The child is an ordinary run of the same line over the root's accepted source
records of those pieces, with the root's layouts and catalog (their versions must still be the
root's): new sequence numbers, and barcodes whose run tag is the child's own
(`barcode.payload.run_tag`), so an original and its reprint can never both pass an inserter as
valid. It is rendered, read back in full, inspected and released like any run, gets its control
files, and is reconciled in turn. A parent piece is REPRINTED until its child's piece is final, then
takes that fate (`complete.settle`). Reprints of reprints go to the next round the same way.

Order, so that a crash anywhere resumes to the same state: the round is recorded in the ledger in one
transaction (the `reprints` rows and the parent pieces REPRINTED) that commits only once the child's
input is written from it (deterministic bytes), so a piece that cannot be printed again records
nothing; the child run is started, or resumed when it exists; once it is released its sequences are
linked to the parents' pieces. A round recorded whose child run never started (a crash in between,
or a ledger from before this order) is undone and planned again from the pieces' fates.

A planned divert (a challenge piece, or one pulled at inspection) and a piece that was once final are
never reprinted: if one is marked to reprint, it waits for the operator instead (`--action pull`).
"""
from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

from stmtprod.engine.ledger import Ledger, now
from stmtprod.engine.run import Events, quiet
from stmtprod.errors import ConfigError, UsageError
from stmtprod.fsutil import atomic_open
from stmtprod.inserting import fates
from stmtprod.inserting.complete import SETTLED, family
from stmtprod.inserting.pieces import RunMap
from stmtprod.inserting.runctx import RunFolder
from stmtprod.plan import spill_line

_FAMILY = re.compile(r"([0-9]{8}-[0-9A-Z]{6})(?:-R([0-9]{1,3}))?")
FOLDER = "reprints"


def root_of(run_id: str) -> str:
    """The run a family started from: `20261120-IO0QBG` for itself and for `20261120-IO0QBG-R2`."""
    match = _FAMILY.fullmatch(run_id)
    if match is None:
        raise UsageError(f"{run_id} is not a run id")
    return match.group(1)


def child_input(out: Path, child: str) -> Path:
    """Where a child's input lives: in its root's run folder, `reprints/<child>.jsonl`."""
    return Path(out) / root_of(child) / FOLDER / f"{child}.jsonl"


def _unfinished(ledger: Ledger, root: str) -> str | None:
    """A started child that is not released yet: it is finished first. A recorded child that never
    started is undone (`_undo_round`), so its round is planned again."""
    for child in family(ledger, root)[1:]:
        run = ledger.run(child)
        if run is None:
            _undo_round(ledger, child)
            return None
        if run["state"] not in SETTLED:
            return child
    return None


def _undo_round(ledger: Ledger, child: str) -> None:
    """A round whose child run was never started (nothing of it printed): its pieces go back to
    REPRINT and its links are removed, in one transaction, with the reason in each piece's history."""
    with ledger.transaction() as db:
        rows = db.execute("SELECT r.parent_run, r.parent_seq FROM reprints r JOIN piece_state p ON "
                          "p.run_id = r.parent_run AND p.sequence = r.parent_seq WHERE r.child_run = ? AND p.fate = ? "
                          "ORDER BY r.line", (child, fates.REPRINTED)).fetchall()
        fates.write_fates(db, [(r["parent_run"], {"sequence": r["parent_seq"], "status": fates.REPRINT,
                                                  "fate": fates.REPRINT, "who": "stmtprod reprint",
                                                  "reason": f"{child} was recorded but never made: planned again",
                                                  "details": {"undone": child}}) for r in rows], now())
        db.execute("DELETE FROM reprints WHERE child_run = ?", (child,))


def _root_sequence(db, run_id: str, sequence: int) -> int:
    """The root piece a piece of the family prints: itself in the root, else its parent's, up the rounds."""
    row = db.execute("SELECT parent_run, parent_seq FROM reprints WHERE child_run = ? AND child_seq = ?",
                     (run_id, sequence)).fetchone()
    return sequence if row is None else _root_sequence(db, row["parent_run"], row["parent_seq"])


def _never_reprinted(ledger: Ledger, run: RunMap, run_id: str, sequence: int) -> str | None:
    """Why a piece marked to reprint must not be (a planned divert, or once final), or None."""
    if sequence in run.diverts:
        return f"a planned divert ({run.slot(sequence).divert_why})"
    was = fates.last_final(ledger, run_id, sequence)
    return None if was is None else f"already {was} before"


def _plan_round(ledger: Ledger, out: Path, root: str) -> tuple[str | None, list[dict]]:
    """Record the next round: every REPRINT piece of the family goes to child `<root>-R<k>`, in the
    order of the root pieces they print (so the child plans them in the root's order); one that must
    never be reprinted waits for the operator instead. Commits only once the child's input is written.
    Returns the child (None: nothing to reprint) and the pieces sent to the operator."""
    runs = family(ledger, root)
    maps = {run_id: RunFolder.open(out / run_id).map for run_id in runs}
    with ledger.transaction() as db:
        marked = [(run_id, r["sequence"]) for run_id in runs
                  for r in db.execute("SELECT sequence FROM piece_state WHERE run_id = ? AND fate = ?",
                                      (run_id, fates.REPRINT))]
        refused = [{"run_id": run_id, "sequence": seq, "why": why} for run_id, seq in marked
                   if (why := _never_reprinted(ledger, maps[run_id], run_id, seq)) is not None]
        _refuse(db, refused)
        kept = {(r["run_id"], r["sequence"]) for r in refused}
        pieces = sorted((_root_sequence(db, run_id, seq), run_id, seq) for run_id, seq in marked
                        if (run_id, seq) not in kept)
        if not pieces:
            return None, refused
        k = 1 + db.execute("SELECT COALESCE(MAX(round), 0) FROM reprints WHERE child_run LIKE ?",
                           (f"{root}-R%",)).fetchone()[0]
        child, stamp = f"{root}-R{k}", now()
        db.executemany("INSERT INTO reprints (parent_run, parent_seq, child_run, line, child_seq, round, at) "
                       "VALUES (?,?,?,?,NULL,?,?)",
                       [(run_id, seq, child, line, k, stamp) for line, (_, run_id, seq) in enumerate(pieces, 1)])
        fates.write_fates(db, [(run_id, {"sequence": seq, "status": fates.REPRINT, "fate": fates.REPRINTED,
                                         "who": "stmtprod reprint", "reason": f"reprinted in {child}, line {line}",
                                         "details": {"child": child, "line": line, "round": k}})
                               for line, (_, run_id, seq) in enumerate(pieces, 1)], stamp)
        write_child_input(ledger, out, child)
    return child, refused


def _refuse(db, refused: list[dict]) -> None:
    """Inside the round's transaction: pieces marked to reprint that never may be wait for the operator."""
    fates.write_fates(db, [(r["run_id"], {"sequence": r["sequence"], "status": fates.REPRINT, "fate": fates.WAITING,
                                          "who": "stmtprod reprint",
                                          "reason": f"{r['why']}: never reprinted; find the piece, then --action pull",
                                          "details": {"refused": r["why"]}}) for r in refused], now())


def _source_record(out: Path, run_id: str, sequence: int, ledger: Ledger) -> bytes:
    """A piece's accepted source record as its run's ingest spilled it (the input line's own JSON)."""
    row = ledger.db.execute("SELECT region, line FROM pieces WHERE run_id = ? AND sequence = ?",
                            (run_id, sequence)).fetchone()
    if row is None:
        raise UsageError(f"run {run_id} has no piece {sequence} in the ledger")
    spill = Path(out) / run_id / "work" / "accepted" / f"{row['region']}.jsonl"
    try:
        with open(spill, "rb") as fh:
            for raw in fh:
                if spill_line(raw) == row["line"]:
                    return json.dumps(json.loads(raw)["record"], ensure_ascii=False,
                                      separators=(",", ":")).encode() + b"\n"
    except OSError as exc:
        raise UsageError(f"{spill}: cannot read the source record of piece {sequence} of run {run_id}: "
                         f"{exc.strerror}; restore the run's work/accepted/, then reprint") from None
    raise UsageError(f"{spill}: the source record of piece {sequence} (input line {row['line']}) is missing")


def write_child_input(ledger: Ledger, out: Path, child: str) -> Path:
    """The child's input: each piece's accepted source record, in the order of the child's lines
    (atomic, deterministic). A statement's record is its input line's own JSON; a card's is the
    sanitized record (token and last five digits, never the card number), read as such by the child."""
    path = child_input(out, child)
    rows = ledger.db.execute("SELECT parent_run, parent_seq, line FROM reprints WHERE child_run = ? ORDER BY line",
                             (child,)).fetchall()
    with atomic_open(path, "wb") as fh:
        for r in rows:
            fh.write(_source_record(out, r["parent_run"], r["parent_seq"], ledger))
    return path


def _link(ledger: Ledger, child: str) -> None:
    """The child's sequence of each reprinted piece, from the child's planned pieces (input line -> sequence)."""
    with ledger.transaction() as db:
        db.execute("UPDATE reprints SET child_seq = (SELECT sequence FROM pieces WHERE pieces.run_id = reprints.child_run "
                   "AND pieces.line = reprints.line) WHERE child_run = ?", (child,))


def _product(root: dict, child: str, path: Path, out: Path, workers: int | None, ledger: Ledger):
    """The child's product: the root's line and configuration (same versions), the child's input and id."""
    if (root["options"] or {}).get("line") == "cards":
        from stmtprod.cards.line import reprint_product

        product = reprint_product(root, child, path, out, workers, ledger)
    else:
        from stmtprod.statements.line import Statements

        parent = Statements.reopen(root, out, workers)
        product = Statements(dataclasses.replace(parent.options, input=path, run_id=child, drill=None))
    for what, have, had in (("layouts", product.layouts_version, root["layouts_version"]),
                            ("catalog", product.catalog_version, root["catalog_version"])):
        if have != had:
            raise ConfigError(f"the {what} changed since run {root['run_id']} (version {had}, now {have}): a reprint "
                              f"must print the same pages; restore the {what} of the run, then reprint")
    return product


def reprint(run_dir: Path, events: Events = quiet, workers: int | None = None) -> dict:
    """Make (or finish) the next reprint child of the run family of `run_dir`; returns what happened."""
    from stmtprod import lines
    from stmtprod.engine import life

    run_dir = Path(run_dir).resolve()
    out = run_dir.parent
    root = root_of(run_dir.name)
    ledger = Ledger(out)
    try:
        record = ledger.run(root)
        if record is None:
            raise UsageError(f"run {root} is not in the ledger of {out}")
        if record["state"] not in SETTLED:
            raise UsageError(f"run {root} is {record['state']}: only a released run has pieces to reprint")
        child, refused = _unfinished(ledger, root), []
        if child is None:
            child, refused = _plan_round(ledger, out, root)
            if child is None:
                return {"root": root, "child": None, "pieces": 0, "refused": refused,
                        "check": fates.count_check(ledger, root)}
        pieces = ledger.db.execute("SELECT COUNT(*) FROM reprints WHERE child_run = ?", (child,)).fetchone()[0]
        path = write_child_input(ledger, out, child)
        existing = ledger.run(child)
        product = _product(record, child, path, out, workers, ledger) if existing is None else None
    finally:
        ledger.close()
    summary = life.start(product, events) if product is not None else lines.resume(child, out, events, workers)
    ledger = Ledger(out)
    try:
        if (ledger.run(child) or {}).get("state") in SETTLED:
            _link(ledger, child)
        return {"root": root, "child": child, "pieces": pieces, "refused": refused,
                "state": ledger.run(child)["state"],
                "summary": summary, "check": fates.count_check(ledger, root)}
    finally:
        ledger.close()
