"""`stmtprod qa draw | record | correct | status | restore`: the inspectors' side of the four stages.

`COMMANDS` join the `qa` group (`stmtprod.cli.qa`) beside `qa plan` and `qa oc`.
"""
from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import click

from stmtprod import errors
from stmtprod.cardnumbers import redact
from stmtprod.catalog import load_catalog
from stmtprod.cli.typed import typed, unprintable
from stmtprod.inspect.config import STAGE_NAMES, load_inspection
from stmtprod.inspect.context import InspectionContext
from stmtprod.inspect.defects import defect_kinds
from stmtprod.inspect.history import history_lines, moment
from stmtprod.inspect.stages import (correct_hint, decision, lot_sample, result_of, switching_state,
                                    times_decided)
from stmtprod.layout import load_layouts
from stmtprod.engine import journal
from stmtprod.engine.ledger import LEDGER_FILE, Ledger
from stmtprod.engine.lock import OutputLock
from stmtprod.engine.runstate import RunRecord
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


@contextmanager
def _locked(out: Path) -> Iterator[None]:
    """The output folder's lock: no quality record is written beside a running build or resume
    (exit 5 names the holder)."""
    try:
        lock = OutputLock(out)
        lock.__enter__()
    except errors.BusyError as exc:
        click.echo(f"stmtprod: {exc}", err=True)
        sys.exit(exc.exit_code)
    try:
        yield
    finally:
        lock.__exit__(None, None, None)


@contextmanager
def _writing(run_dir: Path) -> Iterator[tuple[Ledger, dict]]:
    """The run's ledger and record, with the lock of its output folder held, once the ledger's decisions
    are found to agree with the run's QA journal (else exit 7: nothing is written over a difference)."""
    ledger, run = _open(run_dir)
    try:
        with _locked(run_dir.resolve().parent):
            journal.check(ledger, run["run_id"], run_dir.resolve())
            yield ledger, run
    finally:
        ledger.close()


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
    pulled = {p["sequence"] for p in ledger.pulled(run["run_id"])}
    lots = {}
    for region, sequences in ctx.lots().items():
        if region in recorded and recorded[region]["decision"] != "rerender":
            lots[region] = {**recorded[region], "recorded": True}
            continue
        stage_config = config.for_stage(stage)
        sequences = [s for s in sequences if s not in pulled]
        plan = make_plan(len(sequences), stage_config.aql, stage_config.level,
                         switching_state(ledger, region, stage).severity)
        seed, sample = lot_sample(run["run_id"], stage, region, sequences, plan,
                                  times_decided(ledger, run["run_id"], stage, region) + 1)
        lots[region] = {"plan": plan.as_dict(), "seed": str(seed), "sample": sample, "decision": None,
                        "recorded": False}
    for lot in lots.values():
        lot["accounts"] = {seq: ctx.piece(seq)["account_id"] for seq in lot["sample"]}
    return lots


@click.command("draw")
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
        if unprintable(value):
            raise click.BadParameter(f"a finding must be one line of printable text: it holds {unprintable(value)} "
                                     "(a control character, line break or direction override)")
        if not piece.strip().isdigit() or not kind.strip() or not note.strip():
            raise click.BadParameter(redact(f"{value!r}: expected PIECE:KIND:NOTE with a note saying what was "
                                            "found, e.g. 42:wrong-amount:total off by 1"))
        parsed.append({"piece": int(piece), "kind": redact(kind.strip()), "evidence": redact(note.strip())})
    return parsed


def _line(run: dict) -> str:
    return (run.get("options") or {}).get("line", "statements")


def _check_kinds(run: dict, stage: int, defects: list[dict]) -> None:
    kinds = defect_kinds(_line(run), stage)
    for d in defects:
        if d["kind"] not in kinds:
            raise click.UsageError(f"defect kind {d['kind']!r} is not a stage {stage} kind; known: "
                                   f"{', '.join(kinds)} (README, 'Defect kinds')")


def _text(what: str, value: str | None, required: bool = True) -> str | None:
    """A name or reason typed by a person: one printable line (`stmtprod.cli.typed`), a card number in it
    masked like any echo."""
    try:
        value = typed(what, value, required)
    except errors.UsageError as exc:
        raise click.UsageError(str(exc)) from None
    return None if value is None else redact(value)


@click.command("record")
@click.argument("run_dir", type=_RUN_DIR)
@click.option("--stage", type=click.IntRange(1, 4), required=True)
@click.option("--defect", "defects", multiple=True, callback=_defect,
              help="PIECE:KIND:NOTE (kind from the stage's list, a note saying what was found); repeat for each.")
@click.option("--accept-clean", is_flag=True, help="Record the lots without a --defect as inspected and clean.")
@click.option("--inspector", required=True, help="Who inspected.")
@click.option("--json", "as_json", is_flag=True)
def record_cmd(run_dir, stage, defects, accept_clean, inspector, as_json):
    """Record an inspector's findings for a stage's waiting lots, all of them or none; `stmtprod
    resume` then continues. A lot has one decision per stage: a rejected lot goes on only through
    `stmtprod qa correct`."""
    with _writing(run_dir) as (ledger, run):
        inspector = _text("--inspector", inspector)
        lots = {s["lot"]: s for s in ledger.stages(run["run_id"]) if s["stage"] == stage}
        pending = {lot: s for lot, s in lots.items() if s["decision"] is None}
        if not pending:
            raise click.UsageError(_nothing_waiting(run, run_dir.resolve(), stage, lots))
        _check_kinds(run, stage, defects)
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
        try:
            rows = [decision(ledger, config, run["run_id"], stage, lot, Plan(**stored["plan"]), int(stored["seed"]),
                             stored["sample"], by_lot.get(lot, []), inspector)
                    for lot, stored in sorted(pending.items())]
        except errors.UsageError as exc:
            raise click.UsageError(f"{exc}: stmtprod resume {run['run_id']} --out {run_dir.resolve().parent}") from None
        except errors.Halt as exc:
            raise click.UsageError(f"{exc}: correct the process, then 'stmtprod qa restore --out "
                                   f"{run_dir.resolve().parent} --region {exc.details['lot']} --stage {stage} "
                                   "--reason ...'") from None
        ledger.record_decisions(rows)
    results = [result_of(r) for r in rows]
    if as_json:
        click.echo(json.dumps({"run_id": run["run_id"], "stage": stage, "results": results}))
        return
    out = run_dir.resolve().parent
    for r in results:
        counted = "not counted in the switching rules (" + ("drill" if r["drill"] else "a re-inspection") + ")"
        click.echo(f"lot {r['lot']}: {r['decision'].upper()} ({r['defective']} defective of {r['sample']}); "
                   + (f"next lot on {r['severity_next']} inspection" if r["original"] else counted))
        if r["decision"] == "rejected":
            click.echo(f"  lot {r['lot']} goes on only after a correction: "
                       f"{correct_hint(run_dir.resolve(), stage, r['lot'])}")
    if all(r["decision"] != "rejected" for r in results):
        click.echo(f"now run: stmtprod resume {run['run_id']} --out {out}")


def _nothing_waiting(run: dict, run_dir: Path, stage: int, lots: dict[str, dict]) -> str:
    """Why `qa record` has nothing to record: each lot's decision, and what leads on from it."""
    if not lots:
        return f"stage {stage} of run {run['run_id']} has no lot waiting for an inspector"
    parts = []
    for lot, s in sorted(lots.items()):
        if s["decision"] == "rejected":
            parts.append(f"lot {lot} was rejected by {s['inspector']} at {moment(s['at'])} and has its decision; it goes on "
                         f"only after a correction: {correct_hint(run_dir, stage, lot)}")
        elif s["decision"] == "rerender":
            parts.append(f"lot {lot} is to be rendered again: 'stmtprod resume {run['run_id']} --out "
                         f"{run_dir.parent}' re-renders it and draws a new sample")
        else:
            parts.append(f"lot {lot} is already {s['decision']} ({s['inspector']}, {moment(s['at'])})")
    return f"stage {stage} of run {run['run_id']} has no lot waiting for an inspector: " + "; ".join(parts)


@click.command("correct")
@click.argument("run_dir", type=_RUN_DIR)
@click.option("--stage", type=click.IntRange(1, 4), required=True)
@click.option("--lot", required=True, help="The rejected lot (a region; CARDS-<region> for carriers).")
@click.option("--action", type=click.Choice(["rerender", "screen"]), required=True,
              help="rerender: render the lot again and inspect it again; screen: the whole lot was inspected "
                   "and the defective pieces removed (--remove).")
@click.option("--remove", "remove", default=None, help="screen: the sequences removed, comma-separated.")
@click.option("--inspector", required=True, help="Who corrected (screened) the lot.")
@click.option("--reason", required=True, help="What was corrected, in words.")
@click.option("--json", "as_json", is_flag=True)
def correct_cmd(run_dir, stage, lot, action, remove, inspector, reason, as_json):
    """Record the correction of a rejected lot, the only way it goes on: re-rendered (a new
    inspection follows, which does not count in the switching rules) or 100% screened with the
    defective pieces removed (pulled with the reason, and accounted for in the summary)."""
    with _writing(run_dir) as (ledger, run):
        inspector, reason = _text("--inspector", inspector), _text("--reason", reason)
        stored = next((s for s in ledger.stages(run["run_id"]) if s["stage"] == stage and s["lot"] == lot), None)
        if stored is None or stored["decision"] != "rejected":
            state = "has no decision at that stage" if stored is None else f"is {stored['decision'] or 'pending'}"
            raise click.UsageError(f"lot {lot} of run {run['run_id']} {state}: only a rejected lot is corrected")
        sequences = _context(run_dir.resolve(), run).lots().get(lot, [])
        pulled, batches = [], []
        if action == "screen":
            pulled = _removed(remove, set(sequences), {d["piece"] for d in stored["defects"] or []})
        else:
            if remove:
                raise click.UsageError("--remove goes with --action screen; a re-rendered lot keeps every piece")
            wanted = set(sequences)
            batches = sorted({b for seq, b in ledger.piece_batches(run["run_id"]).items() if seq in wanted})
        ledger.record_correction(run["run_id"], stage, lot, action, "screened" if action == "screen" else "rerender",
                                 inspector, reason, pulled, batches)
    out = run_dir.resolve().parent
    result = {"run_id": run["run_id"], "stage": stage, "lot": lot, "action": action, "pulled": pulled,
              "batches": batches, "next": f"stmtprod resume {run['run_id']} --out {out}"}
    if as_json:
        click.echo(json.dumps(result))
        return
    if action == "screen":
        click.echo(f"lot {lot} stage {stage}: accepted after 100% screening by {inspector}; "
                   f"{len(pulled)} pieces pulled ({', '.join(map(str, pulled))})")
    else:
        click.echo(f"lot {lot} stage {stage}: to be rendered again ({len(batches)} batches) and inspected again "
                   f"(not counted in the switching rules)")
    click.echo(f"now run: {result['next']}")


def _removed(value: str | None, lot: set[int], defective: set[int]) -> list[int]:
    """The pieces a screening removed: every defective piece of the sample among them, all of the lot."""
    if not value or not value.strip():
        raise click.UsageError("--action screen needs --remove SEQ,... (the pieces the screening removed)")
    try:
        pieces = sorted({int(v) for v in value.split(",") if v.strip()})
    except ValueError:
        raise click.UsageError(f"--remove {value!r}: expected sequence numbers separated by commas") from None
    foreign = [p for p in pieces if p not in lot]
    if foreign:
        raise click.UsageError(f"pieces {', '.join(map(str, foreign))} are not in the lot")
    kept = sorted(defective - set(pieces))
    if kept:
        raise click.UsageError(f"the sample's defective pieces {', '.join(map(str, kept))} must be among those removed")
    return pieces


@click.command("status")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("out"), show_default=True)
@click.option("--json", "as_json", is_flag=True)
def status_cmd(out, as_json):
    """Lot decisions and the switching state of each region and stage, with the history behind it.
    Drill lots are listed apart: they are not production decisions."""
    if not (out / LEDGER_FILE).exists():
        raise click.UsageError(f"{out} has no ledger")
    ledger = Ledger(out)
    states, lots, events = ledger.all_switching(), ledger.stages(), ledger.lot_events()
    history = history_lines(events)
    try:
        differ = _journal_faults(ledger, out, sorted({lot["run_id"] for lot in lots}))
    finally:
        ledger.close()
    real = [lot for lot in lots if not lot["drill"]]
    drills = [lot for lot in lots if lot["drill"]]
    if as_json:
        click.echo(json.dumps({"switching": states, "lots": real, "drill_lots": drills,
                               "history": [e for e in events if not e.get("drill")],
                               "drill_history": [e for e in events if e.get("drill")],
                               "journal_differs": [str(f) for f in differ]}, default=str))
        if differ:
            raise differ[0]
        return
    click.echo("switching state (region, stage: severity; last events)")
    for s in states:
        click.echo(f"  {s['region']} stage {s['stage']} ({STAGE_NAMES[s['stage']]}): {s['severity']}")
        for event in s["history"][-3:]:
            click.echo(f"      {event['reason']}")
    for title, group in (("lots", real), ("drill lots (training runs: not in the switching rules)", drills)):
        if not group and title != "lots":
            continue
        click.echo(title)
        for lot in group:
            p = lot["plan"]
            found = len({d["piece"] for d in lot["defects"] or []})
            click.echo(f"  {lot['run_id']} stage {lot['stage']} lot {lot['lot']}: {lot['decision'] or 'PENDING'}"
                       f"{' DRILL ' + lot['drill'] if lot['drill'] else ''} n={p['effective_sample_size']} "
                       f"Ac={p['accept']} Re={p['reject']} defective={found} ({lot['inspector'] or '-'}, {lot['at']})")
            for d in lot["defects"] or []:
                click.echo(f"      piece {d['piece']} {d['kind']}: {d['evidence']}")
    click.echo("history (every draw, finding, decision and correction)")
    for line in history:
        click.echo("  " + line)
    if differ:
        raise differ[0]


def _journal_faults(ledger: Ledger, out: Path, run_ids: list[str]) -> list[errors.EnvironmentFault]:
    """The runs whose decisions in the ledger and QA journal differ: `qa status` shows every lot, then
    ends with the first of them (exit 7)."""
    faults = []
    for run_id in run_ids:
        try:
            journal.check(ledger, run_id, out / run_id)
        except errors.EnvironmentFault as fault:
            faults.append(fault)
    return faults


@click.command("restore")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--region", required=True)
@click.option("--stage", type=click.IntRange(1, 4), required=True)
@click.option("--reason", required=True, help="The corrective action taken, in words.")
@click.option("--operator", default=None)
def restore_cmd(out, region, stage, reason, operator):
    """Restart discontinued inspection (on tightened) after corrective action."""
    reason, operator = _text("--reason", reason), _text("--operator", operator, required=False)
    if not (out / LEDGER_FILE).exists():
        raise click.UsageError(f"{out} has no ledger")
    with _locked(out):
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


COMMANDS = (draw_cmd, record_cmd, correct_cmd, status_cmd, restore_cmd)
