"""The inserter loop on real runs of both lines: control files out, results in, reconciliation.

Expectations are computed here from the released manifests, envelope logs and source records,
independently of `stmtprod.inserting`.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from stmtprod.cards import samples as card_samples
from stmtprod.cards.line import run_cards
from stmtprod.cli import main
from stmtprod.config import BuildOptions
from stmtprod.errors import ConfigError
from stmtprod.inserting.models import load_inserter
from stmtprod.statements.line import build
from tests.conftest import challenge_config

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples" / "cycle.jsonl"
CONTROL_HEADER = "run_id,sequence,sheets,bins,divert,postage_class,weight_g,name"
RESULTS_HEADER = "run_id,sequence,status,bin,timestamp,note"
STAMP = "2026-11-21T02:14:07+11:00"


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def _manifest(run_dir: Path) -> list[dict]:
    rows = [r for m in sorted((run_dir / "release" / "manifest").glob("*.jsonl")) for r in _jsonl(m)]
    return sorted(rows, key=lambda r: r["sequence"])


@pytest.fixture(scope="module")
def statement_out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ins-statements")
    config = challenge_config(tmp_path_factory.mktemp("ins-config"))  # the loop of real pieces; challenges: test_challenge
    summary = build(BuildOptions(input=SAMPLES, out=out, regions=("AU", "JP"), workers=2, inspection_file=config))
    assert summary["state"] == "RELEASED"
    return out


@pytest.fixture(scope="module")
def card_out(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("ins-cards-in")
    lines = (ROOT / "samples" / "cards.jsonl").read_text(encoding="utf-8").splitlines()
    good = [o for o in (json.loads(x) for i, x in enumerate(lines, 1) if i not in card_samples.BAD_LINES)
            if o["region"] == "AU"]
    (tmp / "orders.jsonl").write_text("".join(json.dumps(o) + "\n" for o in good), "utf-8")
    log = [{"card_id": o["card_id"], "pan_last5": o["pan"][-5:], "embossed_name": o["embossed_name"], "slot": i}
           for i, o in enumerate(good, 1)]
    (tmp / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log), "utf-8")
    out = tmp_path_factory.mktemp("ins-cards")
    summary = run_cards(tmp / "orders.jsonl", tmp / "log.jsonl", out, key=None, demo=True, workers=1,
                        production_date=dt.date(2026, 11, 23), inspection_file=challenge_config(tmp))
    assert summary["state"] == "RELEASED", summary.get("halt")
    return out


def _copy(out: Path, tmp_path: Path) -> Path:
    """A private copy of a released output folder (the run folder inside it is returned)."""
    target = tmp_path / "out"
    shutil.copytree(out, target)
    return next(p for p in target.iterdir() if p.is_dir() and (p / "run.json").exists())


def _cli(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def _state(run_dir: Path) -> tuple[list, list, list]:
    db = sqlite3.connect(run_dir.parent / "ledger.sqlite")
    try:
        return tuple(db.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
                     for t in ("piece_state", "inserter_results", "piece_fates"))
    finally:
        db.close()


def _fates(run_dir: Path) -> dict[int, str]:
    db = sqlite3.connect(run_dir.parent / "ledger.sqlite")
    try:
        return dict(db.execute("SELECT sequence, fate FROM piece_state"))
    finally:
        db.close()


def _results(run_id: str, rows: list[tuple]) -> str:
    return RESULTS_HEADER + "\n" + "".join(f"{run_id},{seq},{status},,{STAMP},{note}\n" for seq, status, note in rows)


# --- models ------------------------------------------------------------------------------------

def test_shipped_models_load_and_generic_csv_is_the_issues():
    generic = load_inserter("generic-csv")
    assert ",".join(f.name for f in generic.control.fields) == CONTROL_HEADER
    assert ",".join(f.name for f in generic.results.fields) == RESULTS_HEADER
    assert set(generic.statuses.values()) == {"OK", "DIVERTED", "DAMAGED", "ATTENTION", "PULLED"}
    fixed = load_inserter("fixed-record")
    assert fixed.control.format == "fixed" and fixed.results.format == "fixed"


@pytest.mark.parametrize("change, key", [
    ("maximum_reprint_percent = 5", "maximum_reprint_percent = 101"),
    ('PULLED = "PULLED"', 'PULLED = "LOST"'),
    ('{ name = "note" }', '{ name = "comment" }'),
])
def test_a_bad_model_names_file_and_key(tmp_path, change, key):
    text = (ROOT / "inserters" / "generic-csv.toml").read_text(encoding="utf-8")
    assert change in text
    path = tmp_path / "generic-csv.toml"
    path.write_text(text.replace(change, key), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_inserter(path)
    assert str(path) in str(err.value)
    assert err.value.key is not None


def test_a_fixed_model_without_widths_is_refused(tmp_path):
    text = (ROOT / "inserters" / "fixed-record.toml").read_text(encoding="utf-8")
    path = tmp_path / "fixed-record.toml"
    path.write_text(text.replace(', width = 40 }', ' }'), encoding="utf-8")
    with pytest.raises(ConfigError, match="width"):
        load_inserter(path)


# --- control files -----------------------------------------------------------------------------

def test_statement_release_has_one_control_file_per_lot_with_every_piece(statement_out):
    run_dir = next(p for p in statement_out.iterdir() if (p / "run.json").exists())
    run_id = run_dir.name
    manifest = {r["sequence"]: r for r in _manifest(run_dir)}
    envelopes = {r["sequence"]: r for p in (run_dir / "release" / "envelopes").glob("*.jsonl") for r in _jsonl(p)}
    mailing = {r["sequence"]: r for p in (run_dir / "release" / "mailing").glob("*.jsonl") for r in _jsonl(p)}
    names = {}
    for region in ("AU", "JP"):
        for r in _jsonl(run_dir / "work" / "accepted" / f"{region}.jsonl"):
            names[(region, r["line"])] = r["record"]["name"]
    seen = []
    for lot in ("AU", "JP"):
        path = run_dir / "release" / "inserter" / f"{lot}.generic-csv.csv"
        text = path.read_text(encoding="utf-8")
        assert text.splitlines()[0] == CONTROL_HEADER
        for row in csv.DictReader(text.splitlines()):
            seq = int(row["sequence"])
            m = manifest[seq]
            seen.append(seq)
            assert row["run_id"] == run_id and m["region"] == lot
            assert int(row["sheets"]) == m["sheets"] == len(m["payloads"])
            assert row["bins"] == "".join("Y" if h in m["hoppers"] else "N" for h in range(1, 9))
            assert row["divert"] == ""
            assert float(row["weight_g"]) == envelopes[seq]["weight_g"]
            assert row["postage_class"] == mailing[seq]["postage_class"]
            name = names[(lot, m["line"])]
            assert row["name"] == (f"{name} 様" if lot == "JP" else name)
    assert sorted(seen) == sorted(manifest)


def test_card_release_has_control_files_too(card_out):
    run_dir = next(p for p in card_out.iterdir() if (p / "run.json").exists())
    manifest = _manifest(run_dir)
    path = run_dir / "release" / "inserter" / "CARDS-AU.generic-csv.csv"
    rows = list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))
    assert [int(r["sequence"]) for r in rows] == [m["sequence"] for m in manifest]
    for r, m in zip(rows, manifest):
        assert r["bins"] == "".join("Y" if h in m["hoppers"] else "N" for h in range(1, 9))
        assert r["name"] and r["run_id"] == run_dir.name


def test_fixed_model_control_records_have_the_model_length(statement_out, tmp_path):
    run_dir = _copy(statement_out, tmp_path)
    res = _cli("inserter", "control", run_dir, "--model", "fixed-record")
    assert res.exit_code == 0, res.output
    lines = (run_dir / "release" / "inserter" / "AU.fixed-record.dat").read_text(encoding="utf-8").splitlines()
    au = [m for m in _manifest(run_dir) if m["region"] == "AU"]
    assert len(lines) == len(au)
    assert all(len(line) == 93 for line in lines)  # the widths in inserters/fixed-record.toml, added up
    assert lines[0][:20] == run_dir.name.ljust(20) and int(lines[0][20:27]) == au[0]["sequence"]


def _control_files(run_dir: Path, workers: int, model=None) -> list[tuple[str, bytes]]:
    from stmtprod.inserting.control import write_control_files
    from stmtprod.inserting.runctx import RunFolder

    run = RunFolder.open(run_dir)
    paths = write_control_files(run.release, run.run_id, run.catalog, run.layouts, model, workers=workers)
    return [(p.name, p.read_bytes()) for p in paths]


def test_control_files_made_in_workers_are_the_bytes_and_the_error_of_one_process(tmp_path, monkeypatch):
    """A large run's control records are made in worker processes, share by share: the files, their
    order and the first error are what one process gives (a small run is made in one process, so the
    size that makes it parallel is lowered here; small batches give each lot several shares)."""
    from stmtprod.inserting import control
    from stmtprod.inserting.pieces import manifests

    out = tmp_path / "out"
    summary = build(BuildOptions(input=SAMPLES, out=out, regions=("AU", "JP"), batch_size=3, workers=1,
                                 inspection_file=challenge_config(tmp_path)))
    assert summary["state"] == "RELEASED"
    run_dir = out / summary["run_id"]
    alone = _control_files(run_dir, 1)
    assert [name for name, _ in alone] == ["AU.generic-csv.csv", "JP.generic-csv.csv"]
    monkeypatch.setattr(control, "PARALLEL_PIECES", 1)
    shares = control._shares(manifests(run_dir / "release"), 2 * control.SHARES_PER_WORKER)
    assert len(shares) == 6 and {f.name[:2] for f in shares[0]} == {f.name[:2] for f in shares[1]} == {"AU"}
    assert _control_files(run_dir, 2) == alone
    assert _control_files(run_dir, 2, "fixed-record") == _control_files(run_dir, 1, "fixed-record")
    # Japanese names cannot be written in ASCII: the JP lot, in a later share, fails the same way.
    generic = load_inserter("generic-csv")
    ascii_model = generic.model_copy(update={"control": generic.control.model_copy(update={"encoding": "ascii"})})
    failures = []
    for workers in (1, 2):
        with pytest.raises(ConfigError) as caught:
            _control_files(run_dir, workers, ascii_model)
        failures.append((str(caught.value), caught.value.file, caught.value.key))
    assert failures[0] == failures[1]
    assert failures[0][0].startswith("inserters/generic-csv.toml: control.encoding: control file for lot JP:")


# --- results in ---------------------------------------------------------------------------------

def test_a_hand_written_bad_file_is_refused_whole(statement_out, tmp_path):
    run_dir = _copy(statement_out, tmp_path)
    run_id = run_dir.name
    good = _results(run_id, [(1, "OK", ""), (2, "DAMAGED", "jam at the folder")])
    cases = {
        "bad line": (good + f"{run_id},3,OK\n", 4, "record"),
        "other run": (good + f"20261120-AAAAAA,3,OK,,{STAMP},\n", 4, "run_id"),
        "no such piece": (good + f"{run_id},99999,OK,,{STAMP},\n", 4, "sequence"),
        "unmapped status": (good + f"{run_id},3,LOST,,{STAMP},\n", 4, "status"),
        "bad timestamp": (good + f"{run_id},3,OK,,yesterday,\n", 4, "timestamp"),
    }
    before = _state(run_dir)
    for name, (text, line, field) in cases.items():
        path = tmp_path / f"{name}.csv"
        path.write_text(text, encoding="utf-8")
        res = _cli("reconcile", run_dir, "--results", path, "--json")
        assert res.exit_code == 2, (name, res.output)
        assert f"{path}: line {line}: {field}:" in res.output, (name, res.output)
        assert json.loads(res.output.strip().splitlines()[-1])["problems"][0] == {
            "line": line, "field": field, "reason": json.loads(res.output.strip().splitlines()[-1])["problems"][0]["reason"]}
        assert _state(run_dir) == before, name


def test_a_duplicate_record_goes_to_the_operator_and_the_rest_applies(statement_out, tmp_path):
    run_dir = _copy(statement_out, tmp_path)
    run_id = run_dir.name
    au = [m["sequence"] for m in _manifest(run_dir) if m["region"] == "AU"]
    rows = [(s, "OK", "") for s in au] + [(au[1], "OK", "second read")]
    path = tmp_path / "dup.csv"
    path.write_text(_results(run_id, rows), encoding="utf-8")
    res = _cli("reconcile", run_dir, "--results", path, "--lot", "AU", "--json")
    assert res.exit_code == 6, res.output
    fates = _fates(run_dir)
    assert fates[au[1]] == "WAITING"
    assert all(fates[s] == "MAILED" for s in au if s != au[1])
    out = json.loads(res.output.strip().splitlines()[-1])
    assert out["check"]["waiting_pieces"][0]["sequence"] == au[1]
    assert "duplicate" in out["check"]["waiting_pieces"][0]["reason"]
    # The same file again changes nothing.
    state = _state(run_dir)
    again = _cli("reconcile", run_dir, "--results", path, "--lot", "AU")
    assert "already applied" in again.output and _state(run_dir) == state
    # The operator finds one copy only: it is mailed; the run's JP lot is still unreported.
    res = _cli("reconcile", run_dir, "--piece", au[1], "--action", "ok", "--reason", "one copy in the tray",
               "--operator", "kim")
    assert res.exit_code == 0, res.output
    show = _cli("show", run_id, "--out", run_dir.parent)
    jp = sum(1 for m in _manifest(run_dir) if m["region"] == "JP")
    assert f"scheduled {len(au) + jp} = mailed {len(au)} + pulled 0 + in reprint 0 + to reprint 0 + waiting 0 + " \
           f"not yet reported {jp}" in show.output
    refused = _cli("reconcile", run_dir, "--piece", au[1], "--action", "reprint", "--reason", "x", "--operator", "kim")
    assert refused.exit_code == 2 and "already MAILED" in refused.output


def test_a_reprint_share_above_the_maximum_waits_for_the_operator(statement_out, tmp_path):
    run_dir = _copy(statement_out, tmp_path)
    au = [m["sequence"] for m in _manifest(run_dir) if m["region"] == "AU"]
    damaged = au[:max(1, len(au) // 10)]  # 10% > generic-csv's 5%
    path = tmp_path / "damaged.csv"
    path.write_text(_results(run_dir.name, [(s, "DAMAGED" if s in damaged else "OK", "") for s in au]), "utf-8")
    res = _cli("reconcile", run_dir, "--results", path, "--lot", "AU", "--json")
    out = json.loads(res.output.strip().splitlines()[-1])
    assert res.exit_code == 6 and out["reprints_held"] is True
    fates = _fates(run_dir)
    assert [s for s in au if fates[s] == "WAITING"] == damaged
    res = _cli("reconcile", run_dir, *[a for s in damaged for a in ("--piece", s)], "--action", "reprint",
               "--reason", "confirmed damaged", "--operator", "kim")
    assert res.exit_code == 0, res.output
    assert all(_fates(run_dir)[s] == "REPRINT" for s in damaged)
    check = json.loads(_cli("show", run_dir.name, "--out", run_dir.parent, "--json").output)["inserter"]
    assert check["to_reprint"] == len(damaged) and not check["complete"] and check["loop"] == "REPRINTS PENDING"


def test_planned_diverts_stay_apart_from_fault_outsorts(statement_out, tmp_path):
    run_dir = _copy(statement_out, tmp_path)
    au = [m for m in _manifest(run_dir) if m["region"] == "AU"]
    pulled = [au[0]["sequence"], au[1]["sequence"]]
    (run_dir / "release" / "pulled.jsonl").write_text("".join(
        json.dumps({"sequence": s, "account_id": "x", "region": "AU", "stage": 1, "lot": "AU", "reason": "screening",
                    "inspector": "qa", "at": STAMP}) + "\n" for s in pulled), "utf-8")
    with sqlite3.connect(run_dir.parent / "ledger.sqlite") as db:   # as a screening at stage 1 records them
        db.executemany("INSERT INTO pulled_pieces VALUES (?,?,?,?,?,?,?)",
                       [(run_dir.name, s, 1, "AU", "screening", "qa", STAMP) for s in pulled])
    assert _cli("inserter", "control", run_dir).exit_code == 0
    rows = list(csv.DictReader((run_dir / "release" / "inserter" / "AU.generic-csv.csv").read_text("utf-8").splitlines()))
    assert [r["sequence"] for r in rows if r["divert"]] == [str(s) for s in pulled]
    assert {r["divert"] for r in rows if r["divert"]} == {"2"}
    other = au[2]["sequence"]
    text = RESULTS_HEADER + "\n" + "".join(
        f"{run_dir.name},{m['sequence']},{status},{bin_},{STAMP},\n" for m, status, bin_ in
        [(au[0], "DIVERTED", "2"), (au[1], "OK", ""), (au[2], "DIVERTED", "2")] + [(m, "OK", "") for m in au[3:]])
    path = tmp_path / "diverts.csv"
    path.write_text(text, "utf-8")
    _cli("reconcile", run_dir, "--results", path, "--lot", "AU")
    fates = _fates(run_dir)
    assert fates[pulled[0]] == "PULLED"
    assert fates[pulled[1]] == "WAITING"  # a planned divert reported inserted must not go unseen
    assert fates[other] == "WAITING"  # an unplanned divert is a fault outsort, not a pull
    res = _cli("reconcile", run_dir, "--piece", pulled[1], "--action", "ok", "--reason", "x", "--operator", "kim")
    assert res.exit_code == 2 and "cannot be mailed" in res.output


# --- the emulator ------------------------------------------------------------------------------

ALL_FAULTS = "jam=0.05,double-feed=0.05,misread=0.05,missing=0.05,pulled=0.05,duplicate=0.05"


def _drill_model(tmp_path: Path) -> Path:
    """generic-csv under another name with room for the faults' reprints: adding a model is a TOML file."""
    text = (ROOT / "inserters" / "generic-csv.toml").read_text(encoding="utf-8")
    path = tmp_path / "drill-csv.toml"
    path.write_text(text.replace('name = "generic-csv"', 'name = "drill-csv"')
                    .replace("maximum_reprint_percent = 5", "maximum_reprint_percent = 50"), "utf-8")
    return path


def test_insert_sim_with_every_fault_then_reconcile(statement_out, tmp_path):
    run_dir = _copy(statement_out, tmp_path)
    model = _drill_model(tmp_path)
    assert _cli("inserter", "control", run_dir, "--model", model).exit_code == 0
    sim = _cli("insert-sim", run_dir, "--model", model, "--faults", ALL_FAULTS, "--seed", "11",
               "--out", tmp_path / "r.csv")
    assert sim.exit_code == 0, sim.output
    injected = json.loads(sim.output.strip().splitlines()[-1])["faults"]
    assert set(injected) == {"jam", "double-feed", "misread", "missing", "pulled", "duplicate"}
    again = _cli("insert-sim", run_dir, "--model", model, "--faults", ALL_FAULTS, "--seed", "11",
                 "--out", tmp_path / "r2.csv")
    assert again.exit_code == 0 and (tmp_path / "r.csv").read_bytes() == (tmp_path / "r2.csv").read_bytes()
    rows = list(csv.DictReader((tmp_path / "r.csv").read_text("utf-8").splitlines()))
    manifest = _manifest(run_dir)
    assert {int(r["sequence"]) for r in rows} == {m["sequence"] for m in manifest} - set(injected["missing"])
    res = _cli("reconcile", run_dir, "--results", tmp_path / "r.csv", "--model", model, "--json")
    assert res.exit_code == 6, res.output
    fates = _fates(run_dir)
    expect = {"jam": "REPRINT", "double-feed": "REPRINT", "misread": "WAITING", "missing": "WAITING",
              "pulled": "WAITING", "duplicate": "WAITING"}
    faulty = set()
    for kind, seqs in injected.items():
        faulty |= set(seqs)
        assert {fates[s] for s in seqs} == {expect[kind]}, kind
    assert all(fates[m["sequence"]] == "MAILED" for m in manifest if m["sequence"] not in faulty)
    check = json.loads(res.output.strip().splitlines()[-1])["check"]
    assert check["scheduled"] == len(manifest) == (check["mailed"] + check["pulled"] + check["to_reprint"]
                                                   + check["waiting"] + check["not_reported"])
    assert check["not_reported"] == 0 and not check["complete"]
    # The operator settles what waits; the run is still not complete while reprints are pending.
    for seq in injected["pulled"]:
        assert _cli("reconcile", run_dir, "--piece", seq, "--action", "pull", "--reason", "torn insert",
                    "--operator", "kim").exit_code in (0, 6)
    history = _cli("show", run_dir.name, "--out", run_dir.parent)
    assert "inserter loop: WAITING FOR OPERATOR" in history.output
    assert "COMPLETE" not in history.output


def test_a_card_run_goes_round_the_same_loop_to_complete(card_out, tmp_path):
    run_dir = _copy(card_out, tmp_path)
    sim = _cli("insert-sim", run_dir, "--out", tmp_path / "cards.csv", "--seed", "1")
    assert sim.exit_code == 0, sim.output
    res = _cli("reconcile", run_dir, "--results", tmp_path / "cards.csv", "--json")
    assert res.exit_code == 0, res.output
    check = json.loads(res.output.strip().splitlines()[-1])["check"]
    assert check["complete"] and check["mailed"] == check["scheduled"] == len(_manifest(run_dir))
    assert "inserter loop: COMPLETE" in _cli("show", run_dir.name, "--out", run_dir.parent).output


def test_kill_during_reconcile_changes_nothing_and_the_rerun_applies(statement_out, tmp_path):
    run_dir = _copy(statement_out, tmp_path)
    au = [m["sequence"] for m in _manifest(run_dir) if m["region"] == "AU"]
    path = tmp_path / "ok.csv"
    path.write_text(_results(run_dir.name, [(s, "OK", "") for s in au]), "utf-8")
    before = _state(run_dir)
    env = {**os.environ, "STMTPROD_CRASH_AT": "reconcile:commit"}
    proc = subprocess.run([sys.executable, "-m", "stmtprod", "reconcile", str(run_dir), "--results", str(path),
                           "--lot", "AU"], env=env, capture_output=True, timeout=300)
    assert proc.returncode == -9
    assert _state(run_dir) == before
    res = _cli("reconcile", run_dir, "--results", path, "--lot", "AU")
    assert res.exit_code == 0, res.output
    assert set(_fates(run_dir).values()) == {"MAILED"} and len(_fates(run_dir)) == len(au)


def test_the_fixed_length_model_goes_round_the_loop(statement_out, tmp_path):
    """fixed-record: no header, two-digit codes, ATTENTION reprinted, 3% maximum."""
    run_dir = _copy(statement_out, tmp_path)
    assert _cli("inserter", "control", run_dir, "--model", "fixed-record").exit_code == 0
    out = tmp_path / "r.dat"
    sim = _cli("insert-sim", run_dir, "--model", "fixed-record", "--lot", "JP", "--faults", "misread=0.02",
               "--seed", "5", "--out", out)
    assert sim.exit_code == 0, sim.output
    misread = json.loads(sim.output.strip().splitlines()[-1])["faults"]["misread"]
    lines = out.read_text(encoding="utf-8").splitlines()
    jp = [m["sequence"] for m in _manifest(run_dir) if m["region"] == "JP"]
    assert len(lines) == len(jp) and all(len(line) == 56 for line in lines)
    assert {line[27:29] for line in lines} == {"00", "30"}
    res = _cli("reconcile", run_dir, "--results", out, "--model", "fixed-record", "--lot", "JP", "--json")
    result = json.loads(res.output.strip().splitlines()[-1])
    fates = _fates(run_dir)
    if 100 * len(misread) / len(jp) > 3:
        assert result["reprints_held"] and {fates[s] for s in misread} == {"WAITING"}
    else:
        assert {fates[s] for s in misread} == {"REPRINT"}
    assert sorted(fates) == jp
    # A generic-csv reading of a fixed-length file is refused whole.
    refused = _cli("reconcile", run_dir, "--results", out)
    assert refused.exit_code == 2 and f"{out}: line 1: header:" in refused.output


# --- lots with no record, models per lot, COMPLETE and the lodgement ----------------------------

def test_a_lot_with_no_record_is_missing_piece_by_piece(statement_out, tmp_path):
    """A results file reports on every lot of the run unless --lot says otherwise: a lot it has no
    record for is MISSING, piece by piece, exactly like one piece without a record."""
    run_dir = _copy(statement_out, tmp_path)
    manifest = _manifest(run_dir)
    au = [m["sequence"] for m in manifest if m["region"] == "AU"]
    jp = [m["sequence"] for m in manifest if m["region"] == "JP"]
    path = tmp_path / "au-only.csv"
    path.write_text(_results(run_dir.name, [(s, "OK", "") for s in au]), "utf-8")
    res = _cli("reconcile", run_dir, "--results", path, "--json")
    assert res.exit_code == 6, res.output
    fates = _fates(run_dir)
    assert {fates[s] for s in au} == {"MAILED"} and {fates[s] for s in jp} == {"WAITING"}
    check = json.loads(res.output.strip().splitlines()[-1])["check"]
    assert check["waiting"] == len(jp) and check["not_reported"] == 0
    assert all(w["status"] == "MISSING" and "missing" in w["reason"] for w in check["waiting_pieces"])
    # A file that says it is for JP may not carry an AU piece; an empty JP file makes JP missing too.
    other = tmp_path / "jp-with-au.csv"
    other.write_text(_results(run_dir.name, [(au[0], "OK", "")]), "utf-8")
    refused = _cli("reconcile", run_dir, "--results", other, "--lot", "JP")
    assert refused.exit_code == 2 and f"{other}: line 2: sequence: piece {au[0]} is in lot AU" in refused.output
    # With a model that sets a default for MISSING, the lot takes it.
    fresh = _copy(statement_out, tmp_path / "fresh")
    model = tmp_path / "lenient-csv.toml"
    model.write_text((ROOT / "inserters" / "generic-csv.toml").read_text("utf-8")
                     .replace('name = "generic-csv"', 'name = "lenient-csv"')
                     .replace("divert_bin = 2", 'divert_bin = 2\nmissing_status = "OK"'), "utf-8")
    empty = tmp_path / "empty.csv"
    empty.write_text(RESULTS_HEADER + "\n", "utf-8")
    res = _cli("reconcile", fresh, "--results", empty, "--model", model, "--lot", "JP", "--json")
    assert res.exit_code == 0, res.output
    assert _fates(fresh) == {s: "MAILED" for s in jp}


def _inserters_with_lots(tmp_path: Path, lots_toml: str) -> Path:
    folder = tmp_path / "inserters"
    shutil.copytree(ROOT / "inserters", folder)
    (folder / "lots.toml").write_text(lots_toml, "utf-8")
    return folder


def test_each_lot_runs_on_its_configured_model(tmp_path, monkeypatch):
    folder = _inserters_with_lots(tmp_path, '[lots.JP]\nmodel = "fixed-record"\n\n'
                                            '[lots.AU]\nmaximum_reprint_percent = 0\n')
    monkeypatch.setenv("STMTPROD_INSERTERS", str(folder))
    out = tmp_path / "out"
    assert build(BuildOptions(input=SAMPLES, out=out, regions=("AU", "JP"), workers=1))["state"] == "RELEASED"
    run_dir = next(p for p in out.iterdir() if (p / "run.json").exists())
    written = sorted(p.name for p in (run_dir / "release" / "inserter").iterdir())
    assert written == ["AU.generic-csv.csv", "JP.fixed-record.dat"]
    # One results file is in one model's format: lots on two models need --lot.
    mixed = _cli("insert-sim", run_dir, "--out", tmp_path / "all.csv")
    assert mixed.exit_code == 2 and "AU: generic-csv, JP: fixed-record" in mixed.output
    sim = _cli("insert-sim", run_dir, "--lot", "JP", "--out", tmp_path / "jp.dat", "--seed", "2")
    assert sim.exit_code == 0, sim.output
    lines = (tmp_path / "jp.dat").read_text("utf-8").splitlines()
    assert lines and all(len(line) == 56 for line in lines)
    res = _cli("reconcile", run_dir, "--results", tmp_path / "jp.dat", "--lot", "JP", "--json")
    assert res.exit_code == 0 and json.loads(res.output.strip().splitlines()[-1])["model"] == "fixed-record"
    # AU's own maximum (0%) holds its single damaged piece for the operator; generic-csv alone allows 5%.
    au = [m["sequence"] for m in _manifest(run_dir) if m["region"] == "AU"]
    path = tmp_path / "au.csv"
    path.write_text(_results(run_dir.name, [(s, "DAMAGED" if s == au[0] else "OK", "") for s in au]), "utf-8")
    res = _cli("reconcile", run_dir, "--results", path, "--lot", "AU", "--json")
    result = json.loads(res.output.strip().splitlines()[-1])
    assert result["held_lots"] == ["AU"] and _fates(run_dir)[au[0]] == "WAITING"
    assert "above its maximum 0%" in result["check"]["waiting_pieces"][0]["reason"]


@pytest.mark.parametrize("text, key", [
    ('[lots.JP]\nmodel = "no-such-model"\n', "lots.JP.model"),
    ('default_model = "Generic"\n', "default_model"),
    ('[lots.AU]\nmaximum_reprint_percent = 120\n', "lots.AU.maximum_reprint_percent"),
    ('[lots.AU]\nmodle = "fixed-record"\n', "lots.AU.modle"),
])
def test_a_bad_lots_file_names_file_and_key(tmp_path, monkeypatch, text, key):
    from stmtprod.inserting.lotmodels import load_lot_models

    folder = _inserters_with_lots(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_lot_models(folder)
    assert str(folder / "lots.toml") in str(err.value) and err.value.key == key


def test_complete_only_when_every_piece_is_final_and_the_lodgement_counts_mailed_pieces(statement_out, tmp_path):
    run_dir = _copy(statement_out, tmp_path)
    manifest = _manifest(run_dir)
    pulled = [manifest[0]["sequence"], manifest[-1]["sequence"]]
    path = tmp_path / "r.csv"
    path.write_text(_results(run_dir.name, [(m["sequence"], "PULLED" if m["sequence"] in pulled else "OK", "")
                                            for m in manifest]), "utf-8")
    res = _cli("reconcile", run_dir, "--results", path)
    assert res.exit_code == 6 and not (run_dir / "lodgement").exists()
    db = sqlite3.connect(run_dir.parent / "ledger.sqlite")
    assert db.execute("SELECT state FROM runs").fetchone()[0] == "RELEASED"
    assert _cli("reconcile", run_dir, "--piece", pulled[0], "--action", "pull", "--reason", "torn",
                "--operator", "kim").exit_code == 6
    env = {**os.environ, "STMTPROD_CRASH_AT": "complete:lodged"}
    proc = subprocess.run([sys.executable, "-m", "stmtprod", "reconcile", str(run_dir), "--piece", str(pulled[1]),
                           "--action", "pull", "--reason", "customer asked", "--operator", "kim"],
                          env=env, capture_output=True, timeout=300)
    assert proc.returncode == -9
    assert db.execute("SELECT state FROM runs").fetchone()[0] == "RELEASED"
    lodged = {p.name: p.read_bytes() for p in (run_dir / "lodgement").iterdir()}
    res = _cli("reconcile", run_dir)  # no arguments: the count check, completing what the crash left
    assert res.exit_code == 0, res.output
    assert db.execute("SELECT state FROM runs").fetchone()[0] == "COMPLETE"
    assert {p.name: p.read_bytes() for p in (run_dir / "lodgement").iterdir()} == lodged
    mailing = {r["sequence"]: r for p in (run_dir / "release" / "mailing").glob("*.jsonl") for r in _jsonl(p)}
    rows = [r for lot in ("AU", "JP") for r in _jsonl(run_dir / "lodgement" / f"{lot}.jsonl")]
    assert sorted(r["sequence"] for r in rows) == sorted(set(mailing) - set(pulled))
    assert all({k: v for k, v in r.items() if k not in ("lot", "run_id")} == mailing[r["sequence"]] for r in rows)
    assert {r["run_id"] for r in rows} == {run_dir.name}
    summary = json.loads((run_dir / "lodgement" / "summary.json").read_text("utf-8"))
    assert summary["scheduled"] == len(manifest) == summary["mailed"] + summary["pulled"]
    assert summary["pulled"] == 2 and sum(v["pieces"] for v in summary["by_lot"].values()) == summary["mailed"]
    show = _cli("show", run_dir.name, "--out", run_dir.parent)
    assert f"run {run_dir.name}: COMPLETE" in show.output
    assert f"scheduled {len(manifest)} = mailed {len(manifest) - 2} + pulled 2\n" in show.output
    # The run report is written again at COMPLETE with the count check, read back from its PDF.
    import pypdf

    report = json.loads((run_dir / "report.json").read_text("utf-8"))
    assert report["state"] == "COMPLETE" and report["inserter_loop"]["complete"]
    text = " ".join(page.extract_text() for page in pypdf.PdfReader(run_dir / "report.pdf").pages)
    assert f"scheduled {len(manifest)} = mailed {len(manifest) - 2} + pulled 2" in " ".join(text.split())
    db.close()


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.endswith(".lock") and not p.name.startswith("ledger.sqlite")}


@pytest.mark.parametrize("line", ["statements", "cards"])
def test_resume_of_a_released_or_complete_run_changes_nothing(statement_out, card_out, tmp_path, line):
    run_dir = _copy(statement_out if line == "statements" else card_out, tmp_path)
    out, run_id = run_dir.parent, run_dir.name
    db = sqlite3.connect(out / "ledger.sqlite")
    transitions = lambda: db.execute("SELECT state FROM transitions ORDER BY id").fetchall()  # noqa: E731
    for expected in ("RELEASED", "COMPLETE"):
        if expected == "COMPLETE":
            path = tmp_path / "ok.csv"
            path.write_text(_results(run_id, [(m["sequence"], "OK", "") for m in _manifest(run_dir)]), "utf-8")
            assert _cli("reconcile", run_dir, "--results", path).exit_code == 0
        before, history = _files(out), transitions()
        assert history[-1] == (expected,)
        res = _cli("resume", run_id, "--out", out)
        assert res.exit_code == 0, res.output
        assert transitions() == history and _files(out) == before, expected
    db.close()



# --- reprint children -----------------------------------------------------------------------------

def _ledger_rows(out: Path, sql: str, *args) -> list[tuple]:
    db = sqlite3.connect(out / "ledger.sqlite")
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def _piece_texts(run_dir: Path) -> dict[int, list[str]]:
    """Each piece's pages as text, read back from the released print files (pypdf)."""
    import pypdf

    texts: dict[int, list[str]] = {}
    for manifest in sorted((run_dir / "release" / "manifest").glob("*.jsonl")):
        reader = pypdf.PdfReader(run_dir / "release" / "print" / f"{manifest.stem}.pdf")
        page = 0
        for row in _jsonl(manifest):
            texts[row["sequence"]] = [reader.pages[page + i].extract_text() for i in range(row["sheets"])]
            page += row["sheets"]
    return texts


def _tags(run_dir: Path) -> set[str]:
    return {p[3:9] for r in _manifest(run_dir) for p in r["payloads"]}


def _settle_waiting(run_dir: Path, injected: dict[str, list[int]]) -> None:
    """What an operator does with the emulator's faults: misreads and outsorts reprinted, pulls pulled,
    missing and duplicate pieces found as one good copy."""
    for kind, action in (("misread", "reprint"), ("pulled", "pull"), ("missing", "ok"), ("duplicate", "ok")):
        seqs = [a for s in injected.get(kind, []) for a in ("--piece", s)]
        if seqs:
            res = _cli("reconcile", run_dir, *seqs, "--action", action, "--reason", f"operator: {kind}",
                       "--operator", "kim")
            assert res.exit_code in (0, 6), res.output


def test_reprint_children_close_the_loop_to_complete(statement_out, tmp_path, monkeypatch):
    """build -> release -> insert-sim with every fault -> reconcile -> reprint child -> insert-sim on the
    child -> reconcile -> a reprint of the reprint -> ... -> COMPLETE, with every count checked."""
    monkeypatch.setenv("STMTPROD_INSERTERS", str(_inserters_with_lots(
        tmp_path, "[lots.AU]\nmaximum_reprint_percent = 60\n[lots.JP]\nmaximum_reprint_percent = 60\n")))
    run_dir = _copy(statement_out, tmp_path)
    out, root = run_dir.parent, run_dir.name
    originals = _piece_texts(run_dir)
    sim = _cli("insert-sim", run_dir, "--faults", ALL_FAULTS, "--seed", "11", "--out", tmp_path / "root.csv")
    injected = json.loads(sim.output.strip().splitlines()[-1])["faults"]
    assert set(injected) == {"jam", "double-feed", "misread", "missing", "pulled", "duplicate"}
    assert _cli("reconcile", run_dir, "--results", tmp_path / "root.csv").exit_code == 6
    _settle_waiting(run_dir, injected)
    to_reprint = sorted(injected["jam"] + injected["double-feed"] + injected["misread"])
    assert sorted(s for s, f in _fates(run_dir).items() if f == "REPRINT") == to_reprint

    res = _cli("reprint", run_dir, "--json")
    assert res.exit_code == 0, res.output
    first = json.loads(res.output.strip().splitlines()[-1])
    child = out / f"{root}-R1"
    assert first["child"] == child.name and first["state"] == "RELEASED" and first["pieces"] == len(to_reprint)
    links = _ledger_rows(out, "SELECT parent_seq, child_seq FROM reprints WHERE child_run = ? ORDER BY line", child.name)
    assert [p for p, _ in links] == to_reprint
    assert sorted(c for _, c in links) == list(range(1, len(to_reprint) + 1))  # new sequences
    assert _tags(child) and not _tags(child) & _tags(run_dir)  # its own run tag: never valid as the parent
    texts = _piece_texts(child)
    for parent_seq, child_seq in links:
        assert texts[child_seq] == originals[parent_seq]  # the same pages, read back
    assert {f for s, f in _fates(run_dir).items() if s in to_reprint} == {"REPRINTED"}
    assert _cli("show", root, "--out", out).output.count("inserter loop: IN REPRINT") == 1
    assert _cli("reprint", run_dir).exit_code == 0  # nothing new to reprint while R1 is open: no R2
    assert not (out / f"{root}-R2").exists()

    # The child goes round the loop: one of its pieces is damaged again, so it gets a child of its own.
    sim = _cli("insert-sim", child, "--out", tmp_path / "r1.csv", "--seed", "3")
    assert sim.exit_code == 0, sim.output
    lines = (tmp_path / "r1.csv").read_text("utf-8").splitlines()
    lines[1] = lines[1].replace(",OK,", ",DAMAGED,", 1)
    (tmp_path / "r1.csv").write_text("\n".join(lines) + "\n", "utf-8")
    assert _cli("reconcile", child, "--results", tmp_path / "r1.csv").exit_code == 0
    res = _cli("reprint", child, "--json")
    second = json.loads(res.output.strip().splitlines()[-1])
    grandchild = out / f"{root}-R2"
    assert second["child"] == grandchild.name and second["pieces"] == 1 and second["state"] == "RELEASED"
    (again_parent, again_child), = _ledger_rows(out, "SELECT parent_run, parent_seq FROM reprints WHERE child_run = ?",
                                                grandchild.name)
    assert again_parent == child.name
    assert _piece_texts(grandchild)[1] == texts[again_child]
    assert _cli("insert-sim", grandchild, "--out", tmp_path / "r2.csv").exit_code == 0
    res = _cli("reconcile", grandchild, "--results", tmp_path / "r2.csv", "--json")
    assert res.exit_code == 0, res.output

    states = dict(_ledger_rows(out, "SELECT run_id, state FROM runs"))
    assert states == {root: "COMPLETE", child.name: "COMPLETE", grandchild.name: "COMPLETE"}
    check = json.loads(_cli("show", root, "--out", out, "--json").output)["inserter"]
    manifest = _manifest(run_dir)
    assert check["scheduled"] == len(manifest) == check["mailed"] + check["pulled"]
    assert check["pulled"] == len(injected["pulled"]) and check["mailed_via_reprint"] == len(to_reprint)
    # The lodgement: every root piece mailed exactly once, as itself or as its latest reprint.
    lodged = [r for p in sorted((run_dir / "lodgement").glob("*.jsonl")) for r in _jsonl(p)]
    physical = [(r["run_id"], r["sequence"]) for r in lodged]
    assert len(physical) == len(set(physical)) == check["mailed"]
    accounts = [r["account_id"] for r in lodged]
    assert len(accounts) == len(set(accounts))
    by_seq = {m["sequence"]: m["account_id"] for m in manifest}
    assert set(accounts) == {by_seq[s] for s in by_seq if s not in injected["pulled"]}
    assert {r["run_id"] for r in lodged if r["sequence"] in to_reprint and r["run_id"] == root} == set()
    assert not (child / "lodgement").exists() and not (grandchild / "lodgement").exists()


def test_kill_during_a_childs_rendering_resumes_to_the_same_state(statement_out, tmp_path):
    runs = []
    for name in ("clean", "killed"):
        run_dir = _copy(statement_out, tmp_path / name)
        manifest = _manifest(run_dir)
        damaged = {manifest[0]["sequence"]}
        path = tmp_path / f"{name}.csv"
        path.write_text(_results(run_dir.name, [(m["sequence"], "DAMAGED" if m["sequence"] in damaged else "OK", "")
                                                for m in manifest]), "utf-8")
        assert _cli("reconcile", run_dir, "--results", path).exit_code == 0
        if name == "killed":
            env = {**os.environ, "STMTPROD_CRASH_AT": "render:batch"}
            proc = subprocess.run([sys.executable, "-m", "stmtprod", "reprint", str(run_dir)], env=env,
                                  capture_output=True, timeout=600)
            assert proc.returncode == -9, proc.stderr
            assert _ledger_rows(run_dir.parent, "SELECT state FROM runs WHERE run_id = ?", f"{run_dir.name}-R1") \
                != [("RELEASED",)]
        res = _cli("reprint", run_dir, "--json")
        assert res.exit_code == 0, res.output
        runs.append(run_dir)
    clean, killed = runs
    child = f"{clean.name}-R1"
    assert _files(clean.parent / child / "release") == _files(killed.parent / child / "release")
    link = "SELECT parent_run, parent_seq, child_run, line, child_seq, round FROM reprints ORDER BY line"
    assert _ledger_rows(clean.parent, link) == _ledger_rows(killed.parent, link)
    fate = "SELECT run_id, sequence, fate, status FROM piece_state ORDER BY 1, 2"
    assert _ledger_rows(clean.parent, fate) == _ledger_rows(killed.parent, fate)


def test_a_card_run_goes_round_the_reprint_loop_too(card_out, tmp_path, monkeypatch):
    monkeypatch.setenv("STMTPROD_INSERTERS", str(_inserters_with_lots(
        tmp_path, "[lots.CARDS-AU]\nmaximum_reprint_percent = 60\n")))
    run_dir = _copy(card_out, tmp_path)
    out, root = run_dir.parent, run_dir.name
    originals = _piece_texts(run_dir)
    manifest = _manifest(run_dir)
    damaged = [m["sequence"] for m in manifest[::4]]
    path = tmp_path / "cards.csv"
    path.write_text(_results(root, [(m["sequence"], "DAMAGED" if m["sequence"] in damaged else "OK", "jam")
                                    for m in manifest]), "utf-8")
    assert _cli("reconcile", run_dir, "--results", path).exit_code == 0
    res = _cli("reprint", run_dir, "--json")
    assert res.exit_code == 0, res.output
    child = out / json.loads(res.output.strip().splitlines()[-1])["child"]
    assert child.name == f"{root}-R1"
    links = _ledger_rows(out, "SELECT parent_seq, child_seq FROM reprints WHERE child_run = ? ORDER BY line", child.name)
    assert [p for p, _ in links] == damaged
    texts = _piece_texts(child)
    assert all(texts[c] == originals[p] for p, c in links)
    assert not _tags(child) & _tags(run_dir)
    sealing = _jsonl(child / "release" / "sealing" / "sealing.jsonl")  # the card-to-carrier match held
    assert len(sealing) == len(damaged)
    for made in (run_dir / "reprints").iterdir():  # the child's input and log: never a card number
        assert not re.search(r"[0-9]{12,}", made.read_text("utf-8")), made
    assert _cli("insert-sim", child, "--out", tmp_path / "r1.csv").exit_code == 0
    assert _cli("reconcile", child, "--results", tmp_path / "r1.csv").exit_code == 0
    assert dict(_ledger_rows(out, "SELECT run_id, state FROM runs")) == {root: "COMPLETE", child.name: "COMPLETE"}
    lodged = [r for p in (run_dir / "lodgement").glob("*.jsonl") for r in _jsonl(p)]
    assert len(lodged) == len(manifest) and sum(r["run_id"] == child.name for r in lodged) == len(damaged)


def _outcome(make):
    try:
        return ("line", make())
    except Exception as exc:  # noqa: BLE001  (the very error is what is compared)
        return ("error", type(exc), str(exc), getattr(exc, "field", None))


@pytest.mark.parametrize("model", ["generic-csv", "fixed-record"])
def test_a_models_row_formatter_writes_what_format_row_writes(model):
    """The control files' one-per-lot formatter (`row_formatter`) against `format_row`, on values that
    quote, cut, pad, overflow or go missing, in both shipped models and a semicolon-delimited one."""
    import random

    from stmtprod.inserting.records import format_row, row_formatter

    fmt = load_inserter(model).control
    formats = [fmt, fmt.model_copy(update={"delimiter": ";"})] if fmt.format == "delimited" else [fmt]
    rng = random.Random(16)
    values = ["", "0", "12", "2632", "9999999999", "13.0", "NNNNNYNN", "LETTER-S", "20261120-TSTWU1", "AU",
              "小川 大翔 様", 'a "quoted" name', "a, comma", "semi;colon", "line\nbreak", "tab\there", " lead",
              "x" * 60, "Ünïcödé ÿ", "\r", "'"]
    keys = ["run_id", "lot", "sequence", "sheets", "bins", "divert", "postage_class", "weight_g", "name"]
    for fmt in formats:
        formatted = row_formatter(fmt)
        for _ in range(400):
            row = {k: rng.choice(values) for k in keys if rng.random() > 0.1}
            assert _outcome(lambda: formatted(row)) == _outcome(lambda: format_row(fmt, row)), row


def test_a_pieces_bins_are_yes_or_no_for_each_hopper_once_per_set():
    from stmtprod.inserting.pieces import Piece

    def piece(hoppers):
        return Piece("AU", 1, "AU", 1, hoppers, (), 10.0, "LETTER-S", "", False)

    for hoppers in [(), (1,), (3, 8), (8, 1, 5), (9,), (0, 2)]:
        for count in (4, 8):
            assert piece(hoppers).bins(count) == "".join("Y" if h in hoppers else "N" for h in range(1, count + 1))
    assert piece(([1], 2)).bins(3) == "NYN"  # a hopper that cannot be hashed: no cache, the same answer
