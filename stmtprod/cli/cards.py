"""`stmtprod cards`: the card line from the command line, a thin layer over `stmtprod.cards.line`.

Registered with the main group by `stmtprod.cli`.

    stmtprod cards --orders samples/cards.jsonl --personalisation samples/personalisation.jsonl --out DIR \
                   [--key-file KEY | --demo-key] [--workers N] [--executor dask --scheduler tcp://HOST:8786] [--json]
    stmtprod cards --resume RUN_ID --out DIR [--personalisation NEW_LOG] [--key-file KEY] [--executor ...]

``--executor dask`` renders the carrier batches on a Dask distributed cluster, as for statements
(`stmtprod.engine.executors`); the choice is recorded with the run and used again by a resume.

The tokenisation key comes from --key-file, else the environment variable STMTPROD_CARD_KEY; without
one the command refuses to run (exit 3) unless --demo-key (or STMTPROD_DEMO=1) asks for the
published demo key, for samples and tests only.

Exit codes as for `stmtprod build`: 0 released for sealing, 4 halted (nothing released), 3 bad
configuration (no key, layout/catalog/carrier texts invalid), 2 bad usage, 5 output folder busy,
6 waiting for a manual inspection.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path

import click

from stmtprod import errors
from stmtprod.cli.output import fail, report_summary
from stmtprod.engine.progress import Progress


def _date(_ctx, _param, value):
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date YYYY-MM-DD") from None


@click.command("cards")
@click.option("--orders", type=click.Path(dir_okay=False, path_type=Path), help="Card orders (JSONL, formats.md).")
@click.option("--personalisation", type=click.Path(dir_okay=False, path_type=Path),
              help="The personalisation machine's log (JSONL), in production order.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output folder.")
@click.option("--key-file", type=click.Path(dir_okay=False, path_type=Path),
              help="File holding the card tokenisation key (hex or text); else $STMTPROD_CARD_KEY.")
@click.option("--demo-key", is_flag=True, help="Use the published DEMO key (samples and tests only; never production).")
@click.option("--workers", default=os.cpu_count() or 1, show_default=True, type=click.IntRange(min=1),
              help="Rendering and read-back processes.")
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(min=1), help="Carriers per batch.")
@click.option("--date", "production_date", callback=_date, metavar="YYYY-MM-DD",
              help="Production date (run id, insert date windows); default today (UTC).")
@click.option("--reject-threshold", default=0.05, show_default=True, type=click.FloatRange(0, 1),
              help="Share of rejected orders above which the run halts.")
@click.option("--layouts", type=click.Path(file_okay=False, path_type=Path), help="Folder of region layouts.")
@click.option("--card-layouts", type=click.Path(file_okay=False, path_type=Path),
              help="Folder of carrier texts (default layouts/cards, or $STMTPROD_CARD_LAYOUTS).")
@click.option("--catalog", type=click.Path(dir_okay=False, path_type=Path), help="Insert catalog TOML.")
@click.option("--inspection", type=click.Path(dir_okay=False, path_type=Path), help="Inspection configuration TOML.")
@click.option("--run-id", help="Override the derived run id (YYYYMMDD-XXXXXX).")
@click.option("--force", is_flag=True, help="Make a new run even if these orders already have one.")
@click.option("--executor", type=click.Choice(["local", "dask"]),
              help="Where carrier batches render: a local process pool (default), or a Dask distributed "
                   "cluster. With --resume: override the run's executor.")
@click.option("--scheduler", help="Dask scheduler address (tcp://HOST:8786) for --executor dask.")
@click.option("--allow-empty", is_flag=True, help="Release an empty order file (or one with no accepted order).")
@click.option("--resume", "resume_id", metavar="RUN_ID", help="Continue a halted or crashed card run.")
@click.option("--json", "as_json", is_flag=True, help="End with one JSON summary line on stdout.")
def cards(orders, personalisation, out, key_file, demo_key, workers, batch_size, production_date, reject_threshold,
          layouts, card_layouts, catalog, inspection, run_id, force, executor, scheduler, allow_empty, resume_id,
          as_json):
    """Card carriers and the card-to-carrier match: ingest orders, render, verify, match, inspect, release."""
    from stmtprod.cards.keys import resolve_key
    from stmtprod.cards.line import resume_cards, run_cards

    progress = Progress(sys.stderr.isatty())
    try:
        key, demo = resolve_key(key_file, demo_key)
        if resume_id is not None:
            if orders is not None:
                raise errors.UsageError("--resume continues a run with its own orders; drop --orders")
            summary = resume_cards(resume_id, out, key=key, demo=demo, personalisation=personalisation,
                                   workers=workers, events=progress, executor=executor, scheduler=scheduler)
        else:
            if orders is None or personalisation is None:
                raise errors.UsageError("--orders and --personalisation are required (or --resume RUN_ID)")
            summary = run_cards(orders, personalisation, out, key=key, demo=demo, workers=workers, events=progress,
                                batch_size=batch_size, production_date=production_date,
                                reject_threshold=reject_threshold, layouts_dir=layouts, cards_dir=card_layouts,
                                catalog_file=catalog, inspection_file=inspection, run_id=run_id, force=force,
                                executor=executor, scheduler=scheduler, allow_empty=allow_empty)
    except errors.StmtprodError as exc:
        progress.close()
        fail(exc, as_json)
    progress.close()
    report_summary(summary)
    if summary.get("key") == "DEMO":
        click.echo("  key DEMO: tokens made with the published demo key; not for production", err=True)
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False, sort_keys=True))
    sys.exit({"RELEASED": errors.EXIT_RELEASED, "INSPECTING": errors.EXIT_WAITING}.get(summary["state"],
                                                                                     errors.EXIT_HALTED))
