"""Faults of a finished run's files that `stmtprod verify`, `proof` and `insert-sim` must report, on both
lines, with the file, page or line and field named: never a pass, a hang or an internal error."""
from __future__ import annotations

import binascii
import datetime as dt
import json
import subprocess
import sys
import zlib
from pathlib import Path

import pikepdf
import pytest

from stmtprod.cards.line import run_cards
from stmtprod.config import BuildOptions
from stmtprod.engine.ledger import files_proven
from stmtprod.statements.line import build
from tests.conftest import SAMPLES, Snapshot

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def statements(tmp_path_factory) -> Snapshot:
    return Snapshot(tmp_path_factory.mktemp("statements"),
                    lambda out: build(BuildOptions(input=SAMPLES, out=out, regions=("AU", "NZ"), workers=1)))


@pytest.fixture(scope="module")
def cards(tmp_path_factory) -> Snapshot:
    return Snapshot(tmp_path_factory.mktemp("cards"),
                    lambda out: run_cards(ROOT / "samples" / "cards.jsonl", ROOT / "samples" / "personalisation.jsonl",
                                          out, key=None, demo=True, workers=1, production_date=dt.date(2026, 11, 23)))


@pytest.fixture(params=["statements", "cards"])
def run_dir(request) -> Path:
    """A released run of either line, as built (restored for each test)."""
    return Path(request.getfixturevalue(request.param).restore()["run_dir"])


def _stmtprod(*args: object, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stmtprod", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def _verify(run_dir: Path) -> tuple[int, dict]:
    proc = _stmtprod("verify", run_dir, "--json", "--workers", 1)
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout.strip().splitlines()[-1])


def _au(run_dir: Path, kind: str = "print") -> Path:
    return run_dir / "release" / kind / ("AU-0001.pdf" if kind == "print" else "AU-0001.jsonl")


def _replace(path: Path, old: bytes, new: bytes) -> None:
    """`old` changed to `new` (same length, so every offset holds) in the first font program's object
    (the stream with a /Length1): the bytes a bad disk or transfer changes."""
    data = path.read_bytes()
    at = data.index(old, data.rindex(b" 0 obj", 0, data.index(b"/Length1")))
    path.write_bytes(data[:at] + new + data[at + len(old):])


FONT_DAMAGE = {
    "filter renamed": (b"/Filter", b"/Gilter"),
    "unknown filter": (b"/FlateDecode", b"/FlateDecodf"),
    "length1": (b"/Length1 3", b"/Length1 4"),
}


@pytest.mark.parametrize("damage", sorted(FONT_DAMAGE))
def test_a_font_program_a_rip_cannot_load_damages_the_file(run_dir, damage):
    """A flipped byte in a FontFile2's dictionary leaves the font unloadable (poppler) or substituted
    (pdfium) while every stream still decodes: the file is damaged, on the page that uses it."""
    _replace(_au(run_dir), *FONT_DAMAGE[damage])
    code, result = _verify(run_dir)
    assert code == 4 and result["halt"]["reason"] == "print file damaged", result
    assert result["halt"]["batch"] == "AU-0001" and result["halt"]["page"] == 1 and result["halt"]["field"] == "file"


@pytest.mark.parametrize("owner", ["", "owner-only"])
def test_a_print_file_encrypted_after_rendering_damages_it(run_dir, owner):
    """Encrypted with an empty user password (qpdf, and most viewers, open it without asking), a print file
    still reads and prints the same here; but the renderer never encrypts, and a RIP may refuse it."""
    with pikepdf.open(_au(run_dir), allow_overwriting_input=True) as pdf:
        pdf.save(_au(run_dir), encryption=pikepdf.Encryption(user="", owner=owner, R=6))
    code, result = _verify(run_dir)
    assert code == 4 and result["halt"]["reason"] == "print file damaged", result
    assert result["halt"]["batch"] == "AU-0001" and "encrypted" in result["halt"]["found"]


@pytest.mark.parametrize("edit", ["/Subtype /TrueTypf", "/Subtype /Type1   ", "/FontFilex"])
def test_a_font_dictionary_changed_so_the_font_prints_otherwise_damages_the_file(run_dir, edit):
    old = b"/FontFile2" if edit.startswith("/FontFile") else b"/Subtype /TrueType"
    data = _au(run_dir).read_bytes()
    at = data.index(old)
    _au(run_dir).write_bytes(data[:at] + edit.encode() + data[at + len(old):])
    code, result = _verify(run_dir)
    assert code == 4 and result["halt"]["reason"] == "print file damaged" and "font object" in result["halt"]["found"]


@pytest.mark.parametrize("extra", [{"/DecodeParms": {"/Predictor": 1}},
                                   {"/Filter": ["/ASCIIHexDecode", "/FlateDecode"]}])
def test_a_stream_with_parameters_or_a_filter_chain_the_renderer_never_writes_damages_the_file(run_dir, extra):
    with pikepdf.open(_au(run_dir), allow_overwriting_input=True) as pdf:
        content = pdf.pages[0].obj.Contents
        if "/DecodeParms" in extra:
            content.DecodeParms = pikepdf.Dictionary(Predictor=1)
        else:
            encoded = binascii.hexlify(zlib.compress(content.read_bytes())) + b">"
            content.write(encoded, filter=[pikepdf.Name.ASCIIHexDecode, pikepdf.Name.FlateDecode])
        pdf.save(_au(run_dir), stream_decode_level=pikepdf.StreamDecodeLevel.none, compress_streams=False)
    code, result = _verify(run_dir)
    assert code == 4 and result["halt"]["reason"] == "print file damaged" and result["halt"]["page"] == 1, result


def _annotate(pdf_path: Path, rect_share: tuple[float, float, float, float], colour: list[float]) -> None:
    with pikepdf.open(pdf_path, allow_overwriting_input=True) as pdf:
        page = pdf.pages[1]
        x0, y0, x1, y1 = (float(v) for v in page.mediabox)
        w, h = x1 - x0, y1 - y0
        rect = [x0 + w * rect_share[0], y0 + h * rect_share[1], x0 + w * rect_share[2], y0 + h * rect_share[3]]
        page.obj.Annots = pdf.make_indirect(pikepdf.Array([pdf.make_indirect(pikepdf.Dictionary(
            Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Square, Rect=rect, F=4, C=colour, IC=colour))]))
        pdf.save(pdf_path)


@pytest.mark.parametrize("rect,colour", [((0, 0.4, 1, 1), [1, 1, 1]), ((0.1, 0.1, 0.12, 0.12), [1, 0, 0])])
def test_an_annotation_on_a_sheet_breaks_the_print_contract(run_dir, rect, colour):
    """A printable annotation prints over the sheet (a white square over the address), and the renderer
    never writes one: both lines halt on the page that carries it."""
    _annotate(_au(run_dir), rect, colour)
    code, result = _verify(run_dir)
    assert code == 4 and result["halt"]["field"] == "annotation" and result["halt"]["page"] == 2, result


@pytest.mark.parametrize("kind", ["print", "manifest"])
def test_a_file_that_is_not_a_regular_file_is_reported_at_once(run_dir, kind, tmp_path):
    """A link to /dev/zero reads for ever: verify, proof and insert-sim name it without reading it."""
    path = _au(run_dir, kind)
    path.unlink()
    path.symlink_to("/dev/zero")
    code, result = _verify(run_dir)
    assert code == 4 and result["halt"]["field"] == "file" and "character device" in result["halt"]["found"], result
    for args in (("proof", run_dir, "--first", 3, "--out", tmp_path / "p.pdf"),
                 ("insert-sim", run_dir, "--lot", "AU" if _is_statements(run_dir) else "CARDS-AU",
                  "--out", tmp_path / "r.csv")):
        proc = _stmtprod(*args, timeout=60)
        assert proc.returncode in (4, 7) and str(path) in proc.stderr + proc.stdout, proc.stderr
        assert "internal error" not in proc.stderr


def _is_statements(run_dir: Path) -> bool:
    return json.loads((run_dir / "run.json").read_text()).get("line", "statements") != "cards"


def test_a_batch_whose_file_is_not_regular_is_not_proven_and_not_read(tmp_path):
    """Resume asks `files_proven` before it keeps a batch: a link to a device is not proven (so the batch
    is rendered again, over the link), and is never hashed (which would never end)."""
    (tmp_path / "m.jsonl").write_text("{}\n")
    (tmp_path / "a.pdf").symlink_to("/dev/zero")
    batch = {"rendered_at": "x", "pdf_sha256": "0", "manifest_sha256": "0"}
    assert not files_proven(batch, str(tmp_path / "a.pdf"), str(tmp_path / "m.jsonl"), "rendered_at")


def _edit_row(manifest: Path, index: int, edit) -> None:
    lines = manifest.read_text(encoding="utf-8").splitlines()
    lines[index] = edit(lines[index])
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _bad_check(line: str) -> str:
    row = json.loads(line)
    payload = row["payloads"][0]
    row["payloads"][0] = payload[:-1] + ("A" if payload[-1] != "A" else "B")
    return json.dumps(row)


@pytest.mark.parametrize("edit,line,field", [(_bad_check, 2, "payloads"), (lambda text: text[:40], 1, "row")])
def test_a_damaged_manifest_halts_naming_its_file_line_and_field(run_dir, edit, line, field):
    manifest = _au(run_dir, "manifest")
    _edit_row(manifest, line - 1, edit)
    code, result = _verify(run_dir)
    halt = result["halt"]
    assert code == 4 and halt["reason"] == "manifest damaged", result
    assert (halt["file"], halt["line"], halt["field"]) == (str(manifest), line, field)
    assert result["released"] and " --force" in halt["next"][0]


def _set(name: str, value):
    return lambda line: json.dumps({**json.loads(line), name: value})


@pytest.mark.parametrize("name,value", [("hoppers", [7]), ("inserts", ["NOSUCH"]), ("first_page", 9)])
def test_a_manifest_row_that_disagrees_with_its_payload_or_the_rules_halts(run_dir, name, value):
    """The inserter's control file and the envelope weights are made from the row: it must agree."""
    _edit_row(_au(run_dir, "manifest"), 1, _set(name, value))
    code, result = _verify(run_dir)
    assert code == 4 and result["halt"]["field"] == name, result


def test_a_damaged_staged_manifest_halts_and_the_resume_it_names_makes_progress(tmp_path):
    """Not released: the halt's Next is the resume, which renders the batch again and releases."""
    summary = build(BuildOptions(input=SAMPLES, out=tmp_path, regions=("AU",), workers=1, drill="insert-out-of-stock"))
    run_dir = Path(summary["run_dir"])
    _edit_row(run_dir / "staging" / "manifest" / "AU-0001.jsonl", 0, lambda text: text[:40])
    code, result = _verify(run_dir)
    assert code == 4 and result["halt"]["reason"] == "manifest damaged" and not result["released"]
    assert result["halt"]["next"][0].startswith("stmtprod resume ")
    resumed = _stmtprod(*result["halt"]["next"][0].split()[1:])
    assert resumed.returncode == 0, resumed.stderr
    assert _verify(run_dir)[0] == 0


@pytest.mark.parametrize("damage", ["truncated", "empty", "folder"])
def test_proof_of_a_damaged_print_file_names_it(run_dir, damage, tmp_path):
    pdf = _au(run_dir)
    if damage == "folder":
        pdf.unlink()
        pdf.mkdir()
    else:
        pdf.write_bytes(pdf.read_bytes()[:5000] if damage == "truncated" else b"")
    proc = _stmtprod("proof", run_dir, "--first", 3, "--out", tmp_path / "p.pdf")
    assert proc.returncode == 7 and str(pdf) in proc.stderr and "internal error" not in proc.stderr, proc.stderr


def test_insert_sim_of_a_released_run_with_a_damaged_file_says_it_stays_released(run_dir, tmp_path):
    _au(run_dir).write_bytes(_au(run_dir).read_bytes()[:5000])
    proc = _stmtprod("insert-sim", run_dir, "--lot", "AU" if _is_statements(run_dir) else "CARDS-AU",
                     "--out", tmp_path / "r.csv")
    assert proc.returncode == 4 and "(RELEASED)" in proc.stderr and "Nothing was released" not in proc.stderr


def test_a_released_run_whose_source_records_are_gone_names_them_not_the_print_files(run_dir):
    """With the run folder's work/accepted/ lost, verify cannot check a piece against its record: it halts
    naming the missing spill and says to restore it, instead of blaming every print file's pieces."""
    spill = run_dir / "work" / "accepted" / "AU.jsonl"
    spill.rename(spill.with_suffix(".gone"))
    code, result = _verify(run_dir)
    assert code == 4 and result["halt"]["reason"] == "the run's source records are missing", result
    assert result["halt"]["expected"] == str(spill) and "restore" in result["halt"]["action"]
    spill.with_suffix(".gone").rename(spill)
    assert _verify(run_dir)[0] == 0
