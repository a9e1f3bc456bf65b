"""The run report's numbers are the ledger's, in JSON and in the PDF."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pypdf

from stmtprod.config import BuildOptions
from stmtprod.ledger import Ledger
from stmtprod.pipeline import build
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
