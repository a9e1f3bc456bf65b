"""`stmtprod proof`: PDF proofs for reviewers, a thin layer over `stmtprod.proof.make_proof`.

Registered with the main group by `stmtprod.cli`.
Exit codes as everywhere: 0 written, 2 bad usage (no such run, piece, account, region or stage
sample), 3 bad configuration, 1 an unexpected internal error.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from stmtprod import errors
from stmtprod.regions import REGIONS


def _split(value: str | None) -> list[str] | None:
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:
        raise click.BadParameter("give at least one value")
    return items


def _pieces(_ctx, _param, value):
    items = _split(value)
    if items is None:
        return None
    try:
        numbers = [int(v) for v in items]
    except ValueError:
        raise click.BadParameter(f"piece sequences are numbers, got {value!r}") from None
    if any(n < 1 for n in numbers):
        raise click.BadParameter("piece sequences start at 1")
    return numbers


def _accounts(_ctx, _param, value):
    return _split(value)


def _region(_ctx, _param, value):
    if value is None:
        return None
    region = value.strip().upper()
    if region not in REGIONS:
        raise click.BadParameter(f"unknown region {value}; known: {' '.join(REGIONS)}")
    return region


@click.command("proof")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--pieces", callback=_pieces, metavar="SEQ,...", help="Piece sequences, comma-separated.")
@click.option("--accounts", callback=_accounts, metavar="ID,...", help="Account ids, comma-separated.")
@click.option("--region", callback=_region, metavar="R", help="Only pieces of this region.")
@click.option("--first", type=click.IntRange(min=1), metavar="N", help="Keep the first N selected pieces (sequence order).")
@click.option("--stage", type=click.IntRange(1, 4), metavar="K", help="The sample drawn for inspection stage K (1-4).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The proof PDF to write.")
@click.option("--png", "png_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Also write page images (100 dpi) to this folder: page-0001.png, ...")
@click.option("--json", "as_json", is_flag=True, help="End with one JSON summary line on stdout.")
def proof(run_dir, pieces, accounts, region, first, stage, out, png_dir, as_json):
    """Proof PDF of chosen pieces of a run (or a stage's sample), stamped PROOF, for review.

    Criteria combine (all must hold); --first applies last; none selects the whole run.
    """
    from stmtprod.proof import make_proof

    try:
        summary = make_proof(run_dir, out, pieces=pieces, accounts=accounts, region=region, first=first,
                             stage=stage, png_dir=png_dir)
    except errors.StmtprodError as exc:
        click.echo(f"stmtprod: {exc}", err=True)
        if as_json:
            click.echo(json.dumps({"error": str(exc), "exit_code": exc.exit_code}))
        sys.exit(exc.exit_code)
    lines = [f"proof {summary['file']}: {summary['pages']} pages = cover + {summary['sheets']} sheets of "
             f"{summary['pieces']} pieces + {summary['artwork_pages']} insert artwork pages (run {summary['run_id']}, "
             f"{summary['state']}, from {summary['source']}/)"]
    if "png_dir" in summary:
        lines.append(f"  {summary['png_pages']} page images in {summary['png_dir']}")
    if summary["barcode_mismatches"]:
        lines.append(f"  WARNING: {len(summary['barcode_mismatches'])} sheet(s) whose printed barcode does not "
                     "match the manifest (marked MISMATCH in the proof)")
    for warning in summary["warnings"]:
        lines.append(f"  WARNING: {warning}")
    click.echo("\n".join(lines), err=True)
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False, sort_keys=True))
