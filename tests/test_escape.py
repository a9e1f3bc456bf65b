"""Every print-file fault class halts, naming file and page: the contract, damaged files, the campaign.

Faults are made in real released and staged print files (pikepdf edits, or the bytes for torn and
corrupted files) by `stmtprod.faults`; expectations are the page damaged, the halt's own fields, and
published Clopper-Pearson values.
"""
from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pikepdf
import pytest

from stmtprod import faults
from stmtprod.barcode import content
from stmtprod.campaign import upper_bound
from stmtprod.config import BuildOptions
from stmtprod.errors import Halt
from stmtprod.layout import load_layouts
from stmtprod.lines import resume
from stmtprod.statements.line import build
from stmtprod.lines import verify_run
from stmtprod.verify import contract
from tests.conftest import ROOT, SAMPLES

LAYOUTS = load_layouts(ROOT / "layouts")
CONTRACT_CLASSES = ["ink", "strip-background", "wrapper", "form-xobject", "geometry", "page-box"]


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("escape-run")
    return build(BuildOptions(input=SAMPLES, out=out, regions=("AU", "JP"), workers=1))


@pytest.fixture
def run_copy(released, tmp_path) -> Path:
    """A copy of the released run's folder, to damage."""
    copy = tmp_path / Path(released["run_dir"]).name
    shutil.copytree(released["run_dir"], copy)
    return copy


def _verify_cli(run_dir: Path) -> tuple[int, dict, str]:
    proc = subprocess.run([sys.executable, "-m", "stmtprod", "verify", str(run_dir), "--json"],
                          capture_output=True, text=True)
    return proc.returncode, json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("kind", CONTRACT_CLASSES)
def test_a_sheet_that_breaks_the_print_contract_halts_naming_file_and_page(kind, seed, run_copy):
    pdf = run_copy / "release" / "print" / "JP-0001.pdf"
    page = 1 + seed * 7
    note = faults.apply(kind, pdf, page, random.Random(seed))
    with pytest.raises(Halt) as caught:
        verify_run(run_copy)
    halt = caught.value.as_dict()
    assert (halt["batch"], halt["page"]) == ("JP-0001", page + 1), (note, halt)
    assert halt.get("piece") is not None and halt.get("action"), halt


@pytest.mark.parametrize("kind", ["wrapper", "form-xobject", "page-box", "strip-background"])
def test_the_content_read_does_not_vouch_for_a_sheet_it_cannot_prove(kind, run_copy):
    """A clip or `cm` slipped in just before the bars, a form, a box, ink under the strip: read optically."""
    pdf = run_copy / "release" / "print" / "AU-0001.pdf"
    terms = contract(LAYOUTS["AU"])
    assert all(r.barcodes for r in content.read_file(pdf, terms))
    faults.apply(kind, pdf, 3, random.Random(1))
    reads = content.read_file(pdf, terms)
    assert reads[3].barcodes is None or reads[3].breach
    assert all(r.barcodes for i, r in enumerate(reads) if i != 3)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("kind", ["truncated", "corrupted", "page-count"])
def test_a_damaged_file_halts_verify_naming_file_and_page_without_a_traceback(kind, seed, run_copy):
    pdf = run_copy / "release" / "print" / "AU-0001.pdf"
    faults.apply(kind, pdf, 5, random.Random(seed))
    code, result, stderr = _verify_cli(run_copy)
    assert code == 4 and not result["ok"], result
    halt = result["halt"]
    assert halt["batch"] == "AU-0001" and isinstance(halt["page"], int) and halt["page"] >= 1, halt
    assert "Traceback" not in stderr


def test_a_file_qpdf_reads_but_whose_flate_checksum_fails_halts(run_copy):
    """qpdf inflates a changed byte without complaint; zlib's checksum over the data does not."""
    pdf = run_copy / "release" / "print" / "JP-0001.pdf"
    with pikepdf.open(pdf) as doc:
        font = next(iter(doc.pages[0].Resources.Font.values())).FontDescriptor.FontFile2
        objgen = font.objgen
    data = bytearray(pdf.read_bytes())
    start = data.index(b"stream\n", data.index(f"\n{objgen[0]} 0 obj".encode())) + len(b"stream\n")
    data[start + 5000] ^= 0x01
    pdf.write_bytes(bytes(data))
    with pytest.raises(Halt) as caught:
        verify_run(run_copy)
    assert caught.value.reason == "print file damaged" and caught.value.details["page"] == 1


@pytest.mark.parametrize("drill, field", [("torn-file", "file"), ("bars-rich-black", "ink")])
def test_a_damaged_staged_file_halts_the_build_and_resume_re_renders_it(drill, field, tmp_path):
    summary = build(BuildOptions(input=SAMPLES, out=tmp_path, regions=("NZ",), workers=1, drill=drill))
    assert summary["state"] == "HALTED" and summary["halt"]["field"] == field, summary.get("halt")
    assert summary["halt"]["batch"] == "NZ-0001" and summary["halt"]["page"] >= 1
    resumed = resume(summary["run_id"], tmp_path)
    assert resumed["state"] == "RELEASED"


def test_a_torn_carrier_file_halts_card_verify(tmp_path):
    from tests.test_cards import DATE, subset
    from stmtprod.cards.line import run_cards

    orders, log = subset(tmp_path, "SG")
    summary = run_cards(orders, log, tmp_path / "out", key=None, demo=True, workers=1, production_date=DATE)
    run_dir = Path(summary["run_dir"])
    pdf = next((run_dir / "release" / "print").glob("*.pdf"))
    faults.apply("truncated", pdf, 0, random.Random(2))
    code, result, stderr = _verify_cli(run_dir)
    assert code == 4 and result["halt"]["field"] == "file" and result["halt"]["page"] >= 1
    assert "Traceback" not in stderr


def test_an_untouched_run_passes_with_every_sheet_read_from_content(released):
    for pdf in released["print_files"]:
        reads = content.read_file(pdf, contract(LAYOUTS[Path(pdf).stem[:2]]))
        assert all(r.barcodes and r.lines and not r.breach for r in reads)


@pytest.mark.parametrize("missed, trials, confidence, bound", [
    (0, 1000, 0.95, 0.0029912),   # 1 - 0.05 ** (1 / 1000)
    (0, 10, 0.95, 0.2588656),     # 1 - 0.05 ** (1 / 10)
    (1, 10, 0.975, 0.4450161),    # Clopper & Pearson (1934): n = 10, x = 1, two-sided 95% upper limit
    (2, 20, 0.975, 0.3169827),    # n = 20, x = 2: 95% interval (0.0123, 0.3170)
    (5, 100, 0.95, 0.1022534),    # n = 100, x = 5, one-sided 95% (R: binom.test(5, 100, alt = "less"))
])
def test_clopper_pearson_upper_bound_matches_published_values(missed, trials, confidence, bound):
    assert upper_bound(missed, trials, confidence) == pytest.approx(bound, abs=2e-6)


@pytest.mark.parametrize("seed", range(3))
def test_text_altered_in_the_content_stream_halts_naming_file_piece_and_field(seed, run_copy):
    """A digit of an amount, a date, a name's address or the layout's own text changed in the stream:
    the 100% text check reads every sheet back and compares it with the source record."""
    pdf = run_copy / "release" / "print" / "AU-0001.pdf"
    note = faults.apply("text-altered", pdf, 2 + seed, random.Random(seed))
    with pytest.raises(Halt) as caught:
        verify_run(run_copy)
    halt = caught.value.as_dict()
    assert halt["batch"] == "AU-0001" and "printed text differs" in halt["reason"], (note, halt)
    assert halt["page"] <= 3 + seed and halt["field"].startswith("wrong-"), halt


def test_the_campaign_command_counts_trials_and_bounds_the_miss_rate(released, tmp_path):
    out = tmp_path / "campaign.json"
    proc = subprocess.run([sys.executable, "-m", "stmtprod", "drill", "campaign", "--trials", "3", "--seed", "5",
                           "--classes", "ink,truncated,drill-sheet-missing", "--run", released["run_dir"],
                           "--out", str(out), "--json"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert [c["class"] for c in result["classes"]] == ["ink", "truncated", "drill-sheet-missing"]
    for c in result["classes"]:
        assert (c["trials"], c["caught"], c["missed"]) == (3, 3, 0)
        assert c["miss_rate_upper_95"] == pytest.approx(1 - 0.05 ** (1 / 3))
    assert json.loads(out.read_text()) == result


def test_the_run_report_bounds_the_sheets_that_could_have_left_wrong(released, tmp_path, monkeypatch):
    from stmtprod.escape_bound import escape_bound

    campaign = {"seed": 1, "trials_per_class": 1000, "classes": [
        {"class": "ink", "trials": 1000, "missed": 0, "miss_rate_upper_95": upper_bound(0, 1000)},
        {"class": "corrupted", "trials": 1000, "missed": 1, "miss_rate_upper_95": upper_bound(1, 1000)}]}
    bound = escape_bound(campaign, 1000, [{"field": "file"}, {"field": "ink"}, {"field": "ink"}])
    ink, corrupted = bound["classes"]
    assert ink["caught_in_run"] == 2 and ink["escapes_upper_worst_case"] == pytest.approx(1000 * upper_bound(0, 1000))
    u = upper_bound(1, 1000)
    assert corrupted["escapes_upper_given_caught"] == pytest.approx(u / (1 - u))
    assert bound["total_upper_worst_case"] == pytest.approx(1000 * (upper_bound(0, 1000) + u))
    report = json.loads((Path(released["run_dir"]) / "report.json").read_text())
    assert report["escape_bound"] is None or report["escape_bound"]["sheets"] == released["counts"]["sheets"]


def _edit_page(pdf: Path, page: int, edit) -> None:
    with pikepdf.open(pdf, allow_overwriting_input=True) as doc:
        obj = doc.pages[page].obj
        obj.Contents = doc.make_stream(edit(content.page_streams(obj)))
        doc.save(pdf)


@pytest.mark.parametrize("what, field", [
    ("hairline", "background"),   # a 0.5 pt K rule across bars and quiet zones: K ink, yet not the bars
    ("raised", "position"),       # the bars 3 mm higher than the layout puts them
])
def test_holes_the_first_campaign_found_are_closed(what, field, run_copy):
    pdf = run_copy / "release" / "print" / "AU-0001.pdf"

    def edit(data: bytes) -> bytes:
        at = data.rindex(b"\nq\n0 0 0 1 k")
        if what == "hairline":
            return data[:at] + b"\nq 0 0 0 1 K .5 w 30 45 m 300 45 l S Q" + data[at:]
        return data[:at] + b"\n1 0 0 1 0 8.5 cm" + data[at:]

    _edit_page(pdf, 4, edit)
    with pytest.raises(Halt) as caught:
        verify_run(run_copy)
    halt = caught.value.as_dict()
    assert (halt["page"], halt["field"]) == (5, field), halt


def test_the_account_on_a_later_sheet_is_checked_too(run_copy, released):
    rows = [json.loads(x) for x in (run_copy / "release" / "manifest" / "JP-0001.jsonl").read_text().splitlines()]
    row = next(r for r in rows if r["sheets"] > 1)
    pdf = run_copy / "release" / "print" / "JP-0001.pdf"
    account = row["account_id"].encode()
    _edit_page(pdf, row["first_page"], lambda data: data.replace(account, account[:-1] + b"9" if account[-1:] != b"9"
                                                               else account[:-1] + b"8"))
    with pytest.raises(Halt) as caught:
        verify_run(run_copy)
    halt = caught.value.as_dict()
    assert halt["piece"] == row["sequence"] and halt["field"] == "wrong-account", halt


@pytest.mark.parametrize("seed", range(4))
def test_a_second_altered_copy_of_a_text_halts_naming_file_and_page(seed, run_copy):
    """The right text stays and an altered copy is printed over it, beside it or elsewhere: every
    character a sheet shows must be accounted for by the source record or the layout."""
    pdf = run_copy / "release" / "print" / ("AU-0001.pdf" if seed % 2 else "JP-0001.pdf")
    page = 1 + seed
    note = faults.apply("text-added", pdf, page, random.Random(seed))
    with pytest.raises(Halt) as caught:
        verify_run(run_copy)
    halt = caught.value.as_dict()
    assert halt["batch"] == pdf.stem and "printed text differs" in halt["reason"], (note, halt)
    assert halt["page"] == page + 1, (note, halt)


@pytest.mark.parametrize("seed", range(6))
def test_text_that_does_not_print_as_it_reads_halts_naming_file_and_page(seed, run_copy):
    """White or light ink, off the page, invisible, tiny, covered, clipped, moved, squeezed, or in a form:
    the text a reader extracts is unchanged, but the sheet does not show it."""
    pdf = run_copy / "release" / "print" / ("AU-0001.pdf" if seed % 2 else "JP-0001.pdf")
    page = seed
    note = faults.apply("text-hidden", pdf, page, random.Random(seed))
    with pytest.raises(Halt) as caught:
        verify_run(run_copy)
    halt = caught.value.as_dict()
    assert halt["batch"] == pdf.stem and halt["page"] == page + 1, (note, halt)


@pytest.mark.parametrize("how", faults._HIDINGS)
def test_each_way_of_hiding_text_is_not_vouched_for_by_the_content_read(how, run_copy):
    pdf = run_copy / "release" / "print" / "AU-0001.pdf"
    terms = contract(LAYOUTS["AU"])
    assert all(r.lines for r in content.read_file(pdf, terms))
    original = pdf.read_bytes()
    for seed in range(500):  # the class draws its way of hiding: take the first seed that draws this one
        pdf.write_bytes(original)
        note = faults.apply("text-hidden", pdf, 2, random.Random(seed))
        if note.endswith(how):
            break
    else:
        raise AssertionError(f"no seed drew {how!r}")
    reads = content.read_file(pdf, terms)
    assert reads[2].lines is None, note
    assert all(r.lines for i, r in enumerate(reads) if i != 2)
