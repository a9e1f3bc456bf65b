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
transaction (the `reprints` rows and the parent pieces REPRINTED); the child's input is then written
from the ledger (deterministic bytes); the child run is started, or resumed when it exists; once it
is released its sequences are linked to the parents' pieces.
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
    """A planned child that is not released yet (absent from the runs, or stopped): it is finished first."""
    for child in family(ledger, root)[1:]:
        run = ledger.run(child)
        if run is None or run["state"] not in SETTLED:
            return child
    return None


def _root_sequence(db, run_id: str, sequence: int) -> int:
    """The root piece a piece of the family prints: itself in the root, else its parent's, up the rounds."""
    row = db.execute("SELECT parent_run, parent_seq FROM reprints WHERE child_run = ? AND child_seq = ?",
                     (run_id, sequence)).fetchone()
    return sequence if row is None else _root_sequence(db, row["parent_run"], row["parent_seq"])


def _plan_round(ledger: Ledger, root: str) -> str | None:
    """Record the next round: every REPRINT piece of the family goes to child `<root>-R<k>`, in the
    order of the root pieces they print (so the child plans them in the root's order)."""
    runs = family(ledger, root)
    with ledger.transaction() as db:
        pieces = sorted(((_root_sequence(db, run_id, r["sequence"]), run_id, r["sequence"]) for run_id in runs
                         for r in db.execute("SELECT sequence FROM piece_state WHERE run_id = ? AND fate = ?",
                                             (run_id, fates.REPRINT))))
        if not pieces:
            return None
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
    return child


def _source_record(out: Path, run_id: str, sequence: int, ledger: Ledger) -> bytes:
    """A piece's accepted source record as its run's ingest spilled it (the input line's own JSON)."""
    row = ledger.db.execute("SELECT region, line FROM pieces WHERE run_id = ? AND sequence = ?",
                            (run_id, sequence)).fetchone()
    if row is None:
        raise UsageError(f"run {run_id} has no piece {sequence} in the ledger")
    spill = Path(out) / run_id / "work" / "accepted" / f"{row['region']}.jsonl"
    with open(spill, "rb") as fh:
        for raw in fh:
            if spill_line(raw) == row["line"]:
                return json.dumps(json.loads(raw)["record"], ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
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
        child = _unfinished(ledger, root)
        if child is None:
            child = _plan_round(ledger, root)
            if child is None:
                return {"root": root, "child": None, "pieces": 0, "check": fates.count_check(ledger, root)}
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
        return {"root": root, "child": child, "pieces": pieces, "state": ledger.run(child)["state"],
                "summary": summary, "check": fates.count_check(ledger, root)}
    finally:
        ledger.close()
