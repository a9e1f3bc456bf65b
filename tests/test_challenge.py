"""Challenge pieces (issue 16): known-bad pieces planted in every run prove the 100% checks every night.

Real builds of the bundled samples: one with a challenge piece of every class, one with challenges
switched off (the same real pieces), and builds whose checker is blinded, which must halt.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from click.testing import CliRunner

from stmtprod import verify
from stmtprod.challenges.faults import CLASSES
from stmtprod.challenges.pieces import LABEL
from stmtprod.cli import main
from stmtprod.config import BuildOptions
from stmtprod.engine.ledger import Ledger
from stmtprod.errors import ConfigError, Halt
from stmtprod.layout import load_layouts
from stmtprod.lines import verify_run
from stmtprod.statements.line import build
from tests.conftest import ROOT, SAMPLES, challenge_config

REGIONS = ("AU", "JP", "SG")
PER_LOT = -(-len(CLASSES) // len(REGIONS))  # enough pieces for one of every class


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def _rows(folder: Path) -> dict[int, dict]:
    return {r["sequence"]: r for p in sorted(folder.glob("*.jsonl")) for r in _jsonl(p)}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[dict, dict]:
    """(a run with one challenge piece of every class, the same cycle with challenges switched off)."""
    base = tmp_path_factory.mktemp("challenge")
    every = challenge_config(tmp_path_factory.mktemp("every"), per_lot=PER_LOT, classes=list(CLASSES))
    off = challenge_config(tmp_path_factory.mktemp("off"))
    challenged = build(BuildOptions(input=SAMPLES, out=base / "out-every", regions=REGIONS, workers=2,
                                    inspection_file=every))
    plain = build(BuildOptions(input=SAMPLES, out=base / "out-off", regions=REGIONS, workers=2, inspection_file=off))
    assert challenged["state"] == plain["state"] == "RELEASED", challenged.get("halt")
    return challenged, plain


def test_every_class_is_planted_and_caught_by_the_check_meant_for_it(runs):
    challenged, _ = runs
    entry = challenged["challenges"]
    assert entry["pieces"] == entry["caught"] == PER_LOT * len(REGIONS) >= len(CLASSES)
    assert {r["class"] for r in entry["list"]} == set(CLASSES)
    for row in entry["list"]:
        assert row["outcome"] == "caught" and row["caught_by"] in CLASSES[row["class"]].caught_by, row
        assert row["reason"]
    release = Path(challenged["run_dir"]) / "release"
    assert _jsonl(release / "challenge" / "challenges.jsonl") == entry["list"]
    # Each piece says what it is and goes to the issuer itself: its window shows the return address.
    layouts = load_layouts(ROOT / "layouts")
    for seq, row in _rows(release / "challenge" / "manifest").items():
        assert row["planned_divert"] == f"challenge:{next(r['class'] for r in entry['list'] if r['sequence'] == seq)}"
        assert row["name"].removesuffix(" 様") == layouts[row["region"]].return_address[0]
        doc = pdfium.PdfDocument(str(release / "challenge" / "print" / row["file"]))
        try:
            text = "".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
        finally:
            doc.close()
        assert LABEL in text and layouts[row["region"]].return_address[0] in text


def test_challenge_pieces_are_set_aside_never_mailed_nor_sampled(runs):
    challenged, _ = runs
    run_dir = Path(challenged["run_dir"])
    release = run_dir / "release"
    real = _rows(release / "manifest")
    planted = _rows(release / "challenge" / "manifest")
    assert planted and min(planted) == max(real) + 1 and sorted(planted) == list(range(max(real) + 1, max(planted) + 1))
    assert {r["lot"] for r in planted.values()} == set(REGIONS)
    assert not set(planted) & set(_rows(release / "envelopes")) and not set(planted) & set(_rows(release / "mailing"))
    assert set(_rows(release / "mailing")) == set(real)
    # The inserter control file lists them in their lot as planned diverts; no real piece is diverted.
    for lot in REGIONS:
        for row in csv.DictReader((release / "inserter" / f"{lot}.generic-csv.csv").read_text("utf-8").splitlines()):
            seq = int(row["sequence"])
            assert (seq in planted) == (row["divert"] != ""), row
            assert (planted if seq in planted else real)[seq]["region"] == lot
    # Sampling lots hold the real pieces only; counts reconcile over real records.
    ledger = Ledger(run_dir.parent)
    try:
        stages = ledger.stages(run_dir.name)
    finally:
        ledger.close()
    assert len(stages) == 4 * len(REGIONS)
    for stage in stages:
        assert stage["lot_size"] == sum(1 for r in real.values() if r["region"] == stage["lot"])
        assert stage["sample"] and not set(stage["sample"]) & set(planted)
    counts = challenged["counts"]
    assert counts["produced"] == len(real)
    assert counts["input"] == counts["produced"] + counts["quarantined"] + counts["suppressed"]


def test_the_real_pieces_release_files_are_those_of_a_run_without_challenges(runs):
    challenged, plain = runs
    assert challenged["run_id"] == plain["run_id"]
    a, b = Path(challenged["run_dir"]) / "release", Path(plain["run_dir"]) / "release"
    for folder in ("print", "manifest", "envelopes", "mailing"):
        names = sorted(p.name for p in (b / folder).iterdir())
        assert names and names == sorted(p.name for p in (a / folder).iterdir())
        for name in names:
            assert (a / folder / name).read_bytes() == (b / folder / name).read_bytes(), f"{folder}/{name}"
    planted = {str(s) for s in _rows(a / "challenge" / "manifest")}
    for lot in REGIONS:
        with_challenges = (a / "inserter" / f"{lot}.generic-csv.csv").read_text("utf-8").splitlines()
        kept = [line for line in with_challenges if line.split(",")[1] not in planted]
        assert len(kept) < len(with_challenges)
        assert kept == (b / "inserter" / f"{lot}.generic-csv.csv").read_text("utf-8").splitlines()
    assert not (b / "challenge").exists() and plain["challenges"]["off"]


def test_show_and_the_report_list_the_challenge_pieces(runs):
    challenged, _ = runs
    run_dir = Path(challenged["run_dir"])
    shown = CliRunner().invoke(main, ["show", run_dir.name, "--out", str(run_dir.parent)])
    assert shown.exit_code == 0, shown.output
    count = PER_LOT * len(REGIONS)
    assert f"challenge pieces: {count} of {count} caught by the check meant for them" in shown.output
    for row in challenged["challenges"]["list"]:
        assert f"piece {row['sequence']} lot {row['lot']} {row['class']}:" in shown.output
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    assert report["challenges"]["caught"] == count
    doc = pdfium.PdfDocument(str(run_dir / "report.pdf"))
    try:
        text = " ".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    finally:
        doc.close()
    assert "Challenge pieces" in text


def test_insert_sim_diverts_the_challenge_pieces_and_the_run_completes(runs, tmp_path):
    challenged, _ = runs
    out = tmp_path / "out"
    shutil.copytree(Path(challenged["run_dir"]).parent, out)
    run_dir = out / challenged["run_id"]
    runner = CliRunner()
    sim = runner.invoke(main, ["insert-sim", str(run_dir), "--out", str(tmp_path / "r.csv"), "--seed", "1"])
    assert sim.exit_code == 0, sim.output
    rows = {int(r["sequence"]): r for r in csv.DictReader((tmp_path / "r.csv").read_text("utf-8").splitlines())}
    planted = _rows(run_dir / "release" / "challenge" / "manifest")
    assert all(rows[s]["status"] == "DIVERTED" for s in planted)
    res = runner.invoke(main, ["reconcile", str(run_dir), "--results", str(tmp_path / "r.csv"), "--json"])
    assert res.exit_code == 0, res.output
    check = json.loads(res.output.strip().splitlines()[-1])["check"]
    assert check["complete"] and check["pulled"] == len(planted)
    assert check["mailed"] == challenged["counts"]["produced"]
    mail = runner.invoke(main, ["reconcile", str(run_dir), "--piece", str(min(planted)), "--action", "ok",
                                "--reason", "found it", "--operator", "night shift"])
    assert mail.exit_code != 0 and "is already PULLED (planned divert (a challenge piece)" in mail.output


def test_a_blind_text_check_halts_the_run(tmp_path, monkeypatch):
    """The text check switched off in the code (as a regression would): the wrong amount passes, so the
    run halts "checker blind" and releases nothing."""
    monkeypatch.setattr(verify, "_check_text", lambda *args, **kwargs: None)
    config = challenge_config(tmp_path, per_lot=1, classes=["text-altered"])
    summary = build(BuildOptions(input=SAMPLES, out=tmp_path / "out", regions=("SG",), workers=1,
                                 inspection_file=config))
    assert summary["state"] == "HALTED"
    halt = summary["halt"]
    seq = summary["challenges"]["list"][0]["sequence"]
    assert halt["reason"] == f"checker blind: challenge piece {seq} of class text-altered passed"
    assert halt["step"] == "challenge" and halt["piece"] == seq
    assert not (Path(summary["run_dir"]) / "release").exists()
    shown = CliRunner().invoke(main, ["show", summary["run_id"], "--out", str(tmp_path / "out")])
    assert "MISSED: checker blind" in shown.output


def test_a_blind_check_stops_the_stage_workers_already_inspecting(tmp_path, monkeypatch):
    """Stages 1 and 2 start in their workers when verify ends, before the challenge step: a run halted
    "checker blind" there stops them at once (their results are never read) and leaves no process."""
    import multiprocessing

    from stmtprod.inspect.parallel import StagePool

    stopped = []
    original = StagePool.stop

    def stop(pool):
        stopped.append(pool._pool is not None)
        original(pool)

    monkeypatch.setattr(StagePool, "stop", stop)
    monkeypatch.setattr(verify, "_check_text", lambda *args, **kwargs: None)
    config = challenge_config(tmp_path, per_lot=1, classes=["text-altered"])
    summary = build(BuildOptions(input=SAMPLES, out=tmp_path / "out", workers=2, inspection_file=config))
    assert summary["state"] == "HALTED" and summary["halt"]["step"] == "challenge"
    assert stopped and stopped[0], "the stage workers were not at work when the challenge step halted"
    assert not multiprocessing.active_children()
    assert not (Path(summary["run_dir"]) / "release").exists()
    assert not (Path(summary["run_dir"]) / "inspection").exists()


def test_a_check_a_drill_switches_off_is_reported_not_checked(tmp_path):
    """amount-misprinted switches the text check off to prove stage 1: the text challenge is not
    counted as caught, and the drill still ends where it should (stage 1), not at the challenge."""
    config = challenge_config(tmp_path, per_lot=1, classes=["text-altered"])
    summary = build(BuildOptions(input=SAMPLES, out=tmp_path / "out", regions=("SG",), workers=1,
                                 inspection_file=config, drill="amount-misprinted"))
    assert summary["state"] == "HALTED" and summary["halt"]["step"] == "inspection-1", summary["halt"]
    assert summary["challenges"]["not_checked"] == 1 and summary["challenges"]["caught"] == 0


def test_switching_off_needs_a_reason_and_the_addressee_must_be_the_issuer(tmp_path):
    text = (ROOT / "inspection.toml").read_text(encoding="utf-8")
    bad = tmp_path / "inspection.toml"
    bad.write_text(text.replace("per_lot = 2\n", "per_lot = 0\n"), encoding="utf-8")
    with pytest.raises(ConfigError, match="off_reason"):
        build(BuildOptions(input=SAMPLES, out=tmp_path / "out", regions=("SG",), inspection_file=bad))
    bad.write_text(text.replace('lines = ["Robinson Road PO Box 1000"]', 'lines = ["1 Orchard Road"]'), "utf-8")
    with pytest.raises(ConfigError, match="return address") as caught:
        build(BuildOptions(input=SAMPLES, out=tmp_path / "out", regions=("SG",), inspection_file=bad))
    assert caught.value.key == "challenge.address.SG.lines.0"


def test_the_card_line_plants_challenge_carriers_and_keeps_its_own_files(tmp_path):
    """Cards: a challenge carrier of each class the card line's 100% checks exist to catch, caught,
    set aside in the CARDS lot's control file; the real carriers' release files are those of a run
    without challenges, and the personalisation match and sealing list are about real cards only."""
    from stmtprod.cards.line import run_cards
    from stmtprod.challenges.lines import CARD_CLASSES

    orders, log = ROOT / "samples" / "cards.jsonl", ROOT / "samples" / "personalisation.jsonl"
    (tmp_path / "every").mkdir()
    every = challenge_config(tmp_path / "every", per_lot=len(CARD_CLASSES), classes=list(CLASSES))
    common = dict(key=None, demo=True, workers=1, production_date=dt.date(2026, 11, 30))
    challenged = run_cards(orders, log, tmp_path / "a", inspection_file=every, **common)
    plain = run_cards(orders, log, tmp_path / "b", inspection_file=challenge_config(tmp_path), **common)
    assert challenged["state"] == plain["state"] == "RELEASED", challenged.get("halt")
    entry = challenged["challenges"]
    assert {r["class"] for r in entry["list"]} == set(CARD_CLASSES) and "text-altered" not in CARD_CLASSES
    assert entry["caught"] == entry["pieces"] == len(CARD_CLASSES) * len(challenged["regions"])
    assert all(r["caught_by"] in CLASSES[r["class"]].caught_by and r["lot"].startswith("CARDS-") for r in entry["list"])
    a, b = Path(challenged["run_dir"]) / "release", Path(plain["run_dir"]) / "release"
    for folder in ("print", "manifest", "sealing"):
        for path in sorted((b / folder).iterdir()):
            assert (a / folder / path.name).read_bytes() == path.read_bytes(), f"{folder}/{path.name}"
    planted = _rows(a / "challenge" / "manifest")
    for row in csv.DictReader((a / "inserter" / "CARDS-AU.generic-csv.csv").read_text("utf-8").splitlines()):
        assert (int(row["sequence"]) in planted) == (row["divert"] != "")
    assert challenged["counts"] == plain["counts"]


def test_reverification_proves_the_checkers_again_and_halts_when_one_is_blind(runs, monkeypatch):
    """`stmtprod verify` verifies every challenge piece again; a text check blinded since (as a regression
    in the code re-verifying would be) lets its piece through, and the re-verification halts."""
    challenged, _ = runs
    run_dir = Path(challenged["run_dir"])
    shown = CliRunner().invoke(main, ["verify", str(run_dir)])
    assert shown.exit_code == 0, shown.output
    count = PER_LOT * len(REGIONS)
    assert f"challenge pieces: {count} of {count} stopped again by the check meant for them" in shown.output
    monkeypatch.setattr(verify, "_check_text", lambda *args, **kwargs: None)
    with pytest.raises(Halt) as caught:
        verify_run(run_dir)
    assert caught.value.as_dict()["reason"].startswith("checker blind: challenge piece")
    assert "class text-" in caught.value.as_dict()["reason"]
