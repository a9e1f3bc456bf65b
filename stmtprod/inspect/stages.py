"""The four inspection stages: per lot, a Z1.4 plan at the switching state's severity, a seeded
sample, an inspection (automatic, or recorded by a person), a decision, and a halt on rejection.

A lot is one region's pieces in one run. Decisions, plans, seeds and samples go to the ledger, the
switching state per region and stage too, so it carries across runs. A decision stays valid while
none of the lot's batches is rendered again after it.
"""
from __future__ import annotations

import importlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from stmtprod.errors import EXIT_WAITING, Halt, StmtprodError
from stmtprod.fsutil import write_json
from stmtprod.inspect.config import STAGE_NAMES, InspectionConfig
from stmtprod.inspect.context import InspectionContext
from stmtprod.ledger import Ledger
from stmtprod.sampling.draw import redraw
from stmtprod.sampling.plans import Plan, plan as make_plan
from stmtprod.sampling.switching import SwitchingState

_INSPECTORS = {1: "composition", 2: "printing", 3: "insertion", 4: "dispatch"}


class AwaitingInspection(StmtprodError):
    """A manual stage has samples waiting for an inspector's findings."""

    exit_code = EXIT_WAITING

    def __init__(self, stage: int, lots: list[str], run_dir: Path):
        self.stage, self.lots = stage, lots
        super().__init__(f"stage {stage} ({STAGE_NAMES[stage]}) waits for an inspector: lots {', '.join(lots)}; "
                         f"see 'stmtprod qa draw {run_dir} --stage {stage}', record with 'stmtprod qa record', "
                         "then 'stmtprod resume'")


def inspector(stage: int):
    return importlib.import_module(f"stmtprod.inspect.{_INSPECTORS[stage]}").inspect


def switching_state(ledger: Ledger, region: str, stage: int) -> SwitchingState:
    stored = ledger.switching_state(region, stage)
    return SwitchingState.from_dict(stored) if stored else SwitchingState()


def lot_sample(run_id: str, stage: int, region: str, sequences: list[int], plan: Plan) -> tuple[int, list[int]]:
    return redraw(run_id, stage, region, sequences, plan.effective_sample_size)


def decide(ledger: Ledger, config: InspectionConfig, run_id: str, stage: int, region: str, plan: Plan, seed: int,
           sample: list[int], defects: list[dict], inspector_name: str) -> dict:
    """Count defective pieces, decide, record the lot and move the switching state on."""
    defective = sorted({d["piece"] for d in defects})
    accepted = plan.accepts(len(defective))
    decision = "accepted" if accepted else "rejected"
    ledger.record_stage(run_id, stage, region, plan.lot_size, plan.as_dict(), str(seed), sample, defects, decision,
                        inspector_name)
    sw = config.switching
    state = switching_state(ledger, region, stage).record(
        accepted, len(defective), plan, sw.steady_production, sw.approved_for_reduced, sw.use_limit_numbers,
        limit_number=sw.limit_number, lot=f"{run_id}/{region}")
    ledger.save_switching_state(region, stage, state.to_dict())
    return {"stage": stage, "lot": region, "decision": decision, "defective": len(defective),
            "sample": len(sample), "plan": plan.as_dict(), "defects": defects, "severity_next": state.severity}


def halt_for(stage: int, result: dict, noun: str = "pieces", then: str = "'stmtprod resume'") -> Halt:
    """The halt for a rejected lot; `noun` names what the lot holds, `then` how the line carries on."""
    plan, first = result["plan"], result["defects"][0]
    return Halt(f"inspection stage {stage} ({STAGE_NAMES[stage]}) rejected lot {result['lot']}: "
                f"{result['defective']} defective {noun} in a sample of {result['sample']} "
                f"(reject at {plan['reject']})",
                step=f"inspection-{stage}", lot=result["lot"], piece=first["piece"], field=first["kind"],
                expected=f"fewer than {plan['reject']} defective", found=result["defective"],
                evidence=first["evidence"],
                action=f"correct the cause ({first['kind']}), re-render if needed, then {then}")


def run_stages(ledger: Ledger, config: InspectionConfig, ctx: InspectionContext, run_dir: Path,
               timings: dict | None = None, workers: int = 1) -> list[dict]:
    """Inspect every lot at stages 1..4 in order; returns the decisions; raises Halt or AwaitingInspection.

    `timings` receives the seconds each stage took, keyed `stage1`..`stage4`. With `workers` > 1 the
    print-file stages (1 and 2) inspect in that many processes; decisions, defects and ledger rows
    are the same as with one.
    """
    from stmtprod.inspect.parallel import StagePool

    with StagePool(ctx, workers) as stage_pool:
        return inspect_lots(ledger, config, ctx.run_id, ctx.lots(), run_dir, (1, 2, 3, 4),
                            stage_pool.inspect, timings, submit=stage_pool.submit)


@dataclass
class _Step:
    """What a lot needs at a stage, found without side effects: `kind` is kept, waiting, rejected
    (a manual rejection stands), discontinued, draw (manual: record the sample and wait) or inspect."""

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
                 ) -> list[dict]:
    """The lot loop both lines share: each stage in turn over every lot, stopping at the first rejection.

    A decision recorded after the lot's last render is kept; a manual stage draws its sample and
    waits; an automatic one inspects (`inspect(stage, lot, sample)` gives the defects) and decides.
    `lot_of` names the lot of a batch's region; `halt` builds the Halt for a rejected lot.

    Each stage first works out, reading only, what every lot needs (plan and sample included: a lot's
    switching state is its own, so no lot's decision changes another's plan), then takes the actions
    lot by lot in order. `submit(stage, [(lot, sample), ...])`, when given, starts the stage's
    automatic inspections all at once (in worker processes, say) and returns for each a function that
    gives its defects; without it each lot is inspected when its turn comes.
    """
    timings = {} if timings is None else timings
    rendered: dict[str, str] = {}
    for batch in ledger.batches(run_id).values():
        lot = lot_of(batch["region"])
        rendered[lot] = max(rendered.get(lot, ""), batch["rendered_at"] or "")
    recorded = {(s["stage"], s["lot"]): s for s in ledger.stages(run_id)}
    results = []
    for stage in stages:
        started = time.perf_counter()
        stage_config = config.for_stage(stage)
        steps = {lot: _step(ledger, stage_config, run_id, stage, lot, sequences, recorded.get((stage, lot)),
                            rendered.get(lot, "")) for lot, sequences in lots.items()}
        automatic = [(lot, step.sample) for lot, step in steps.items() if step.kind == "inspect"]
        if submit is not None:
            defects_of = dict(zip((lot for lot, _ in automatic), submit(stage, automatic)))
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
                                   "sample": len(previous["sample"])})
            if step.kind == "discontinued":
                raise Halt(f"inspection discontinued for lot stream {lot} stage {stage} after repeated rejections "
                           "on tightened inspection", step=f"inspection-{stage}", lot=lot, field="switching",
                           expected="normal, tightened or reduced", found="discontinued",
                           action=f"correct the process, then 'stmtprod qa restore --out {run_dir.parent} "
                                  f"--region {lot} --stage {stage} --reason ...'")
            plan, seed, sample = step.plan, step.seed, step.sample
            if step.kind == "draw":
                ledger.record_stage(run_id, stage, lot, plan.lot_size, plan.as_dict(), str(seed), sample, None,
                                    None, None)
                waiting.append(lot)
                drawn[lot] = {"plan": plan.as_dict(), "seed": str(seed), "sample": sample}
                continue
            result = decide(ledger, config, run_id, stage, lot, plan, seed, sample, defects_of[lot](), "automatic")
            drawn[lot] = {"plan": result["plan"], "seed": str(seed), "sample": sample}
            results.append(result)
            if result["decision"] == "rejected":
                _write_stage_file(run_dir, stage, drawn)
                raise halt(stage, result)
        _write_stage_file(run_dir, stage, drawn)
        timings[f"stage{stage}"] = time.perf_counter() - started
        if waiting:
            raise AwaitingInspection(stage, waiting, run_dir)
    return results


def _step(ledger: Ledger, stage_config, run_id: str, stage: int, lot: str, sequences: list[int],
          previous: dict | None, rendered_at: str) -> _Step:
    """What the lot needs at this stage (reads the ledger, writes nothing). An error is kept in the
    step and raised when the lot's turn comes, after the lots before it have been decided."""
    try:
        current = previous is not None and previous["at"] > rendered_at
        if current and previous["decision"] == "accepted":
            return _Step("kept", previous)
        if current and stage_config.mode == "manual" and previous["decision"] is None:
            return _Step("waiting", previous)
        if current and stage_config.mode == "manual" and previous["decision"] == "rejected":
            return _Step("rejected", previous)
        state = switching_state(ledger, lot, stage)
        if state.halted:
            return _Step("discontinued", previous)
        plan = make_plan(len(sequences), stage_config.aql, stage_config.level, state.severity)
        seed, sample = lot_sample(run_id, stage, lot, sequences, plan)
        return _Step("draw" if stage_config.mode == "manual" else "inspect", previous, plan, seed, sample)
    except Exception as exc:  # noqa: BLE001  (raised in turn by the caller)
        return _Step("error", previous, error=exc)


def _write_stage_file(run_dir: Path, stage: int, drawn: dict) -> None:
    """`inspection/stageK.json`: each lot's plan, seed and sample, for inspectors and proofs."""
    lots = {lot: {"plan": d["plan"], "seed": d["seed"], "sample": d["sample"]} for lot, d in drawn.items()}
    write_json(run_dir / "inspection" / f"stage{stage}.json",
               {"stage": stage, "name": STAGE_NAMES[stage], "lots": lots,
                "sample": sorted(s for d in lots.values() for s in d["sample"])})
