"""Every piece mailed exactly once, whatever the inserter or the operator reports later: a challenge
piece is only pulled, a reprint round is recorded only with its child, a settled fate never changes
(a second envelope waits for the operator), and a results file's bin is one of the model's bins.

Real runs of both lines, driven through the CLI; expectations read from the released manifests.
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from stmtprod.config import BuildOptions
from stmtprod.statements.line import build
from tests.test_inserting import (RESULTS_HEADER, SAMPLES, STAMP, _cli, _copy, _fates, _jsonl, _ledger_rows,
                                  _manifest, _results, _state, card_out)  # noqa: F401  (a fixture)

CARD = "5555555555554444"


@pytest.fixture(scope="module")
def challenged_out(tmp_path_factory) -> Path:
    """One lot (AU) with the shipped inspection.toml: its challenge pieces go round the loop too."""
    out = tmp_path_factory.mktemp("faults-challenged")
    summary = build(BuildOptions(input=SAMPLES, out=out, regions=("AU",), workers=2))
    assert summary["state"] == "RELEASED" and summary["challenges"]["pieces"] >= 2
    return out


def _sequences(run_dir: Path) -> tuple[list[int], list[int]]:
    """(the run's own pieces, its challenge pieces), in sequence order."""
    own = [m["sequence"] for m in _manifest(run_dir)]
    planted = sorted(r["sequence"] for p in (run_dir / "release" / "challenge" / "manifest").glob("*.jsonl")
                     for r in _jsonl(p))
    return own, planted


def _all(run_id: str, own: list[int], planted: list[int], **status: str) -> str:
    """Every piece reported: the run's own OK, challenge pieces DIVERTED to their bin, `status` by sequence."""
    rows = [f"{run_id},{s},{status.get(str(s), 'OK')},,{STAMP},\n" for s in own]
    rows += [f"{run_id},{s},{status.get(str(s), 'DIVERTED')},2,{STAMP},\n" for s in planted]
    return RESULTS_HEADER + "\n" + "".join(rows)


def _decide(run_dir: Path, seq: int, action: str):
    return _cli("reconcile", run_dir, "--piece", seq, "--action", action, "--reason", f"test {action}",
                "--operator", "kim")


def _runs(out: Path) -> dict[str, str]:
    return dict(_ledger_rows(out, "SELECT run_id, state FROM runs"))


def _finish_child(child: Path, tmp_path: Path) -> None:
    assert _cli("insert-sim", child, "--out", tmp_path / f"{child.name}.csv").exit_code == 0
    res = _cli("reconcile", child, "--results", tmp_path / f"{child.name}.csv")
    assert res.exit_code == 0, res.output


# --- fault 1: a challenge piece is only pulled; a reprint round is recorded only with its child ----------

def test_a_challenge_piece_reported_attention_or_ok_can_only_be_pulled(challenged_out, tmp_path):
    run_dir = _copy(challenged_out, tmp_path)
    own, planted = _sequences(run_dir)
    path = tmp_path / "r.csv"
    path.write_text(_all(run_dir.name, own, planted, **{str(planted[0]): "OK", str(planted[1]): "ATTENTION"}),
                    "utf-8")
    res = _cli("reconcile", run_dir, "--results", path)
    assert res.exit_code == 6, res.output
    for seq in planted[:2]:
        line = next(x for x in res.output.splitlines() if f"WAITING piece {seq} " in x)
        assert "--action pull" in line and "reprint" not in line and "--action ok" not in line
        for action in ("ok", "reprint"):
            refused = _decide(run_dir, seq, action)
            assert refused.exit_code == 2 and "planned divert (a challenge piece)" in refused.output, refused.output
    assert _fates(run_dir)[planted[1]] == "WAITING"
    assert _cli("reprint", run_dir).exit_code == 0 and not (run_dir.parent / f"{run_dir.name}-R1").exists()
    assert _decide(run_dir, planted[0], "pull").exit_code == 6
    assert _decide(run_dir, planted[1], "pull").exit_code == 0
    assert _runs(run_dir.parent) == {run_dir.name: "COMPLETE"}


def test_a_half_made_reprint_round_is_planned_again_without_the_challenge_piece(challenged_out, tmp_path):
    """The ledger an earlier version left: a challenge piece accepted for reprint, then `reprint` recorded
    the round (links and REPRINTED fates) and failed to make the child. `reprint` repairs it by evidence."""
    run_dir = _copy(challenged_out, tmp_path)
    out, root = run_dir.parent, run_dir.name
    own, planted = _sequences(run_dir)
    damaged, challenge = own[2], planted[0]
    path = tmp_path / "r.csv"
    path.write_text(_all(root, own, planted, **{str(damaged): "DAMAGED", str(challenge): "ATTENTION"}), "utf-8")
    assert _cli("reconcile", run_dir, "--results", path).exit_code == 6
    db = sqlite3.connect(out / "ledger.sqlite")
    with db:
        for line, seq in enumerate((damaged, challenge), 1):
            db.execute("INSERT INTO reprints VALUES (?,?,?,?,NULL,1,?)", (root, seq, f"{root}-R1", line, STAMP))
            db.execute("INSERT INTO piece_fates (run_id, sequence, status, fate, who, reason, details, at) "
                       "VALUES (?,?,'REPRINT','REPRINTED','stmtprod reprint','reprinted in R1','{}',?)",
                       (root, seq, STAMP))
            db.execute("UPDATE piece_state SET fate = 'REPRINTED' WHERE run_id = ? AND sequence = ?", (root, seq))
    db.close()
    advice = _decide(run_dir, challenge, "pull")
    assert advice.exit_code == 2 and "never made" in advice.output and "stmtprod reprint" in advice.output

    res = _cli("reprint", run_dir, "--json")
    assert res.exit_code == 6, res.output
    assert f"piece {challenge} of {root} is a planned divert (a challenge piece): never reprinted" in res.output
    made = json.loads(res.output.strip().splitlines()[-1])
    assert made["child"] == f"{root}-R1" and made["pieces"] == 1 and made["state"] == "RELEASED"
    links = _ledger_rows(out, "SELECT parent_seq FROM reprints WHERE child_run = ?", f"{root}-R1")
    assert links == [(damaged,)]
    assert _fates(run_dir)[challenge] == "WAITING"
    assert _decide(run_dir, challenge, "pull").exit_code == 0  # nothing waits: the damaged piece is in R1
    _finish_child(out / f"{root}-R1", tmp_path)
    assert _runs(out) == {root: "COMPLETE", f"{root}-R1": "COMPLETE"}


def test_a_reprint_that_cannot_make_its_child_input_records_nothing(challenged_out, tmp_path):
    run_dir = _copy(challenged_out, tmp_path)
    own, planted = _sequences(run_dir)
    path = tmp_path / "r.csv"
    path.write_text(_all(run_dir.name, own, planted, **{str(own[0]): "DAMAGED"}), "utf-8")
    assert _cli("reconcile", run_dir, "--results", path).exit_code == 0
    for spill in (run_dir / "work" / "accepted").glob("*.jsonl"):
        spill.rename(spill.with_suffix(".moved"))
    before = _state(run_dir)
    res = _cli("reprint", run_dir)
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert _state(run_dir) == before and _ledger_rows(run_dir.parent, "SELECT * FROM reprints") == []
    for spill in (run_dir / "work" / "accepted").glob("*.moved"):
        spill.rename(spill.with_suffix(".jsonl"))
    assert _cli("reprint", run_dir).exit_code == 0


# --- fault 2: the original of a reprinted piece reported inserted waits, and holds COMPLETE back --------

def _reprinted(challenged_out: Path, tmp_path: Path, index: int) -> tuple[Path, list[int], int]:
    """A copy of the run whose own piece `index` was reported DAMAGED and reprinted into `-R1`: the run
    folder, the run's own sequences and the reprinted piece."""
    run_dir = _copy(challenged_out, tmp_path)
    own, planted = _sequences(run_dir)
    path = tmp_path / "r.csv"
    path.write_text(_all(run_dir.name, own, planted, **{str(own[index]): "DAMAGED"}), "utf-8")
    assert _cli("reconcile", run_dir, "--results", path).exit_code == 0
    assert _cli("reprint", run_dir).exit_code == 0
    return run_dir, own, own[index]


def test_the_original_of_a_reprinted_piece_reported_ok_waits_until_taken_out(challenged_out, tmp_path):
    run_dir, own, damaged = _reprinted(challenged_out, tmp_path, 5)
    out, root = run_dir.parent, run_dir.name
    child = out / f"{root}-R1"
    for status in ("OK", "ATTENTION"):
        again = tmp_path / f"again-{status}.csv"
        again.write_text(_results(root, [(damaged, status, "")]), "utf-8")
        res = _cli("reconcile", run_dir, "--results", again, "--lot", "AU")
        assert res.exit_code == 6, res.output
        assert f"WAITING second envelope of piece {damaged} ({status}, piece REPRINTED)" in res.output
    assert _fates(run_dir)[damaged] == "REPRINTED"
    _finish_child(child, tmp_path)
    assert _runs(out) == {root: "RELEASED", child.name: "COMPLETE"}  # the original may still be in the mail
    shown = _cli("show", root, "--out", out)
    assert "inserter loop: WAITING FOR OPERATOR" in shown.output and "DOES NOT BALANCE" in shown.output
    for action in ("ok", "reprint"):
        assert _decide(run_dir, damaged, action).exit_code == 2
    assert _cli("reconcile", run_dir).exit_code == 6
    res = _decide(run_dir, damaged, "pull")
    assert res.exit_code == 0, res.output
    assert _runs(out) == {root: "COMPLETE", child.name: "COMPLETE"}
    lodged = [(r["run_id"], r["sequence"]) for p in (run_dir / "lodgement").glob("*.jsonl") for r in _jsonl(p)]
    assert (root, damaged) not in lodged and len(lodged) == len(set(lodged)) == len(own)
    closed = _ledger_rows(out, "SELECT sequence, status, action, who, decided_reason FROM second_copies")
    assert closed == [(damaged, "OK", "pull", "kim", "test pull"), (damaged, "ATTENTION", "pull", "kim", "test pull")]


# --- fault 3: a final fate never changes; a repeated report is acknowledged or its envelope pulled --------

def test_a_piece_already_mailed_or_pulled_reported_again_keeps_its_fate(challenged_out, tmp_path):
    run_dir, own, via = _reprinted(challenged_out, tmp_path, 3)
    out, root = run_dir.parent, run_dir.name
    planted = _sequences(run_dir)[1]
    _finish_child(out / f"{root}-R1", tmp_path)
    assert set(_runs(out).values()) == {"COMPLETE"}
    fates = _fates(run_dir)
    again = tmp_path / "again.csv"
    again.write_text(_results(root, [(own[0], "OK", ""), (via, "OK", ""), (planted[0], "OK", ""),
                                     (own[1], "DAMAGED", "")]), "utf-8")
    res = _cli("reconcile", run_dir, "--results", again, "--lot", "AU")
    assert res.exit_code == 6, res.output
    assert _fates(run_dir) == fates  # MAILED, MAILED through R1, PULLED: all kept
    assert "3 second envelopes" in res.output
    for seq in (own[0], via, planted[0]):
        for action in ("ok", "reprint"):
            refused = _decide(run_dir, seq, action)
            assert refused.exit_code == 2 and "its fate is not changed" in refused.output
    assert _cli("reprint", run_dir).exit_code == 0 and not (out / f"{root}-R2").exists()
    assert _decide(run_dir, own[1], "ack").exit_code == 2  # out of the mail stream: nothing waits
    assert _decide(run_dir, own[0], "ack").exit_code == 6
    assert _decide(run_dir, via, "pull").exit_code == 6
    assert _decide(run_dir, planted[0], "pull").exit_code == 0
    assert _fates(run_dir) == fates and set(_runs(out).values()) == {"COMPLETE"}
    assert _cli("reconcile", run_dir, "--results", again, "--lot", "AU").exit_code == 0  # the same file: nothing


def test_a_final_piece_turned_waiting_by_an_older_ledger_is_never_reprinted(challenged_out, tmp_path):
    run_dir = _copy(challenged_out, tmp_path)
    own, planted = _sequences(run_dir)
    path = tmp_path / "r.csv"
    path.write_text(_all(run_dir.name, own, planted), "utf-8")
    assert _cli("reconcile", run_dir, "--results", path).exit_code == 0
    db = sqlite3.connect(run_dir.parent / "ledger.sqlite")
    with db:  # what the earlier version wrote for a repeated OK, then an accepted --action reprint
        db.execute("UPDATE runs SET state = 'RELEASED'")
        for fate in ("WAITING", "REPRINT"):
            db.execute("INSERT INTO piece_fates (run_id, sequence, status, fate, who, reason, details, at) "
                       "VALUES (?,?,'OK',?,'old','reported OK again','{}',?)", (run_dir.name, own[0], fate, STAMP))
        db.execute("UPDATE piece_state SET fate = 'REPRINT' WHERE sequence = ?", (own[0],))
    db.close()
    res = _cli("reprint", run_dir)
    assert res.exit_code == 6 and "already MAILED before: never reprinted" in res.output, res.output
    assert not (run_dir.parent / f"{run_dir.name}-R1").exists()
    assert _decide(run_dir, own[0], "reprint").exit_code == 2
    assert _decide(run_dir, own[0], "pull").exit_code == 0
    assert _fates(run_dir)[own[0]] == "MAILED"


# --- fault 4: a bin is one of the model's outsort bins, and a refused value is never repeated ------------

@pytest.mark.parametrize("status, bin_", [("DIVERTED", CARD), ("DIVERTED", "99"), ("OK", CARD), ("DAMAGED", CARD[1:]),
                                          ("DAMAGED", "5"), ("DIVERTED", "0"), ("OK", "1" * 5000)])
def test_a_bin_outside_the_models_bins_is_refused_and_not_repeated(challenged_out, tmp_path, status, bin_):
    run_dir = _copy(challenged_out, tmp_path)
    own, _ = _sequences(run_dir)
    path = tmp_path / "r.csv"
    path.write_text(RESULTS_HEADER + f"\n{run_dir.name},{own[0]},OK,,{STAMP},\n"
                    f"{run_dir.name},{own[1]},{status},{bin_},{STAMP},\n", "utf-8")
    before = _state(run_dir)
    res = _cli("reconcile", run_dir, "--results", path, "--json")
    assert res.exit_code == 2, res.output
    assert f"{path}: line 3: bin: not an outsort bin of model generic-csv (1 to 4" in res.output
    assert len(bin_) < 5 or bin_[:12] not in res.output.replace(str(path), "")
    assert _state(run_dir) == before


@pytest.mark.parametrize("stamp", ["2026-11-20T10:00:00.4532015112830366", "2026-11-20T10:00:00.453201+11:00:00",
                                   "2026-11-20 10:00:00", "20261120T100000", "2026-11-20T10:00:00+1100",
                                   "\uff12026-11-20T10:00:00"])
def test_a_timestamp_in_any_other_form_is_refused_and_not_repeated(challenged_out, tmp_path, stamp):
    """Python reads timestamps formats.md does not write (a fraction of any length let a 16-digit number
    into the ledger as part of a time): the form is held, and the value not repeated."""
    run_dir = _copy(challenged_out, tmp_path)
    own, _ = _sequences(run_dir)
    path = tmp_path / "r.csv"
    path.write_text(RESULTS_HEADER + f"\n{run_dir.name},{own[0]},OK,,{stamp},\n", "utf-8")
    before = _state(run_dir)
    res = _cli("reconcile", run_dir, "--results", path, "--json")
    assert res.exit_code == 2 and f"{path}: line 2: timestamp: not an ISO 8601 timestamp" in res.output, res.output
    assert stamp[-10:] not in res.output.replace(str(path), "")
    assert _state(run_dir) == before


def test_a_card_runs_bins_and_long_sequences_are_refused_too(card_out, tmp_path):
    run_dir = _copy(card_out, tmp_path)
    seq = _manifest(run_dir)[0]["sequence"]
    for line, field in ((f"{run_dir.name},{seq},DIVERTED,{CARD},{STAMP},", "bin"),
                        (f"{run_dir.name},{CARD},OK,,{STAMP},", "sequence"),
                        (f"{run_dir.name},{'9' * 5000},OK,,{STAMP},", "sequence")):
        path = tmp_path / "r.csv"
        path.write_text(f"{RESULTS_HEADER}\n{line}\n", "utf-8")
        res = _cli("reconcile", run_dir, "--results", path)
        assert res.exit_code == 2 and f"line 2: {field}:" in res.output, res.output
        assert CARD not in res.output and "Traceback" not in res.output
    good = tmp_path / "good.csv"
    good.write_text(f"{RESULTS_HEADER}\n{run_dir.name},{seq},DAMAGED,4,{STAMP},\n", "utf-8")
    assert _cli("reconcile", run_dir, "--results", good).exit_code in (0, 6)
    details = _ledger_rows(run_dir.parent, "SELECT details FROM piece_fates WHERE sequence = ?", seq)
    assert json.loads(details[0][0])["records"][0]["bin"] == 4


def test_a_family_completes_only_when_every_reprint_child_has_no_envelope_waiting(challenged_out, tmp_path):
    """Piece reprinted twice (R1, then R2); R1's piece reported inserted again: R1 waits with a second
    envelope. R2 mails the piece, which carries up to R1 and to the parent, yet neither may complete,
    and the family's lodgement is not written, until R1's second envelope is settled."""
    run_dir, _own, _piece = _reprinted(challenged_out, tmp_path, 2)
    out, root = run_dir.parent, run_dir.name
    r1 = out / f"{root}-R1"
    (child_piece,), planted = _sequences(r1)
    damaged = tmp_path / "r1.csv"
    damaged.write_text(_all(r1.name, [child_piece], planted, **{str(child_piece): "DAMAGED"}), "utf-8")
    assert _cli("reconcile", r1, "--results", damaged).exit_code == 6
    decided = _decide(r1, child_piece, "reprint")
    assert decided.exit_code == 0, decided.output
    assert _cli("reprint", r1).exit_code == 0
    again = tmp_path / "r1-again.csv"
    again.write_text(_results(r1.name, [(child_piece, "OK", "")]), "utf-8")
    assert _cli("reconcile", r1, "--results", again, "--lot", "AU").exit_code == 6   # a second envelope waits
    (r2,) = set(_runs(out)) - {root, r1.name}
    _finish_child(out / r2, tmp_path)
    states = _runs(out)
    assert states[root] == "RELEASED" and states[r1.name] == "RELEASED", states
    assert not (run_dir / "lodgement").exists()
    assert _decide(r1, child_piece, "pull").exit_code == 0
    assert set(_runs(out).values()) == {"COMPLETE"}
    lodged = [(r["run_id"], r["sequence"]) for p in (run_dir / "lodgement").glob("*.jsonl") for r in _jsonl(p)]
    assert len(lodged) == len(set(lodged)) == len(_own)
