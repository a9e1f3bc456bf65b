"""`stmtprod drill campaign`: the escape-rate campaign from the command line (`stmtprod.campaign`)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from stmtprod.errors import StmtprodError


@click.group()
def drill() -> None:
    """Fault drills beyond one build: the escape-rate campaign."""


@drill.command()
@click.option("--trials", default=1000, show_default=True, type=click.IntRange(min=1), help="Trials per class.")
@click.option("--seed", default=1, show_default=True, type=int, help="Seed of the faults drawn (and of the extract).")
@click.option("--classes", help="Comma-separated fault classes (default: all).")
@click.option("--run", "run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Damage copies of this released run's files instead of building a small one.")
@click.option("--accounts", default=120, show_default=True, type=click.IntRange(min=20),
              help="Size of the run built for the campaign.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1), help="Processes (classes in parallel).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the results here (JSON).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def campaign(trials, seed, classes, run_dir, accounts, workers, out, as_json):
    """Damage copies of a real run's print files, class by class, and count what verification misses."""
    from stmtprod.campaign import run_campaign
    from stmtprod.fsutil import write_bytes

    chosen = [c.strip() for c in classes.split(",") if c.strip()] if classes else None
    try:
        result = run_campaign(trials, seed, chosen, run_dir=run_dir, accounts=accounts,
                              progress=None if as_json else _progress, workers=workers)
    except StmtprodError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    if out:
        write_bytes(out, (json.dumps(result, indent=1, ensure_ascii=False) + "\n").encode())
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    click.echo(f"campaign over run {result['run_id']}, seed {seed}, {trials} trials a class")
    click.echo(f"{'class':28} {'trials':>7} {'caught':>7} {'missed':>7} {'95% upper bound on miss rate':>30}")
    for c in result["classes"]:
        click.echo(f"{c['class']:28} {c['trials']:7} {c['caught']:7} {c['missed']:7} {c['miss_rate_upper_95']:30.6f}")


def _progress(kind: str, done: int, total: int) -> None:
    if done == total or done % 100 == 0:
        click.echo(f"  {kind}: {done}/{total}", err=True)
