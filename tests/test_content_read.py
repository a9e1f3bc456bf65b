"""100% verification reads barcodes out of the content stream; what it cannot vouch for is read optically.

Expectations come from elsewhere: the manifest the renderer wrote, the optical reader (pdfium and
zxing-cpp on pixels), and pages built here by hand with ReportLab and edited with pypdf.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.generic import FloatObject, NameObject, NumberObject, RectangleObject
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from stmtprod.barcode import content, reader, symbol
from stmtprod.errors import Halt
from stmtprod.layout import load_layouts
from stmtprod.verify import PrintFile, contract, read_all, read_file
from tests.conftest import ROOT, manifest_rows

LAYOUTS = load_layouts(ROOT / "layouts")
AU = LAYOUTS["AU"]
STRIP = contract(AU)
PAYLOADS = ["1AUAB12CD00000420102053", "1AUAB12CD0000042020205Z"]


def _page(c: Canvas, payload: str, before=None, after=None) -> None:
    """One sheet with body text and the AU layout's barcode; `before` wraps the page's content (as
    imposition tools do), `after` draws over the bars."""
    bc = AU.barcode
    if before:
        before(c)
    c.setFont("Helvetica", 9)
    c.drawString(20 * mm, 200 * mm, "Statement body text (not a barcode) 1 2 3 4 re f W n cm")
    bottom = AU.page.size_mm[1] - bc.y_mm - bc.height_mm
    symbol.draw(c, payload, bc.x_mm, bottom, symbol.SymbolSpec(bc.narrow_bar_mm, bc.height_mm, bc.quiet_zone_modules))
    if after:
        after(c)
    c.showPage()


def _pdf(path: Path, *pages) -> Path:
    c = Canvas(str(path), pagesize=A4, invariant=1, pageCompression=1)
    for payload, before, after in pages:
        _page(c, payload, before, after)
    c.save()
    return path


def test_every_sheet_of_a_real_run_reads_the_same_from_content_and_optically(sample_run):
    rows = manifest_rows(sample_run)
    for pdf in sample_run["print_files"]:
        terms = contract(LAYOUTS[Path(pdf).stem[:2]])
        written = content.read_file(pdf, terms)
        expected = [[p] for r in rows if r["file"] == Path(pdf).name for p in r["payloads"]]
        assert [w.barcodes for w in written] == expected and not any(w.breach for w in written)
        printed = reader.read_sheets(pdf, range(len(expected)), terms)
        assert [p.texts for p in printed] == expected and not any(p.breach for p in printed)


def _written(pdf) -> list:
    return [r.barcodes for r in content.read_file(pdf, STRIP)]


def _white_box(c: Canvas) -> None:
    c.setFillColorRGB(1, 1, 1)
    c.rect(0, 0, 210 * mm, 40 * mm, stroke=0, fill=1)


def _clip_top_half(c: Canvas) -> None:
    path = c.beginPath()
    path.rect(0, 150 * mm, 210 * mm, 147 * mm)
    c.clipPath(path, stroke=0, fill=0)


def _shift(c: Canvas) -> None:
    c.translate(0, 120 * mm)


def _second_barcode(c: Canvas) -> None:
    symbol.draw(c, PAYLOADS[1], AU.barcode.x_mm, 150)


@pytest.mark.parametrize("before, after, printed", [
    (None, _white_box, []),                    # painted over after the bars: nothing prints
    (_clip_top_half, None, []),                # wrapped in a clip that cuts the bars away
    (_shift, None, []),                        # wrapped in a move out of the camera's strip
])
def test_a_sheet_outside_the_contract_is_left_to_the_optical_read(tmp_path, before, after, printed):
    pdf = _pdf(tmp_path / "odd.pdf", (PAYLOADS[1], None, None), (PAYLOADS[0], before, after), (PAYLOADS[1], None, None))
    assert _written(pdf) == [[PAYLOADS[1]], None, [PAYLOADS[1]]]
    assert read_file(str(pdf), STRIP).pages == [[PAYLOADS[1]], printed, [PAYLOADS[1]]]


def test_a_second_black_path_away_from_the_strip_changes_nothing_the_camera_sees(tmp_path):
    pdf = _pdf(tmp_path / "two.pdf", (PAYLOADS[0], _second_barcode, None))
    assert _written(pdf) == [[PAYLOADS[0]]]
    assert read_file(str(pdf), STRIP).pages == [[PAYLOADS[0]]]


def test_a_page_scaled_by_a_pdf_tool_is_read_optically(tmp_path):
    """pypdf's transformation wraps the page's content in a `cm`, as imposition does."""
    from pypdf import Transformation

    pdf = _pdf(tmp_path / "ok.pdf", *[(PAYLOADS[0], None, None)] * 3)
    writer = PdfWriter(clone_from=PdfReader(pdf))
    writer.pages[1].add_transformation(Transformation().scale(0.5, 0.5))
    writer.write(tmp_path / "scaled.pdf")
    assert _written(tmp_path / "scaled.pdf") == [[PAYLOADS[0]], None, [PAYLOADS[0]]]
    assert read_file(str(tmp_path / "scaled.pdf"), STRIP).pages == [[PAYLOADS[0]], [], [PAYLOADS[0]]]


@pytest.mark.parametrize("where", ["page", "file"])
def test_a_cropped_page_is_read_optically(tmp_path, where):
    """A crop box hides the bars the content still states; one set on the page tree counts for every page."""
    pdf = _pdf(tmp_path / "ok.pdf", *[(PAYLOADS[0], None, None)] * 3)
    writer = PdfWriter(clone_from=PdfReader(pdf))
    upper = RectangleObject((0, 100 * mm, 210 * mm, 297 * mm))
    if where == "page":
        writer.pages[1].cropbox = upper
    else:
        writer.root_object["/Pages"][NameObject("/CropBox")] = upper
    writer.write(tmp_path / "cropped.pdf")
    hidden = [1] if where == "page" else [0, 1, 2]
    assert _written(tmp_path / "cropped.pdf") == [
        None if i in hidden else [PAYLOADS[0]] for i in range(3)]
    assert read_file(str(tmp_path / "cropped.pdf"), STRIP).pages == [
        [] if i in hidden else [PAYLOADS[0]] for i in range(3)]


@pytest.mark.parametrize("rotate", [90, -270, 180, 360.0, 0.5])
def test_a_rotated_page_among_plain_ones_is_read_optically(tmp_path, rotate):
    """ReportLab writes `/Rotate 0 /Trans << >>` on every page: pages are judged once per media box and
    rotation, so one page turned among them is still seen (360 is no turn)."""
    pdf = _pdf(tmp_path / "ok.pdf", *[(PAYLOADS[0], None, None)] * 3)
    writer = PdfWriter(clone_from=PdfReader(pdf))
    assert writer.pages[0]["/Rotate"] == 0 and "/Trans" in writer.pages[0]
    writer.pages[1][NameObject("/Rotate")] = NumberObject(rotate) if isinstance(rotate, int) else FloatObject(rotate)
    writer.write(tmp_path / "turned.pdf")
    turned = int(rotate) % 360 != 0
    assert _written(tmp_path / "turned.pdf") == [[PAYLOADS[0]], None if turned else [PAYLOADS[0]], [PAYLOADS[0]]]


def test_a_file_whose_written_barcode_does_not_print_halts(tmp_path, monkeypatch):
    """The first and last sheets are read both ways: a file whose content states another barcode than
    the one that prints (as a RIP that renders differently would) halts before any check of payloads."""
    pdf = _pdf(tmp_path / "AU-0001.pdf", *[(PAYLOADS[0], None, None)] * 3)
    monkeypatch.setattr(content, "read_file", lambda path, terms, pages=None, timing=None, visit=None: [content.PageRead([PAYLOADS[1]])] * 3)
    with pytest.raises(Halt) as caught:
        read_all([PrintFile("AU-0001", "AU", pdf, tmp_path / "AU-0001.jsonl")], LAYOUTS, 1)
    halt = caught.value.details
    assert "differs from the one that prints" in caught.value.reason
    assert (halt["field"], halt["page"], halt["expected"], halt["found"]) == ("barcode", 1, [PAYLOADS[1]], [PAYLOADS[0]])
