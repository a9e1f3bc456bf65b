"""A way out of every halt: each drill halts, and the commands on its "Next" line, pasted as printed,
take the run to RELEASED; halt reports of halts a resume got past become history; usage errors come
before any work; the summary goes to stdout with no library chatter."""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from stmtprod.config import BuildOptions
from stmtprod.drills import DRILLS
from stmtprod.engine.ledger import Ledger
from stmtprod.statements.line import build
from tests.conftest import ROOT, SAMPLES
from tests.test_cards import DATE, subset

CLI = [sys.executable, "-m", "stmtprod"]


def _next_lines(text: str) -> list[str]:
    """The commands of a halt text's "Next:" line and its continuation lines."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Next: "))
    commands = [lines[start][len("Next: "):]]
    commands += [line.strip() for line in lines[start + 1:] if line.startswith("      ")]
    return commands


FILL = {"NAME": "k.tanaka", "WHAT WAS CORRECTED": "cause found and fixed", '"..."': '"cause found and fixed"'}


def _paste(command: str, **fill: str) -> subprocess.CompletedProcess:
    """Run a printed command as an operator would paste it (placeholders filled in by `fill`)."""
    for placeholder, value in {**FILL, **fill}.items():
        command = command.replace(placeholder, value)
    words = shlex.split(command)
    assert words[0] == "stmtprod", command
    return subprocess.run(CLI + words[1:], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("drill", sorted(DRILLS))
def test_every_drill_halt_has_a_next_line_that_leads_to_release(drill, tmp_path):
    halted = build(BuildOptions(input=SAMPLES, out=tmp_path, regions=("AU",), workers=1, drill=drill))
    assert halted["state"] == "HALTED", drill
    run_dir = Path(halted["run_dir"])
    text = (run_dir / "halt.txt").read_text(encoding="utf-8")
    assert "Nothing was released." in text and "printer queue" not in text
    commands = _next_lines(text)
    assert commands == json.loads((run_dir / "halt.json").read_text(encoding="utf-8"))["next"]
    assert all(halted["run_id"] in c or str(run_dir.resolve()) in c for c in commands)
    assert all(str(tmp_path.resolve()) in c for c in commands)
    for command in commands:
        done = _paste(command)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"run {halted['run_id']}: RELEASED" in done.stdout
    assert json.loads((run_dir / "run.json").read_text())["state"] == "RELEASED"
    assert not (run_dir / "halt.txt").exists() and not (run_dir / "halt.json").exists()
    history = json.loads((run_dir / "halts" / "001-halt.json").read_text(encoding="utf-8"))
    assert history["reason"] == halted["halt"]["reason"]
    assert (run_dir / "halts" / "001-halt.txt").read_text(encoding="utf-8") == text


def test_a_print_stage_halt_renders_the_lot_again_on_resume(tmp_path):
    """barcode-too-thin: the thin print file is not re-used by the resume (it was, and halted for ever)."""
    halted = build(BuildOptions(input=SAMPLES, out=tmp_path, regions=("AU", "NZ"), workers=1,
                                drill="barcode-too-thin"))
    assert halted["halt"]["step"] == "inspection-2"
    staged = Path(halted["run_dir"]) / "staging" / "print"
    thin, nz = (staged / "AU-0001.pdf").read_bytes(), (staged / "NZ-0001.pdf").read_bytes()
    correct, resume = _next_lines((Path(halted["run_dir"]) / "halt.txt").read_text(encoding="utf-8"))
    assert _paste(resume).returncode == 4  # no correction recorded: the lot stays rejected
    assert _paste(correct).returncode == 0
    ledger = Ledger(tmp_path)
    batches = ledger.batches(halted["run_id"])
    ledger.close()
    assert batches["AU-0001"]["rendered_at"] is None and batches["NZ-0001"]["rendered_at"] is not None
    resumed = _paste(resume)
    assert resumed.returncode == 0, resumed.stdout
    release = Path(halted["run_dir"]) / "release" / "print"
    assert (release / "AU-0001.pdf").read_bytes() != thin and (release / "NZ-0001.pdf").read_bytes() == nz


def _manual_stage(tmp_path: Path, stage_name: str = "print") -> Path:
    config = tmp_path / "inspection.toml"
    text = (ROOT / "inspection.toml").read_text(encoding="utf-8")
    config.write_text(text.replace(f'name = "{stage_name}"\naql = 0.10\nlevel = "II"\nmode = "auto"',
                                   f'name = "{stage_name}"\naql = 0.10\nlevel = "II"\nmode = "manual"'),
                      encoding="utf-8")
    return config


def test_a_waiting_run_and_a_manual_rejection_say_what_to_record(tmp_path):
    out = tmp_path / "out"
    waiting = subprocess.run(CLI + ["build", "--input", str(SAMPLES), "--out", str(out), "--regions", "SG",
                                    "--workers", "1", "--inspection", str(_manual_stage(tmp_path))],
                             capture_output=True, text=True, timeout=300)
    assert waiting.returncode == 6
    commands = _next_lines(waiting.stdout)
    assert [c.split()[:3][-2:] if "qa" in c else c.split()[:2] for c in commands] == \
        [["qa", "draw"], ["qa", "record"], ["stmtprod", "resume"]]
    run_dir = out / commands[-1].split()[2]
    verdict = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))["verdict"]
    assert verdict["decision"] == "NOT YET" and verdict["next"] == commands
    assert "Can we mail tonight? NOT YET" in PdfReader(run_dir / "report.pdf").pages[0].extract_text()
    assert _paste(commands[0]).returncode == 0
    assert (run_dir / "stage2-sample.pdf").exists()
    sample = json.loads((run_dir / "inspection" / "stage2.json").read_text())["sample"]
    rejected = _paste(commands[1].replace("--accept-clean", f"--defect {sample[0]}:bar-width:bars_thin"))
    assert rejected.returncode == 0 and "REJECTED" in rejected.stdout
    halted = _paste(commands[2])
    assert halted.returncode == 4
    correct = _next_lines(halted.stdout)
    assert "qa correct" in correct[0] and correct[-1] == commands[2]
    for command in correct:
        done = _paste(command)
    assert done.returncode == 6  # the corrected lot is rendered again and waits for its new inspection
    again = _next_lines(done.stdout)
    assert [c.split()[:3][-2:] if "qa" in c else c.split()[:2] for c in again] == \
        [["qa", "draw"], ["qa", "record"], ["stmtprod", "resume"]]
    for command in again:
        done = _paste(command)
    assert done.returncode == 0, done.stdout + done.stderr


def _damage(pdf: Path) -> None:
    reader = PdfReader(pdf)
    writer = PdfWriter()
    order = list(range(len(reader.pages)))
    order[1], order[2] = order[2], order[1]
    for index in order:
        writer.add_page(reader.pages[index])
    with open(pdf, "wb") as fh:
        writer.write(fh)


def test_verify_of_a_tampered_released_run_says_it_stays_released(tmp_path):
    released = build(BuildOptions(input=SAMPLES, out=tmp_path, regions=("NZ",), workers=1))
    _damage(Path(released["print_files"][0]))
    proc = subprocess.run(CLI + ["verify", released["run_dir"], "--json"], capture_output=True, text=True)
    assert proc.returncode == 4
    assert "HALTED" not in proc.stdout and "Nothing was released" not in proc.stdout
    assert "(RELEASED) FAILED RE-VERIFICATION" in proc.stdout and "printer queue" in proc.stdout
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result["released"] is True
    assert result["halt"]["next"] == [f"stmtprod build --input {SAMPLES} --out {tmp_path.resolve()} --force"]
    assert json.loads((Path(released["run_dir"]) / "run.json").read_text())["state"] == "RELEASED"


def test_card_match_halt_resumes_with_plain_resume_and_the_new_log(tmp_path):
    orders, log = subset(tmp_path, "SG")
    good = log.read_text(encoding="utf-8").splitlines()
    (tmp_path / "bad.jsonl").write_text("\n".join([good[1], good[0], *good[2:]]) + "\n", "utf-8")
    out = tmp_path / "out"
    halted = subprocess.run(CLI + ["cards", "--orders", str(orders), "--personalisation", str(tmp_path / "bad.jsonl"),
                                   "--out", str(out), "--demo-key", "--workers", "1", "--date", DATE.isoformat()],
                            capture_output=True, text=True, timeout=300)
    assert halted.returncode == 4, halted.stdout + halted.stderr
    [command] = _next_lines(halted.stdout)
    assert "--personalisation NEW_LOG.jsonl" in command
    done = _paste(command, **{"NEW_LOG.jsonl": str(log)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "RELEASED" in done.stdout
    refused = subprocess.run(CLI + ["resume", "20261120-AAAAAA", "--out", str(out), "--personalisation", str(log)],
                             capture_output=True, text=True)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr


@pytest.mark.parametrize("case", ["folder", "missing", "run-id", "run-id-lower"])
def test_input_and_run_id_errors_are_usage_errors_before_any_work(case, tmp_path):
    args = ["--input", str(SAMPLES)]
    if case == "folder":
        args = ["--input", str(tmp_path)]
    elif case == "missing":
        args = ["--input", str(tmp_path / "nope.jsonl")]
    elif case == "run-id":
        args += ["--run-id", "tonight"]
    else:
        args += ["--run-id", "20261120-abc123"]
    out = tmp_path / "out"
    proc = subprocess.run(CLI + ["build", *args, "--out", str(out), "--workers", "1"], capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    message = proc.stderr.strip().splitlines()[-1]
    assert {"folder": "is a folder, not a file", "missing": "does not exist", "run-id": "is not a run id",
            "run-id-lower": "is not a run id"}[case] in message
    assert "step: ingest" not in proc.stderr and not (out / "ledger.sqlite").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_input_is_a_usage_error(tmp_path):
    locked = tmp_path / "cycle.jsonl"
    locked.write_bytes(SAMPLES.read_bytes())
    locked.chmod(0)
    proc = subprocess.run(CLI + ["build", "--input", str(locked), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "cannot be read" in proc.stderr


def test_summary_on_stdout_and_no_library_chatter(tmp_path):
    proc = subprocess.run(CLI + ["build", "--input", str(SAMPLES), "--out", str(tmp_path), "--regions", "NZ",
                                 "--workers", "2", "--json"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0
    summary = json.loads(proc.stdout.splitlines()[-1])
    assert f"run {summary['run_id']}: RELEASED" in proc.stdout
    assert "pikepdf" not in proc.stderr and "Warning" not in proc.stderr
    # progress in logs: each step, how far, elapsed and the time left for the whole run
    progress = [line for line in proc.stderr.splitlines() if " INFO " in line]
    for what in ("INFO ingest", "INFO render: batch NZ-0001", "INFO verify", "INFO inspection: stage 1 of 4",
                 "INFO inspection: stage 4 of 4", "INFO release"):
        assert any(what in line for line in progress), what
    assert all("elapsed" in line for line in progress)
    assert any("left" in line for line in progress if "render" in line)
    verify = subprocess.run(CLI + ["verify", summary["run_dir"]], capture_output=True, text=True)
    assert verify.returncode == 0 and "verified" in verify.stdout
    assert "pikepdf" not in verify.stderr and "Warning" not in verify.stderr


def test_a_card_run_gets_the_same_report(tmp_path):
    from stmtprod.cards.line import run_cards

    orders, log = subset(tmp_path, "SG")
    summary = run_cards(orders, log, tmp_path / "out", key=None, demo=True, production_date=DATE)
    run_dir = Path(summary["run_dir"])
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    assert report["verdict"]["decision"] == "YES" and "released for sealing" in report["verdict"]["headline"]
    assert f"all {summary['counts']['sheets']} sheets of {summary['counts']['produced']} carriers verified" in \
        report["verdict"]["evidence"][0]
    text = PdfReader(run_dir / "report.pdf").pages[0].extract_text()
    assert "Can we mail tonight? YES" in text


def test_verify_of_a_halted_run_says_nothing_was_released_and_how_to_resume(tmp_path):
    halted = build(BuildOptions(input=SAMPLES, out=tmp_path, regions=("NZ",), workers=1, drill="sheet-missing"))
    proc = subprocess.run(CLI + ["verify", halted["run_dir"]], capture_output=True, text=True)
    assert proc.returncode == 4
    assert "HALTED" in proc.stdout and "Nothing was released." in proc.stdout and "printer" not in proc.stdout
    assert _next_lines(proc.stdout) == [f"stmtprod resume {halted['run_id']} --out {tmp_path.resolve()}"]
    show = subprocess.run(CLI + ["show", halted["run_id"], "--out", str(tmp_path)], capture_output=True, text=True)
    assert _next_lines(show.stdout) == halted["halt"]["next"]


def test_a_released_drill_run_is_not_for_mailing(tmp_path):
    halted = build(BuildOptions(input=SAMPLES, out=tmp_path, regions=("NZ",), workers=1, drill="sheet-missing"))
    assert _paste(_next_lines((Path(halted["run_dir"]) / "halt.txt").read_text(encoding="utf-8"))[0]).returncode == 0
    verdict = json.loads((Path(halted["run_dir"]) / "report.json").read_text(encoding="utf-8"))["verdict"]
    assert verdict["decision"] == "NO" and "drill run (sheet-missing)" in verdict["headline"]
