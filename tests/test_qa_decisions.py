"""Audit-grade QA decisions on real runs: one decision per lot and stage, recorded corrections
(re-render, 100% screening), atomic records with documented defect kinds, a lot's history in
`qa status`, `show` and the report, and drills kept out of production quality history."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from stmtprod.cli import main
from stmtprod.config import BuildOptions
from stmtprod.engine.ledger import Ledger
from stmtprod.lines import resume
from stmtprod.statements.line import build
from tests.conftest import ROOT, SAMPLES


def _manual(tmp_path: Path, stage_name: str) -> Path:
    text = (ROOT / "inspection.toml").read_text(encoding="utf-8")
    block = f'name = "{stage_name}"\naql = '
    start = text.index(block)
    end = text.index('mode = "auto"', start)
    config = tmp_path / "inspection.toml"
    config.write_text(text[:end] + 'mode = "manual"' + text[end + len('mode = "auto"'):], encoding="utf-8")
    return config


def _waiting(tmp_path: Path, regions=("SG",)) -> dict:
    """A real run of the sample extract waiting at a manual stage 2 (print)."""
    summary = build(BuildOptions(input=SAMPLES, out=tmp_path / "out", regions=regions, workers=1,
                                 inspection_file=_manual(tmp_path, "print")))
    assert summary["state"] == "INSPECTING" and summary["waiting"]["stage"] == 2
    return summary


def _qa(*args: str):
    return CliRunner().invoke(main, ["qa", *args])


def _sample(run: dict, lot: str = "SG") -> list[int]:
    return json.loads(_qa("draw", run["run_dir"], "--stage", "2", "--json").output)["lots"][lot]["sample"]


def _ledger(run: dict):
    ledger = Ledger(Path(run["run_dir"]).parent)
    try:
        return ledger.stages(run["run_id"]), ledger.all_switching(), ledger.lot_events(run["run_id"])
    finally:
        ledger.close()


def _decisions(run: dict) -> tuple[list[dict], list[dict]]:
    ledger = Ledger(Path(run["run_dir"]).parent)
    try:
        return ledger.stages(run["run_id"]), ledger.all_switching()
    finally:
        ledger.close()


def _stage2_lots(switching: list[dict], region: str = "SG") -> list[dict]:
    state = next((s for s in switching if s["region"] == region and s["stage"] == 2), {"history": []})
    return [e for e in state["history"] if e["event"] == "lot"]


def _reject(run: dict, piece: int, note: str = "bars 0.27 mm under the loupe"):
    return _qa("record", run["run_dir"], "--stage", "2", "--inspector", "k.tanaka",
               "--defect", f"{piece}:bar-width:{note}")


def test_a_rejected_lot_has_its_decision_and_goes_nowhere_without_a_correction(tmp_path):
    run = _waiting(tmp_path)
    piece = _sample(run)[0]
    first = _reject(run, piece)
    assert first.exit_code == 0, first.output

    # The same rejection again is refused, and counts once in the switching rules (no tightening).
    again = _reject(run, piece)
    assert again.exit_code == 2, again.output
    # A later --accept-clean is refused with a message, not a traceback, and stores nothing.
    clean = _qa("record", run["run_dir"], "--stage", "2", "--accept-clean", "--inspector", "someone")
    assert clean.exception is None or isinstance(clean.exception, SystemExit), clean.exception
    assert clean.exit_code == 2 and "qa correct" in clean.output
    assert "REJECTED" in first.output and "qa correct" in first.output and "now run" not in first.output
    assert "rejected by k.tanaka" in again.output and "qa correct" in again.output
    stages, switching, events = _ledger(run)
    stage2 = next(s for s in stages if s["stage"] == 2)
    assert stage2["decision"] == "rejected" and stage2["inspector"] == "k.tanaka"
    assert len(_stage2_lots(switching)) == 1 and switching[-1]["severity"] == "normal"
    assert [e["event"] for e in events if e["stage"] == 2] == ["drawn", "decided"]

    # Resuming does not release it: the halt says to record a correction, naming the command.
    halted = resume(run["run_id"], Path(run["run_dir"]).parent)
    assert halted["state"] == "HALTED" and not (Path(run["run_dir"]) / "release").exists()
    assert f"stmtprod qa correct {run['run_dir']} --stage 2 --lot SG" in halted["halt"]["action"]

    # The defect's note stays visible in qa status (text and JSON) and in show.
    status = _qa("status", "--out", str(Path(run["run_dir"]).parent))
    assert f"piece {piece} bar-width: bars 0.27 mm under the loupe" in status.output
    shown = CliRunner().invoke(main, ["show", run["run_id"], "--out", str(Path(run["run_dir"]).parent)])
    assert "bars 0.27 mm under the loupe" in shown.output and "rejected by k.tanaka" in shown.output

    # No decision is written beside a running build or resume of the folder.
    from stmtprod.engine.lock import OutputLock

    with OutputLock(Path(run["run_dir"]).parent):
        busy = _qa("correct", run["run_dir"], "--stage", "2", "--lot", "SG", "--action", "rerender",
                   "--inspector", "k.tanaka", "--reason", "head cleaned")
    assert busy.exit_code == 5 and "in use" in busy.output
    assert _decisions(run)[0] == stages


def test_a_rerendered_lot_is_inspected_again_on_a_new_sample_that_does_not_count(tmp_path):
    run = _waiting(tmp_path)
    out = Path(run["run_dir"]).parent
    first_sample = _sample(run)
    assert _reject(run, first_sample[0]).exit_code == 0
    refused = _qa("correct", run["run_dir"], "--stage", "2", "--lot", "SG", "--action", "rerender",
                  "--inspector", "k.tanaka", "--reason", "  ")
    assert refused.exit_code == 2 and "--reason" in refused.output
    assert _qa("correct", run["run_dir"], "--stage", "2", "--lot", "SG", "--action", "rerender", "--remove", "1",
               "--inspector", "k.tanaka", "--reason", "x").exit_code == 2
    res = _qa("correct", run["run_dir"], "--stage", "2", "--lot", "SG", "--action", "rerender",
              "--inspector", "k.tanaka", "--reason", "print head cleaned and realigned")
    assert res.exit_code == 0, res.output
    assert f"stmtprod resume {run['run_id']} --out {out}" in res.output
    before = _ledger(run)[0]

    waiting = resume(run["run_id"], out)
    assert waiting["state"] == "INSPECTING" and waiting["waiting"]["stage"] == 2
    redrawn = json.loads(_qa("draw", run["run_dir"], "--stage", "2", "--json").output)["lots"]["SG"]
    assert redrawn["recorded"] and redrawn["decision"] is None
    assert redrawn["seed"] != next(s for s in before if s["stage"] == 2)["seed"]  # a new sample, drawn afresh
    import hashlib  # the recipe of stmtprod/sampling/draw.py, by hand: the lot's second inspection is "SG#2"

    digest = hashlib.sha256(f"{run['run_id']}\n2\nSG#2".encode()).digest()
    assert redrawn["seed"] == str(int.from_bytes(digest[:8], "big"))
    recorded = _qa("record", run["run_dir"], "--stage", "2", "--accept-clean", "--inspector", "k.tanaka", "--json")
    assert recorded.exit_code == 0, recorded.output
    result = json.loads(recorded.output)["results"][0]
    assert result["decision"] == "accepted" and result["original"] is False
    done = resume(run["run_id"], out)
    assert done["state"] == "RELEASED"

    stages, switching, events = _ledger(run)
    # Z1.4: only the original inspection counts; the re-inspection (and stage 1's) left the state alone.
    assert [e["accepted"] for e in _stage2_lots(switching)] == [False]
    stage1 = next(s for s in switching if s["region"] == "SG" and s["stage"] == 1)
    assert len([e for e in stage1["history"] if e["event"] == "lot"]) == 1
    corrected = [e for e in events if e["event"] == "corrected"]
    assert corrected[0]["who"] == "k.tanaka" and corrected[0]["reason"] == "print head cleaned and realigned"
    report = json.loads((Path(run["run_dir"]) / "report.json").read_text(encoding="utf-8"))
    assert [e["event"] for e in report["lot_history"] if e["stage"] == 2] == ["drawn", "decided", "corrected",
                                                                                 "drawn", "decided"]
    text = "".join(p.extract_text() for p in PdfReader(Path(run["run_dir"]) / "report.pdf").pages)
    assert "print head cleaned and realigned" in " ".join(text.split())


def test_a_screened_lot_goes_on_with_its_defective_pieces_pulled_and_accounted_for(tmp_path):
    run = _waiting(tmp_path)
    out = Path(run["run_dir"]).parent
    sample = _sample(run)
    assert _reject(run, sample[0]).exit_code == 0

    def correct(*extra: str):
        return _qa("correct", run["run_dir"], "--stage", "2", "--lot", "SG", "--action", "screen",
                   "--inspector", "a.lim", "--reason", "whole lot screened at the loupe", *extra)

    assert correct().exit_code == 2  # which pieces were removed?
    missing = correct("--remove", str(sample[1]))
    assert missing.exit_code == 2 and f"defective pieces {sample[0]}" in missing.output
    assert correct("--remove", f"{sample[0]},99999").exit_code == 2
    assert _ledger(run)[2][-1]["event"] == "decided"  # the refusals recorded nothing
    removed = sorted({sample[0], sample[1]})
    res = correct("--remove", ",".join(map(str, removed)))
    assert res.exit_code == 0, res.output
    assert correct("--remove", ",".join(map(str, removed))).exit_code == 2  # one correction per rejection

    done = resume(run["run_id"], out)
    assert done["state"] == "RELEASED" and done["reconciled"]
    counts = done["counts"]
    assert counts["pulled"] == 2 and counts["produced"] == 26
    assert counts["input"] == counts["produced"] + counts["quarantined"] + counts["suppressed"]
    rows = [json.loads(line) for line in (Path(run["run_dir"]) / "release" / "pulled.jsonl").read_text().splitlines()]
    assert [r["sequence"] for r in rows] == removed
    assert {(r["stage"], r["lot"], r["inspector"], r["reason"]) for r in rows} == {
        (2, "SG", "a.lim", "whole lot screened at the loupe")}
    stages, switching, _events = _ledger(run)
    by_stage = {s["stage"]: s for s in stages}
    assert by_stage[2]["decision"] == "screened"
    assert by_stage[3]["lot_size"] == by_stage[4]["lot_size"] == 24  # the pulled pieces left the lot
    assert not set(removed) & set(by_stage[3]["sample"])
    mailed = [json.loads(line)["sequence"] for line in
              (Path(run["run_dir"]) / "release" / "mailing" / "SG.jsonl").read_text().splitlines()]
    assert len(mailed) == 24 and not set(removed) & set(mailed)  # pulled pieces are not mailed
    assert len(_stage2_lots(switching)) == 1
    report = json.loads((Path(run["run_dir"]) / "report.json").read_text(encoding="utf-8"))
    assert [p["sequence"] for p in report["pulled"]] == removed


def test_a_pulled_piece_left_off_or_added_to_the_released_pulled_list_stops_the_inserter_loop(tmp_path):
    """`release/pulled.jsonl` tells the inserter which pieces to divert. Emptied after release (and the
    control file regenerated from it), a piece pulled at inspection would be inserted and mailed, the
    ledger's decision ignored: the inserter loop compares it with the ledger and stops, exit 7, naming
    the pieces, until the file is restored."""
    run = _waiting(tmp_path)
    out, run_dir = Path(run["run_dir"]).parent, Path(run["run_dir"])
    sample = _sample(run)
    assert _reject(run, sample[0]).exit_code == 0
    assert _qa("correct", run["run_dir"], "--stage", "2", "--lot", "SG", "--action", "screen", "--inspector", "a.lim",
               "--reason", "screened", "--remove", str(sample[0])).exit_code == 0
    assert resume(run["run_id"], out)["state"] == "RELEASED"
    pulled = run_dir / "release" / "pulled.jsonl"
    kept = pulled.read_bytes()
    other = next(n for n in range(1, 30) if n != sample[0])
    for tampered in (b"", kept + json.dumps({"sequence": other}).encode() + b"\n"):
        pulled.write_bytes(tampered)
        for command in (["inserter", "control", str(run_dir)], ["insert-sim", str(run_dir), "--lot", "SG", "--out", str(tmp_path / "results.csv")],
                        ["reconcile", str(run_dir)]):
            res = CliRunner().invoke(main, command)
            assert res.exit_code == 7, (command, res.output)
            assert "does not list the pieces the ledger records as pulled" in res.output
            assert (f"not listed: {sample[0]}" if not tampered else f"listed but not pulled: {other}") in res.output
    pulled.write_bytes(kept)
    assert CliRunner().invoke(main, ["inserter", "control", str(run_dir)]).exit_code == 0


def test_a_record_is_all_or_nothing_with_kinds_from_the_stage_list_and_a_note_each(tmp_path):
    run = _waiting(tmp_path, regions=("SG", "NZ"))
    sg, nz = _sample(run, "SG"), _sample(run, "NZ")
    before = _decisions(run)
    attempts = {
        "unknown kind": ["--defect", f"{sg[0]}:bar-width:thin", "--defect", f"{nz[0]}:smudge:ink"],
        "no note": ["--defect", f"{sg[0]}:bar-width:thin", "--defect", f"{nz[0]}:print-quality:"],
        "stage 1 kind at stage 2": ["--defect", f"{sg[0]}:wrong-amount:total off", "--accept-clean"],
        "piece not sampled": ["--defect", f"{sg[0]}:bar-width:thin", "--defect", "99999:bar-width:thin"],
        "one lot without findings": ["--defect", f"{sg[0]}:bar-width:thin"],
    }
    for what, args in attempts.items():
        res = _qa("record", run["run_dir"], "--stage", "2", "--inspector", "k.tanaka", *args)
        assert res.exit_code == 2, (what, res.output)
        assert "Traceback" not in res.output
        assert _decisions(run) == before, what  # nothing written: every lot still waits
    assert "print-quality" in _qa("record", run["run_dir"], "--stage", "2", "--inspector", "x", "--defect",
                                  f"{nz[0]}:smudge:ink").output  # the refusal lists the stage's kinds
    ok = _qa("record", run["run_dir"], "--stage", "2", "--inspector", "k.tanaka", "--json",
             "--defect", f"{sg[0]}:print-quality:toner streak down the page", "--accept-clean")
    assert ok.exit_code == 0, ok.output
    decided = {r["lot"]: r["decision"] for r in json.loads(ok.output)["results"]}
    assert decided == {"SG": "rejected", "NZ": "accepted"}


def test_drill_runs_stay_out_of_production_quality_history(tmp_path):
    out = tmp_path / "out"
    drill = build(BuildOptions(input=SAMPLES, out=out, regions=("AU",), workers=1, drill="amount-misprinted"))
    assert drill["state"] == "HALTED" and drill["drill"] == "amount-misprinted"
    run_dir = Path(drill["run_dir"])
    assert json.loads((run_dir / "run.json").read_text())["drill"] == "amount-misprinted"
    assert json.loads((run_dir / "summary.json").read_text())["drill"] == "amount-misprinted"
    assert json.loads((run_dir / "halt.json").read_text())["drill"] == "amount-misprinted"
    assert (run_dir / "halt.txt").read_text().startswith("DRILL RUN (amount-misprinted)")
    assert json.loads((run_dir / "report.json").read_text())["drill"] == "amount-misprinted"
    assert "DRILL RUN" in PdfReader(run_dir / "report.pdf").pages[0].extract_text()

    listed = CliRunner().invoke(main, ["runs", "--out", str(out)]).output
    assert f"{drill['run_id']}  HALTED" in listed and "DRILL amount-misprinted" in listed
    status = json.loads(_qa("status", "--out", str(out), "--json").output)
    assert status["switching"] == [] and status["lots"] == []  # not in the switching rules, not a real decision
    assert {(s["stage"], s["decision"]) for s in status["drill_lots"]} == {(1, "rejected")}
    text = _qa("status", "--out", str(out)).output
    assert "drill lots (training runs" in text and "DRILL amount-misprinted" in text

    # The production run of the same cycle is not blocked by the drill, and starts its own history.
    real = build(BuildOptions(input=SAMPLES, out=out, regions=("AU",), workers=1))
    assert real["state"] == "RELEASED" and real["run_id"] != drill["run_id"] and real["drill"] is None
    status = json.loads(_qa("status", "--out", str(out), "--json").output)
    assert {s["stage"]: len(s["history"]) for s in status["switching"]} == {1: 1, 2: 1, 3: 1, 4: 1}
    assert all(s["history"][0]["accepted"] for s in status["switching"])


def test_the_readme_lists_the_defect_kinds_the_code_accepts():
    from stmtprod.inspect.defects import CARD_KINDS, STATEMENT_KINDS

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("### Defect kinds"):]
    rows = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 2 and cells[0][-1:].isalpha() and cells[0][0].isdigit() or cells[0].startswith("cards "):
            rows[cells[0]] = cells[1].split(", ")
    expected = {f"{k} {name}": list(kinds) for k, name, kinds in
                [(1, "composition", STATEMENT_KINDS[1]), (2, "print", STATEMENT_KINDS[2]),
                 (3, "insertion", STATEMENT_KINDS[3]), (4, "dispatch", STATEMENT_KINDS[4]),
                 ("cards 1", "composition", CARD_KINDS[1]), ("cards 2", "print", CARD_KINDS[2]),
                 ("cards 3", "match", CARD_KINDS[3])]}
    assert rows == expected


def test_an_automatic_rejection_stands_until_corrected_then_the_rerendered_lot_is_released(tmp_path):
    """An automatic stage's rejection (the barcode-too-thin drill: AU's bars printed at 0.27 mm) stands:
    resuming without a correction halts on the same decision, naming `qa correct`; after
    `qa correct --action rerender` the lot is rendered again (without the drill's fault), inspected
    again at every stage, and released; the drill's lots stay out of the switching rules."""
    out = tmp_path / "out"
    halted = build(BuildOptions(input=SAMPLES, out=out, regions=("AU",), workers=1, drill="barcode-too-thin"))
    assert halted["state"] == "HALTED" and halted["halt"]["step"] == "inspection-2"
    command = f"stmtprod qa correct {halted['run_dir']} --stage 2 --lot AU --action rerender"
    assert command in halted["halt"]["action"]
    again = resume(halted["run_id"], out)
    assert again["state"] == "HALTED" and again["halt"]["reason"] == halted["halt"]["reason"]
    assert command in again["halt"]["action"]
    run = {"run_dir": halted["run_dir"], "run_id": halted["run_id"]}
    assert [e["decision"] for e in _ledger(run)[2] if e["stage"] == 2] == ["rejected"]  # not inspected again

    res = _qa("correct", halted["run_dir"], "--stage", "2", "--lot", "AU", "--action", "rerender",
              "--inspector", "ops.lead", "--reason", "printer bar width recalibrated")
    assert res.exit_code == 0, res.output
    done = resume(halted["run_id"], out)
    assert done["state"] == "RELEASED" and done["drill"] == "barcode-too-thin", done.get("halt")
    stages, switching, events = _ledger(run)
    assert [(e["event"], e["decision"]) for e in events if e["stage"] == 2] == [
        ("decided", "rejected"), ("corrected", "rerender"), ("decided", "accepted")]
    assert all(not s["original"] for s in stages) and switching == []


def test_a_card_lot_is_corrected_by_the_same_commands(tmp_path):
    """The card line's rejected lot (CARDS-<region>) is screened with the same command; the pulled
    carriers are in its release and summary."""
    from stmtprod.cards.line import resume_cards, run_cards
    from tests.test_cards import DATE, subset

    config = _manual(tmp_path, "composition")
    orders, log = subset(tmp_path, "MY")
    waiting = run_cards(orders, log, tmp_path / "out", key=None, demo=True, production_date=DATE,
                        inspection_file=config)
    assert waiting["state"] == "INSPECTING" and waiting["waiting"]["lots"] == ["CARDS-MY"]
    sample = json.loads((Path(waiting["run_dir"]) / "inspection" / "stage1.json").read_text())["sample"]
    wrong = _qa("record", waiting["run_dir"], "--stage", "1", "--inspector", "amy",
                "--defect", f"{sample[0]}:wrong-amount:no amounts on a carrier")
    assert wrong.exit_code == 2 and "greeting" in wrong.output  # the card line's own kinds
    res = _qa("record", waiting["run_dir"], "--stage", "1", "--inspector", "amy",
              "--defect", f"{sample[0]}:greeting:greeting misspelt")
    assert res.exit_code == 0 and "REJECTED" in res.output
    res = _qa("correct", waiting["run_dir"], "--stage", "1", "--lot", "CARDS-MY", "--action", "screen",
              "--remove", str(sample[0]), "--inspector", "amy", "--reason", "every carrier read; one misspelt")
    assert res.exit_code == 0, res.output
    done = resume_cards(waiting["run_id"], tmp_path / "out")
    assert done["state"] == "RELEASED", done.get("halt")
    assert done["counts"]["pulled"] == 1 and done["pulled"][0]["sequence"] == sample[0]
    assert (Path(done["run_dir"]) / "release" / "pulled.jsonl").exists()
    journaled = [(e["event"], e.get("lot"), e.get("decision")) for e in _journal(done)]
    assert journaled[0][0] == "opened" and ("corrected", "CARDS-MY", "screened") in journaled


def test_a_card_lot_is_rendered_again_by_the_same_commands(tmp_path):
    """A rejected card lot corrected with `--action rerender`: resume renders the lot's carriers again,
    draws a new sample that waits for the inspector, and once accepted the run releases every carrier
    (nothing pulled), with the same carrier files as a run that was never rejected."""
    from stmtprod.cards.line import resume_cards, run_cards
    from tests.test_cards import DATE, subset

    config = _manual(tmp_path, "composition")
    orders, log = subset(tmp_path, "MY")
    waiting = run_cards(orders, log, tmp_path / "out", key=None, demo=True, production_date=DATE,
                        inspection_file=config)
    run_dir = Path(waiting["run_dir"])
    first = json.loads(_qa("draw", waiting["run_dir"], "--stage", "1", "--json").output)["lots"]["CARDS-MY"]
    res = _qa("record", waiting["run_dir"], "--stage", "1", "--inspector", "amy",
              "--defect", f"{first['sample'][0]}:greeting:greeting smudged")
    assert res.exit_code == 0 and "REJECTED" in res.output
    res = _qa("correct", waiting["run_dir"], "--stage", "1", "--lot", "CARDS-MY", "--action", "rerender",
              "--inspector", "amy", "--reason", "ribbon changed")
    assert res.exit_code == 0, res.output
    staged = {p.name: p.read_bytes() for p in (run_dir / "staging" / "print").glob("*.pdf")}
    events = []
    again = resume_cards(waiting["run_id"], tmp_path / "out", events=lambda e, **d: events.append((e, d)))
    assert again["state"] == "INSPECTING" and again["waiting"]["lots"] == ["CARDS-MY"]
    assert [d for e, d in events if e == "render"][0]["batches"] == len(staged) > 0
    second = json.loads(_qa("draw", waiting["run_dir"], "--stage", "1", "--json").output)["lots"]["CARDS-MY"]
    assert second["seed"] != first["seed"] and second["decision"] is None
    res = _qa("record", waiting["run_dir"], "--stage", "1", "--accept-clean", "--inspector", "amy")
    assert res.exit_code == 0, res.output
    done = resume_cards(waiting["run_id"], tmp_path / "out")
    assert done["state"] == "RELEASED", done.get("halt")
    assert not done["counts"].get("pulled")
    assert {p.name: p.read_bytes() for p in (run_dir / "release" / "print").glob("*.pdf")} == staged


def test_a_sample_drawn_before_the_stream_tightened_is_drawn_again_not_recorded_on_the_old_plan(tmp_path):
    """Three production runs of SG wait at manual stage 2, all drawn on normal inspection. Two
    rejections tighten the stream; the third run's sample, drawn on normal, is refused with a message
    (no traceback, nothing stored), and `resume` draws it again on tightened."""
    config = _manual(tmp_path, "print")
    runs = [build(BuildOptions(input=SAMPLES, out=tmp_path / "out", regions=("SG",), workers=1,
                               inspection_file=config), force=i > 0) for i in range(3)]
    assert [r["state"] for r in runs] == ["INSPECTING"] * 3
    for run in runs[:2]:
        assert _reject(run, _sample(run)[0]).exit_code == 0
    assert _decisions(runs[2])[1][-1]["severity"] == "tightened"
    before = _decisions(runs[2])
    stale = _qa("record", runs[2]["run_dir"], "--stage", "2", "--accept-clean", "--inspector", "k.tanaka")
    assert stale.exit_code == 2 and "moved from normal to tightened" in stale.output, stale.output
    assert _decisions(runs[2]) == before
    again = resume(runs[2]["run_id"], tmp_path / "out")
    assert again["state"] == "INSPECTING"
    lot = json.loads(_qa("draw", runs[2]["run_dir"], "--stage", "2", "--json").output)["lots"]["SG"]
    assert lot["plan"]["severity"] == "tightened" and lot["decision"] is None
    done = _qa("record", runs[2]["run_dir"], "--stage", "2", "--accept-clean", "--inspector", "k.tanaka", "--json")
    assert done.exit_code == 0 and json.loads(done.output)["results"][0]["severity_next"] == "tightened"


def test_rejections_on_tightened_discontinue_inspection_until_an_operator_restores_it(tmp_path):
    """Z1.4 on real runs: 2 rejections on normal tighten, 5 on tightened discontinue; the next run halts
    until `qa restore` records the corrective action (a blank reason is refused), then it resumes on
    tightened inspection."""
    config, out = _manual(tmp_path, "print"), tmp_path / "out"
    runs = [build(BuildOptions(input=SAMPLES, out=out, regions=("SG",), workers=1, inspection_file=config),
                  force=i > 0) for i in range(8)]
    assert all(run["state"] == "INSPECTING" for run in runs)
    for i, run in enumerate(runs[:7]):
        if i >= 2:  # the stream is on tightened now: samples drawn on normal are drawn again by resume
            assert resume(run["run_id"], out)["state"] == "INSPECTING"
        if i == 2:
            assert resume(runs[7]["run_id"], out)["state"] == "INSPECTING"
        assert _reject(run, _sample(run)[0]).exit_code == 0
    state = _decisions(run)[1][-1]
    assert state["severity"] == "discontinued" and len(_stage2_lots([state])) == 7
    late = _qa("record", runs[7]["run_dir"], "--stage", "2", "--accept-clean", "--inspector", "k.tanaka")
    assert late.exit_code == 2 and "qa restore" in late.output, late.output
    halted = build(BuildOptions(input=SAMPLES, out=out, regions=("SG",), workers=1, inspection_file=config),
                   force=True)
    assert halted["state"] == "HALTED" and halted["halt"]["found"] == "discontinued"
    blank = _qa("restore", "--out", str(out), "--region", "SG", "--stage", "2", "--reason", " ")
    assert blank.exit_code == 2 and "--reason" in blank.output
    res = _qa("restore", "--out", str(out), "--region", "SG", "--stage", "2", "--reason", "print heads replaced",
              "--operator", "ops.lead")
    assert res.exit_code == 0, res.output
    waiting = resume(halted["run_id"], out)
    assert waiting["state"] == "INSPECTING"
    lot = json.loads(_qa("draw", halted["run_dir"], "--stage", "2", "--json").output)["lots"]["SG"]
    assert lot["plan"]["severity"] == "tightened"
    late = _qa("record", runs[7]["run_dir"], "--stage", "2", "--accept-clean", "--inspector", "k.tanaka", "--json")
    assert late.exit_code == 0 and json.loads(late.output)["results"][0]["original"] is True


def test_a_ledger_from_before_the_history_keeps_its_decisions_as_original_history(tmp_path):
    """Schema migration 2 on a version-1 ledger: existing decisions become `decided` events (original,
    so a later re-inspection does not count again) and drawn samples `drawn` events."""
    import sqlite3

    from stmtprod.engine.ledger import MIGRATIONS

    db = sqlite3.connect(tmp_path / "ledger.sqlite", isolation_level=None)
    db.executescript(MIGRATIONS[0] + "; PRAGMA user_version = 1;")
    db.execute("INSERT INTO runs VALUES ('R1','R1','HALTED','in','sha','l','c','{}',NULL,NULL,'t0','t0')")
    plan = json.dumps({"severity": "normal"})
    db.execute("INSERT INTO stage_decisions VALUES ('R1',1,'AU',10,?,'7','[1,2]',?,'rejected','amy','t1')",
               (plan, json.dumps([{"piece": 2, "kind": "wrong-amount", "evidence": "total off by 1"}])))
    db.execute("INSERT INTO stage_decisions VALUES ('R1',2,'AU',10,?,'8','[3]',NULL,NULL,NULL,'t2')", (plan,))
    db.close()
    ledger = Ledger(tmp_path)
    try:
        events = ledger.lot_events("R1")
        stages = {s["stage"]: s for s in ledger.stages("R1")}
    finally:
        ledger.close()
    assert [(e["stage"], e["event"], e["decision"], e["who"]) for e in events] == [
        (1, "decided", "rejected", "amy"), (2, "drawn", None, None)]
    assert events[0]["defects"][0]["evidence"] == "total off by 1" and events[0]["original"] is True
    assert stages[1]["original"] == 1 and stages[2]["original"] is None


@pytest.mark.parametrize("text", ["bob\nADMIN approved", "bob\rx", "bob\u2028ADMIN", "bob\u2029x", "bob\x1b[2K",
                                  "bob\tx", "bob\u202eevil", "b\u200bob", "ann\u200f (approved)", "ann\u061c",
                                  "b\u00adob", "\ufeffbob", "b\u2060ob", "bob\u1680x", "bob\u180ex"])
def test_typed_names_reasons_and_notes_are_one_printable_line(tmp_path, text):
    """An inspector's name, a reason, a note or an operator typed with a line break or a control character
    could print as a forged line of its own in `qa status`, `show` and the report: each is refused
    (exit 2), naming the option and the character, and nothing is written."""
    from stmtprod.cli.typed import unprintable

    assert unprintable(text) and unprintable("Bøb O'Neil-Tanaka 田中") is None
    run_dir = tmp_path / "RUN"
    run_dir.mkdir()
    refused = CliRunner().invoke(main, ["reconcile", str(run_dir), "--piece", "1", "--action", "pull",
                                        "--reason", "jammed", "--operator", text])
    assert refused.exit_code == 2 and "--operator" in refused.output and "U+" in refused.output, refused.output
    refused = _qa("restore", "--out", str(tmp_path), "--region", "SG", "--stage", "2", "--reason", text)
    assert refused.exit_code == 2 and "--reason" in refused.output, refused.output


def test_a_typed_value_is_a_name_or_a_reason_not_a_document(tmp_path):
    """A 100,000-character inspector name grew the journal to 705 KB and `qa status` to 1.4 MB: a typed
    value is refused beyond `MAX_TYPED` characters, saying so."""
    from stmtprod.cli.typed import MAX_TYPED

    run_dir = tmp_path / "RUN"
    run_dir.mkdir()
    for size, code in ((MAX_TYPED + 1, 2), (100_000, 2)):
        refused = CliRunner().invoke(main, ["reconcile", str(run_dir), "--piece", "1", "--action", "pull",
                                            "--reason", "r" * size, "--operator", "kim"])
        assert refused.exit_code == code and f"at most {MAX_TYPED}" in refused.output, refused.output


def test_an_inspector_name_or_note_with_a_line_break_writes_nothing(tmp_path):
    run = _waiting(tmp_path)
    piece = _sample(run)[0]
    before = _decisions(run)
    for args in (["--inspector", "bob\nADMIN approved", "--accept-clean"],
                 ["--inspector", "bob", "--defect", f"{piece}:print-quality:smudge\n2026 ADMIN approved"],
                 ["--inspector", "bob", "--defect", f"{piece}:print-quality\u2028x:smudge"]):
        refused = _qa("record", run["run_dir"], "--stage", "2", *args)
        assert refused.exit_code == 2 and "U+" in refused.output and "Traceback" not in refused.output, refused.output
        assert _decisions(run) == before
    assert _reject(run, piece).exit_code == 0
    refused = _qa("correct", run["run_dir"], "--stage", "2", "--lot", "SG", "--action", "rerender",
                  "--inspector", "k.tanaka", "--reason", "cleaned\nADMIN approved")
    assert refused.exit_code == 2 and "--reason" in refused.output, refused.output


def test_a_refusal_shows_when_the_lot_was_decided(tmp_path):
    """Card-number masking eats any run of 12 or more digits: the decision's time is shown to the second,
    with the T and Z of ISO 8601 breaking the run, so the refusal still says when."""
    import re

    run = _waiting(tmp_path)
    assert _reject(run, _sample(run)[0]).exit_code == 0
    clean = _qa("record", run["run_dir"], "--stage", "2", "--accept-clean", "--inspector", "someone")
    assert clean.exit_code == 2 and "[digits removed]" not in clean.output, clean.output
    at = next(s for s in _decisions(run)[0] if s["stage"] == 2)["at"]
    assert re.search(r"rejected by k\.tanaka at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", " ".join(clean.output.split()))
    assert at[:19] in clean.output


def _tamper(run: dict, sql: str) -> None:
    import sqlite3

    db = sqlite3.connect(Path(run["run_dir"]).parent / "ledger.sqlite", isolation_level=None)
    try:
        db.execute(sql)
    finally:
        db.close()


def _journal(run: dict) -> list[dict]:
    lines = (Path(run["run_dir"]) / "qa-journal.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_a_decision_changed_in_the_ledger_stops_every_command_that_would_trust_it(tmp_path):
    """B1: a rejection turned into an acceptance with sqlite3. The run's QA journal still holds the
    rejection, so resume, verify, show, qa status and qa record refuse (exit 7) naming the run, stage
    and lot and what differs, and nothing is released."""
    from stmtprod.errors import EnvironmentFault

    run = _waiting(tmp_path)
    out = Path(run["run_dir"]).parent
    assert _reject(run, _sample(run)[0]).exit_code == 0
    entries = _journal(run)
    assert [(e["event"], e.get("stage"), e.get("decision")) for e in entries] == [
        ("opened", None, None), ("decided", 1, "accepted"), ("decided", 2, "rejected")]
    assert [e["journal"] for e in _ledger(run)[2] if e["event"] == "decided"] == [e["hash"] for e in entries[1:]]
    _tamper(run, "update stage_decisions set decision = 'accepted', defects = '[]' where stage = 2 and lot = 'SG'")

    with pytest.raises(EnvironmentFault) as stopped:
        resume(run["run_id"], out)
    message = str(stopped.value)
    assert f"run {run['run_id']} stage 2 lot SG" in message and "rejected" in message and "accepted" in message
    assert "restore the ledger" in message and "qa-journal.jsonl" in message
    assert not (Path(run["run_dir"]) / "release").exists()
    for args in (["show", run["run_id"], "--out", str(out)], ["verify", run["run_dir"]],
                 ["qa", "status", "--out", str(out)],
                 ["qa", "record", run["run_dir"], "--stage", "2", "--inspector", "x", "--accept-clean"]):
        res = CliRunner().invoke(main, args)
        assert res.exit_code == 7 and "stage 2 lot SG" in res.output, (args, res.output)


def test_a_ledger_restored_from_before_a_decision_is_refused_until_one_of_them_is_restored(tmp_path):
    """B2: the ledger copied before stage 2's rejection and put back after it. The journal holds a
    decision the ledger lacks: `qa record` cannot record the lot again (the switching state would never
    count the rejection) and resume refuses; with the ledger as it was after the decision, it all agrees."""
    import shutil

    run = _waiting(tmp_path)
    out = Path(run["run_dir"]).parent
    ledger_file = out / "ledger.sqlite"
    snapshot = tmp_path / "snap.sqlite"
    _tamper(run, f"vacuum into '{snapshot}'")
    assert _reject(run, _sample(run)[0]).exit_code == 0
    _tamper(run, f"vacuum into '{tmp_path / 'after.sqlite'}'")
    for suffix in ("-wal", "-shm"):
        Path(f"{ledger_file}{suffix}").unlink(missing_ok=True)
    shutil.copy(snapshot, ledger_file)

    clean = _qa("record", run["run_dir"], "--stage", "2", "--inspector", "alice", "--accept-clean")
    assert clean.exit_code == 7 and "journal entry 3" in clean.output and "not in the ledger" in clean.output, \
        clean.output
    assert "Traceback" not in clean.output
    res = CliRunner().invoke(main, ["resume", run["run_id"], "--out", str(out)])
    assert res.exit_code == 7 and "stage 2 lot SG" in res.output, res.output
    assert [e["event"] for e in _ledger(run)[2] if e["stage"] == 2] == ["drawn"]  # nothing recorded over it

    shutil.copy(tmp_path / "after.sqlite", ledger_file)
    halted = resume(run["run_id"], out)
    assert halted["state"] == "HALTED" and "qa correct" in halted["halt"]["action"]


def test_an_edited_journal_or_an_invented_decision_is_found(tmp_path):
    """The journal's entries are chained by their hashes: an entry edited (even with its own hash made
    again) breaks the chain; a decision added to the ledger alone has no entry."""
    run = _waiting(tmp_path)
    out = Path(run["run_dir"]).parent
    path = Path(run["run_dir"]) / "qa-journal.jsonl"
    held = path.read_bytes()
    path.write_bytes(held.replace(b'"who":"automatic"', b'"who":"alice"'))
    res = _qa("record", run["run_dir"], "--stage", "2", "--inspector", "x", "--accept-clean")
    assert res.exit_code == 7 and "entry 2 of the QA journal was altered" in res.output, res.output
    path.write_bytes(held)

    _tamper(run, f"insert into lot_events (run_id, stage, lot, event, decision, who, reason, details, at) values "
                 f"('{run['run_id']}', 2, 'SG', 'decided', 'accepted', 'bob', null, '{{\"defects\": []}}', "
                 f"'2999-01-01T00:00:00.000+00:00')")
    res = CliRunner().invoke(main, ["show", run["run_id"], "--out", str(out)])
    assert res.exit_code == 7 and "the ledger has a decision the journal does not" in res.output, res.output
    assert "decided accepted by bob" in res.output


def test_a_decision_is_recorded_in_both_or_in_neither(tmp_path, monkeypatch):
    """The journal is written inside the ledger's transaction: when it cannot be written, the ledger
    keeps nothing of the decision."""
    from stmtprod.engine import journal

    run = _waiting(tmp_path)
    before = _decisions(run)

    def full(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(journal, "append", full)
    res = _qa("record", run["run_dir"], "--stage", "2", "--inspector", "k.tanaka", "--accept-clean")
    assert res.exit_code == 7, res.output
    assert _decisions(run) == before and len(_journal(run)) == 2


def test_verify_says_when_the_run_it_verified_is_not_released(tmp_path):
    """B6: a run waiting or halted verifies clean sheet by sheet, but nothing of it may be printed: the
    output says its state."""
    run = _waiting(tmp_path)
    res = CliRunner().invoke(main, ["verify", run["run_dir"], "--workers", "1", "--json"])
    assert res.exit_code == 0, res.output
    assert "the run is INSPECTING, not released" in res.output
    assert json.loads(res.output.splitlines()[-1])["state"] == "INSPECTING"
