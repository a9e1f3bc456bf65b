"""The build line end to end on the bundled samples: released, barcoded, readable, reconciled."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pypdf

from stmtprod.barcode.payload import parse
from stmtprod.barcode.reader import read_page_barcodes
from tests.conftest import SAMPLES, manifest_rows

BAD_LINES = {16: "new_balance", 46: "new_balance", 76: "address.country", 106: "region",
             136: "new_balance", 166: "name", 196: "(record)", 226: "address.postcode", 256: "due_date",
             286: "currency"}


def test_sample_build_releases_all_seven_regions(sample_run):
    assert sample_run["state"] == "RELEASED"
    assert set(sample_run["regions"]) == {"AU", "NZ", "JP", "MY", "ID", "SG", "HK"}
    for path in sample_run["print_files"] + sample_run["manifest_files"]:
        assert Path(path).is_file() and "/release/" in path
    assert not (Path(sample_run["run_dir"]) / "staging").exists()


def test_counts_reconcile_against_the_extract(sample_run, sample_records):
    lines = SAMPLES.read_text(encoding="utf-8").splitlines()
    paperless = sum(1 for n, line in enumerate(lines, 1)
                    if n not in BAD_LINES and json.loads(line)["delivery"] == "paperless")
    counts = sample_run["counts"]
    assert counts["input"] == len(lines) == 300
    assert counts["quarantined"] == len(BAD_LINES)
    assert counts["suppressed"] == paperless
    assert counts["produced"] == 300 - len(BAD_LINES) - paperless
    assert counts["input"] == counts["produced"] + counts["quarantined"] + counts["suppressed"]
    rows = manifest_rows(sample_run)
    assert len(rows) == counts["produced"] == sum(sample_run["regions"].values())
    assert sum(r["sheets"] for r in rows) == counts["sheets"]
    assert sorted(r["sequence"] for r in rows) == list(range(1, len(rows) + 1))
    expected_regions = Counter(sample_records[r["account_id"]]["region"] for r in rows)
    assert expected_regions == Counter(sample_run["regions"])


def test_bad_records_are_quarantined_with_line_field_and_reason(sample_run):
    rows = [json.loads(x) for x in Path(sample_run["quarantine_file"]).read_text(encoding="utf-8").splitlines()]
    assert {r["line"]: r["field"] for r in rows} == BAD_LINES
    by_line = {r["line"]: r for r in rows}
    assert by_line[16]["account_id"] == "AU0000000016" and "does not equal" in by_line[16]["reason"]
    assert "decimal string" in by_line[46]["reason"]
    assert "0 decimal places" in by_line[136]["reason"]
    assert by_line[196]["account_id"] is None and "JSON" in by_line[196]["reason"]
    assert "7306858" in by_line[226]["reason"]


def test_every_sheet_has_exactly_one_code128_decoding_to_its_manifest_payload(sample_run):
    rows = manifest_rows(sample_run)
    by_file: dict[str, list[str]] = {}
    for row in sorted(rows, key=lambda r: (r["file"], r["first_page"])):
        by_file.setdefault(row["file"], []).extend(row["payloads"])
    assert sum(len(v) for v in by_file.values()) == sample_run["counts"]["sheets"]
    for path in sample_run["print_files"]:
        expected = by_file[Path(path).name]
        decoded = read_page_barcodes(path, dpi=200)
        assert len(decoded) == len(pypdf.PdfReader(path).pages) == len(expected)
        for page, (found, payload) in enumerate(zip(decoded, expected), 1):
            assert found == [payload], f"{path} page {page}"
            parsed = parse(payload)
            assert parsed.region == Path(path).name[:2]
            assert parsed.run_tag == sample_run["run_id"][-6:]


def test_barcode_fields_match_the_source_records(sample_run, sample_records):
    for row in manifest_rows(sample_run):
        record = sample_records[row["account_id"]]
        payloads = [parse(p) for p in row["payloads"]]
        assert [p.sheet for p in payloads] == list(range(1, row["sheets"] + 1))
        assert {p.sheets for p in payloads} == {row["sheets"]}
        assert {p.sequence for p in payloads} == {row["sequence"]}
        assert all(p.region == record["address"]["country"] == record["region"] for p in payloads)
        assert all(p.hoppers == frozenset(row["hoppers"]) for p in payloads)


def _money(amount: str, symbol: str, places: int, group: str = ",", point: str = ".") -> str:
    """An independent formatter for the expected text (not stmtprod's)."""
    value = Decimal(amount)
    text = f"{abs(value):,.{places}f}".replace(",", "\0").replace(".", point).replace("\0", group)
    return ("-" if value < 0 else "") + symbol + text


STYLE = {"AU": ("$", 2), "NZ": ("$", 2), "JP": ("¥", 0), "MY": ("RM", 2), "ID": ("Rp", 0, ".", ","),
         "SG": ("S$", 2), "HK": ("HK$", 2)}


def _first_page_text(summary: dict, row: dict) -> str:
    path = next(p for p in summary["print_files"] if Path(p).name == row["file"])
    return pypdf.PdfReader(path).pages[row["first_page"] - 1].extract_text()


def test_statement_text_extracts_with_names_and_amounts_in_each_region_format(sample_run, sample_records):
    rows = manifest_rows(sample_run)
    for region in STYLE:
        row = next(r for r in rows if r["region"] == region)
        record = sample_records[row["account_id"]]
        text = _first_page_text(sample_run, row)
        assert record["name"] in text
        for field in ("previous_balance", "new_balance", "minimum_due"):
            assert _money(record[field], *STYLE[region]) in text, (region, field)
    jp = next(r for r in rows if r["region"] == "JP" and re.search(r"[\u3040-\u30ff\u4e00-\u9fff]",
                                                                  sample_records[r["account_id"]]["name"]))
    jp_record = sample_records[jp["account_id"]]
    text = _first_page_text(sample_run, jp)
    assert jp_record["name"] in text and "〒" + jp_record["address"]["postcode"] in text
    y, m, d = (int(x) for x in jp_record["due_date"].split("-"))
    assert f"{y}年{m}月{d}日" in text
    hk = next(r for r in rows if r["region"] == "HK" and re.search(r"[\u4e00-\u9fff]",
                                                                  sample_records[r["account_id"]]["name"]))
    assert sample_records[hk["account_id"]]["name"] in _first_page_text(sample_run, hk)


def test_every_font_is_embedded(sample_run):
    for path in sample_run["print_files"]:
        reader = pypdf.PdfReader(path)
        for page in reader.pages[:3]:
            for font in page["/Resources"]["/Font"].values():
                font = font.get_object()
                descriptor = font["/FontDescriptor"].get_object()
                assert "/FontFile2" in descriptor, (path, font["/BaseFont"])


def test_two_builds_into_different_folders_are_byte_identical(sample_run, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "stmtprod", "build", "--input", str(SAMPLES), "--out",
                           str(tmp_path / "again"), "--workers", "1", "--json"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    again = json.loads(proc.stdout.strip().splitlines()[-1])
    assert again["run_id"] == sample_run["run_id"]
    first = sample_run["print_files"] + sample_run["manifest_files"]
    second = again["print_files"] + again["manifest_files"]
    assert [Path(p).name for p in first] == [Path(p).name for p in second]
    for a, b in zip(first, second):
        assert Path(a).read_bytes() == Path(b).read_bytes(), a
    assert set(again) >= {"run_id", "state", "run_dir", "print_files", "manifest_files", "quarantine_file",
                          "counts", "regions"}
    assert set(again["counts"]) >= {"input", "produced", "quarantined", "suppressed", "sheets"}
