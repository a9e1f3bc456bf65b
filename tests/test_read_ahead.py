"""Read-ahead: each batch's read-back queued in the render workers as soon as it is rendered (issue 18).

It may only save time: a run whose batches were read ahead releases the same bytes as one that read
them in the verify step, and a print file changed after it was rendered (a print room's fault, a drill)
is read afresh, so it halts the run as before.
"""
from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from stmtprod import verify
from stmtprod.cards.line import Cards, run_cards
from stmtprod.config import BuildOptions
from stmtprod.engine import batchpool, batchsteps
from stmtprod.engine.batchpool import BatchPool
from stmtprod.engine.points import Faults
from stmtprod.statements.line import build
from tests.conftest import SAMPLES
from tests.test_cards import DATE, LOG, ORDERS
from tests.test_verify import DRILL_REASONS

FILE_DRILLS = ("wrong-region", "sheets-swapped", "sheet-missing", "piece-duplicated", "corrupted-payload",
               "foreign-sheet")
"""The drills that change a print file after it is rendered and recorded (`drills.damage_print_file`)."""


def _spy(monkeypatch) -> dict:
    """Counts what the verify step claimed from the read-ahead, and what it read itself (the statement
    line's `verify_file`s, the card line's `read_file`s)."""
    seen = {"claimed": 0, "dropped": 0, "read_here": 0}
    claim, in_workers, read_all = BatchPool.claim, verify._in_workers, batchsteps.read_all

    def counting_claim(self, name, key):
        found = claim(self, name, key)
        seen["claimed" if found else "dropped"] += 1
        return found

    def counting_in_workers(function, args, workers):
        seen["read_here"] += len(args) if function is verify.verify_file else 0
        return in_workers(function, args, workers)

    def counting_read_all(files, layouts, workers, started=None):
        seen["read_here"] += len(files) - len(started or {})
        return read_all(files, layouts, workers, started)

    monkeypatch.setattr(BatchPool, "claim", counting_claim)
    monkeypatch.setattr(verify, "_in_workers", counting_in_workers)
    monkeypatch.setattr(batchsteps, "read_all", counting_read_all)
    return seen


def _digest(summary: dict) -> dict[str, str]:
    release = Path(summary["run_dir"]) / "release"
    return {str(p.relative_to(release)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(release.rglob("*")) if p.is_file()}


def test_read_ahead_verdicts_release_the_same_bytes_as_reading_in_the_verify_step(tmp_path, monkeypatch):
    options = dict(input=SAMPLES, regions=("AU", "NZ", "JP"), batch_size=20)
    serial = build(BuildOptions(out=tmp_path / "serial", workers=1, **options))
    seen = _spy(monkeypatch)
    ahead = build(BuildOptions(out=tmp_path / "ahead", workers=2, **options))
    assert serial["state"] == ahead["state"] == "RELEASED"
    batches = len(ahead["print_files"])
    assert batches >= 4
    assert seen == {"claimed": batches, "dropped": 0, "read_here": 0}
    assert _digest(ahead) == _digest(serial)


@pytest.mark.parametrize("drill", FILE_DRILLS)
def test_a_print_file_changed_after_its_read_ahead_is_read_again_and_halts(drill, tmp_path, monkeypatch):
    seen = _spy(monkeypatch)
    summary = build(BuildOptions(input=SAMPLES, out=tmp_path, regions=("AU", "NZ"), workers=2, drill=drill))
    assert summary["state"] == "HALTED"
    field, words = DRILL_REASONS[drill]
    assert summary["halt"]["field"] == field and words in summary["halt"]["reason"], summary["halt"]
    assert not (Path(summary["run_dir"]) / "release").exists()
    assert seen["read_here"] >= 1 and seen["claimed"] + seen["dropped"] == 2


def _slow(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def test_a_claim_under_other_arguments_is_dropped_and_close_stops_what_still_runs():
    pool = BatchPool(2)
    pool.ahead("A", ("key",), _slow, 0.0)  # no pool at work yet: nothing is queued
    assert not pool.holds_work and pool.claim("A", ("key",)) is None
    executor = pool.executor()
    pool.ahead("A", ("key",), _slow, 0.0)
    pool.ahead("B", ("key",), _slow, 0.0)
    pool.ahead("C", ("key",), _slow, 60.0)
    assert pool.claim("A", ("other",)) is None
    assert pool.claim("B", ("key",))() == 0.0
    assert pool.claim("B", ("key",)) is None  # claimed once
    processes = list(executor._processes.values())
    started = time.monotonic()
    pool.close()
    assert time.monotonic() - started < 30
    assert all(not p.is_alive() for p in processes)
    pool.close()


def test_close_waits_for_finished_work_and_leaves_no_process():
    pool = BatchPool(2)
    executor = pool.executor()
    pool.ahead("A", 1, _slow, 0.0)
    assert pool.claim("A", 1)() == 0.0
    processes = list(executor._processes.values())
    pool.close()
    assert all(not p.is_alive() for p in processes)
    assert batchpool.BatchPool(1).claim("nothing", 1) is None


class _SwapFirstFile(Faults):
    """A print room's fault after render: the first rendered carrier file replaced by another batch's."""

    name = None

    def at(self, point, value, run, **context):
        if point == "rendered" and len(value) > 1:
            Path(value[0].pdf_file).write_bytes(Path(value[1].pdf_file).read_bytes())
        return value


def test_the_card_line_reads_its_carriers_ahead_and_again_when_a_file_changed(tmp_path, monkeypatch):
    seen = _spy(monkeypatch)
    clean = run_cards(ORDERS, LOG, tmp_path / "clean", key=None, demo=True, workers=2, production_date=DATE,
                      batch_size=4)
    assert clean["state"] == "RELEASED"
    batches = len(clean["manifest_files"])
    assert batches >= 2 and seen == {"claimed": batches, "dropped": 0, "read_here": 0}
    serial = run_cards(ORDERS, LOG, tmp_path / "serial", key=None, demo=True, workers=1, production_date=DATE,
                       batch_size=4)
    assert _digest(serial) == _digest(clean)

    monkeypatch.setattr(Cards, "faults", _SwapFirstFile())
    halts = [run_cards(ORDERS, LOG, tmp_path / f"swapped-{workers}", key=None, demo=True, workers=workers,
                       production_date=DATE, batch_size=4).get("halt") or {} for workers in (1, 2)]
    assert [{k: h.get(k) for k in ("step", "batch", "field", "reason")} for h in halts] == \
        [{"step": "verify", "batch": "AU-0001", "field": "sheet",
          "reason": "sheet missing: piece 1 sheet 1 of 1 is not there"}] * 2
