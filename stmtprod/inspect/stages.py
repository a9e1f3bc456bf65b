"""The four inspection stages: per lot, a Z1.4 plan at the switching state's severity, a seeded
sample, an inspection (automatic, or recorded by a person), a decision, and a halt on rejection.

A lot is one region's pieces in one run. Decisions, plans, seeds and samples go to the ledger, the
switching state per region and stage too, so it carries across runs. A decision stays valid while
none of the lot's batches is rendered again after it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from stmtprod.errors import AwaitingInspection, Halt, UsageError
from stmtprod.fsutil import write_json
from stmtprod.inspect.config import STAGE_NAMES, InspectionConfig
from stmtprod.inspect.context import InspectionContext
from stmtprod.engine.ledger import Ledger
from stmtprod.sampling.draw import redraw
from stmtprod.sampling.plans import Plan, plan as make_plan
from stmtprod.sampling.switching import SwitchingState



def switching_state(ledger: Ledger, region: str, stage: int) -> SwitchingState:
    stored = ledger.switching_state(region, stage)
    return SwitchingState.from_dict(stored) if stored else SwitchingState()


def lot_sample(run_id: str, stage: int, lot: str, sequences: list[int], plan: Plan,
               attempt: int = 1) -> tuple[int, list[int]]:
    """The lot's seed and sample. A re-inspection (the lot's `attempt`-th inspection at the stage,
    after a correction or a re-render) draws afresh with the lot named `LOT#attempt`."""
    return redraw(run_id, stage, lot if attempt == 1 else f"{lot}#{attempt}", sequences, plan.effective_sample_size)


def run_drill(ledger: Ledger, run_id: str) -> str | None:
    """The drill a run was built with, or None for a production run."""
    return (((ledger.run(run_id) or {}).get("options")) or {}).get("drill")


def times_decided(ledger: Ledger, run_id: str, stage: int, lot: str) -> int:
    """How many decisions the lot has had at the stage: 0 means the next one is its original inspection."""
    return sum(1 for e in ledger.lot_events(run_id) if e["event"] == "decided" and e["stage"] == stage
               and e["lot"] == lot)


def decision(ledger: Ledger, config: InspectionConfig, run_id: str, stage: int, lot: str, plan: Plan, seed: int,
             sample: list[int], defects: list[dict], inspector_name: str, reason: str | None = None) -> dict:
    """A lot's decision, worked out and checked without writing anything: the row and event for
    `Ledger.record_decisions` and, when it counts, the switching state after it.

    Per Z1.4 only a lot's original inspection counts in the switching rules: the first decision of a
    production run's lot at a stage. A re-inspection after a correction, and any lot of a drill
    run, is recorded but leaves the switching state as it was.
    """
    defective = sorted({d["piece"] for d in defects})
    accepted = plan.accepts(len(defective))
    drill = run_drill(ledger, run_id)
    original = times_decided(ledger, run_id, stage, lot) == 0
    state = switching_state(ledger, lot, stage)
    switching = None
    if original and drill is None:
        if state.halted:
            raise Halt(f"inspection discontinued for lot stream {lot} stage {stage}", step=f"inspection-{stage}",
                       lot=lot, field="switching", expected="normal, tightened or reduced", found="discontinued")
        if plan.severity != state.severity:
            raise UsageError(f"the switching state of lot stream {lot} stage {stage} moved from {plan.severity} to "
                             f"{state.severity} since this sample was drawn; resuming the run draws it again on "
                             f"{state.severity} inspection")
        sw = config.switching
        state = state.record(accepted, len(defective), plan, sw.steady_production, sw.approved_for_reduced,
                             sw.use_limit_numbers, limit_number=sw.limit_number, lot=f"{run_id}/{lot}")
        switching = state.to_dict()
    return {"run_id": run_id, "stage": stage, "lot": lot, "lot_size": plan.lot_size, "plan": plan.as_dict(),
            "seed": str(seed), "sample": sample, "defects": defects,
            "decision": "accepted" if accepted else "rejected", "inspector": inspector_name,
            "original": original and drill is None, "drill": drill, "reason": reason, "switching": switching,
            "severity_next": state.severity, "defective": len(defective)}


def result_of(row: dict) -> dict:
    """What a caller reports of a recorded decision."""
    return {"stage": row["stage"], "lot": row["lot"], "decision": row["decision"], "defective": row["defective"],
            "sample": len(row["sample"]), "plan": row["plan"], "defects": row["defects"],
            "severity_next": row["severity_next"], "original": row["original"], "drill": row["drill"]}


def decide(ledger: Ledger, config: InspectionConfig, run_id: str, stage: int, region: str, plan: Plan, seed: int,
           sample: list[int], defects: list[dict], inspector_name: str) -> dict:
    """Count defective pieces, decide, record the lot and move the switching state on (one transaction)."""
    row = decision(ledger, config, run_id, stage, region, plan, seed, sample, defects, inspector_name)
    ledger.record_decisions([row])
    return result_of(row)


def correct_command(run_dir: Path, stage: int, lot: str, action: str = "rerender") -> str:
    """The command that records a rejected lot's correction (NAME and the reason to fill in)."""
    return (f"stmtprod qa correct {run_dir} --stage {stage} --lot {lot} --action {action}"
            + (" --remove SEQ,..." if action == "screen" else "") + ' --inspector NAME --reason "..."')


def correct_hint(run_dir: Path, stage: int, lot: str) -> str:
    """Both ways a rejected lot goes on, in words, for refusals and halts."""
    return (f"'{correct_command(run_dir, stage, lot)}' (or, after screening the whole lot: "
            f"'{correct_command(run_dir, stage, lot, 'screen')}')")


def halt_for(stage: int, result: dict, noun: str = "pieces", then: str | None = None) -> Halt:
    """The halt for a rejected lot; `noun` names what the lot holds, `then` how the line carries on
    (default: `stmtprod resume` of the run).

    With the lot's `run_dir` in `result`, the action names the correction to record and `next`
    holds the commands to paste: record the correction, then (by default) resume."""
    plan, first = result["plan"], result["defects"][0]
    commands = None
    if result.get("run_dir"):
        run_dir = Path(result["run_dir"])
        commands = [correct_command(run_dir, stage, result["lot"])]
        if then is None:
            commands.append(f"stmtprod resume {run_dir.name} --out {run_dir.parent}")
            then = f"'{commands[-1]}'"
    then = then or "'stmtprod resume'"
    correct = f"record the correction: {correct_hint(Path(result['run_dir']), stage, result['lot'])}, then " \
        if commands else ""
    return Halt(f"inspection stage {stage} ({STAGE_NAMES[stage]}) rejected lot {result['lot']}: "
                f"{result['defective']} defective {noun} in a sample of {result['sample']} "
                f"(reject at {plan['reject']})",
                step=f"inspection-{stage}", lot=result["lot"], piece=first["piece"], field=first["kind"],
                expected=f"fewer than {plan['reject']} defective", found=result["defective"],
                evidence=first["evidence"],
                action=f"correct the cause ({first['kind']}), {correct}{then}", next=commands)


def start_stages(ledger: Ledger, config: InspectionConfig, ctx: InspectionContext, workers: int):
    """A `StagePool` with the automatic inspections of stages 1 and 2 already queued, as `run_stages`
    will ask for them (planned the same way, reading only), so that the workers inspect while this
    process does other work (the challenge pieces, the inserter, the mailing manifest). Give it to
    `run_stages`; stop it (`StagePool.stop`) if the run ends before."""
    from stmtprod.inspect.parallel import StagePool

    stage_pool = StagePool(ctx, workers)
    steps_of = _planner(ledger, config, ctx.run_id, ctx.lots())[1]
    for stage in (1, 2):
        stage_pool.start_early(stage, [(lot, step.sample) for lot, step in steps_of(stage).items()
                                       if step.kind == "inspect"])
    return stage_pool


def run_stages(ledger: Ledger, config: InspectionConfig, ctx: InspectionContext, run_dir: Path,
               timings: dict | None = None, workers: int = 1, events: Callable[..., None] | None = None,
               stage_pool=None) -> list[dict]:
    """Inspect every lot at stages 1..4 in order; returns the decisions; raises Halt or AwaitingInspection.

    `timings` receives the seconds each stage took, keyed `stage1`..`stage4`. With `workers` > 1 the
    print-file stages (1 and 2) inspect in that many processes; decisions, defects and ledger rows
    are the same as with one. `events("stage", ...)` is told as each stage starts, for progress.
    `stage_pool`: the pool `start_stages` started (closed here), else one is made.
    """
    from stmtprod.inspect.parallel import StagePool

    lots = ctx.lots()
    with (stage_pool or StagePool(ctx, workers)) as stage_pool:
        def submit(stage: int, automatic: list[tuple[str, list[int]]]) -> list[Callable[[], list[dict]]]:
            if events is not None:
                events("stage", stage=stage, name=STAGE_NAMES[stage], lots=len(lots),
                       sampled=sum(len(sample) for _lot, sample in automatic))
            return stage_pool.submit(stage, automatic)

        return inspect_lots(ledger, config, ctx.run_id, lots, run_dir, (1, 2, 3, 4),
                            stage_pool.inspect, timings, submit=submit, ahead=stage_pool.start_early)


def _planner(ledger: Ledger, config: InspectionConfig, run_id: str, lots: dict[str, list[int]],
             lot_of: Callable[[str], str] = lambda region: region):
    """(the lots without the pieces a screening pulled, `steps_of(stage)`: what each lot needs at a stage),
    from the ledger as it stands (reading only)."""
    rendered: dict[str, str] = {}
    for batch in ledger.batches(run_id).values():
        lot = lot_of(batch["region"])
        rendered[lot] = max(rendered.get(lot, ""), batch["rendered_at"] or "")
    recorded = {(s["stage"], s["lot"]): s for s in ledger.stages(run_id)}
    pulled = {p["sequence"] for p in ledger.pulled(run_id)}
    lots = {lot: [s for s in sequences if s not in pulled] for lot, sequences in lots.items()}
    decided: dict[tuple[int, str], int] = {}
    for event in ledger.lot_events(run_id):
        if event["event"] == "decided":
            decided[(event["stage"], event["lot"])] = decided.get((event["stage"], event["lot"]), 0) + 1
    drill = run_drill(ledger, run_id)

    def steps_of(stage: int) -> dict[str, _Step]:
        stage_config = config.for_stage(stage)
        return {lot: _step(ledger, stage_config, run_id, stage, lot, sequences, recorded.get((stage, lot)),
                           rendered.get(lot, ""), decided.get((stage, lot), 0) + 1, drill)
                for lot, sequences in lots.items()}

    return lots, steps_of


@dataclass
class _Step:
    """What a lot needs at a stage, found without side effects: `kind` is kept, waiting, rejected
    (a rejection stands until a correction is recorded), discontinued, draw (manual: record the sample
    and wait) or inspect."""

    kind: str
    previous: dict | None = None
    plan: Plan | None = None
    seed: int | None = None
    sample: list[int] | None = None
    error: BaseException | None = None


def inspect_lots(ledger: Ledger, config: InspectionConfig, run_id: str, lots: dict[str, list[int]], run_dir: Path,
                 stages: tuple[int, ...], inspect: Callable[[int, str, list[int]], list[dict]],
                 timings: dict | None = None, lot_of: Callable[[str], str] = lambda region: region,
                 halt: Callable[[int, dict], Halt] = halt_for,
                 submit: Callable[[int, list[tuple[str, list[int]]]], list[Callable[[], list[dict]]]] | None = None,
                 ahead: Callable[[int, list[tuple[str, list[int]]]], None] | None = None) -> list[dict]:
    """The lot loop both lines share: each stage in turn over every lot, stopping at the first rejection.

    A decision recorded after the lot's last render is kept (a rejection halts again until a
    correction is recorded, `stmtprod qa correct`); a manual stage draws its sample and waits; an
    automatic one inspects (`inspect(stage, lot, sample)` gives the defects) and decides. Pieces a
    screening pulled are no longer part of their lot.
    `lot_of` names the lot of a batch's region; `halt` builds the Halt for a rejected lot.

    Each stage first works out, reading only, what every lot needs (plan and sample included: a lot's
    switching state is its own, so no lot's decision changes another's plan), then takes the actions
    lot by lot in order. `submit(stage, [(lot, sample), ...])`, when given, starts the stage's
    automatic inspections all at once (in worker processes, say) and returns for each a function that
    gives its defects; without it each lot is inspected when its turn comes. `ahead(stage, [(lot,
    sample), ...])`, when given, is told after each stage's `submit` what the next stage's automatic
    inspections will be, as worked out now (no decision of a stage changes another stage's plan), so
    they can start while this stage is decided.
    """
    timings = {} if timings is None else timings
    lots, steps_of = _planner(ledger, config, run_id, lots, lot_of)
    results = []
    for index, stage in enumerate(stages):
        started = time.perf_counter()
        steps = steps_of(stage)
        automatic = [(lot, step.sample) for lot, step in steps.items() if step.kind == "inspect"]
        if submit is not None:
            defects_of = dict(zip((lot for lot, _ in automatic), submit(stage, automatic)))
            if ahead is not None and index + 1 < len(stages):
                later = stages[index + 1]
                ahead(later, [(lot, step.sample) for lot, step in steps_of(later).items() if step.kind == "inspect"])
        else:
            defects_of = {lot: (lambda lot=lot, sample=sample: inspect(stage, lot, sample))
                          for lot, sample in automatic}
        waiting, drawn = [], {}
        for lot, step in steps.items():
            previous = step.previous
            if step.error is not None:
                raise step.error
            if step.kind == "kept":
                results.append({"stage": stage, "lot": lot, "decision": "accepted", "kept": True})
                drawn[lot] = previous
                continue
            if step.kind == "waiting":
                waiting.append(lot)
                drawn[lot] = previous
                continue
            if step.kind == "rejected":
                raise halt(stage, {"lot": lot, "plan": previous["plan"], "defects": previous["defects"],
                                   "defective": len({d["piece"] for d in previous["defects"]}),
                                   "sample": len(previous["sample"]), "run_dir": str(run_dir)})
            if step.kind == "discontinued":
                raise Halt(f"inspection discontinued for lot stream {lot} stage {stage} after repeated rejections "
                           "on tightened inspection", step=f"inspection-{stage}", lot=lot, field="switching",
                           expected="normal, tightened or reduced", found="discontinued",
                           action=f"correct the process, then 'stmtprod qa restore --out {run_dir.parent} "
                                  f"--region {lot} --stage {stage} --reason ...'")
            plan, seed, sample = step.plan, step.seed, step.sample
            if step.kind == "draw":
                ledger.record_draw(run_id, stage, lot, plan.lot_size, plan.as_dict(), str(seed), sample)
                waiting.append(lot)
                drawn[lot] = {"plan": plan.as_dict(), "seed": str(seed), "sample": sample}
                continue
            result = decide(ledger, config, run_id, stage, lot, plan, seed, sample, defects_of[lot](), "automatic")
            drawn[lot] = {"plan": result["plan"], "seed": str(seed), "sample": sample}
            results.append(result)
            if result["decision"] == "rejected":
                _write_stage_file(run_dir, stage, drawn)
                raise halt(stage, result | {"run_dir": str(run_dir)})
        _write_stage_file(run_dir, stage, drawn)
        timings[f"stage{stage}"] = time.perf_counter() - started
        if waiting:
            raise AwaitingInspection(stage, STAGE_NAMES[stage], waiting, run_dir)
    return results


def _step(ledger: Ledger, stage_config, run_id: str, stage: int, lot: str, sequences: list[int],
          previous: dict | None, rendered_at: str, attempt: int, drill: str | None) -> _Step:
    """What the lot needs at this stage (reads the ledger, writes nothing). An error is kept in the
    step and raised when the lot's turn comes, after the lots before it have been decided.

    `attempt` numbers the inspection (2 and up: a re-inspection, drawn afresh). A drill's lots are
    planned at the production stream's severity (tightened while it is discontinued) and never halt
    it."""
    try:
        if previous is not None and previous["decision"] == "rejected":
            return _Step("rejected", previous)  # even if re-rendered since: the correction must be recorded
        current = previous is not None and previous["at"] > rendered_at and previous["decision"] != "rerender"
        if current and previous["decision"] in ("accepted", "screened"):
            return _Step("kept", previous)
        state = switching_state(ledger, lot, stage)
        if state.halted and drill is None:
            return _Step("discontinued", previous)
        severity = "tightened" if state.halted else state.severity
        if (current and stage_config.mode == "manual" and previous["decision"] is None
                and previous["plan"]["severity"] == severity):
            return _Step("waiting", previous)
        plan = make_plan(len(sequences), stage_config.aql, stage_config.level, severity)
        seed, sample = lot_sample(run_id, stage, lot, sequences, plan, attempt)
        return _Step("draw" if stage_config.mode == "manual" else "inspect", previous, plan, seed, sample)
    except Exception as exc:  # noqa: BLE001  (raised in turn by the caller)
        return _Step("error", previous, error=exc)


def _write_stage_file(run_dir: Path, stage: int, drawn: dict) -> None:
    """`inspection/stageK.json`: each lot's plan, seed and sample, for inspectors and proofs."""
    lots = {lot: {"plan": d["plan"], "seed": d["seed"], "sample": d["sample"]} for lot, d in drawn.items()}
    write_json(run_dir / "inspection" / f"stage{stage}.json",
               {"stage": stage, "name": STAGE_NAMES[stage], "lots": lots,
                "sample": sorted(s for d in lots.values() for s in d["sample"])})
