"""Postal barcodes on paper: drawn, read back from the content and from pixels, measured, verified
against the record, classed in the mailing manifest, in a real build of the samples."""
from __future__ import annotations

import copy
import io
import json
import random
import re
from pathlib import Path

import pydantic
import pypdf
import pypdfium2 as pdfium
import pytest
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from stmtprod.errors import Halt
from stmtprod.ingest.models import StatementRecord
from stmtprod.inspect.dispatch import check_postal
from stmtprod.layout import load_layouts
from stmtprod.postal import auspost, japanpost
from stmtprod.postal.draw import draw
from stmtprod.postal.geometry import geometry_for
from stmtprod.postal.measure import MM_PER_PX, inspect_sheet, render_box
from stmtprod.postal.piece import BARCODED, NON_BARCODED, NOT_APPLICABLE, decide, manifest_entry
from stmtprod.postal.read import Bar, PostalReadError, bars_in_content, bars_in_image, letters, read_pages
from stmtprod.postal.verify import check_piece
from tests.conftest import ROOT, manifest_rows
from tests.test_ingest import GOOD

LAYOUTS = load_layouts(ROOT / "layouts")


def _page(region: str, bars: str, *, geo=None, extra=None) -> bytes:
    """One A4 page with the region's postal barcode where the layout puts it (and `extra(canvas)`)."""
    layout = LAYOUTS[region]
    symbology = layout.postal.symbology
    buffer = io.BytesIO()
    c = Canvas(buffer, pagesize=(210 * mm, 297 * mm), invariant=1)
    c.drawString(30 * mm, 250 * mm, "statement")
    draw(c, bars, layout.postal_placement(symbology), geo or geometry_for(symbology, layout.postal.point_size), 297)
    if extra:
        extra(c)
    c.showPage()
    c.save()
    return buffer.getvalue()


def _random_bars(rng: random.Random, region: str) -> str:
    if region == "AU":
        return auspost.encode(11, f"{rng.randrange(10 ** 8):08d}")
    return japanpost.encode(f"{rng.randrange(10 ** 7):07d}", f"{rng.randrange(1, 99)}-{rng.randrange(1, 40)}-"
                                                              f"{rng.randrange(1, 30)}")


@pytest.mark.parametrize("region", ["AU", "JP"])
def test_bars_read_back_from_content_and_from_pixels(region, tmp_path):
    rng = random.Random(region)
    layout = LAYOUTS[region]
    for i in range(8):
        bars = _random_bars(rng, region)
        pdf_path = tmp_path / f"{region}{i}.pdf"
        pdf_path.write_bytes(_page(region, bars))
        assert read_pages(str(pdf_path), [0]) == {0: bars}
        doc = pdfium.PdfDocument(str(pdf_path))
        page = doc[0]
        place = layout.postal_placement(layout.postal.symbology)
        image = render_box(page, place.x - 3, place.top - 3, place.x + place.length + 3, place.top + place.height + 3)
        assert letters(bars_in_image(image, MM_PER_PX)) == bars
        entry = {"symbology": layout.postal.symbology, "bars": bars}
        assert inspect_sheet(1, layout, page, entry) == []
        page.close()
        doc.close()


def test_no_postal_path_reads_as_none(tmp_path):
    pdf_path = tmp_path / "plain.pdf"
    c = Canvas(str(pdf_path), invariant=1)
    c.drawString(100, 100, "no barcode")
    c.save()
    assert read_pages(str(pdf_path), [0]) == {0: None}


def test_reader_refuses_what_is_not_a_4_state_symbol():
    with pytest.raises(PostalReadError):
        letters([Bar(i, 0, i + 0.5, 5) for i in range(10)])  # all bars alike
    with pytest.raises(PostalReadError):
        letters([Bar(0, 0, 0.5, 1), Bar(1, 2, 1.5, 3)])  # no common tracker band
    twice = b"BT (x) Tj ET\n0 g\nn 1 1 1 1 re f\n0 g\nn 2 2 1 1 re f\n"
    with pytest.raises(PostalReadError, match="more than one"):
        bars_in_content(twice)
    with pytest.raises(PostalReadError):
        bars_in_content(b"q\n0 g\nn 1 1 1 1 re 2 2 m 3 3 l f\n")


def _inspect(region: str, bars: str, tmp_path: Path, **kw) -> list[dict]:
    pdf_path = tmp_path / "sheet.pdf"
    pdf_path.write_bytes(_page(region, kw.pop("printed", bars), **kw))
    doc = pdfium.PdfDocument(str(pdf_path))
    try:
        layout = LAYOUTS[region]
        return inspect_sheet(7, layout, doc[0], {"symbology": layout.postal.symbology, "bars": bars})
    finally:
        doc.close()


def test_stage_2_finds_thin_bars_short_bars_wrong_bars_and_text_in_the_clear_zone(tmp_path):
    au = auspost.encode(11, "96184209")
    thin = geometry_for("auspost").__class__(**{**geometry_for("auspost").__dict__, "width": 0.3})
    assert [d["kind"] for d in _inspect("AU", au, tmp_path, geo=thin)] == ["postal-dimension"]
    jp = japanpost.encode("1000013", "1-3-2-503")
    base = geometry_for("japanpost", LAYOUTS["JP"].postal.point_size)
    short = base.__class__(**{**base.__dict__, "full": base.full * 0.85})
    kinds = [d["kind"] for d in _inspect("JP", jp, tmp_path, geo=short)]
    assert "postal-dimension" in kinds
    other = auspost.encode(11, "96184210")
    assert [d["kind"] for d in _inspect("AU", au, tmp_path, printed=other)] == ["postal-wrong-bars"]
    place = LAYOUTS["AU"].postal_placement("auspost")

    def mark(c):  # a dot 1 mm left of the first bar: inside the 6 mm clear zone
        c.rect((place.x - 1.5) * mm, (297 - place.top - 3) * mm, 0.5 * mm, 0.5 * mm, stroke=0, fill=1)
    kinds = [d["kind"] for d in _inspect("AU", au, tmp_path, extra=mark)]
    assert kinds and set(kinds) <= {"postal-clear-zone", "postal-unreadable", "postal-dimension"}


def _record(**address) -> StatementRecord:
    rec = copy.deepcopy(GOOD)
    rec["address"].update(address)
    return StatementRecord.model_validate(rec)


def _au_record(dpid: str | None) -> StatementRecord:
    rec = copy.deepcopy(GOOD)
    rec.update(region="AU", currency="AUD", language="en", previous_balance="1200.00", payments="-1200.00",
               credits="0.00", fees="0.00", interest="0.00", new_balance="435.00", minimum_due="43.50",
               transactions=[{"date": "2026-10-22", "description": "QANTAS", "amount": "435.00"}])
    rec["address"] = {"lines": ["1 Martin Place"], "city": "Sydney", "state": "NSW", "postcode": "2000",
                      "country": "AU", **({"dpid": dpid} if dpid else {})}
    return StatementRecord.model_validate(rec)


def test_decisions_and_classes():
    assert decide(_record()).wanted.fields == {"postcode": "1050001", "address_number": "4-1-1"}
    assert decide(_record(lines=["八丁堀3-1-1"])).postal_class == NON_BARCODED
    assert decide(_record(postcode="105-0000")).postal_class == NON_BARCODED
    assert decide(_au_record("96184209")).wanted.fields == {"fcc": 11, "dpid": "96184209"}
    assert decide(_au_record(None)).postal_class == NON_BARCODED
    hk = copy.deepcopy(GOOD)
    hk.update(region="HK", currency="HKD", previous_balance="1200.00", payments="-1200.00", credits="0.00",
              fees="0.00", interest="0.00", new_balance="435.00", minimum_due="43.50",
              transactions=[{"date": "2026-10-22", "description": "MTR", "amount": "435.00"}])
    hk["address"] = {"lines": ["Flat A, 3/F"], "city": "Central", "country": "HK"}
    assert decide(StatementRecord.model_validate(hk)).postal_class == NOT_APPLICABLE


def test_dpid_is_eight_digits_and_australian_only():
    with pytest.raises(pydantic.ValidationError, match="Australian addresses only"):
        _record(dpid="12345678")
    for bad in ("1234567", "123456789", "1234567A", 12345678):
        with pytest.raises(pydantic.ValidationError):
            _au_record(bad)


def test_verify_halts_on_every_kind_of_postal_mismatch():
    at = {"step": "verify", "batch": "AU-0001", "piece": 1}
    record = _au_record("96184209")
    good = manifest_entry(decide(record))
    row = {"postal": good}
    check_piece(row, record, good["bars"], at)
    wrong = auspost.encode(11, "96184210")
    with pytest.raises(Halt) as exc:
        check_piece(row, record, wrong, at)
    assert exc.value.details["field"] == "dpid" and exc.value.details["found"] == "96184210"
    flipped = good["bars"][:10] + ("T" if good["bars"][10] != "T" else "F") + good["bars"][11:]
    with pytest.raises(Halt, match="does not decode"):
        check_piece(row, record, flipped, at)
    with pytest.raises(Halt, match="missing"):
        check_piece(row, record, None, at)
    bare = _au_record(None)
    with pytest.raises(Halt, match="must carry none"):
        check_piece({"postal": manifest_entry(decide(bare))}, bare, good["bars"], at)
    with pytest.raises(Halt, match="postage class"):
        check_piece({"postal": good}, bare, None, at)


def test_stage_4_checks_the_postal_class_against_the_address():
    record = _au_record("96184209")
    piece = {"postal": manifest_entry(decide(record))}
    assert check_postal(3, {"postal_class": BARCODED}, piece, record) == []
    assert [d["kind"] for d in check_postal(3, {"postal_class": NON_BARCODED}, piece, record)] == ["postal-class"]
    forged = {"postal": {**piece["postal"], "bars": auspost.encode(11, "11111111")}}
    assert [d["kind"] for d in check_postal(3, {"postal_class": BARCODED}, forged, record)] == ["postal-barcode"]


def test_a_build_prints_reads_and_counts_both_barcodes(sample_run, sample_records):
    assert sample_run["state"] == "RELEASED"
    rows = manifest_rows(sample_run)
    classes: dict[str, dict[str, int]] = {}
    release = Path(sample_run["run_dir"]) / "release"
    for row in rows:
        record = StatementRecord.model_validate(sample_records[row["account_id"]])
        decision = decide(record)
        assert row["postal"]["class"] == decision.postal_class
        tray = classes.setdefault(row["region"], {})
        tray[decision.postal_class] = tray.get(decision.postal_class, 0) + 1
        if row["region"] in ("AU", "JP"):
            read = read_pages(str(release / "print" / row["file"]), [row["first_page"] - 1])[row["first_page"] - 1]
            if decision.wanted is None:
                assert read is None
            elif decision.wanted.symbology == "auspost":
                assert auspost.decode(read).dpid == record.address.dpid
            else:
                assert japanpost.decode(read).postcode == record.address.postcode.replace("-", "")
    assert sample_run["postal_classes"] == classes
    report = json.loads((Path(sample_run["run_dir"]) / "report.json").read_text(encoding="utf-8"))
    assert report["postal_classes"] == classes
    text = "".join(p.extract_text() for p in pypdf.PdfReader(Path(sample_run["run_dir"]) / "report.pdf").pages)
    assert "Postal classes" in text and re.search(rf"AU\s+BARCODED\s+{classes['AU'][BARCODED]}\b", text)
    assert classes["AU"][BARCODED] and classes["AU"][NON_BARCODED] and classes["JP"][BARCODED]
    assert classes["JP"].get(NON_BARCODED)
    mailing = [json.loads(x) for p in sorted((release / "mailing").glob("*.jsonl"))
               for x in p.read_text(encoding="utf-8").splitlines()]
    assert sorted((m["sequence"], m["postal_class"]) for m in mailing) == sorted(
        (r["sequence"], r["postal"]["class"]) for r in rows)
