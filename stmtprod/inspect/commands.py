"""`stmtprod qa draw | record | status | restore`: the inspectors' side of the four stages.

Registered on the `qa` group beside `qa plan` and `qa oc`.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from stmtprod import errors
from stmtprod.catalog import load_catalog
from stmtprod.inspect.config import STAGE_NAMES, load_inspection
from stmtprod.inspect.context import InspectionContext
from stmtprod.inspect.stages import decide, lot_sample, switching_state
from stmtprod.layout import load_layouts
from stmtprod.ledger import LEDGER_FILE, Ledger
from stmtprod.runstate import RunRecord
from stmtprod.sampling.commands import qa
from stmtprod.sampling.plans import Plan, plan as make_plan

_RUN_DIR = click.Path(exists=True, file_okay=False, path_type=Path)


def _open(run_dir: Path) -> tuple[Ledger, dict]:
    run_dir = run_dir.resolve()
    if not (run_dir.parent / LEDGER_FILE).exists():
        raise click.UsageError(f"{run_dir.parent} has no ledger: is {run_dir} a run folder?")
    try:
        run = RunRecord.load(run_dir).data
    except FileNotFoundError:
        raise click.UsageError(f"{run_dir} is not a run folder (no run.json)") from None
    return Ledger(run_dir.parent), run


def _context(run_dir: Path, run: dict) -> InspectionContext:
    folder = run_dir / "release" if (run_dir / "release").exists() else run_dir / "staging"
    layouts = load_layouts(Path(run["layouts_dir"]))
    catalog, _ = load_catalog(Path(run["catalog_file"]))
    return InspectionContext(run["run_id"], folder, run_dir / "work" / "accepted", layouts, catalog)


def stage_lots(ledger: Ledger, run: dict, run_dir: Path, stage: int) -> dict[str, dict]:
    """Each lot's plan, seed and sample for the stage: as recorded, or as they would be drawn now."""
    recorded = {s["lot"]: s for s in ledger.stages(run["run_id"]) if s["stage"] == stage}
    ctx = _context(run_dir, run)
    config, _ = load_inspection(Path(run["options"]["inspection_file"]))
    lots = {}
    for region, sequences in ctx.lots().items():
        if region in recorded:
            lots[region] = {**recorded[region], "recorded": True}
            continue
        stage_config = config.for_stage(stage)
        plan = make_plan(len(sequences), stage_config.aql, stage_config.level,
                         switching_state(ledger, region, stage).severity)
        seed, sample = lot_sample(run["run_id"], stage, region, sequences, plan)
        lots[region] = {"plan": plan.as_dict(), "seed": str(seed), "sample": sample, "decision": None,
                        "recorded": False}
    for lot in lots.values():
        lot["accounts"] = {seq: ctx.piece(seq)["account_id"] for seq in lot["sample"]}
    return lots


@qa.command("draw")
@click.argument("run_dir", type=_RUN_DIR)
@click.option("--stage", type=click.IntRange(1, 4), required=True)
@click.option("--proof", "proof_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write a proof PDF of the sampled pieces for the inspector.")
@click.option("--json", "as_json", is_flag=True)
def draw_cmd(run_dir, stage, proof_file, as_json):
    """A stage's sample for each lot (redrawn from its recorded seed), optionally as a proof PDF."""
    ledger, run = _open(run_dir)
    lots = stage_lots(ledger, run, run_dir.resolve(), stage)
    ledger.close()
    if proof_file:
        from stmtprod.proof import make_proof

        make_proof(run_dir, proof_file, sequences=sorted(s for lot in lots.values() for s in lot["sample"]))
    if as_json:
        click.echo(json.dumps({"run_id": run["run_id"], "stage": stage, "lots": lots}, default=str))
        return
    click.echo(f"run {run['run_id']} stage {stage} ({STAGE_NAMES[stage]})")
    for region, lot in lots.items():
        p = lot["plan"]
        click.echo(f"  lot {region}: {p['severity']} plan {p['plan_letter']} n={p['effective_sample_size']} "
                   f"Ac={p['accept']} Re={p['reject']} seed {lot['seed']} decision {lot['decision'] or 'pending'}")
        click.echo("    " + " ".join(f"{s}:{lot['accounts'][s]}" for s in lot["sample"]))


def _defect(_ctx, _param, values):
    parsed = []
    for value in values:
        piece, _, rest = value.partition(":")
        kind, _, note = rest.partition(":")
        if not piece.isdigit() or not kind:
            raise click.BadParameter(f"{value!r}: expected PIECE:KIND:NOTE, e.g. 42:wrong-amount:total off by 1")
        parsed.append({"piece": int(piece), "kind": kind, "evidence": note or kind})
    return parsed


@qa.command("record")
@click.argument("run_dir", type=_RUN_DIR)
@click.option("--stage", type=click.IntRange(1, 4), required=True)
@click.option("--defect", "defects", multiple=True, callback=_defect, help="PIECE:KIND:NOTE; repeat for each.")
@click.option("--accept-clean", is_flag=True, help="Record the lots without a --defect as inspected and clean.")
@click.option("--inspector", default="inspector", show_default=True, help="Who inspected.")
@click.option("--json", "as_json", is_flag=True)
def record_cmd(run_dir, stage, defects, accept_clean, inspector, as_json):
    """Record an inspector's findings for a stage's waiting (or, after a correction, rejected) lots;
    `stmtprod resume` then continues."""
    ledger, run = _open(run_dir)
    try:
        pending = {s["lot"]: s for s in ledger.stages(run["run_id"])
                   if s["stage"] == stage and s["decision"] != "accepted"}
        if not pending:
            raise click.UsageError(f"stage {stage} of run {run['run_id']} has no lot waiting for an inspector")
        by_lot: dict[str, list[dict]] = {}
        for d in defects:
            lot = next((name for name, s in pending.items() if d["piece"] in s["sample"]), None)
            if lot is None:
                raise click.UsageError(f"piece {d['piece']} is not in a waiting stage {stage} sample")
            by_lot.setdefault(lot, []).append(d)
        if not accept_clean and set(by_lot) != set(pending):
            raise click.UsageError(f"lots {', '.join(sorted(set(pending) - set(by_lot)))} have no findings: "
                                   "give --defect for them or --accept-clean")
        config, _ = load_inspection(Path(run["options"]["inspection_file"]))
        results = []
        for lot, stored in sorted(pending.items()):
            plan = Plan(**stored["plan"])
            results.append(decide(ledger, config, run["run_id"], stage, lot, plan, int(stored["seed"]),
                                  stored["sample"], by_lot.get(lot, []), inspector))
    finally:
        ledger.close()
    if as_json:
        click.echo(json.dumps({"run_id": run["run_id"], "stage": stage, "results": results}))
        return
    for r in results:
        click.echo(f"lot {r['lot']}: {r['decision'].upper()} ({r['defective']} defective of {r['sample']}); "
                   f"next lot on {r['severity_next']} inspection")
    click.echo(f"now run: stmtprod resume {run['run_id']} --out {run_dir.resolve().parent}")


@qa.command("status")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("out"), show_default=True)
@click.option("--json", "as_json", is_flag=True)
def status_cmd(out, as_json):
    """Lot decisions and the switching state of each region and stage, with the history behind it."""
    if not (out / LEDGER_FILE).exists():
        raise click.UsageError(f"{out} has no ledger")
    ledger = Ledger(out)
    states, lots = ledger.all_switching(), ledger.stages()
    ledger.close()
    if as_json:
        click.echo(json.dumps({"switching": states, "lots": lots}, default=str))
        return
    click.echo("switching state (region, stage: severity; last events)")
    for s in states:
        click.echo(f"  {s['region']} stage {s['stage']} ({STAGE_NAMES[s['stage']]}): {s['severity']}")
        for event in s["history"][-3:]:
            click.echo(f"      {event['reason']}")
    click.echo("lots")
    for lot in lots:
        p = lot["plan"]
        found = len({d["piece"] for d in lot["defects"] or []})
        click.echo(f"  {lot['run_id']} stage {lot['stage']} lot {lot['lot']}: {lot['decision'] or 'PENDING'} "
                   f"n={p['effective_sample_size']} Ac={p['accept']} Re={p['reject']} defective={found} "
                   f"({lot['inspector'] or '-'}, {lot['at']})")


@qa.command("restore")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--region", required=True)
@click.option("--stage", type=click.IntRange(1, 4), required=True)
@click.option("--reason", required=True, help="The corrective action taken, in words.")
@click.option("--operator", default=None)
def restore_cmd(out, region, stage, reason, operator):
    """Restart discontinued inspection (on tightened) after corrective action."""
    ledger = Ledger(out)
    try:
        state = switching_state(ledger, region, stage)
        if not state.halted:
            click.echo(f"{region} stage {stage} is on {state.severity} inspection: nothing to restore", err=True)
            sys.exit(errors.EXIT_USAGE)
        ledger.save_switching_state(region, stage, state.resume(reason, operator).to_dict())
    finally:
        ledger.close()
    click.echo(f"{region} stage {stage}: restarted on tightened inspection")
