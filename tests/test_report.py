"""The run report's numbers are the ledger's, in JSON and in the PDF."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pypdf

from stmtprod.config import BuildOptions
from stmtprod.engine.ledger import Ledger
from stmtprod.statements.line import build
from tests.conftest import SAMPLES


def test_report_numbers_equal_the_ledger(sample_run):
    run_dir = Path(sample_run["run_dir"])
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    ledger = Ledger(run_dir.parent)
    run, stages, batches = ledger.run(sample_run["run_id"]), ledger.stages(sample_run["run_id"]), \
        ledger.batches(sample_run["run_id"])
    ledger.close()
    assert report["state"] == run["state"] == "RELEASED"
    assert report["counts"] == run["counts"] == sample_run["counts"]
    assert report["layouts_version"] == run["layouts_version"] and report["catalog_version"] == run["catalog_version"]
    assert {r: v["pieces"] for r, v in report["regions"].items()} == sample_run["regions"]
    assert sum(v["sheets"] for v in report["regions"].values()) == sum(b["sheets"] for b in batches.values())
    assert [(x["stage"], x["lot"], x["decision"], x["sample_size"]) for x in report["inspection"]] == \
        [(s["stage"], s["lot"], s["decision"], len(s["sample"])) for s in stages]
    assert sum(q["count"] for q in report["quarantine_reasons"]) == sample_run["counts"]["quarantined"]
    used = Counter()
    for path in (run_dir / "release" / "envelopes").glob("*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            used.update(json.loads(line)["inserts"])
    assert {i["code"]: i["consumed"] for i in report["inserts"]} == {i["code"]: used.get(i["code"], 0)
                                                                       for i in report["inserts"]}
    assert set(report["timings"]) >= {"ingest", "render", "verify", "stage1", "stage2", "stage3", "stage4"}
    text = "".join(page.extract_text() for page in pypdf.PdfReader(run_dir / "report.pdf").pages)
    assert sample_run["run_id"] in text and "reconciled" in text
    assert f"produced {sample_run['counts']['produced']}" in text
    assert "operating characteristic" in text


def test_a_halted_run_reports_its_halt(tmp_path):
    summary = build(BuildOptions(input=SAMPLES, out=tmp_path, regions=("NZ",), workers=1, drill="sheet-missing"))
    report = json.loads((Path(summary["run_dir"]) / "report.json").read_text(encoding="utf-8"))
    assert report["state"] == "HALTED" and report["halts"][0]["reason"] == summary["halt"]["reason"]
    text = "".join(p.extract_text() for p in pypdf.PdfReader(Path(summary["run_dir"]) / "report.pdf").pages)
    assert "sheet missing" in text


def _first_lines(run_dir: Path, count: int = 12) -> str:
    return "\n".join(pypdf.PdfReader(run_dir / "report.pdf").pages[0].extract_text().splitlines()[:count])


def test_a_released_report_opens_with_yes_and_all_sheets_verified(sample_run):
    run_dir = Path(sample_run["run_dir"])
    verdict = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))["verdict"]
    sheets = sample_run["counts"]["sheets"]
    assert verdict["decision"] == "YES" and verdict["next"] == []
    assert f"all {sheets} sheets of {sample_run['counts']['produced']} pieces verified" in verdict["evidence"][0]
    first = _first_lines(run_dir)
    assert "Can we mail tonight? YES" in first and f"all {sheets} sheets" in first
    text = "".join(p.extract_text() for p in pypdf.PdfReader(run_dir / "report.pdf").pages)
    assert "AQL 0.065%" in text and "AQL 0.1%" in text and "lot AU:" in text


def test_a_halted_report_opens_with_no_why_evidence_and_the_command(tmp_path):
    summary = build(BuildOptions(input=SAMPLES, out=tmp_path, regions=("NZ",), workers=1, drill="sheet-missing"))
    run_dir = Path(summary["run_dir"])
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    verdict = report["verdict"]
    assert verdict["decision"] == "NO" and verdict["why"] == summary["halt"]["reason"]
    assert verdict["next"] == [f"stmtprod resume {summary['run_id']} --out {tmp_path.resolve()}"]
    first = _first_lines(run_dir, 14)
    assert "Can we mail tonight? NO" in first and summary["halt"]["reason"] in first
    assert f"stmtprod resume {summary['run_id']}" in first and "batch NZ-0001" in first
    # halted in verify: the inserter never ran, and nothing says an insert was used
    assert report["inserter_reached"] is False and all(i["consumed"] is None for i in report["inserts"])
    text = "".join(p.extract_text() for p in pypdf.PdfReader(run_dir / "report.pdf").pages)
    assert "did not reach the inserter" in text and "consumed" not in text


def test_small_lots_say_they_are_inspected_in_full(sample_run):
    report = json.loads((Path(sample_run["run_dir"]) / "report.json").read_text(encoding="utf-8"))
    full = [x for x in report["inspection"] if x["full_inspection"]]
    assert full and all(x["sample_size"] >= x["lot_size"] for x in full)
    assert all(x["sample_size"] < x["lot_size"] for x in report["inspection"] if not x["full_inspection"])
    text = "".join(p.extract_text() for p in pypdf.PdfReader(Path(sample_run["run_dir"]) / "report.pdf").pages)
    assert f"{full[0]['sample_size']} (100%)" in text and "100% inspection" in text
