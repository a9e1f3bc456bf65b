"""Drawing card carriers, and rendering one batch of them into one print file and one manifest.

A carrier is one A4 sheet: the issuer's header and return address, the cardholder's address in the
region layout's envelope window, the welcome letter (the record's language, then English), a
dashed card attach area where the sealing machine affixes the card, the embossed name and the
masked number ("Card ending 10005": the last five digits, never more), the activation steps and the
product's hotline, the enclosures, the carrier's own regulatory footer and one Code 128 barcode under the
sheet contract (`stmtprod.barcode.payload`). The carrier never knows the card number: it is drawn
from the sanitized record (token and last five digits).

Low-level canvas calls only: untrusted text goes through `drawString` as literal text. A batch is a
pure function of its batch file and configuration (`invariant=1`), so it re-renders to the same bytes.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from stmtprod.barcode import symbol
from stmtprod.barcode.payload import build
from stmtprod.cards.models import CarrierPiece
from stmtprod.cards.plan import read_carrier_batch
from stmtprod.cards.texts import (CarrierText, CarrierTexts, beside_window, bilingual, load_carrier_texts,
                                  record_boxes)
from stmtprod.layout import Layout, load_layout
from stmtprod.render.batch import insert_titles, open_canvas, save_canvas, write_batch
from stmtprod.render.canvas_text import GREY, MIN_FONT, LayoutPainter, enclosure_names
from stmtprod.render.fonts import string_width as stringWidth
from stmtprod.render.formatting import address_lines

LETTER_TOP_MM = 100.0
ENCLOSURES_MM = 252.0
ENCLOSURE_LINES = 3  # above the footer

_CJK = "\u2e80-\u2fff\u3000-\u30ff\u3100-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef"
_TOKENS = re.compile(rf"\s+|[{_CJK}]|[^\s{_CJK}]+")
# Characters that must not open a line (kinsoku): they hang at the end of the previous one instead.
_NO_START = set("、。，．・：；？！）」』】〕〉》”’ーぁぃぅぇぉっゃゅょァィゥェォッャュョ,.;:!?)")


def wrap(text: str, face: str, size: float, width_pt: float) -> list[str]:
    """Greedy line breaking: at spaces for Latin text, between characters for CJK text."""
    def fits(s: str) -> bool:
        return stringWidth(s, face, size) <= width_pt

    lines, line = [], ""
    for tok in _TOKENS.findall(text):
        if tok.isspace():
            if line and not line.endswith(" "):
                line += " "
            continue
        if fits(line + tok) or (len(tok) == 1 and tok in _NO_START and line):
            line += tok
            continue
        if line.strip():
            lines.append(line.rstrip())
        while len(tok) > 1 and not fits(tok):
            k = len(tok) - 1
            while k > 1 and not fits(tok[:k]):
                k -= 1
            lines.append(tok[:k])
            tok = tok[k:]
        line = tok
    if line.strip():
        lines.append(line.rstrip())
    return lines or [""]


def masked(texts: list[CarrierText], last5: str) -> str:
    """`カード番号末尾 10005 / Card ending 10005`: the last five digits at most."""
    return " / ".join(t.card_ending.format(last5=last5) for t in texts)


@dataclass
class CarrierPainter(LayoutPainter):
    layout: Layout
    texts: CarrierTexts
    run_id: str

    def _block(self, c: Canvas, x_mm: float, top_mm: float, width_mm: float, bottom_mm: float,
               paragraphs: list[tuple[str, bool, float, float]], size: float = 8.5) -> float:
        """Paragraphs (text, bold, size factor, space after in mm) wrapped into the box, shrunk to fit."""
        while True:
            laid, height = [], 0.0
            for text, bold, factor, gap in paragraphs:
                s = size * factor
                lines = wrap(text, self.bold if bold else self.regular, s, width_mm * mm)
                leading = s * 1.3 / mm
                laid.append((lines, bold, s, leading, gap))
                height += len(lines) * leading + gap
            if top_mm + height <= bottom_mm or size <= MIN_FONT:
                break
            size -= 0.25
        y = top_mm
        for lines, bold, s, leading, gap in laid:
            for line in lines:
                y += leading
                self._text(c, x_mm, y, line, s, bold=bold)
            y += gap
        return y

    def payload(self, piece: CarrierPiece) -> str:
        return build(piece.record.region, self.run_id, piece.sequence, 1, 1, set(piece.hoppers))

    def draw(self, c: Canvas, piece: CarrierPiece, insert_titles: dict[str, dict[str, str]]) -> str:
        """Draw the carrier's one sheet; returns its barcode payload."""
        rec, lay, tx = piece.record, self.layout, self.texts
        langs = tx.languages(rec.language)
        hotline = tx.hotline_for(rec.product)
        payload = self.payload(piece)

        # Header: issuer, return address, reference and masked number.
        self._text(c, self.left, 18, lay.issuer_name, 14, bold=True, max_mm=110)
        for i, line in enumerate(lay.return_address):
            self._text(c, self.left, 24 + i * 3.4, line, 7, max_mm=95)
        boxes = record_boxes(lay, tx, rec.language, rec.card_id, rec.embossed_name)
        (_, reference, ref_fit), (_, embossed, beside), (_, under, under_fit) = boxes
        self._text(c, self.right, 24, reference, ref_fit.size, align="right", max_mm=ref_fit.width_mm)
        self._text(c, self.right, 28, masked(langs, rec.last5), 8, align="right", max_mm=80)

        # The envelope window.
        self._window(c, address_lines(lay, rec.name, rec.address))

        # Beside the window: the card as it is embossed.
        x = beside_window(lay)
        self._text(c, x, 50, bilingual(langs, "name_on_card"), 7, max_mm=self.right - x, grey=True)
        self._text(c, x, 55, embossed, beside.size, bold=True, max_mm=beside.width_mm, min_size=beside.min_size)
        for i, t in enumerate(langs):
            self._text(c, x, 62 + i * 4.5, t.card_ending.format(last5=rec.last5), 9, max_mm=self.right - x)

        # Title and letter.
        area = tx.attach_area
        for i, t in enumerate(langs):
            self._text(c, self.left, 90 + i * 6, t.title, 12 if i == 0 else 10.5, bold=True,
                       max_mm=self.right - self.left)
        paragraphs = []
        for t in langs:
            paragraphs.append((t.greeting.format(name=rec.name), False, 1.0, 1.0))
            paragraphs.append((t.intro[rec.reason], False, 1.0, 0.8))
            paragraphs += [(p, False, 1.0, 0.8) for p in t.body]
            paragraphs[-1] = (*paragraphs[-1][:3], 2.5)
        self._block(c, self.left, LETTER_TOP_MM + (len(langs) - 1) * 6, self.right - self.left, area.y_mm - 3,
                    paragraphs, size=8.5)

        # The card attach area.
        c.saveState()
        c.setStrokeColorRGB(*GREY)
        c.setLineWidth(0.6)
        c.setDash(4, 2.5)
        c.rect(area.x_mm * mm, self._y(area.y_mm + area.height_mm), area.width_mm * mm, area.height_mm * mm,
               stroke=1, fill=0)
        c.restoreState()
        self._text(c, area.x_mm + 3, area.y_mm + 5, bilingual(langs, "attach_here"), 7, max_mm=area.width_mm - 6,
                   grey=True)
        below = area.y_mm + area.height_mm
        self._text(c, area.x_mm, below + 5, under, under_fit.size, max_mm=under_fit.width_mm,
                   min_size=under_fit.min_size)
        self._text(c, area.x_mm, below + 9.5, masked(langs, rec.last5), 8, max_mm=area.width_mm)

        # Activation, beside the attach area.
        column = area.x_mm - 6 - self.left
        steps = []
        for t in langs:
            steps.append((t.activation_title, True, 1.15, 1.2))
            steps += [(f"{n}. {s}", False, 1.0, 0.6) for n, s in enumerate(t.activation_steps, 1)]
            steps.append((t.hotline.format(hotline=hotline), True, 1.0, 3.0))
        self._block(c, self.left, area.y_mm, column, ENCLOSURES_MM - 6, steps, size=8.5)

        # Enclosures, footer, barcode.
        if piece.inserts:
            self._enclosures(c, self.left, ENCLOSURES_MM, bilingual(langs, "enclosures"),
                             enclosure_names(insert_titles, piece.inserts, rec.language),
                             self.right - self.left, ENCLOSURE_LINES)
        for i, line in enumerate(tx.footer):  # the carrier's own: the statement's speaks of payments
            self._text(c, self.left, 262 + i * 3.3, line, 6.5, max_mm=self.right - self.left)
        self._text(c, self.left, 270.5, langs[-1].hotline.format(hotline=hotline), 7, max_mm=120)
        bc = lay.barcode
        symbol.draw(c, payload, bc.x_mm, self.height_mm - bc.y_mm - bc.height_mm, self.spec)
        c.showPage()
        return payload


@dataclass(frozen=True)
class CarrierJob:
    """Everything a worker needs, as plain strings so it pickles to any executor."""

    name: str
    region: str
    run_id: str
    batch_file: str
    layouts_dir: str
    cards_dir: str
    catalog_file: str
    pdf_file: str
    manifest_file: str


@lru_cache(maxsize=None)
def _painter(layouts_dir: str, cards_dir: str, region: str, run_id: str) -> CarrierPainter:
    return CarrierPainter(load_layout(Path(layouts_dir) / f"{region}.toml"),
                          load_carrier_texts(Path(cards_dir) / f"{region}.toml"), run_id)


def lot_name(region: str) -> str:
    """The inspection lot of a region's carriers: its own stream, apart from the region's statements."""
    return f"CARDS-{region}"


def render_pdf(job: CarrierJob) -> tuple[bytes, list[dict]]:
    painter = _painter(job.layouts_dir, job.cards_dir, job.region, job.run_id)
    titles = insert_titles(job.catalog_file)
    buffer = io.BytesIO()
    canvas = open_canvas(buffer, painter, f"stmtprod cards {job.run_id} {job.name}")
    rows = []
    pdf_name = Path(job.pdf_file).name
    for page, piece in enumerate(read_carrier_batch(Path(job.batch_file)), start=1):
        payload = painter.draw(canvas, piece, titles)
        rec = piece.record
        rows.append({
            "sequence": piece.sequence, "card_id": rec.card_id, "account_id": rec.card_id, "token": rec.token,
            "last5": rec.last5, "region": rec.region, "lot": lot_name(rec.region), "line": piece.line,
            "sheets": 1, "inserts": list(piece.inserts), "hoppers": list(piece.hoppers), "payload": payload,
            "payloads": [payload], "file": pdf_name, "page": page, "first_page": page, "last_page": page,
        })
    save_canvas(canvas)
    return buffer.getvalue(), rows


def render_carrier_batch(job: CarrierJob) -> dict:
    """Render and write the batch's print file and manifest atomically; returns its counts."""
    return write_batch(job, *render_pdf(job))
