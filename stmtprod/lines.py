"""The two products by name, for the commands that take any run: `resume` and `verify`.

The engine (`stmtprod.engine`) knows no product; this module is the one place that knows both.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from stmtprod.cards.line import resume_any_key, verify_card_run
from stmtprod.challenges.reprove import reprove_statements
from stmtprod.engine import journal, life
from stmtprod.engine.ledger import LEDGER_FILE, Ledger
from stmtprod.engine.run import Events, quiet
from stmtprod.engine.runfolder import check_run_id, require_ledger
from stmtprod.engine.runstate import load_run
from stmtprod.errors import UsageError
from stmtprod.statements.line import LINE as STATEMENTS, Statements
from stmtprod.verify import verify_statement_run


def line_of(out: Path, run_id: str) -> str:
    """Which line made a run: "statements", or "cards"."""
    ledger = Ledger(out)
    try:
        run = ledger.run(run_id)
    finally:
        ledger.close()
    return ((run or {}).get("options") or {}).get("line", STATEMENTS)


def resume(run_id: str, out: Path, events: Events = quiet, workers: int | None = None,
           executor: str | None = None, scheduler: str | None = None, personalisation: Path | None = None) -> dict:
    """Continue a crashed, halted or waiting run of either line, redoing only what is not proven good.

    `personalisation`: for a card run, the new personalisation log (after the cards were re-made)."""
    check_run_id(run_id)
    out = Path(out).resolve()
    require_ledger(out)
    if line_of(out, run_id) == "cards":
        return resume_any_key(run_id, out, workers=workers, events=events, executor=executor, scheduler=scheduler,
                              personalisation=personalisation)
    if personalisation is not None:
        raise UsageError(f"run {run_id} is a statement run: --personalisation is only for card runs")
    return life.resume(run_id, out, lambda record, _ledger: Statements.reopen(record, out, workers, executor,
                                                                            scheduler), events)


def verify_run(run_dir: Path, workers: int = 1, events: Callable[..., None] | None = None) -> dict:
    """Re-verify a finished run of either line (released, else staged) against its manifests and records,
    once its QA decisions in the ledger and its QA journal are found to agree; `state` says whether it
    was released."""
    run = load_run(run_dir)
    journal_agrees(Path(run_dir))
    if run.get("line") == "cards":
        return {**verify_card_run(run_dir, workers), "state": run.get("state")}
    result = verify_statement_run(run, run_dir, workers, events)
    return {**result, "state": run.get("state"),
            "challenges": reprove_statements(run, run_dir, Path(result["folder"]))}


def journal_agrees(run_dir: Path) -> None:
    """Refuse (exit 7) a run whose QA decisions in its output folder's ledger and its journal differ
    (`verify_run`, and `stmtprod show` after it has shown the run)."""
    out = run_dir.resolve().parent
    if not (out / LEDGER_FILE).exists():
        return
    ledger = Ledger(out)
    try:
        journal.check(ledger, run_dir.resolve().name, run_dir.resolve())
    finally:
        ledger.close()
