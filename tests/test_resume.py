"""Crash safety: a real `stmtprod build` killed with SIGKILL at each step, then resumed, releases
byte-identical files to a run that never stopped. Plus the output-folder lock and idempotence."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stmtprod.generate import write_extract
from stmtprod.engine.ledger import Ledger
from stmtprod.engine.lock import OutputLock
from tests.conftest import volume

CLI = [sys.executable, "-m", "stmtprod"]


# Either size cuts the run into 8 or 9 batches over 7 regions: a kill at any step leaves some work
# done and some not, which is what the resume must sort out.
ACCOUNTS, BATCH = volume(120, 240), str(volume(20, 40))


@pytest.fixture(scope="module")
def extract(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("extract") / "cycle.jsonl"
    write_extract(path, ACCOUNTS, seed=5, bad=3)
    return path


@pytest.fixture(scope="module")
def small_extract(tmp_path_factory) -> Path:
    """For the lock and the released-cycle rules, which hold for any size of run: a quicker one."""
    path = tmp_path_factory.mktemp("small") / "cycle.jsonl"
    write_extract(path, 24, seed=5)
    return path


def _build(extract: Path, out: Path, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + ["build", "--input", str(extract), "--out", str(out), "--batch-size", BATCH,
                                 "--workers", "2", "--json", *extra],
                          capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=300)


def _released(run_dir: Path) -> dict[str, bytes]:
    release = run_dir / "release"
    return {str(p.relative_to(release)): p.read_bytes() for p in sorted(release.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def reference(extract, tmp_path_factory) -> dict:
    proc = _build(extract, tmp_path_factory.mktemp("reference"))
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.splitlines()[-1])
    return {"summary": summary, "files": _released(Path(summary["run_dir"]))}


@pytest.mark.parametrize("point", ["render:batch:3", "verify:read", "challenges", "inspect", "release:before",
                                   "release:after"])
def test_killed_build_resumes_to_identical_release(point, extract, reference, tmp_path):
    killed = _build(extract, tmp_path, env={"STMTPROD_CRASH_AT": point})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    run_id = reference["summary"]["run_id"]
    ledger = Ledger(tmp_path)
    assert ledger.run(run_id)["state"] != "RELEASED"
    ledger.close()
    resumed = subprocess.run(CLI + ["resume", run_id, "--out", str(tmp_path), "--json"], capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout.splitlines()[-1])
    assert summary["state"] == "RELEASED" and summary["counts"] == reference["summary"]["counts"]
    assert _released(tmp_path / run_id) == reference["files"]
    assert not (tmp_path / run_id / "staging").exists()
    ledger = Ledger(tmp_path)
    assert ledger.piece_count(run_id) == reference["summary"]["counts"]["produced"]
    assert [r["state"] for r in ledger.runs()] == ["RELEASED"]
    ledger.close()


def test_kill_at_an_arbitrary_moment_during_rendering(extract, reference, tmp_path):
    proc = subprocess.Popen(CLI + ["build", "--input", str(extract), "--out", str(tmp_path), "--batch-size", BATCH,
                                   "--workers", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    staged = tmp_path / reference["summary"]["run_id"] / "staging" / "print"
    deadline = time.monotonic() + 60
    while not (staged.exists() and any(staged.glob("*.pdf"))) and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    resumed = subprocess.run(CLI + ["resume", reference["summary"]["run_id"], "--out", str(tmp_path), "--json"],
                             capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert _released(tmp_path / reference["summary"]["run_id"]) == reference["files"]
    assert not list((tmp_path / reference["summary"]["run_id"]).rglob(".*.tmp"))


def test_resume_after_a_halt_redoes_only_the_damaged_batch(extract, reference, tmp_path):
    run_id = reference["summary"]["run_id"]
    halted = _build(extract, tmp_path, "--drill", "sheets-swapped", "--run-id", run_id)  # a drill has its own id
    assert halted.returncode == 4
    ledger = Ledger(tmp_path)
    before = {b: r["rendered_at"] for b, r in ledger.batches(run_id).items()}
    ledger.close()
    resumed = subprocess.run(CLI + ["resume", run_id, "--out", str(tmp_path), "--json"], capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    ledger = Ledger(tmp_path)
    after = {b: r["rendered_at"] for b, r in ledger.batches(run_id).items()}
    ledger.close()
    redone = sorted(b for b in after if after[b] != before[b])
    assert redone == [sorted(before)[0]]
    assert _released(tmp_path / run_id) == reference["files"]


def test_a_second_line_on_the_same_folder_is_refused(small_extract, tmp_path):
    with OutputLock(tmp_path):
        proc = _build(small_extract, tmp_path)
    assert proc.returncode == 5 and "in use by stmtprod pid" in proc.stderr
    assert _build(small_extract, tmp_path).returncode == 0


def test_a_released_cycle_is_not_built_twice_unless_forced(small_extract, tmp_path):
    first = json.loads(_build(small_extract, tmp_path).stdout.splitlines()[-1])
    again = _build(small_extract, tmp_path)
    assert again.returncode == 2 and first["run_id"] in again.stderr and "--force" in again.stderr
    forced = _build(small_extract, tmp_path, "--force")
    assert forced.returncode == 0
    second = json.loads(forced.stdout.splitlines()[-1])
    assert second["run_id"] != first["run_id"] and second["run_id"][:8] == first["run_id"][:8]
    listed = json.loads(subprocess.run(CLI + ["runs", "--out", str(tmp_path), "--json"], capture_output=True,
                                       text=True).stdout)
    assert [r["run_id"] for r in listed["runs"]] == [first["run_id"], second["run_id"]]
    assert all(r["state"] == "RELEASED" for r in listed["runs"])
