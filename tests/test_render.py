"""Rendering details read back from real PDFs: continuation pages, escaping, labels, inserts."""
from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path

import pypdf
import pytest

from stmtprod.catalog import load_catalog, select_inserts
from stmtprod.config import BuildOptions, default_catalog_file
from stmtprod.errors import ConfigError
from stmtprod.ingest.models import StatementRecord
from stmtprod.layout import load_layout
from stmtprod.statements.line import build
from stmtprod.render.statement import FIRST_PAGE_ROWS, NEXT_PAGE_ROWS
from tests.conftest import manifest_rows, rendering_garbage

AU = {
    "account_id": "AU0000000001", "region": "AU", "product": "gold", "language": "en", "delivery": "paper",
    "name": "Jane Citizen",
    "address": {"lines": ["Level 3, 1 Martin Place"], "city": "Sydney", "state": "NSW", "postcode": "2000",
                "country": "AU"},
    "card_last5": "10005", "period_start": "2026-10-21", "period_end": "2026-11-20", "due_date": "2026-12-10",
    "currency": "AUD", "previous_balance": "0.00", "payments": "0.00", "credits": "0.00", "fees": "0.00",
    "interest": "0.00", "new_balance": "0.00", "minimum_due": "0.00", "transactions": [], "segments": [],
    "points": 0,
}


def account(n_transactions: int, **changes) -> dict:
    rec = copy.deepcopy(AU) | changes
    rec["transactions"] = [{"date": "2026-11-01", "description": f"Purchase {i:03d}", "amount": f"{i + 1}.25"}
                           for i in range(n_transactions)]
    total = sum(Decimal(t["amount"]) for t in rec["transactions"])
    rec["new_balance"] = f"{total:.2f}"
    return rec


def render(tmp_path: Path, *records: dict) -> tuple[dict, list[dict]]:
    extract = tmp_path / "x.jsonl"
    extract.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    summary = build(BuildOptions(input=extract, out=tmp_path / "out", workers=1))
    assert summary["state"] == "RELEASED", summary.get("halt")
    return summary, manifest_rows(summary)


def test_long_statement_continues_with_carried_forward_subtotals(tmp_path):
    n = FIRST_PAGE_ROWS + NEXT_PAGE_ROWS + 5
    summary, rows = render(tmp_path, account(n))
    assert rows[0]["sheets"] == 3
    pages = [p.extract_text() for p in pypdf.PdfReader(summary["print_files"][0]).pages]
    assert len(pages) == 3
    first_page_total = sum(Decimal(f"{i + 1}.25") for i in range(FIRST_PAGE_ROWS))
    assert "Carried forward" in pages[0] and f"${first_page_total:,.2f}" in pages[0]
    assert "Brought forward" in pages[1] and f"${first_page_total:,.2f}" in pages[1]
    grand = sum(Decimal(f"{i + 1}.25") for i in range(n))
    assert "Total new charges" in pages[2] and f"${grand:,.2f}" in pages[2]
    for i, text in enumerate(pages, 1):
        assert f"Page {i} of 3" in text
    every_description = "".join(pages)
    assert all(f"Purchase {i:03d}" in every_description for i in range(n))


def test_untrusted_text_prints_literally(tmp_path):
    name = "<b>O'Brien & Sons</b> <font size=40>"
    summary, _rows = render(tmp_path, account(1, name=name))
    text = pypdf.PdfReader(summary["print_files"][0]).pages[0].extract_text()
    assert name in text


def test_statement_never_prints_more_than_the_last_five_card_digits(tmp_path):
    summary, _rows = render(tmp_path, account(0))
    text = pypdf.PdfReader(summary["print_files"][0]).pages[0].extract_text()
    assert "**** 10005" in text and "No transactions this period" in text


def test_bilingual_labels_follow_the_record_language(sample_run, sample_records):
    rows = manifest_rows(sample_run)
    for region, language, label in [("MY", "ms", "Baki baharu / New balance"), ("ID", "id", "Saldo baru / New balance"),
                                    ("JP", "ja", "今回ご請求額 / New balance"), ("HK", "zh-Hant", "本期結欠 / New balance")]:
        row = next(r for r in rows if r["region"] == region and sample_records[r["account_id"]]["language"] == language)
        path = next(p for p in sample_run["print_files"] if p.endswith(row["file"]))
        assert label in pypdf.PdfReader(path).pages[row["first_page"] - 1].extract_text()


def test_insert_selection_follows_rules_priority_and_the_envelope_limit():
    catalog, _ = load_catalog(default_catalog_file())
    rec = StatementRecord.model_validate(account(2, product="gold", segments=["travel", "dining", "new_member"]))
    chosen = [i.code for i in select_inserts(catalog, rec)]
    # WELCOME (priority 5) before TRVL26 (10) before DINE26 (20); at most three.
    assert chosen == ["WELCOME", "TRVL26", "DINE26"]
    spender = account(0, product="gold", segments=[])
    spender["transactions"] = [{"date": "2026-11-01", "description": "TV", "amount": "2500.00"}]
    spender["new_balance"] = "2500.00"
    assert [i.code for i in select_inserts(catalog, StatementRecord.model_validate(spender))] == ["PLAT-UP"]
    late = account(0, segments=["dining"], period_end="2027-01-05", due_date="2027-01-25")
    assert [i.code for i in select_inserts(catalog, StatementRecord.model_validate(late))] == []


def test_inserts_land_in_manifest_and_barcode(tmp_path):
    _summary, rows = render(tmp_path, account(1, segments=["travel"]), account(1, account_id="AU0000000002"))
    by_id = {r["account_id"]: r for r in rows}
    assert by_id["AU0000000001"]["inserts"] == ["TRVL26"] and by_id["AU0000000001"]["hoppers"] == [1]
    assert by_id["AU0000000001"]["payloads"][0][20:22] == "01"
    assert by_id["AU0000000002"]["inserts"] == [] and by_id["AU0000000002"]["payloads"][0][20:22] == "00"


def test_layout_errors_name_the_file_and_key(tmp_path):
    source = Path(__file__).resolve().parent.parent / "layouts" / "JP.toml"
    bad = tmp_path / "JP.toml"
    bad.write_text(source.read_text(encoding="utf-8").replace('code = "JPY"', 'code = "AUD"'), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_layout(bad)
    assert "JP.toml" in str(err.value) and "currency" in str(err.value)
    bad.write_text(source.read_text(encoding="utf-8").replace("[window]\nx_mm = 22", "[window]\nx_mm = -3"),
                   encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_layout(bad)
    assert err.value.key == "window.x_mm"


# -- the fast paths write what ReportLab's own calls write, byte for byte ----------------------------

def _canvases():
    import io

    from reportlab.pdfgen.canvas import Canvas

    return [Canvas(io.BytesIO(), invariant=1, pageCompression=0) for _ in range(2)]


def test_text_writer_writes_what_drawstring_writes():
    from stmtprod.render import fonts
    from stmtprod.render.canvas_text import TextWriter

    root = Path(__file__).resolve().parent.parent / "layouts"
    stacks = [*fonts.register(load_layout(root / "AU.toml").fonts), *fonts.register(load_layout(root / "JP.toml").fonts)]
    faces = list(dict.fromkeys(face for name in stacks for face in fonts.stack(name).faces))
    # Latin, markup-like and PDF-special characters, a no-break space, CJK over several 256-code
    # subsets (new characters mid-document), a character no font has, and the empty string.
    from reportlab.pdfbase.pdfmetrics import getFont

    glyphs = getFont(faces[2]).face.charToGlyph
    kanji = "".join(chr(c) for c in sorted(glyphs) if 0x4E00 <= c < 0xA000)[:600:2]
    texts = ["Jane Citizen", "<b>O'Brien & Sons</b> (x) \\ 100%", "A\u00a0B", "", "東京都千代田区丸の内1-1-1",
             kanji[:120], "新残高 / New balance", kanji[100:240], "\U0001F600 x", kanji, "ｱｲｳ ¥1,234"]
    reference, fast = _canvases()
    for round_ in range(2):  # the second time every character is known: the translate path
        for i, text in enumerate(texts):
            for face in faces:
                size = 7 + (i % 4) * 1.5 + round_ * 0.25  # not the same size: no cached line
                x, y = 40.5 + i, 800 - 12 * i - round_
                reference.setFont(face, size)
                reference.drawString(x, y, text)
                reference.drawRightString(x + 300, y, text)
                TextWriter.of(fast).draw(fast, face, size, x, y, text)
                TextWriter.of(fast).draw(fast, face, size, x + 300, y, text, right=True)
        for c in (reference, fast):
            c.showPage()
    assert fast.getpdfdata() == reference.getpdfdata()


def test_barcode_path_is_the_one_rectangles_make():
    from reportlab.lib.units import mm

    from stmtprod.barcode import symbol

    reference, fast = _canvases()
    spec = symbol.SymbolSpec()
    for payload in ["1AUAB12CD00000420102053", "1JPZZ99ZZ99999999999FF0", "1HK000000000000101010AZ"]:
        x = spec.narrow_bar_mm * mm
        x0 = 20 * mm + spec.quiet_zone_modules * x
        path = reference.beginPath()
        for start, width in symbol.runs(symbol.modules(payload)):
            path.rect(x0 + start * x, 10 * mm, width * x, spec.height_mm * mm)
        reference.saveState()
        reference.setFillColorCMYK(0, 0, 0, 1)
        reference.drawPath(path, fill=1, stroke=0)
        reference.restoreState()
        symbol.draw(fast, payload, 20, 10, spec)
        # and the canvas is left as ReportLab's calls leave it: the next drawing is the same too
        assert fast.state_stack == reference.state_stack
        assert fast._fillColorObj == reference._fillColorObj
        assert vars(fast._extgstate) == vars(reference._extgstate)
        for c in (reference, fast):
            c.setFillColorRGB(0.2, 0.4, 0.6)
            c.rect(5 * mm, 5 * mm, 10 * mm, 3 * mm, stroke=0, fill=1)
    assert fast.getpdfdata() == reference.getpdfdata()
    # Any module string, also with bars across the cached slices' boundaries.
    for modules in ["", "0000", "1" * 30, "0110111001" * 7, "11000111010" * 3 + "11"]:
        expected = " ".join(f"{r} re" for r in (
            __import__("reportlab.lib.rl_accel", fromlist=["fp_str"]).fp_str((5.5 + s * 0.9, 2.0, w * 0.9, 8.0))
            for s, w in symbol.runs(modules)))
        assert symbol.path_code(modules, 5.5, 0.9, 2.0, 8.0) == expected


def test_postal_path_is_the_one_rectangles_make():
    """The cached bar rectangles (`postal.draw`) write what `path.rect` per bar writes, for both
    symbologies, any placement, the same bars twice (cached) and no bars."""
    import random

    from reportlab.lib.units import mm

    from stmtprod.layout import load_layouts
    from stmtprod.postal.draw import draw
    from stmtprod.postal.geometry import Placement, geometry_for

    layouts = load_layouts(Path(__file__).resolve().parent.parent / "layouts")
    rng = random.Random(18)
    reference, fast = _canvases()
    for region, symbology, count in [("AU", "auspost", 37), ("JP", "japanpost", 67)]:
        placement = layouts[region].postal_placement(symbology)
        moved = Placement(placement.x + 0.37, placement.top - 1.3, placement.length, placement.height, 0)
        for point_size in (8.0, 10.0, 11.5):
            geo = geometry_for(symbology, point_size)
            bars = "".join(rng.choice("FADT") for _ in range(count))
            for where, page_height, text in [(placement, 297, bars), (moved, 279.4, bars), (placement, 297, bars),
                                             (placement, 297, bars[:5]), (placement, 297, "")]:
                base = page_height - where.top - geo.full
                path = reference.beginPath()
                for i, state in enumerate(text):
                    bottom, top = geo.extent(state)
                    path.rect((where.x + i * geo.pitch) * mm, (base + bottom) * mm, geo.width * mm,
                              (top - bottom) * mm)
                reference.setFillGray(0)
                reference.drawPath(path, stroke=0, fill=1)
                reference.setFillColorRGB(0, 0, 0)
                draw(fast, text, where, geo, page_height)
    assert fast.getpdfdata() == reference.getpdfdata()


def test_painter_text_is_drawstring_wherever_a_string_repeats():
    """`LayoutPainter._text` fits a string once and places it anywhere: the same string at other
    places, sizes, boxes and alignments writes what ReportLab's `setFont` + `drawString` /
    `drawRightString` write (a one-face style), and, for every layout's face stacks and strings that
    shrink or are cut, what the painter writes with nothing remembered."""
    from reportlab.lib.units import mm

    from stmtprod.render.canvas_text import TextWriter
    from stmtprod.render.statement import StatementPainter

    root = Path(__file__).resolve().parent.parent / "layouts"
    au = StatementPainter(load_layout(root / "AU.toml"), "run")
    reference, fast = _canvases()
    texts = ["Jane Citizen", "$1,234.56", "-$0.01", "<b>O'Brien & Sons</b> (x) \\", "Jane Citizen"]
    for round_ in range(2):
        for i, text in enumerate(texts):
            for top, size, align, box in [(50 + i * 5, 8.5, "left", 80), (120 + i * 5, 8.5, "right", 80),
                                          (50 + i * 5, 9.5, "right", None), (200 - i, 8.5, "left", 80),
                                          (230 - i, 9.5, "left", 80)]:
                reference.setFont("DejaVuSans-0", size)
                x, y = (20 + round_) * mm, (au.height_mm - top) * mm
                (reference.drawRightString if align == "right" else reference.drawString)(x, y, text)
                au._text(fast, 20 + round_, top, text, size, align=align, max_mm=box)
    assert fast.getpdfdata() == reference.getpdfdata()

    long = "Woolworths Metro Sydney Central Station Concourse Level 2 Shop 14 " * 2
    for region in ["AU", "JP", "HK"]:
        painter = StatementPainter(load_layout(root / f"{region}.toml"), "run")
        remembered, afresh = _canvases()
        strings = ["新残高 / New balance", long, long[:60], "東京都千代田区丸の内1-1-1 " * 4, "ｱｲｳ ¥1,234", long]
        for i, text in enumerate(strings * 2):
            for top, bold, align, box, min_size in [(40 + i, False, "left", 60, 5.5), (90 + i, True, "right", 60, 5.5),
                                                    (140 + i, False, "right", 60, 7), (190, True, "left", None, 5.5),
                                                    (200, True, "right", None, 5.5), (210, False, "left", 60, 7),
                                                    (220, False, "right", 60, 5.5)]:
                painter._text(remembered, 15, top, text, 8.5, bold=bold, align=align, max_mm=box, min_size=min_size)
                TextWriter.of(afresh).fitted.clear()
                painter._heights.clear()
                painter._fits.clear()
                painter._text(afresh, 15, top, text, 8.5, bold=bold, align=align, max_mm=box, min_size=min_size)
        assert remembered.getpdfdata() == afresh.getpdfdata()


def test_a_place_is_its_two_numbers_formatted_apart():
    """The painter formats a string's x once and each height once (`LayoutPainter._texts`): ReportLab's
    `fp_str(x, y)` must be `fp_str(x)`, a space and `fp_str(y)` for every kind of number it meets."""
    import random

    from reportlab.lib.rl_accel import fp_str
    from reportlab.lib.units import mm

    rng = random.Random(18)
    values = [0.0, -0.0, 1e-8, -1e-8, 0.5, 1.0, 999.9999999, 1000.0, 1e6, -3.25, 105 * mm, 297 * mm]
    values += [rng.uniform(-1000, 1000) for _ in range(20000)] + [rng.uniform(0, 2) for _ in range(5000)]
    values += [rng.randint(0, 300) * mm - rng.uniform(0, 200) for _ in range(20000)]
    for x, y in zip(values, reversed(values)):
        assert fp_str(x, y) == f"{fp_str(x)} {fp_str(y)}"


def test_text_fixed_on_every_sheet_is_written_as_drawn_afresh(sample_run, monkeypatch):
    """Headers, footers and column heads repeated from the first sheet of their kind in a print file
    (`LayoutPainter._fixed_texts`) are the bytes drawing them afresh on every sheet writes: every
    print file of the bundled samples (seven markets, bilingual and English-only pieces, one- and
    many-sheet statements), rendered both ways."""
    from stmtprod import verify
    from stmtprod.engine.runstate import load_run
    from stmtprod.render import batch
    from stmtprod.render.canvas_text import LayoutPainter

    run_dir = Path(sample_run["run_dir"])
    run = load_run(run_dir)
    _folder, files = verify.run_print_files(run_dir)
    jobs = [batch.BatchJob(f.batch, f.region, run["run_id"], str(run_dir / "work" / "batches" / f"{f.batch}.jsonl"),
                           run["layouts_dir"], run["catalog_file"], "", "") for f in files]
    repeated = [batch.render_pdf(job)[0] for job in jobs]
    assert [Path(f.pdf).read_bytes() for f in files] == repeated
    drawn = []
    monkeypatch.setattr(LayoutPainter, "_fixed_texts", lambda self, c, key, items: self._texts(c, items()))
    for job in jobs:
        batch._painter.cache_clear()  # painters made afresh: nothing remembered from the first pass
        drawn.append(batch.render_pdf(job)[0])
    assert drawn == repeated
    assert len(files) >= 7


def test_a_print_file_is_freed_as_it_is_dropped(sample_run):
    """Rendering leaves no reference cycle: a print file's pages, streams, fonts' subset state and text
    writers are freed as soon as they are dropped, not left for the cyclic collector (whose pass over a
    batch's objects was a sixth of its render time). Every print file of the samples (seven markets,
    face stacks among them), rendered with the collector off, then one collection that finds none of
    rendering's objects."""
    import gc

    from stmtprod import verify
    from stmtprod.engine.runstate import load_run
    from stmtprod.render import batch

    run_dir = Path(sample_run["run_dir"])
    run = load_run(run_dir)
    _folder, files = verify.run_print_files(run_dir)
    gc.collect()
    gc.disable()
    try:
        for f in files:
            job = batch.BatchJob(f.batch, f.region, run["run_id"], str(run_dir / "work" / "batches" / f"{f.batch}.jsonl"),
                                 run["layouts_dir"], run["catalog_file"], "", "")
            pdf, rows = batch.render_pdf(job)
            assert pdf == Path(f.pdf).read_bytes()
            del pdf, rows
            assert rendering_garbage() == [], f.batch
    finally:
        gc.enable()
    assert {f.region for f in files} == {"AU", "NZ", "JP", "MY", "ID", "SG", "HK"}


def test_a_fresh_worker_s_first_print_file_is_freed_as_it_is_dropped(sample_run):
    """A render worker's first print file, in a fresh process that has imported only what the line's
    process imports before it starts its workers: nothing imported on first use during rendering
    leaves the file's objects in a reference cycle (zint's import, made inside the first render,
    caught exceptions whose tracebacks held the rendering frames, and with them the document)."""
    import subprocess
    import sys

    script = f"""
import gc, sys
from pathlib import Path
import stmtprod.statements.line
from stmtprod import verify
from stmtprod.engine.runstate import load_run
from stmtprod.render.batch import BatchJob, render_pdf
sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})
from tests.conftest import rendering_garbage
run_dir = Path({sample_run["run_dir"]!r})
run = load_run(run_dir)
_folder, files = verify.run_print_files(run_dir)
gc.collect()
gc.freeze()
gc.disable()
for f in [f for f in files if f.region in ("AU", "JP")][:2]:
    render_pdf(BatchJob(f.batch, f.region, run["run_id"], str(run_dir / "work" / "batches" / f"{{f.batch}}.jsonl"),
                        run["layouts_dir"], run["catalog_file"], "", ""))
    print(f.batch, rendering_garbage())
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert len(lines) == 2 and all(line.endswith(" []") for line in lines), lines


def test_a_run_holds_what_the_process_had_frozen_and_thaws_it(tmp_path):
    """A run's life holds what its process had before it frozen out of the collector (no full pass
    walks modules, fonts and layouts again) and thaws it after, even when the run halts: nothing the
    process held stays uncollectable."""
    import gc

    frozen = []

    def events(kind, **details):
        frozen.append(gc.get_freeze_count())

    extract = tmp_path / "x.jsonl"
    extract.write_text(json.dumps(account(3)) + "\n", encoding="utf-8")
    before = gc.get_freeze_count()
    summary = build(BuildOptions(input=extract, out=tmp_path / "out", workers=1), events)
    assert summary["state"] == "RELEASED" and frozen and min(frozen) > before + 1000
    assert gc.get_freeze_count() == before
    frozen.clear()
    halted = build(BuildOptions(input=extract, out=tmp_path / "drill", workers=1, drill="wrong-region"), events)
    assert halted["state"] == "HALTED" and min(frozen) > before + 1000
    assert gc.get_freeze_count() == before


def _pages_both_ways(make, formatted: list) -> tuple[bytes, bytes]:
    """`make(canvas)` drawn twice: saved by ReportLab alone, and after `pdfpages.prepare` (`formatted`
    is emptied before it)."""
    import io

    from stmtprod.render import pdfpages

    out = []
    for fast in (False, True):
        buffer = io.BytesIO()
        canvas = make(buffer)
        if fast:
            formatted.clear()
            pdfpages.prepare(canvas)
        canvas.save()
        if fast:
            pdfpages.release(canvas)
            assert not any("format" in vars(o) for p in canvas._doc.Pages.pages
                           for o in (p, getattr(p, "Contents", None)) if hasattr(o, "__dict__"))
        out.append(buffer.getvalue())
    return out[0], out[1]


def test_pages_are_written_as_reportlab_writes_them(monkeypatch):
    """The page and content-stream fast path (`pdfpages`) writes ReportLab's bytes: for pages alike and
    pages that differ in size, rotation, boxes, transitions, colours, images, and empty pages; with and
    without compression, with ASCII85, and with encryption (these go through ReportLab)."""
    from reportlab import rl_config
    from reportlab.lib import colors
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen.canvas import Canvas
    from PIL import Image

    image = ImageReader(Image.new("RGB", (4, 4), (200, 30, 30)))

    def document(compress=1, encrypt=None):
        def make(buffer):
            c = Canvas(buffer, invariant=1, pageCompression=compress, encrypt=encrypt)
            for i in range(14):
                c.drawString(72, 700 - i, f"page {i} (text) \\ ")
                if i == 3:
                    c.setPageSize((300, 400 + i))
                if i == 5:
                    c.setPageRotation(90)
                if i == 6:
                    c.setPageRotation(0)
                    c.setCropBox((10, 10, 200, 200))
                if i == 7:
                    c.setPageTransition("Dissolve", 2)
                if i == 8:
                    c.setFillColor(colors.CMYKColorSep(0, 0, 1, 0, spotName="Spot"))
                    c.rect(10, 10, 50, 50, fill=1)
                if i == 9:
                    c.drawImage(image, 20, 20, 30, 30)
                if i == 11:
                    c.showPage()  # an empty page: ReportLab writes its test stream
                c.showPage()
            return c
        return make

    from reportlab.pdfbase import pdfdoc

    by_reportlab = []  # pages and streams ReportLab formatted in the fast pass: the fast path is taken
    for kind in (pdfdoc.PDFPage, pdfdoc.PDFStream):
        monkeypatch.setattr(kind, "format", lambda self, doc, _f=kind.format: by_reportlab.append(self) or _f(self, doc))
    saved = rl_config.useA85
    try:
        for a85 in (0, 1):
            rl_config.useA85 = a85
            for compress, encrypt in [(1, None), (0, None), (1, "secret")]:
                reference, fast = _pages_both_ways(document(compress, encrypt), by_reportlab)
                if not a85 and compress and encrypt is None:  # 15 pages, their streams, image: 8 + 4 + 1
                    assert len(by_reportlab) <= 13, [type(o).__name__ for o in by_reportlab]
                if encrypt is None:  # encryption writes a random key: compared through a reader below
                    assert fast == reference, (a85, compress)
                else:
                    reader = pypdf.PdfReader(__import__("io").BytesIO(fast), password="secret")
                    assert len(reader.pages) == 15 and "page 13" in reader.pages[14].extract_text()
    finally:
        rl_config.useA85 = saved


def test_subset_runs_split_codes_as_groupby_does():
    """`subset_runs` splits subset codes into (subset, bytes) runs as the per-character definition does,
    for codes in every subset, the surrogate range among them, and runs of every length."""
    import random
    from itertools import groupby

    from stmtprod.render.canvas_text import subset_runs

    rng = random.Random(256)
    for _ in range(5000):
        pools = [range(0, 0x10000), range(0x100, 0x400), range(0xD700, 0xE000), range(0, 0x100), range(0x4E00, 0x4F00)]
        coded = "".join(chr(rng.choice(rng.choice(pools))) * rng.randrange(1, 4) for _ in range(rng.randrange(1, 10)))
        expected = [(subset, bytes(ord(ch) & 0xFF for ch in run))
                    for subset, run in groupby(coded, key=lambda ch: ord(ch) >> 8)]
        assert subset_runs(coded) == expected, coded


def test_money_as_printed_in_each_market():
    """The renderer's money text: the markets' published forms, and for amounts of every size and sign
    the same text as the inspector's own integer-arithmetic formatter (a separate implementation)."""
    import random
    from decimal import Decimal

    from stmtprod.inspect.expect import money_exact
    from stmtprod.layout import load_layout
    from stmtprod.render.formatting import money

    root = Path(__file__).resolve().parent.parent / "layouts"
    lay = {r: load_layout(root / f"{r}.toml") for r in ("AU", "NZ", "JP", "MY", "ID", "SG", "HK")}
    assert money(lay["JP"], Decimal("-120000")) == "-¥120,000"
    assert money(lay["ID"], Decimal("1234567")) == "Rp1.234.567"
    assert money(lay["HK"], Decimal("12345.60")) == "HK$12,345.60"
    assert money(lay["AU"], Decimal("-0.50")) == "-$0.50"
    assert money(lay["AU"], Decimal("-0.00")) == "$0.00"
    assert money(lay["MY"], Decimal("1234.56")) == "RM1,234.56"
    rnd = random.Random(18)
    for region, layout in lay.items():
        places = layout.currency.minor_units
        for _ in range(3000):
            amount = Decimal(rnd.randint(-10 ** rnd.randint(1, 15), 10 ** rnd.randint(1, 15))).scaleb(-places)
            assert money(layout, amount) == money_exact(layout.currency, amount), (region, amount)
