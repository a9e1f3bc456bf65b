"""Proofs: open the PDF and check it against the run's print files, manifests and insert artwork."""
from __future__ import annotations

import json
import re
import shutil
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from stmtprod.config import BuildOptions
from stmtprod.errors import UsageError
from stmtprod.statements.line import build
from stmtprod.proof import make_proof, stage_sample_sequences
from stmtprod.cli.proof import proof as proof_command
from tests.conftest import read_sample_records

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples" / "cycle.jsonl"
CATALOG = ROOT / "inserts" / "catalog.toml"
SOURCE = read_sample_records()


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("proof-run")
    summary = build(BuildOptions(input=SAMPLES, out=out, regions=("AU", "JP"), workers=1))
    assert summary["state"] == "RELEASED"
    run_dir = Path(summary["run_dir"])
    rows = []
    for path in sorted((run_dir / "release" / "manifest").glob("*.jsonl")):
        rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    rows.sort(key=lambda r: r["sequence"])
    return {"dir": run_dir, "rows": rows, "by_seq": {r["sequence"]: r for r in rows}, "summary": summary}


@pytest.fixture(scope="module")
def artwork_pages() -> dict[str, int]:
    """Pages of each insert's artwork file, read straight from the catalog and the files."""
    catalog = tomllib.loads(CATALOG.read_text(encoding="utf-8"))
    return {i["code"]: len(PdfReader(CATALOG.parent / i["artwork"]).pages) for i in catalog["insert"]}


def expected_layout(rows: list[dict], artwork_pages: dict[str, int]) -> list[tuple]:
    """What each proof page must be: ("cover",), ("sheet", row, k), then once per insert of the selected
    pieces (in order of first use) ("artwork", rows enclosing it, code, n)."""
    pages = [("cover",)]
    enclosed: dict[str, list[dict]] = {}
    for row in rows:
        pages += [("sheet", row, k) for k in range(row["sheets"])]
        for code in row["inserts"]:
            enclosed.setdefault(code, []).append(row)
    for code, with_it in enclosed.items():
        pages += [("artwork", with_it, code, n) for n in range(artwork_pages[code])]
    return pages


def pieces_with_inserts(run: dict, n: int) -> list[int]:
    """A few pieces that together cover multi-sheet statements and several inserts."""
    multi = [r["sequence"] for r in run["rows"] if r["sheets"] > 1 and r["inserts"]][:2]
    many = [r["sequence"] for r in run["rows"] if len(r["inserts"]) >= 2][:2]
    none = [r["sequence"] for r in run["rows"] if not r["inserts"]][:1]
    chosen = sorted(set(multi + many + none))
    assert len(chosen) >= 3
    return chosen[:n]


def check_proof(path: Path, run: dict, rows: list[dict], artwork_pages: dict[str, int]) -> PdfReader:
    reader = PdfReader(path)
    layout = expected_layout(rows, artwork_pages)
    # pages = selected sheets + cover + the artwork pages of each insert the selected pieces hold, once
    assert len(reader.pages) == len(layout) == 1 + sum(r["sheets"] for r in rows) + sum(
        artwork_pages[c] for c in {c for r in rows for c in r["inserts"]})
    print_files: dict[str, PdfReader] = {}
    art_files: dict[str, PdfReader] = {}
    catalog = {i["code"]: i for i in tomllib.loads(CATALOG.read_text(encoding="utf-8"))["insert"]}
    for page, what in zip(reader.pages, layout):
        text = page.extract_text()
        assert "PROOF" in text
        if what[0] == "cover":
            assert run["summary"]["run_id"] in text
            assert run["summary"]["layouts_version"] in text and run["summary"]["catalog_version"] in text
            continue
        if what[0] == "sheet":
            _, row, k = what
            pf = print_files.setdefault(row["file"], PdfReader(run["dir"] / "release" / "print" / row["file"]))
            original = pf.pages[row["first_page"] - 1 + k]
            # the panel shows the barcode decoded from the print file, and the manifest's, which agree
            assert row["payloads"][k] in text and "MATCH" in text and "MISMATCH" not in text
            assert re.search(rf"sequence\s+{row['sequence']}\n", text)
            for code in row["inserts"]:
                assert code in text and catalog[code]["title"] in text
            if k == 0:  # the source values an inspector compares the statement with, read from the extract
                source = SOURCE[row["account_id"]]
                assert "Source record" in text
                for value in (source["name"], source["new_balance"], source["minimum_due"], source["due_date"],
                              source["address"]["lines"][0]):
                    assert value in text, value
        else:
            _, with_it, code, n = what
            original = art_files.setdefault(code, PdfReader(CATALOG.parent / catalog[code]["artwork"])).pages[n]
            assert code in text and f"Enclosed with {len(with_it)} of the pieces" in text
            assert all(f"{r['sequence']:06d}" in text for r in with_it[:40])
        # the page underneath the overlay is the original page's content stream, unchanged
        contents = page["/Contents"]
        assert isinstance(contents, list) and len(contents) == 2
        assert contents[0].get_object().get_data() == original.get_contents().get_data()
        # the sheet area is kept; the panel is an added right margin
        box, orig_box = page.mediabox, original.mediabox
        assert (box.left, box.bottom, box.top) == (orig_box.left, orig_box.bottom, orig_box.top)
        assert float(box.right) > float(orig_box.right) + 150
    outline = reader.outline
    inserts = list(dict.fromkeys(c for r in rows for c in r["inserts"]))
    assert [o.title for o in outline] == [f"{r['sequence']:06d} {r['account_id']} {r['region']}" for r in rows] + \
        [f"insert {code}" for code in inserts]
    firsts = [i for i, what in enumerate(layout) if (what[0] == "sheet" and what[2] == 0)
              or (what[0] == "artwork" and what[3] == 0)]
    assert [reader.get_destination_page_number(o) for o in outline] == firsts
    return reader


def test_proof_of_chosen_pieces(run, artwork_pages, tmp_path):
    seqs = pieces_with_inserts(run, 5)
    out = tmp_path / "proof.pdf"
    summary = make_proof(run["dir"], out, pieces=seqs)
    rows = [run["by_seq"][s] for s in seqs]
    check_proof(out, run, rows, artwork_pages)
    assert summary["pieces"] == len(seqs) and summary["sequences"] == seqs
    assert summary["pages"] == len(PdfReader(out).pages)
    assert summary["barcode_mismatches"] == [] and summary["missing_artwork"] == [] and summary["warnings"] == []
    assert summary["source"] == "release" and summary["file"] == str(out.resolve())


def test_proof_is_deterministic(run, tmp_path):
    seqs = pieces_with_inserts(run, 3)
    make_proof(run["dir"], tmp_path / "a.pdf", pieces=seqs)
    make_proof(run["dir"], tmp_path / "b.pdf", pieces=list(reversed(seqs)))
    assert (tmp_path / "a.pdf").read_bytes() == (tmp_path / "b.pdf").read_bytes()


def test_selection_by_accounts_region_first(run, artwork_pages, tmp_path):
    jp = [r for r in run["rows"] if r["region"] == "JP"]
    au = [r for r in run["rows"] if r["region"] == "AU"]
    accounts = [jp[3]["account_id"], au[5]["account_id"], jp[0]["account_id"]]
    summary = make_proof(run["dir"], tmp_path / "acc.pdf", accounts=accounts)
    want = sorted([jp[3], au[5], jp[0]], key=lambda r: r["sequence"])
    assert summary["sequences"] == [r["sequence"] for r in want]
    check_proof(tmp_path / "acc.pdf", run, want, artwork_pages)

    summary = make_proof(run["dir"], tmp_path / "jp.pdf", region="JP", first=4)
    assert summary["sequences"] == [r["sequence"] for r in jp[:4]]
    check_proof(tmp_path / "jp.pdf", run, jp[:4], artwork_pages)

    summary = make_proof(run["dir"], tmp_path / "first.pdf", first=2)
    assert summary["sequences"] == [r["sequence"] for r in run["rows"][:2]]

    # criteria combine: accounts of two regions, region JP -> only the JP ones
    summary = make_proof(run["dir"], tmp_path / "and.pdf", accounts=accounts, region="jp")
    assert summary["sequences"] == sorted([jp[0]["sequence"], jp[3]["sequence"]])


def test_selection_errors(run, tmp_path):
    last = run["rows"][-1]["sequence"]
    with pytest.raises(UsageError, match="not in this run"):
        make_proof(run["dir"], tmp_path / "x.pdf", pieces=[1, last + 1])
    with pytest.raises(UsageError, match="not in this run"):
        make_proof(run["dir"], tmp_path / "x.pdf", accounts=["ZZ0000000000"])
    au_piece = next(r["sequence"] for r in run["rows"] if r["region"] == "AU")
    with pytest.raises(UsageError, match="matches no piece"):
        make_proof(run["dir"], tmp_path / "x.pdf", pieces=[au_piece], region="JP")
    with pytest.raises(UsageError, match="unknown region"):
        make_proof(run["dir"], tmp_path / "x.pdf", region="XX")
    with pytest.raises(UsageError, match="not a run folder"):
        make_proof(tmp_path, tmp_path / "x.pdf")
    assert not (tmp_path / "x.pdf").exists()


def test_stage_sample(run, artwork_pages, tmp_path):
    drawn = json.loads((run["dir"] / "inspection" / "stage2.json").read_text())
    assert stage_sample_sequences(run["dir"], 2) == drawn["sample"]
    assert drawn["sample"] == sorted(s for lot in drawn["lots"].values() for s in lot["sample"])
    run_dir = tmp_path / run["dir"].name
    shutil.copytree(run["dir"], run_dir)
    shutil.rmtree(run_dir / "inspection")
    with pytest.raises(UsageError, match="stage 2 has no sample drawn yet"):
        stage_sample_sequences(run_dir, 2)
    with pytest.raises(UsageError, match="stage 2 has no sample drawn yet"):
        make_proof(run_dir, tmp_path / "s.pdf", stage=2)
    sample = [run["rows"][10]["sequence"], run["rows"][2]["sequence"], run["rows"][-1]["sequence"]]
    (run_dir / "inspection").mkdir()
    (run_dir / "inspection" / "stage2.json").write_text(json.dumps({"stage": 2, "sample": sample}))
    assert stage_sample_sequences(run_dir, 2) == sorted(sample)
    summary = make_proof(run_dir, tmp_path / "s.pdf", stage=2)
    assert summary["sequences"] == sorted(sample) and summary["selection"]["stage"] == 2
    copied = dict(run, dir=run_dir)
    check_proof(tmp_path / "s.pdf", copied, [run["by_seq"][s] for s in sorted(sample)], artwork_pages)
    assert "stage 2 sample" in PdfReader(tmp_path / "s.pdf").pages[0].extract_text()


def test_mismatch_is_marked(run, tmp_path):
    """The panel's barcode comes from the print file, not the manifest: a disagreement shows."""
    run_dir = tmp_path / run["dir"].name
    shutil.copytree(run["dir"], run_dir)
    manifest = run_dir / "release" / "manifest" / run["rows"][0]["file"].replace(".pdf", ".jsonl")
    rows = [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines()]
    printed = rows[0]["payloads"][0]
    rows[0]["payloads"][0] = printed[:-1] + ("Z" if printed[-1] != "Z" else "Y")
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    summary = make_proof(run_dir, tmp_path / "m.pdf", pieces=[rows[0]["sequence"], rows[1]["sequence"]])
    assert [(m["sequence"], m["sheet"], m["found"]) for m in summary["barcode_mismatches"]] == \
        [(rows[0]["sequence"], 1, [printed])]
    reader = PdfReader(tmp_path / "m.pdf")
    sheet = reader.pages[1].extract_text()
    assert "MISMATCH" in sheet and printed in sheet and rows[0]["payloads"][0] in sheet
    assert "MISMATCH" in reader.pages[0].extract_text()


def test_staged_run_and_missing_artwork(run, tmp_path):
    """A run not (yet) released is proofed from staging/; missing artwork gets a marked placeholder."""
    run_dir = tmp_path / run["dir"].name
    shutil.copytree(run["dir"], run_dir)
    (run_dir / "release").rename(run_dir / "staging")
    inserts_dir = tmp_path / "inserts"
    inserts_dir.mkdir()
    shutil.copy(CATALOG, inserts_dir / "catalog.toml")  # same bytes, same version; no artwork beside it
    record = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    record["catalog_file"] = str(inserts_dir / "catalog.toml")
    (run_dir / "run.json").write_text(json.dumps(record), encoding="utf-8")
    row = next(r for r in run["rows"] if r["inserts"])
    summary = make_proof(run_dir, tmp_path / "p.pdf", pieces=[row["sequence"]])
    assert summary["source"] == "staging"
    assert summary["missing_artwork"] == sorted(row["inserts"])
    reader = PdfReader(tmp_path / "p.pdf")
    assert len(reader.pages) == 1 + row["sheets"] + len(row["inserts"])
    for page in reader.pages[1 + row["sheets"]:]:
        text = page.extract_text()
        assert "PROOF" in text and "ARTWORK MISSING" in text


def test_png_pages(run, tmp_path):
    png = tmp_path / "png"
    png.mkdir()
    (png / "page-0099.png").write_bytes(b"stale")
    summary = make_proof(run["dir"], tmp_path / "p.pdf", first=2, png_dir=png)
    files = sorted(p.name for p in png.iterdir())
    assert files == [f"page-{i:04d}.png" for i in range(1, summary["pages"] + 1)]
    from PIL import Image

    with Image.open(png / "page-0002.png") as image:  # A4 plus the 70 mm panel at 100 dpi
        assert abs(image.width - round(280 / 25.4 * 100)) <= 2 and abs(image.height - round(297 / 25.4 * 100)) <= 2


def test_cli(run, artwork_pages, tmp_path):
    seqs = pieces_with_inserts(run, 3)
    out = tmp_path / "cli.pdf"
    runner = CliRunner()
    result = runner.invoke(proof_command, [str(run["dir"]), "--pieces", ",".join(map(str, seqs)), "--out", str(out),
                                           "--png", str(tmp_path / "png"), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["sequences"] == seqs and summary["png_pages"] == summary["pages"]
    check_proof(out, run, [run["by_seq"][s] for s in seqs], artwork_pages)

    result = runner.invoke(proof_command, [str(run["dir"]), "--region", "JP", "--first", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    jp = next(r for r in run["rows"] if r["region"] == "JP")
    assert [o.title for o in PdfReader(out).outline] == [f"{jp['sequence']:06d} {jp['account_id']} JP"] + \
        [f"insert {code}" for code in jp["inserts"]]

    bad = runner.invoke(proof_command, [str(run["dir"]), "--pieces", "999999", "--out", str(tmp_path / "n.pdf"), "--json"])
    assert bad.exit_code == 2 and json.loads(bad.stdout.strip().splitlines()[-1])["exit_code"] == 2
    assert runner.invoke(proof_command, [str(run["dir"]), "--region", "XX", "--out", str(out)]).exit_code == 2
    staged = runner.invoke(proof_command, [str(run["dir"]), "--stage", "3", "--out", str(out), "--json"])
    assert staged.exit_code == 0
    assert json.loads(staged.stdout.strip().splitlines()[-1])["sequences"] == stage_sample_sequences(run["dir"], 3)
    assert runner.invoke(proof_command, [str(run["dir"]), "--stage", "5", "--out", str(out)]).exit_code == 2
    assert not (tmp_path / "n.pdf").exists()


def test_insert_artwork_appears_once_per_insert(run, artwork_pages, tmp_path):
    rows = [r for r in run["rows"] if r["region"] == "AU"]
    codes = [c for r in rows for c in r["inserts"]]
    assert len(codes) > len(set(codes))  # several pieces share an insert
    summary = make_proof(run["dir"], tmp_path / "au.pdf", region="AU")
    assert summary["artwork_pages"] == sum(artwork_pages[c] for c in set(codes))
    check_proof(tmp_path / "au.pdf", run, rows, artwork_pages)
