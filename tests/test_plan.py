"""Planning a large run's regions in worker processes gives the files and batches planning them here gives."""
from __future__ import annotations

import hashlib
from pathlib import Path

from stmtprod import plan
from stmtprod.config import BuildOptions
from stmtprod.statements.line import build
from tests.conftest import SAMPLES


def _batches(summary: dict) -> dict[str, str]:
    folder = Path(summary["run_dir"]) / "work" / "batches"
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.jsonl"))}


def test_regions_planned_in_workers_are_the_regions_planned_here(tmp_path, monkeypatch):
    """The bundled samples (seven regions, several batches each) planned both ways: the same batch files,
    byte for byte, the same release, and sequences running on from one region to the next."""
    monkeypatch.setattr(plan, "PARALLEL_PIECES", 10**9)
    here = build(BuildOptions(input=SAMPLES, out=tmp_path / "here", workers=2, batch_size=7, run_id="20261120-PLAN01"))
    pools = []
    real = plan.stopping_pool
    monkeypatch.setattr(plan, "PARALLEL_PIECES", 0)
    monkeypatch.setattr(plan, "stopping_pool", lambda n: pools.append(n) or real(n))
    apart = build(BuildOptions(input=SAMPLES, out=tmp_path / "apart", workers=2, batch_size=7, run_id="20261120-PLAN01"))
    assert here["state"] == apart["state"] == "RELEASED"
    assert _batches(here) == _batches(apart) and len(_batches(here)) > 7
    assert pools == [2]  # planned in two worker processes
    release = {p.relative_to(Path(apart["run_dir"]) / "release"): p.read_bytes()
               for p in (Path(apart["run_dir"]) / "release").rglob("*") if p.is_file()}
    assert release == {p.relative_to(Path(here["run_dir"]) / "release"): p.read_bytes()
                       for p in (Path(here["run_dir"]) / "release").rglob("*") if p.is_file()}
