"""The line stops by itself: every drill halts with its own reason; `stmtprod verify` re-checks runs."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from stmtprod.config import BuildOptions
from stmtprod.generate import write_extract
from stmtprod.statements.line import build
from tests.conftest import SAMPLES, Snapshot, manifest_rows, volume

DRILL_REASONS = {
    "wrong-region": ("region", "wrong region"),
    "sheets-swapped": ("sheet", "out of order"),
    "sheet-missing": ("sheet", "sheet missing"),
    "piece-duplicated": ("sequence", "duplicate sheet"),
    "wrong-insert-bit": ("hoppers", "eligibility rules applied afresh"),
    "corrupted-payload": ("payload", "bad check character"),
    "insert-out-of-stock": ("inventory", "ran out of inserts"),
    "foreign-sheet": ("run_tag", "another run"),
    "wrong-dpid": ("dpid", "postal barcode's dpid differs from the record"),
}


@pytest.mark.parametrize("drill", sorted(DRILL_REASONS))
def test_each_drill_halts_with_its_own_reason_and_releases_nothing(drill, tmp_path):
    summary = build(BuildOptions(input=SAMPLES, out=tmp_path, regions=("AU", "NZ"), workers=1, drill=drill))
    assert summary["state"] == "HALTED"
    field, words = DRILL_REASONS[drill]
    halt = summary["halt"]
    assert halt["field"] == field and words in halt["reason"], halt
    assert halt.get("action") and halt.get("piece") is not None
    run_dir = Path(summary["run_dir"])
    assert not (run_dir / "release").exists() and summary["print_files"] == []
    assert json.loads((run_dir / "run.json").read_text())["state"] == "HALTED"
    assert json.loads((run_dir / "halt.json").read_text())["reason"] == halt["reason"]
    assert "Nothing was released." in (run_dir / "halt.txt").read_text()


def test_clean_run_feeds_the_inserter_one_envelope_per_piece(sample_run):
    rows = manifest_rows(sample_run)
    envelope_dir = Path(sample_run["run_dir"]) / "release" / "envelopes"
    envelopes = [json.loads(x) for f in sorted(envelope_dir.glob("*.jsonl"))
                 for x in f.read_text(encoding="utf-8").splitlines()]
    assert sorted(e["sequence"] for e in envelopes) == sorted(r["sequence"] for r in rows)
    by_seq = {r["sequence"]: r for r in rows}
    for e in envelopes:
        assert e["sheets"] == by_seq[e["sequence"]]["sheets"]
        assert e["inserts"] == sorted(by_seq[e["sequence"]]["inserts"], key=lambda c: e["inserts"].index(c))
        assert e["hoppers"] == by_seq[e["sequence"]]["hoppers"]


def _verify(run_dir: str, workers: int = 1) -> tuple[int, dict]:
    proc = subprocess.run([sys.executable, "-m", "stmtprod", "verify", run_dir, "--json", "--workers", str(workers)],
                          capture_output=True, text=True)
    return proc.returncode, json.loads(proc.stdout.strip().splitlines()[-1])


def _edit(path: Path, order: list[int], replace: tuple[int, Path, int] | None = None) -> None:
    reader = PdfReader(path)
    writer = PdfWriter()
    for index in order:
        if replace and index == replace[0]:
            writer.add_page(PdfReader(replace[1]).pages[replace[2]])
        else:
            writer.add_page(reader.pages[index])
    with open(path, "wb") as fh:
        writer.write(fh)


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> Snapshot:
    return Snapshot(tmp_path_factory.mktemp("released"),
                    lambda out: build(BuildOptions(input=SAMPLES, out=out, regions=("AU", "NZ", "SG"), workers=1)))


@pytest.fixture
def released_copy(released) -> dict:
    """The released run as built, whatever the test before did to its files (built once per module)."""
    return released.restore()


def test_verify_passes_an_untouched_run(released_copy):
    code, result = _verify(released_copy["run_dir"])
    assert code == 0 and result["ok"] and result["sheets"] == released_copy["counts"]["sheets"]


@pytest.mark.parametrize("damage,field", [("swap", "sheet"), ("drop", "sheet"), ("foreign-region", "region")])
def test_verify_fails_a_damaged_released_file(released_copy, damage, field):
    au = Path(released_copy["print_files"][0])
    pages = len(PdfReader(au).pages)
    order = list(range(pages))
    if damage == "swap":
        order[4], order[5] = order[5], order[4]
        _edit(au, order)
    elif damage == "drop":
        del order[4]
        _edit(au, order)
    else:
        _edit(au, order, replace=(4, Path(released_copy["print_files"][1]), 0))
    code, result = _verify(released_copy["run_dir"])
    assert code == 4 and not result["ok"]
    assert result["halt"]["batch"] == "AU-0001" and result["halt"]["page"] == 5
    assert result["halt"]["field"] == field


def test_verify_in_two_workers_halts_where_one_does(released_copy):
    """Files are checked in parallel, yet the halt is the first in sequence order, as with one worker."""
    au, nz = (Path(p) for p in released_copy["print_files"][:2])
    for pdf in (au, nz):
        order = list(range(len(PdfReader(pdf).pages)))
        order[2], order[3] = order[3], order[2]
        _edit(pdf, order)
    one, two = _verify(released_copy["run_dir"], 1), _verify(released_copy["run_dir"], 2)
    assert one[0] == two[0] == 4
    assert one[1]["halt"] == two[1]["halt"] and one[1]["halt"]["batch"] == "AU-0001"


def test_verify_halts_on_a_print_file_missing_with_its_manifest(released_copy):
    """Every file left agrees with its own manifest; only the break in sequences between files shows."""
    release = Path(released_copy["run_dir"]) / "release"
    (release / "print" / "NZ-0001.pdf").unlink()
    (release / "manifest" / "NZ-0001.jsonl").unlink()
    code, result = _verify(released_copy["run_dir"], 2)
    assert code == 4 and result["halt"]["field"] == "sequence" and result["halt"]["batch"] == "SG-0001"
    assert "gap" in result["halt"]["reason"]


@pytest.mark.volume
def test_no_false_stop_over_a_large_generated_extract(tmp_path):
    accounts = volume(1500, 10_000)
    extract = tmp_path / "big.jsonl"
    write_extract(extract, accounts, seed=11)
    summary = build(BuildOptions(input=extract, out=tmp_path / "out", workers=2))
    assert summary["state"] == "RELEASED", summary.get("halt")
    assert summary["counts"]["produced"] + summary["counts"]["suppressed"] == accounts


def test_a_print_file_is_verified_with_the_collector_paused_and_left_on(sample_run, monkeypatch):
    """verify_file reads and checks a file with the cyclic collector off (its passes only walked the
    file's live pages and records), gives the verdict it gives with the collector on, and turns the
    collector back on after a verdict, a halt or an error."""
    import gc
    from dataclasses import replace

    from stmtprod import verify
    from stmtprod.catalog import load_catalog
    from stmtprod.engine.runstate import load_run
    from stmtprod.layout import load_layouts

    run_dir = Path(sample_run["run_dir"])
    run = load_run(run_dir)
    layouts = load_layouts(Path(run["layouts_dir"]))
    catalog, _version = load_catalog(Path(run["catalog_file"]))
    f = verify.run_print_files(run_dir)[1][0]
    args = (f, verify.contract(layouts[f.region]), run["run_id"], catalog, run_dir / "work" / "accepted")
    collecting: list[bool] = []
    real = verify.source_records
    monkeypatch.setattr(verify, "source_records", lambda *a: collecting.append(gc.isenabled()) or real(*a))
    paused = verify.verify_file(*args, layout=layouts[f.region])
    assert collecting == [False] and gc.isenabled() and paused.halt is None and paused.sheets
    on = verify._verify_file(*args, frozenset(), layouts[f.region])
    assert replace(paused, text_seconds=0) == replace(on, text_seconds=0)  # a CPU time, measured afresh
    assert collecting == [False, True]
    assert verify.verify_file(*args[:2], "20261120-OTHER1", *args[3:]).halt["field"] == "run_tag" and gc.isenabled()

    def fail(*_args):
        raise OSError("disk gone")

    monkeypatch.setattr(verify, "source_records", fail)
    with pytest.raises(OSError):
        verify.verify_file(*args, layout=layouts[f.region])
    assert gc.isenabled()


def test_a_print_file_is_read_with_the_collector_paused_and_left_on(sample_run, monkeypatch):
    """read_file (the card line's and read_all's read of a file) runs with the cyclic collector off,
    reads what it reads with the collector on, and turns it back on after a reading or an error."""
    import gc

    from stmtprod import verify
    from stmtprod.barcode import content
    from stmtprod.engine.runstate import load_run
    from stmtprod.layout import load_layouts

    run_dir = Path(sample_run["run_dir"])
    layouts = load_layouts(Path(load_run(run_dir)["layouts_dir"]))
    f = verify.run_print_files(run_dir)[1][0]
    args = verify.read_task(f, layouts)
    collecting: list[bool] = []
    real = content.read_file
    monkeypatch.setattr(content, "read_file", lambda *a: collecting.append(gc.isenabled()) or real(*a))
    paused = verify.read_file(*args)
    assert collecting == [False] and gc.isenabled() and paused.pages and paused.halt(f.batch, str(f.pdf)) is None
    on = verify._read_file(*args, None, None)
    assert collecting == [False, True]
    assert (paused.pages, paused.lines) == (on.pages, on.lines)

    def trips(*_args):
        raise OSError("disk gone")

    monkeypatch.setattr(content, "read_file", trips)  # a reader that trips is reported as damage
    assert verify.read_file(*args).damage == (1, "the file could not be read: OSError: disk gone")
    assert gc.isenabled()

    def stopped(*_args):
        raise KeyboardInterrupt

    monkeypatch.setattr(content, "read_file", stopped)
    with pytest.raises(KeyboardInterrupt):
        verify.read_file(*args)
    assert gc.isenabled()
