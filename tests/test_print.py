"""Print a cardholder would not complain about (issue 14), read back from real PDFs.

Expectations come from the configuration files read here with tomllib (labels, titles, footers,
currency grouping), not from the renderer's own helpers: a title cut short, a label that does not
fit, a bold that is the regular face, Latin set in a CJK font's Latin glyphs, points grouped the
English way, an English insert title on a local-language statement would each fail a test.
"""
from __future__ import annotations

import io
import re
import tomllib
from pathlib import Path

import pypdf
import pypdfium2 as pdfium
import pytest

from stmtprod.catalog import load_catalog
from stmtprod.config import default_catalog_file
from stmtprod.ingest.models import StatementRecord
from stmtprod.layout import load_layout
from stmtprod.plan import Piece
from stmtprod.regions import REGIONS
from stmtprod.render import fonts
from stmtprod.render.batch import insert_titles, open_canvas
from stmtprod.render.statement import FIRST_PAGE_ROWS, StatementPainter
from tests.conftest import manifest_rows

ROOT = Path(__file__).resolve().parent.parent
ELLIPSIS = "…"
# Labels every first page carries (the rest are on continuation pages or depend on the record).
FIRST_PAGE_LABELS = ("account", "card", "period", "statement_date", "due_date", "summary", "previous_balance",
                     "payments", "credits", "new_charges", "fees", "interest", "new_balance", "minimum_due",
                     "points", "transactions", "date", "description", "amount")


def squash(text: str) -> str:
    return "".join(text.split())


def layout_toml(region: str) -> dict:
    return tomllib.loads((ROOT / "layouts" / f"{region}.toml").read_text(encoding="utf-8"))


def catalog_toml() -> dict:
    return tomllib.loads((ROOT / "inserts" / "catalog.toml").read_text(encoding="utf-8"))


def printed_label(conf: dict, language: str, key: str) -> str:
    english = conf["labels"]["en"][key]
    local = conf["labels"].get(language) if language != "en" else None
    return f"{local[key]} / {english}" if local else english


def grouped(conf: dict, value: int) -> str:
    return f"{value:,}".replace(",", conf["currency"]["group_separator"])


def title_of(insert: dict, language: str) -> str:
    return insert.get("titles", {}).get(language, insert["title"])


def pdf_pages(data: bytes) -> list[str]:
    """Every page's text as pdfium extracts it (what the composition inspector reads)."""
    pdf = pdfium.PdfDocument(data)
    try:
        texts = []
        for page in pdf:
            textpage = page.get_textpage()
            texts.append(textpage.get_text_range())
            textpage.close()
            page.close()
        return texts
    finally:
        pdf.close()


def sample_record(sample_records: dict, region: str) -> dict:
    return next(r for r in sample_records.values()
                if r.get("region") == region and r.get("delivery") == "paper" and len(r["transactions"]) > 2)


def render_statements(region: str, pieces: list[Piece]) -> tuple[bytes, list[int]]:
    """One print file of the pieces, as the batch renderer makes it; and each piece's first page (0-based)."""
    painter = StatementPainter(load_layout(ROOT / "layouts" / f"{region}.toml"), "20261120-ABCDEF")
    buffer = io.BytesIO()
    canvas = open_canvas(buffer, painter, "test")
    titles = insert_titles(str(default_catalog_file()))
    firsts, page = [], 0
    for piece in pieces:
        firsts.append(page)
        page += len(painter.draw(canvas, piece, titles))
    canvas.save()
    return buffer.getvalue(), firsts


def whole(line: str, text: str) -> bool:
    """`text` stands on the line as a whole: not cut, not run into other words."""
    return re.search(rf"(^|\s){re.escape(text)}(\s|$)", line) is not None


@pytest.mark.parametrize("region", REGIONS)
def test_every_language_prints_its_full_title_labels_and_longest_enclosures(region, sample_records):
    """Each language of the market, with the three longest insert titles in that language: the
    title's lines, every label and every enclosure read back whole, nothing cut with '…'."""
    conf, catalog = layout_toml(region), catalog_toml()
    base = sample_record(sample_records, region)
    pieces, expected = [], []
    for n, language in enumerate(conf["labels"], 1):
        longest = sorted(catalog["insert"], key=lambda i: -len(title_of(i, language)))[:3]
        record = StatementRecord.model_validate(base | {"language": language})
        piece = Piece(sequence=n, line=n, inserts=tuple(i["code"] for i in longest), hoppers=(), record=record)
        pieces.append(piece)
        expected.append((language, longest, record))
    data, firsts = render_statements(region, pieces)
    pages = pdf_pages(data)
    assert all(ELLIPSIS not in text for text in pages), region
    for first, (language, longest, record) in zip(firsts, expected):
        text = pages[first]
        flat = squash(text)
        lines = [ln.strip() for ln in text.splitlines()]
        title = conf["labels"]["en"]["statement_title"]
        local = conf["labels"].get(language, {}).get("statement_title") if language != "en" else None
        assert any(whole(ln, title) for ln in lines), (region, language, lines[:6])
        assert local is None or any(whole(ln, local) for ln in lines), (region, language, lines[:6])
        for key in FIRST_PAGE_LABELS:
            assert squash(printed_label(conf, language, key)) in flat, (region, language, key)
        enclosures = f"{printed_label(conf, language, 'enclosures')}: " + ", ".join(
            f"{i['code']} {title_of(i, language)}" for i in longest)
        assert squash(enclosures) in flat, (region, language)
        points = squash(printed_label(conf, language, "points")) + grouped(conf, record.points)
        assert points in flat


def test_no_cut_text_anywhere_in_the_sample_run(sample_run):
    """Every page of every print file: no ellipsis (the samples' descriptions and names all fit)."""
    for path in sample_run["print_files"]:
        for number, text in enumerate(pdf_pages(Path(path).read_bytes()), 1):
            assert ELLIPSIS not in text, f"{Path(path).name} page {number}: {text!r}"


def test_continuation_pages_carry_title_and_labels(sample_run, sample_records):
    rows = manifest_rows(sample_run)
    for region in REGIONS:
        conf = layout_toml(region)
        row = next(r for r in rows if r["region"] == region and r["sheets"] > 1)
        language = sample_records[row["account_id"]]["language"]
        path = next(p for p in sample_run["print_files"] if p.endswith(row["file"]))
        texts = pdf_pages(Path(path).read_bytes())[row["first_page"] - 1:row["last_page"]]
        for sheet, text in enumerate(texts[1:], 2):
            flat = squash(text)
            for key in ("statement_title", "account", "card", "transactions", "date", "description", "amount",
                        "brought_forward"):
                label = conf["labels"]["en"][key] if key == "statement_title" else printed_label(conf, language, key)
                assert squash(label) in flat, (region, sheet, key)


def _runs(path: str, page: int) -> list[tuple[str, str, float]]:
    """(text, font, size) of every run of text on the page, fonts without their subset prefix."""
    runs = []

    def visit(text, _cm, _tm, font, size):
        if text.strip() and font:
            runs.append((text.strip(), str(font.get("/BaseFont", "")).split("+")[-1], size))

    pypdf.PdfReader(path).pages[page - 1].extract_text(visitor_text=visit)
    return runs


def _embedded(path: str) -> set[str]:
    names = set()
    for page in pypdf.PdfReader(path).pages[:3]:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            desc = font.get("/FontDescriptor")
            if desc is not None and "/FontFile2" in desc.get_object():
                names.add(str(font["/BaseFont"]).split("+")[-1])
    return names


@pytest.mark.parametrize("region", REGIONS)
def test_bold_is_a_different_embedded_face_in_every_market(region, sample_run, sample_records):
    """What prints at 10.5 pt and above (issuer, title, the boxed amounts) is bold; what prints at
    7 pt and below (return address, small labels, footer) is regular: no face in both, all embedded,
    and a local-language title is in a bold face of its own script."""
    rows = manifest_rows(sample_run)
    local_first = sorted((r for r in rows if r["region"] == region),
                         key=lambda r: sample_records[r["account_id"]]["language"] == "en")
    row = local_first[0]
    path = next(p for p in sample_run["print_files"] if p.endswith(row["file"]))
    runs = _runs(path, row["first_page"])
    bold = {font for _t, font, size in runs if size >= 10.5}
    regular = {font for _t, font, size in runs if size <= 7}
    assert bold and regular and not bold & regular, (region, bold, regular)
    assert bold | regular <= _embedded(path), region
    local = layout_toml(region)["labels"][sample_records[row["account_id"]]["language"]]["statement_title"]
    title_faces = {font for text, font, _size in runs if text == local}
    assert title_faces and title_faces <= bold, (region, title_faces)


def test_hong_kong_latin_text_and_amounts_are_in_the_latin_face(sample_run, sample_records):
    rows = manifest_rows(sample_run)
    row = next(r for r in rows if r["region"] == "HK" and sample_records[r["account_id"]]["language"] == "zh-Hant")
    path = next(p for p in sample_run["print_files"] if p.endswith(row["file"]))
    runs = _runs(path, row["first_page"])
    latin = [(t, f) for t, f, _s in runs if re.fullmatch(r"[\x20-\x7e]+", t)]
    chinese = [(t, f) for t, f, _s in runs if re.search(r"[\u4e00-\u9fff]", t)]
    assert latin and chinese
    assert all(f.startswith("DejaVuSans") for _t, f in latin), latin
    assert all(not f.startswith("DejaVuSans") for _t, f in chinese), chinese
    amounts = [f for t, f in latin if t.startswith("HK$") or t.startswith("-HK$")]
    assert amounts and set(amounts) <= {"DejaVuSans", "DejaVuSans-Bold"}


def test_points_use_the_markets_grouping(sample_run, sample_records):
    """Indonesia groups with '.', as its amounts do; every market's points as its amounts group."""
    rows = manifest_rows(sample_run)
    checked = set()
    for row in rows:
        rec = sample_records[row["account_id"]]
        if rec["points"] < 1000 or row["region"] in checked:
            continue
        conf = layout_toml(row["region"])
        path = next(p for p in sample_run["print_files"] if p.endswith(row["file"]))
        flat = squash(pdf_pages(Path(path).read_bytes())[row["first_page"] - 1])
        label = squash(printed_label(conf, rec["language"], "points"))
        assert label + grouped(conf, rec["points"]) in flat, row["region"]
        if conf["currency"]["group_separator"] != ",":
            assert label + f"{rec['points']:,}" not in flat
        checked.add(row["region"])
    assert checked == set(REGIONS)
    assert grouped(layout_toml("ID"), 47063) == "47.063"


def test_local_language_statements_print_localised_insert_titles(sample_run, sample_records):
    catalog = {i["code"]: i for i in catalog_toml()["insert"]}
    seen = set()
    for row in manifest_rows(sample_run):
        language = sample_records[row["account_id"]]["language"]
        if not row["inserts"] or language == "en":
            continue
        path = next(p for p in sample_run["print_files"] if p.endswith(row["file"]))
        flat = squash(pdf_pages(Path(path).read_bytes())[row["first_page"] - 1])
        for code in row["inserts"]:
            local = catalog[code]["titles"][language]
            assert squash(f"{code} {local}") in flat
            assert squash(catalog[code]["title"]) not in flat
        seen.add(language)
    assert seen == {"ja", "zh-Hant", "ms", "id"}


def test_catalog_titles_print_in_every_market_that_uses_their_language():
    """Every localised title can be drawn by the font of every market whose statements use it."""
    catalog, _ = load_catalog(default_catalog_file())
    for region in REGIONS:
        layout = load_layout(ROOT / "layouts" / f"{region}.toml")
        covered = fonts.coverage(layout.fonts)
        for insert in catalog.insert:
            for language, title in insert.titles.items():
                if language in layout.labels:
                    assert all(ord(ch) in covered for ch in title), (region, insert.code, language)


def test_face_stack_runs_rebuild_the_text():
    layout = load_layout(ROOT / "layouts" / "HK.toml")
    regular, bold = fonts.register(layout.fonts)
    for name in (regular, bold):
        stack = fonts.stack(name)
        for text in ["本期結欠 / New balance", "HK$1,234.50", "石硤尾邨7座29樓E室", "", "Ａ１（全形）é…",
                     "Travel 旅遊 rewards"]:
            runs = stack.runs(text)
            assert "".join(t for _f, t in runs) == text
            assert all(a[0] != b[0] for a, b in zip(runs, runs[1:]))  # neighbours differ in face
        assert {f for f, _t in stack.runs("HK$1,234.50")} == {stack.latin}
        assert stack.latin not in {f for f, _t in stack.runs("本期結欠")}
    au_regular, _au_bold = fonts.register(load_layout(ROOT / "layouts" / "AU.toml").fonts)
    assert fonts.stack(au_regular).single and au_regular == "DejaVuSans-0"
