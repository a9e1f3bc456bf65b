"""`stmtprod build | resume | runs | show | verify | samples`: a run's life from the command line."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from stmtprod import errors
from stmtprod.drills import DRILLS
from stmtprod.cli.output import fail, run_line
from stmtprod.engine.progress import Progress
from stmtprod.config import BuildOptions, default_catalog_file, default_inspection_file, default_layouts_dir
from stmtprod.regions import parse_regions

def _regions(_ctx, _param, value):
    try:
        return parse_regions(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command()
@click.option("--input", "input_", required=True, type=click.Path(path_type=Path), help="Cycle extract (JSONL).")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output folder.")
@click.option("--regions", callback=_regions, help="Comma-separated regions, e.g. JP,AU (default: all).")
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(min=1), help="Pieces per batch.")
@click.option("--workers", default=os.cpu_count() or 1, show_default=True, type=click.IntRange(min=1),
              help="Rendering processes.")
@click.option("--run-id", help="Override the derived run id (YYYYMMDD-XXXXXX).")
@click.option("--reject-threshold", default=0.05, show_default=True, type=click.FloatRange(0, 1),
              help="Share of rejected records above which the run halts.")
@click.option("--layouts", type=click.Path(file_okay=False, path_type=Path), default=default_layouts_dir,
              help="Folder of region layouts.")
@click.option("--catalog", type=click.Path(dir_okay=False, path_type=Path), default=default_catalog_file,
              help="Insert catalog TOML.")
@click.option("--inspection", type=click.Path(dir_okay=False, path_type=Path), default=default_inspection_file,
              help="Inspection configuration TOML (AQL, level, mode per stage).")
@click.option("--drill", type=click.Choice(sorted(DRILLS)), help="Inject one fault to prove the line halts (training, tests).")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="Where batches render: a local process pool, or a Dask distributed cluster.")
@click.option("--scheduler", help="Dask scheduler address (tcp://HOST:8786) for --executor dask.")
@click.option("--force", is_flag=True, help="Make a new run even if this cycle already has one.")
@click.option("--allow-empty", is_flag=True, help="Release an empty cycle (no record, or none accepted) on purpose.")
@click.option("--json", "as_json", is_flag=True, help="End with one JSON summary line on stdout.")
def build(input_, out, regions, batch_size, workers, run_id, reject_threshold, layouts, catalog, inspection, drill,
          executor, scheduler, force, allow_empty, as_json):
    """Run the nightly line over a cycle extract: ingest, plan, render, verify, release."""
    from stmtprod.statements.line import build as run_build

    options = BuildOptions(input=input_, out=out, regions=regions, batch_size=batch_size, workers=workers,
                           run_id=run_id, reject_threshold=reject_threshold, layouts_dir=layouts,
                           catalog_file=catalog, inspection_file=inspection, drill=drill, executor=executor,
                           scheduler=scheduler, allow_empty=allow_empty)
    run_line(lambda progress: run_build(options, progress, force=force), as_json)


@click.command()
@click.argument("run_id")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output folder.")
@click.option("--workers", type=click.IntRange(min=1), help="Rendering processes (default: as the run was built).")
@click.option("--executor", type=click.Choice(["local", "dask"]), help="Override the run's executor.")
@click.option("--scheduler", help="Dask scheduler address, with --executor dask.")
@click.option("--personalisation", type=click.Path(dir_okay=False, path_type=Path),
              help="Card runs: the new personalisation log, after the cards were re-made.")
@click.option("--json", "as_json", is_flag=True, help="End with one JSON summary line on stdout.")
def resume(run_id, out, workers, executor, scheduler, personalisation, as_json):
    """Continue a crashed or halted run, redoing only what is not already proven good."""
    from stmtprod.lines import resume as run_resume

    run_line(lambda progress: run_resume(run_id, out, progress, workers=workers, executor=executor,
                                          scheduler=scheduler, personalisation=personalisation), as_json)


def _ledger(out: Path):
    from stmtprod.engine.ledger import LEDGER_FILE
    from stmtprod.engine.runfolder import open_ledger

    if not (out / LEDGER_FILE).exists():
        raise click.UsageError(f"{out} has no ledger ({LEDGER_FILE})")
    return open_ledger(out)


@click.command()
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output folder.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def runs(out, as_json):
    """List the runs in an output folder's ledger, oldest first."""
    from stmtprod.engine.envfaults import stopped

    ledger = _ledger(out)
    rows = []
    for run in ledger.runs():
        rows.append({"run_id": run["run_id"], "state": run["state"], "created_at": run["created_at"],
                     "updated_at": run["updated_at"], "input": run["input_path"], "counts": run["counts"],
                     "halts": len(ledger.halts(run["run_id"])), "drill": (run["options"] or {}).get("drill"),
                     "stopped": stopped(run["state"], out)})
    ledger.close()
    if as_json:
        click.echo(json.dumps({"runs": rows}, ensure_ascii=False))
        return
    for r in rows:
        counts = r["counts"] or {}
        click.echo(f"{r['run_id']}  {r['state']:<10} {r['created_at']}  produced {counts.get('produced', '-')}"
                   f"  sheets {counts.get('sheets', '-')}  halts {r['halts']}"
                   + (f"  DRILL {r['drill']}" if r["drill"] else "")
                   + ("  (stopped: no line is running it; 'stmtprod resume' continues it)" if r["stopped"] else ""))


@click.command()
@click.argument("run_id")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output folder.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def show(run_id, out, as_json):
    """One run in full: record, history, batches, halts, inspection decisions."""
    from stmtprod.engine.envfaults import stopped
    from stmtprod.engine.runfolder import check_run_id
    from stmtprod.inserting.fates import check_lines, count_check

    check_run_id(run_id)
    ledger = _ledger(out)
    run = ledger.run(run_id)
    if run is None:
        ledger.close()
        raise click.UsageError(f"run {run_id} is not in the ledger of {out}")
    detail = {**run, "history": ledger.history(run_id), "batches": list(ledger.batches(run_id).values()),
              "halts": ledger.halts(run_id), "stages": ledger.stages(run_id), "pieces": ledger.piece_count(run_id),
              "lot_history": ledger.lot_events(run_id), "pulled": ledger.pulled(run_id),
              "inserter": count_check(ledger, run_id), "challenges": _summary(run, out).get("challenges"),
              "stopped": stopped(run["state"], out)}
    ledger.close()
    if as_json:
        click.echo(json.dumps(detail, ensure_ascii=False, default=str))
        _journal_agrees(out, run_id)
        return
    if (run["options"] or {}).get("drill"):
        click.echo(f"DRILL RUN ({run['options']['drill']}): a training run, not production quality history")
    click.echo(f"run {run_id}: {run['state']}  input {run['input_path']} (sha256 {run['input_sha256'][:12]})"
               + ("  (stopped: no line is running it; 'stmtprod resume' continues it)" if detail["stopped"] else ""))
    click.echo(f"  layouts {run['layouts_version']}  catalog {run['catalog_version']}  pieces {detail['pieces']}")
    for h in detail["history"]:
        click.echo(f"  {h['at']}  {h['state']}")
    for b in detail["batches"]:
        click.echo(f"  batch {b['batch']}: {b['pieces']} pieces, {b['sheets']} sheets, "
                   f"rendered {b['rendered_at'] or '-'}, verified {b['verified_at'] or '-'}")
    for halt in detail["halts"]:
        click.echo(f"  HALT {halt['at']}: {halt['reason']}")
    from stmtprod.inspect.history import history_lines

    for line in history_lines(detail["lot_history"]):
        click.echo(f"  QA {line}")
    click.echo("\n".join(f"  {line}" for line in check_lines(detail["inserter"])))
    from stmtprod.challenges.step import describe

    for line in describe(detail["challenges"]):
        click.echo(f"  {line}")
    if run["state"] == "HALTED" and detail["halts"]:
        for index, command in enumerate(detail["halts"][-1].get("next") or []):
            click.echo(f"{'Next:' if index == 0 else '     '} {command}")
    _journal_agrees(out, run_id)


def _journal_agrees(out: Path, run_id: str) -> None:
    """After the run is shown: exit 7 when its decisions in the ledger and its QA journal differ."""
    from stmtprod.lines import journal_agrees

    journal_agrees(Path(out) / run_id)


def _summary(run: dict, out) -> dict:
    """The run's summary: as released, else as its run folder's `summary.json` left it (halted, waiting)."""
    if run.get("summary"):
        return run["summary"]
    path = Path(out) / run["run_id"] / "summary.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


@click.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--workers", default=os.cpu_count() or 1, show_default=True, type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def verify(run_dir, workers, as_json):
    """Re-verify every sheet of a run's print files against its manifests and records."""
    from stmtprod.engine.halt_report import describe
    from stmtprod.lines import verify_run

    from stmtprod.engine.wayout import after_reverification

    progress = Progress(sys.stderr.isatty())
    try:
        result = verify_run(run_dir, workers, events=progress)
    except errors.Halt as halt:
        progress.close()
        run_id = run_dir.resolve().name
        released, found = after_reverification(run_dir, halt.as_dict())
        click.echo(describe(run_id, found, released=released), nl=False)
        if as_json:
            click.echo(json.dumps({"run_id": run_id, "ok": False, "released": released, "halt": found},
                                  ensure_ascii=False))
        sys.exit(errors.EXIT_HALTED)
    except errors.StmtprodError as exc:
        progress.close()
        fail(exc, as_json)
    progress.close()
    click.echo(f"run {result['run_id']}: all {result['sheets']} sheets of {result['pieces']} pieces in "
               f"{result['files']} print files verified")
    if result.get("state") not in ("RELEASED", "COMPLETE"):
        click.echo(f"  the run is {result.get('state') or 'of unknown state'}, not released: its files are staged, "
                   "not to be printed or mailed")
    proven = result.get("challenges") or {}
    if proven.get("pieces"):
        click.echo(f"  challenge pieces: {proven['caught']} of {proven['pieces']} stopped again by the check meant "
                   "for them (the checkers are not blind)")
    if as_json:
        click.echo(json.dumps(result))


@click.command()
@click.option("--accounts", default=300, show_default=True, type=click.IntRange(min=0), help="How many accounts.")
@click.option("--seed", default=7, show_default=True, type=int, help="Random seed: same seed, same bytes.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="JSONL file to write.")
@click.option("--bad", default=0, show_default=True, type=click.IntRange(min=0),
              help="How many deliberately invalid records to include.")
def samples(accounts, seed, out, bad):
    """Generate a realistic cycle extract deterministically from a seed."""
    from stmtprod.generate import write_extract

    counts = write_extract(out, accounts, seed, bad=bad)
    click.echo(json.dumps({"file": str(out.resolve()), **counts}))


