"""`stmtprod inserter control`, `reconcile`, `insert-sim` and `reprint`: thin layers over the library.

Exit codes as everywhere: 0 done, 2 bad usage or a refused results file (nothing applied),
3 bad configuration (an inserter model), 4 a halt (the emulator could not enclose a piece),
6 pieces wait for the operator (reconcile, when the run is not complete and someone must decide).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from stmtprod import errors
from stmtprod.cli.output import fail
from stmtprod.cli.typed import typed

_RUN_DIR = click.Path(exists=True, file_okay=False, path_type=Path)


@click.group()
def inserter():
    """Inserter control files (one per lot, in the model's format)."""


@inserter.command("control")
@click.argument("run_dir", type=_RUN_DIR)
@click.option("--model", help="Inserter model (inserters/<model>.toml); default generic-csv.")
def control(run_dir, model):
    """Write release/inserter/<lot>.<model>.<ext> for every lot of a released run."""
    from stmtprod.inserting.control import write_control_files
    from stmtprod.inserting.runctx import RunFolder

    try:
        run = RunFolder.open(run_dir)
        paths = write_control_files(run.release, run.run_id, run.catalog, run.layouts, model)
    except errors.StmtprodError as exc:
        fail(exc, False)
    for path in paths:
        click.echo(str(path))


@click.command("reconcile")
@click.argument("run_dir", type=_RUN_DIR)
@click.option("--results", "results_file", type=click.Path(dir_okay=False, path_type=Path),
              help="The inserter's results file to apply (whole, or not at all).")
@click.option("--model", help="Inserter model of the results file; default: the model its lots were released for.")
@click.option("--lot", "lots", multiple=True,
              help="A lot this results file reports on (repeatable); default every lot of the run. A piece of "
                   "these lots with no record is MISSING.")
@click.option("--piece", "pieces", type=click.IntRange(min=1), multiple=True,
              help="Operator decision: the piece's sequence (repeatable).")
@click.option("--action", type=click.Choice(["ok", "pull", "reprint", "ack"]),
              help="Operator decision for --piece (ack: a second envelope reported for a settled piece was a "
                   "duplicate report; pull: taken out).")
@click.option("--reason", help="Why (required with --action).")
@click.option("--operator", help="Who decides (required with --action).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def reconcile(run_dir, results_file, model, lots, pieces, action, reason, operator, as_json):
    """Apply an inserter results file to a released run, or record an operator's decision on pieces.

    With neither, print the count check (and complete the run if every piece is final)."""
    from stmtprod.inserting.fates import check_lines, waits
    from stmtprod.inserting.reconcile import operator_decision, reconcile as apply_results, status
    from stmtprod.inserting.results import ResultsRefused

    try:
        if results_file and (pieces or action):
            raise errors.UsageError("give either --results or --piece/--action, not both")
        if results_file:
            result = apply_results(run_dir, results_file, model, list(lots) or None)
        elif pieces and action:
            reason, operator = typed("--reason", reason, False), typed("--operator", operator, False)
            result = operator_decision(run_dir, list(pieces), action, reason or "", operator or "")
        elif pieces or action or lots or model:
            raise errors.UsageError("give --results FILE [--lot L], or --piece SEQ --action ok|pull|reprint|ack "
                                    "--reason --operator")
        else:
            result = status(run_dir)
    except ResultsRefused as exc:
        fail(exc, as_json, exc.as_dict())
    except errors.StmtprodError as exc:
        fail(exc, as_json)
    if result.get("already_applied"):
        click.echo(f"{result['file']} was already applied at {result['already_applied']}: nothing changed", err=True)
    elif results_file:
        click.echo(f"{result['file']}: {result['records']} records for lots {', '.join(result['lots'])}; "
                   f"fates {result['fates']}" + (f"; REPRINTS HELD for the operator in lots {', '.join(result['held_lots'])}"
                                                 " (reprint share above the maximum)"
                                                 if result["reprints_held"] else "")
                   + (f"; SECOND ENVELOPES of settled pieces: {result['second_copies']['waiting']} wait for the "
                      "operator" if (result.get("second_copies") or {}).get("waiting") else ""), err=True)
    elif pieces:
        click.echo(f"pieces {', '.join(map(str, result['pieces']))}: {result['fate']}", err=True)
    click.echo("\n".join(check_lines(result["check"])), err=True)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, sort_keys=True))
    sys.exit(errors.EXIT_WAITING if waits(result["check"]) else 0)


@click.command("insert-sim")
@click.argument("run_dir", type=_RUN_DIR)
@click.option("--lot", help="One lot (default: every lot of the run).")
@click.option("--model", help="Inserter model; default generic-csv.")
@click.option("--faults", default="", help="Rates per piece: jam=0.002,double-feed=0.001,misread=0.001,"
                                          "missing=0.0005,pulled=0.0005,duplicate=0.0002")
@click.option("--seed", default=0, show_default=True, type=int, help="Same seed, same faults.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Results file to write.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1), help="Barcode reading processes.")
def insert_sim(run_dir, lot, model, faults, seed, out, workers):
    """Emulate the inserter on a released run: read the sheets by barcode, write a results file."""
    from stmtprod.inserting.emulator import parse_faults, simulate

    try:
        result = simulate(run_dir, out, lot=lot, model=model, faults=parse_faults(faults), seed=seed,
                          workers=workers)
    except errors.Halt as halt:  # the run's released files failed the read: the run is as it was
        from stmtprod.engine.halt_report import describe
        from stmtprod.engine.wayout import after_reverification

        released, found = after_reverification(run_dir, halt.as_dict())
        click.echo(describe(Path(run_dir).resolve().name, found, released=released), err=True, nl=False)
        sys.exit(errors.EXIT_HALTED)
    except errors.StmtprodError as exc:
        fail(exc, False)
    click.echo(json.dumps(result, sort_keys=True))


@click.command("reprint")
@click.argument("run_dir", type=_RUN_DIR)
@click.option("--workers", type=click.IntRange(min=1), help="Render and read-back processes (default: the run's).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def reprint(run_dir, workers, as_json):
    """Print every piece to reprint in the run's family again, as its next child run `<root>-R<k>`.

    A child that did not finish (a crash, or a halt since fixed) is finished first."""
    from stmtprod.inserting.fates import check_lines
    from stmtprod.inserting.reprint import reprint as make_child

    try:
        result = make_child(run_dir, workers=workers)
    except errors.Halt as halt:
        click.echo(f"stmtprod: {halt}", err=True)
        sys.exit(errors.EXIT_HALTED)
    except errors.StmtprodError as exc:
        fail(exc, as_json)
    state = result.get("state")
    if result["child"] is None:
        click.echo(f"run {result['root']}: nothing to reprint", err=True)
    else:
        click.echo(f"{result['child']}: {result['pieces']} pieces reprinted, {state}"
                   + ("" if state == "RELEASED" else f"; 'stmtprod show {result['child']} --out ...' says why, "
                      "'stmtprod reprint' again finishes it"), err=True)
    for r in result.get("refused", []):
        folder = Path(run_dir).resolve().parent / r["run_id"]
        click.echo(f"piece {r['sequence']} of {r['run_id']} is {r['why']}: never reprinted; it waits for the operator: "
                   f"stmtprod reconcile {folder} --piece {r['sequence']} --action pull --reason ... --operator ...",
                   err=True)
    click.echo("\n".join(check_lines(result["check"])), err=True)
    if as_json:
        click.echo(json.dumps({k: v for k, v in result.items() if k != "summary"}, ensure_ascii=False, sort_keys=True))
    if state == "HALTED":
        sys.exit(errors.EXIT_HALTED)
    sys.exit(errors.EXIT_WAITING if result.get("refused") or state not in (None, "RELEASED") else 0)
