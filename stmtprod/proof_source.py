"""The source values beside a statement in a proof: what a composition (stage 1) inspector compares
the printed statement with, read from the run's accepted records, never from the print file.

Each piece's values are drawn with ReportLab in the fonts of the piece's region layout (Japanese
and Chinese names print as they are, embedded) into a one-page PDF, which the proof places on the
panel of the statement's first sheet as a Form XObject. The values are the extract's own strings
(amounts as decimal strings, dates ISO), so the comparison is with the source, not with a second
rendering of it.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from pypdf import PdfReader, PdfWriter
from pypdf.generic import DecodedStreamObject, IndirectObject, NameObject
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from stmtprod.render.fonts import stack, string_width

WIDTH = 60 * 72 / 25.4   # the proof panel's text width
SIZE, LEADING = 6.8, 8.6
SHOWN_TRANSACTIONS = 6


@dataclass
class SourceForm:
    """One piece's source values as a one-page PDF `height` points tall, ready to place as a form."""

    pdf: bytes
    height: float

    def add_to(self, writer: PdfWriter) -> IndirectObject:
        page = PdfReader(io.BytesIO(self.pdf)).pages[0]
        form = DecodedStreamObject()
        form.set_data(page.get_contents().get_data())
        form.update({NameObject("/Type"): NameObject("/XObject"), NameObject("/Subtype"): NameObject("/Form"),
                     NameObject("/BBox"): page.mediabox,
                     NameObject("/Resources"): page["/Resources"].get_object().clone(writer)})
        return writer._add_object(form.flate_encode())


def values(record) -> list[tuple[str, str]]:
    """(label, source value) pairs in the order a statement shows them."""
    a = record.address
    rows = [("account", record.account_id), ("name", record.name)]
    rows += [("address", line) for line in a.lines]
    rows += [("city", " ".join(x for x in (a.city, a.state) if x)), ("postcode", a.postcode or "-"),
             ("country", a.country), ("card ending", record.card_last5),
             ("period", f"{record.period_start} to {record.period_end}"), ("due date", str(record.due_date)),
             ("currency", record.currency)]
    rows += [(label, str(getattr(record, key))) for label, key in (
        ("previous balance", "previous_balance"), ("payments", "payments"), ("credits", "credits"),
        ("fees", "fees"), ("interest", "interest"), ("new balance", "new_balance"), ("minimum due", "minimum_due"))]
    total = sum((Decimal(str(t.amount)) for t in record.transactions), Decimal(0))
    rows.append(("transactions", f"{len(record.transactions)}, sum {total}"))
    for t in record.transactions[:SHOWN_TRANSACTIONS]:
        rows.append((str(t.date), f"{t.description}  {t.amount}"))
    if len(record.transactions) > SHOWN_TRANSACTIONS:
        rows.append(("", f"... {len(record.transactions) - SHOWN_TRANSACTIONS} more"))
    rows.append(("points", str(record.points)))
    return rows


def _wrap(text: str, font: str, width: float) -> list[str]:
    """`text` in lines no wider than `width`: at spaces, else (CJK) between characters."""
    lines, line = [], ""
    for word in text.split(" ") if " " in text else list(text):
        joined = f"{line} {word}" if line and " " in text else line + word
        if line and string_width(joined, font, SIZE) > width:
            lines.append(line)
            line = word
        else:
            line = joined
    return lines + [line]


def _text(c: Canvas, x: float, y: float, text: str, font: str) -> None:
    """Draw `text` in a face stack of the region's layout: each run in the face that has its glyphs."""
    faces = stack(font)
    for face, run in faces.runs(text) if faces is not None else [(font, text)]:
        c.setFont(face, SIZE)
        c.drawString(x, y, run)
        x += stringWidth(run, face, SIZE)


def draw(record, regular: str, bold: str) -> SourceForm:
    label_w = 25 * 72 / 25.4
    lines = []
    for label, value in values(record):
        parts = _wrap(value, regular, WIDTH - label_w)
        lines += [(label if i == 0 else "", part) for i, part in enumerate(parts)]
    height = LEADING * len(lines) + 2
    buffer = io.BytesIO()
    c = Canvas(buffer, pagesize=(WIDTH, height), invariant=1)
    y = height - SIZE
    for label, text in lines:
        _text(c, 0, y, label, bold)
        _text(c, label_w, y, text, regular)
        y -= LEADING
    c.save()
    return SourceForm(buffer.getvalue(), height)


def source_forms(run: dict, run_dir: Path, rows: list[dict]) -> dict[int, SourceForm]:
    """Sequence -> its source values, for the statement pieces among `rows` (none for card runs, or
    when the run's accepted records or layouts are not there any more)."""
    from stmtprod.errors import StmtprodError
    from stmtprod.layout import load_layouts
    from stmtprod.render.fonts import register
    from stmtprod.verify import source_records

    if run.get("line") == "cards" or not run.get("layouts_dir"):
        return {}
    try:
        layouts = load_layouts(Path(run["layouts_dir"]))
    except StmtprodError:
        return {}
    forms = {}
    for region in sorted({r["region"] for r in rows}):
        mine = [r for r in rows if r["region"] == region]
        records = source_records(Path(run_dir) / "work" / "accepted" / f"{region}.jsonl", {r["line"] for r in mine})
        regular, bold = register(layouts[region].fonts)
        for row in mine:
            if row["line"] in records:
                forms[row["sequence"]] = draw(records[row["line"]], regular, bold)
    return forms
