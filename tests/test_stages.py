"""The four staged inspections in real runs: seeded defects found and halted, clean runs accepted,
samples redrawable from the ledger, manual stages, switching state kept across runs."""
from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from stmtprod.cli import main
from stmtprod.config import BuildOptions
from stmtprod.inspect.defects import STATEMENT_KINDS
from stmtprod.engine.ledger import Ledger
from stmtprod.lines import resume
from stmtprod.statements.line import build
from tests.conftest import ROOT, SAMPLES, manifest_rows

STAGE_DRILLS = {"amount-misprinted": (1, "wrong-amount"), "barcode-too-thin": (2, "bar-width"),
                "hopper-misloaded": (3, "insert-not-allowed"), "wrong-tray": (4, "wrong-tray")}


@pytest.mark.parametrize("drill", sorted(STAGE_DRILLS))
def test_each_inspector_finds_its_seeded_defect_and_halts(drill, tmp_path):
    stage, kind = STAGE_DRILLS[drill]
    summary = build(BuildOptions(input=SAMPLES, out=tmp_path, regions=("AU", "NZ"), workers=1, drill=drill))
    assert summary["state"] == "HALTED", summary.get("halt")
    halt = summary["halt"]
    assert halt["step"] == f"inspection-{stage}" and halt["field"] == kind and halt["lot"] == "AU"
    assert not (Path(summary["run_dir"]) / "release").exists()
    ledger = Ledger(tmp_path)
    decisions = {(s["stage"], s["lot"]): s for s in ledger.stages(summary["run_id"])}
    ledger.close()
    rejected = decisions[(stage, "AU")]
    assert rejected["decision"] == "rejected" and any(d["kind"] == kind for d in rejected["defects"])
    assert {d["kind"] for d in rejected["defects"]} <= set(STATEMENT_KINDS[stage])  # the documented list
    assert all(decisions[(earlier, "AU")]["decision"] == "accepted" for earlier in range(1, stage))


def _redraw(run_id: str, stage: int, lot: str, population: list[int], n: int) -> list[int]:
    """The recipe from stmtprod/sampling/draw.py, written out independently."""
    seed = int.from_bytes(hashlib.sha256(f"{run_id}\n{stage}\n{lot}".encode()).digest()[:8], "big")
    units = sorted(set(population))
    return units if n >= len(units) else sorted(random.Random(seed).sample(units, n))


def test_clean_run_accepts_every_lot_and_samples_can_be_redrawn(sample_run):
    out = Path(sample_run["run_dir"]).parent
    ledger = Ledger(out)
    stages = ledger.stages(sample_run["run_id"])
    ledger.close()
    rows = manifest_rows(sample_run)
    lots = {region: sorted(r["sequence"] for r in rows if r["region"] == region) for region in sample_run["regions"]}
    assert {(s["stage"], s["lot"]) for s in stages} == {(k, r) for k in (1, 2, 3, 4) for r in lots}
    for s in stages:
        assert s["decision"] == "accepted" and s["defects"] == [] and s["inspector"] == "automatic"
        assert s["lot_size"] == len(lots[s["lot"]])
        assert s["sample"] == _redraw(sample_run["run_id"], s["stage"], s["lot"], lots[s["lot"]],
                                      s["plan"]["effective_sample_size"])
        result = CliRunner().invoke(main, ["qa", "plan", "--lot-size", str(s["lot_size"]), "--aql",
                                           str(s["plan"]["aql"]), "--json"])
        assert json.loads(result.output)["sample_size"] == s["plan"]["sample_size"]


def test_a_manual_stage_waits_for_the_inspector_then_resumes(tmp_path):
    config = tmp_path / "inspection.toml"
    text = (ROOT / "inspection.toml").read_text(encoding="utf-8")
    config.write_text(text.replace('name = "print"\naql = 0.10\nlevel = "II"\nmode = "auto"',
                                   'name = "print"\naql = 0.10\nlevel = "II"\nmode = "manual"'), encoding="utf-8")
    out = tmp_path / "out"
    waiting = build(BuildOptions(input=SAMPLES, out=out, regions=("SG",), workers=1, inspection_file=config))
    assert waiting["state"] == "INSPECTING" and waiting["waiting"]["stage"] == 2
    assert not (Path(waiting["run_dir"]) / "release").exists()
    runner = CliRunner()
    drawn = json.loads(runner.invoke(main, ["qa", "draw", waiting["run_dir"], "--stage", "2", "--json"]).output)
    sample = drawn["lots"]["SG"]["sample"]
    assert sample and drawn["lots"]["SG"]["recorded"]
    refused = runner.invoke(main, ["qa", "record", waiting["run_dir"], "--stage", "2", "--inspector", "k.tanaka"])
    assert refused.exit_code == 2 and "--accept-clean" in refused.output
    recorded = runner.invoke(main, ["qa", "record", waiting["run_dir"], "--stage", "2", "--accept-clean",
                                    "--inspector", "k.tanaka", "--json"])
    assert recorded.exit_code == 0 and json.loads(recorded.output)["results"][0]["decision"] == "accepted"
    done = resume(waiting["run_id"], out)
    assert done["state"] == "RELEASED"
    ledger = Ledger(out)
    stage2 = next(s for s in ledger.stages(waiting["run_id"]) if s["stage"] == 2)
    ledger.close()
    assert stage2["inspector"] == "k.tanaka" and stage2["sample"] == sample


def test_switching_state_carries_across_runs(tmp_path):
    """Two production runs of AU, each rejected by an inspector at stage 1: the second rejection within
    5 lots switches the stream to tightened, and the state is kept in the ledger across runs."""
    config = tmp_path / "inspection.toml"
    text = (ROOT / "inspection.toml").read_text(encoding="utf-8")
    config.write_text(text.replace('name = "composition"\naql = 0.065\nlevel = "II"\nmode = "auto"',
                                   'name = "composition"\naql = 0.065\nlevel = "II"\nmode = "manual"'),
                      encoding="utf-8")
    options = dict(input=SAMPLES, out=tmp_path, regions=("AU",), workers=1, inspection_file=config)
    for force in (False, True):
        waiting = build(BuildOptions(**options), force=force)
        assert waiting["state"] == "INSPECTING"
        piece = json.loads((Path(waiting["run_dir"]) / "inspection" / "stage1.json").read_text())["sample"][0]
        res = CliRunner().invoke(main, ["qa", "record", waiting["run_dir"], "--stage", "1", "--inspector", "qa1",
                                        "--defect", f"{piece}:wrong-amount:total one cent high"])
        assert res.exit_code == 0, res.output
    status = json.loads(CliRunner().invoke(main, ["qa", "status", "--out", str(tmp_path), "--json"]).output)
    au1 = next(s for s in status["switching"] if s["region"] == "AU" and s["stage"] == 1)
    assert au1["severity"] == "tightened" and len(au1["history"]) == 2
    assert "tightened" in au1["history"][-1]["reason"]


def _stage_rows(out: Path, run_id: str) -> list[dict]:
    ledger = Ledger(out)
    rows = ledger.stages(run_id)
    ledger.close()
    keep = ("stage", "lot", "lot_size", "plan", "seed", "sample", "defects", "decision", "inspector")
    return sorted(({k: r[k] for k in keep} for r in rows), key=lambda r: (r["stage"], r["lot"]))


def test_inspection_in_worker_processes_records_what_one_process_records(tmp_path):
    """Stages 1 and 2 run their jobs in worker processes when the line has workers: same samples, same
    defects in the same order, same decisions and the same halt as in one process."""
    summaries, rows = {}, {}
    for workers in (1, 2):
        out = tmp_path / f"workers-{workers}"
        summaries[workers] = build(BuildOptions(input=SAMPLES, out=out, regions=("AU", "NZ", "SG"), workers=workers,
                                                drill="barcode-too-thin"))
        rows[workers] = _stage_rows(out, summaries[workers]["run_id"])
    assert summaries[1]["state"] == summaries[2]["state"] == "HALTED"
    halts = {w: {k: v for k, v in s["halt"].items() if k not in ("action", "next")} for w, s in summaries.items()}
    assert halts[1] == halts[2] and halts[1]["step"] == "inspection-2"
    assert all(f"stmtprod qa correct {s['run_dir']} --stage 2 --lot AU" in s["halt"]["action"]
               for s in summaries.values())  # the next command names its own run
    assert rows[1] == rows[2]
    rejected = [r for r in rows[2] if r["decision"] == "rejected"]
    assert [(r["stage"], r["lot"]) for r in rejected] == [(2, "AU")] and len(rejected[0]["defects"]) > 1
