"""Drawing one statement onto a ReportLab canvas, sheet by sheet.

Low-level canvas calls only (no markup parser): untrusted text is passed to `drawString`, which
writes it as literal text, so a name like `<b>O'Brien & Sons</b>` prints exactly as given.
Positions are in millimetres from the page's top-left, converted once here.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal

from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from stmtprod.barcode import symbol
from stmtprod.barcode.payload import build_piece
from stmtprod.layout import Layout
from stmtprod.plan import Piece
from stmtprod.postal.draw import draw as postal_draw
from stmtprod.postal.geometry import geometry_for
from stmtprod.render import fitting
from stmtprod.render.canvas_text import GREY, LayoutPainter, enclosure_names
from stmtprod.render.formatting import LabelSet, address_lines, date, money_in, money_style, number

ROW_MM = 5.0
FIRST_TABLE_TOP_MM = 158.0
NEXT_TABLE_TOP_MM = 50.0
TABLE_BOTTOM_MM = 256.0
TABLE_FONT = fitting.DESCRIPTION_SIZE
DATE_COLUMN_MM, AMOUNT_COLUMN_MM = 32.0, 34.0
TITLE_MM = 80.0  # the title's box, right of the issuer's name
ENCLOSURE_LINES = 2  # between the new balance and the transactions
_FORMATTED_LIMIT = 8192  # amounts (or dates) remembered per painter (about 2 MB); a full memo starts again


HEADER_BOX = fitting.Fit(8, fitting.MIN_FONT, 80)  # "Account: ..." at the top right


def description_fit(layout: Layout) -> fitting.Fit:
    """The transaction description's column: what is left of the text width beside date and amount."""
    width = layout.page.size_mm[0] - 2 * layout.page.margin_mm - DATE_COLUMN_MM - AMOUNT_COLUMN_MM
    return fitting.Fit(TABLE_FONT, fitting.MIN_FONT, width)


def record_boxes(layout: Layout, record) -> list[tuple[str, str, fitting.Fit]]:
    """(field, text, box) of every line the statement prints from the record outside the window, as
    the painter prints it, for the fitting check at ingest."""
    label = LabelSet(layout, record.language)
    fit = description_fit(layout)
    return [("account_id", f"{label('account')}: {record.account_id}", HEADER_BOX),
            *((f"transactions.{i}.description", t.description, fit) for i, t in enumerate(record.transactions))]


def _slots(top_mm: float) -> int:
    return int((TABLE_BOTTOM_MM - top_mm) // ROW_MM)


# A page's table holds a header row and a closing row (carried forward or total); later pages also
# open with the amount brought forward.
FIRST_PAGE_ROWS = _slots(FIRST_TABLE_TOP_MM) - 2
NEXT_PAGE_ROWS = _slots(NEXT_TABLE_TOP_MM) - 3


def paginate(transactions: int) -> list[range]:
    """Which transactions go on which sheet; always at least one sheet."""
    pages = [range(0, min(transactions, FIRST_PAGE_ROWS))]
    while pages[-1].stop < transactions:
        start = pages[-1].stop
        pages.append(range(start, min(transactions, start + NEXT_PAGE_ROWS)))
    return pages


def sheet_count(transactions: int) -> int:
    extra = max(0, transactions - FIRST_PAGE_ROWS)
    return 1 + math.ceil(extra / NEXT_PAGE_ROWS)


@dataclass
class StatementPainter(LayoutPainter):
    """Draws statements for one layout; fonts are registered once per process."""

    layout: Layout
    run_id: str

    def __post_init__(self) -> None:
        super().__post_init__()
        self._labels: dict[str, LabelSet] = {}
        self._amounts: dict[Decimal, str] = {}  # amounts and dates as printed: many repeat
        self._money_style = money_style(self.layout.currency)
        self._postal: dict[str, tuple] = {}  # symbology -> (placement, bar geometry)
        self._dates: dict[dt.date, str] = {}

    def _label_set(self, language: str) -> LabelSet:
        label = self._labels.get(language)
        if label is None:
            label = self._labels[language] = LabelSet(self.layout, language)
        return label

    def _money(self, amount: Decimal) -> str:
        """`money(layout, amount)`, remembered: equal amounts print the same."""
        text = self._amounts.get(amount)
        if text is None:
            text = money_in(self._money_style, amount)
            if len(self._amounts) >= _FORMATTED_LIMIT:
                self._amounts.clear()
            if amount.is_finite():
                self._amounts[amount] = text
        return text

    def _date(self, value: dt.date) -> str:
        text = self._dates.get(value)
        if text is None:
            text = date(self.layout, value)
            if len(self._dates) >= _FORMATTED_LIMIT:
                self._dates.clear()
            self._dates[value] = text
        return text

    def payloads(self, piece: Piece) -> list[str]:
        sheets = sheet_count(len(piece.record.transactions))
        return build_piece(piece.record.region, self.run_id, piece.sequence, sheets, piece.hoppers)

    def draw(self, c: Canvas, piece: Piece, insert_titles: dict[str, dict[str, str]],
             postal: dict | None = None) -> list[str]:
        """Draw every sheet of the piece; returns the barcode payload of each sheet in order.

        `postal`: the piece's manifest entry from `stmtprod.postal.piece`; with bars, they are drawn
        in the envelope window below the address."""
        rec, lay = piece.record, self.layout
        label = self._label_set(rec.language)
        pages = paginate(len(rec.transactions))
        payloads = self.payloads(piece)
        running = Decimal(0)
        for index, rows in enumerate(pages):
            n = index + 1
            self._header(c, piece, label)
            if n == 1:
                self._address(c, piece, postal if postal and postal.get("bars") else None)
                self._summary(c, piece, label, insert_titles)
                top = FIRST_TABLE_TOP_MM
            else:
                top = NEXT_TABLE_TOP_MM
            running = self._table(c, piece, label, rows, top, running, first=n == 1, last=n == len(pages))
            self._footer(c, label, n, len(pages))
            bc = lay.barcode
            symbol.draw(c, payloads[index], bc.x_mm, self.height_mm - bc.y_mm - bc.height_mm, self.spec)
            c.showPage()
        return payloads

    def _header(self, c: Canvas, piece: Piece, label: LabelSet) -> None:
        lay, rec = self.layout, piece.record
        # The title in the record's language, then in English a size smaller on a line of its own: a
        # long bilingual title ("Penyata Kad Kredit / Credit Card Statement") fits beside the issuer.
        titles = label.lines("statement_title")
        below = 24 + 2.5 * (len(titles) - 1)
        self._fixed_texts(c, ("header", label.language), lambda: [
            (self.left, 18, lay.issuer_name, 14, True, False, 100),
            *((self.right, 18 + i * 4.2, line, size, True, True, TITLE_MM)
              for i, (line, size) in enumerate(zip(titles, (11, 9)))),
            *((self.left, 24 + i * 3.4, line, 7, False, False, 95) for i, line in enumerate(lay.return_address))])
        self._texts(c, [(self.right, below, f"{label('account')}: {rec.account_id}", HEADER_BOX.size, False, True,
                         HEADER_BOX.width_mm),
                        (self.right, below + 4, f"{label('card')}: **** {rec.card_last5}", 8, False, True, 80)])

    def _address(self, c: Canvas, piece: Piece, postal: dict | None) -> None:
        win = self.layout.window
        text_height = win.height_mm
        if postal is not None:
            placement, geo = self._postal_geometry(postal["symbology"])
            postal_draw(c, postal["bars"], placement, geo, self.height_mm)
            text_height = placement.band_top - win.y_mm  # the text stays out of the clear zone
        self._window(c, address_lines(self.layout, piece.record.name, piece.record.address), text_height)

    def _postal_geometry(self, symbology: str):
        """Where the layout places the postal bars of `symbology`, and their geometry at its point size:
        worked out once per painter."""
        found = self._postal.get(symbology)
        if found is None:
            found = self._postal[symbology] = (self.layout.postal_placement(symbology),
                                               geometry_for(symbology, self.layout.postal.point_size))
        return found

    def _summary(self, c: Canvas, piece: Piece, label: LabelSet,
                 insert_titles: dict[str, dict[str, str]]) -> None:
        rec = piece.record
        x = 118.0
        info = [("statement_date", self._date(rec.period_end)),
                ("period", f"{self._date(rec.period_start)} - {self._date(rec.period_end)}"),
                ("due_date", self._date(rec.due_date))]
        rows = [("previous_balance", rec.previous_balance), ("payments", rec.payments), ("credits", rec.credits),
                ("new_charges", rec.new_charges), ("fees", rec.fees), ("interest", rec.interest)]
        items = []
        for i, (key, value) in enumerate(info):
            items += ((x, 46 + i * 9, label(key), 7, False, False, self.right - x),
                      (self.right, 50 + i * 9, value, 9, False, True, self.right - x))
        items.append((self.left, 92, label("summary"), 10, True, False, 95))
        for i, (key, amount) in enumerate(rows):
            items += ((self.left, 99 + i * 5, label(key), 8.5, False, False, 60),
                      (105, 99 + i * 5, self._money(amount), 8.5, False, True, 35))
        self._texts(c, items)
        c.setLineWidth(0.5)
        c.line(self.left * mm, self._y(130.5), 105 * mm, self._y(130.5))
        self._text(c, self.left, 135, label("new_balance"), 9.5, bold=True, max_mm=55)
        self._text(c, 105, 135, self._money(rec.new_balance), 9.5, bold=True, align="right", max_mm=40)
        c.setStrokeColorRGB(*GREY)
        c.rect(x * mm, self._y(136), (self.right - x) * mm, 40 * mm, stroke=1, fill=0)
        c.setStrokeColorRGB(0, 0, 0)
        boxed = [("new_balance", self._money(rec.new_balance), 12), ("minimum_due", self._money(rec.minimum_due), 11),
                 ("due_date", self._date(rec.due_date), 11), ("points", number(self.layout, rec.points), 9)]
        self._texts(c, [item for i, (key, value, size) in enumerate(boxed)
                        for item in ((x + 3, 103 + i * 9, label(key), 7.5, False, False, self.right - x - 6),
                                     (self.right - 3, 107.5 + i * 9, value, size, True, True, self.right - x - 6))])
        if piece.inserts:
            self._enclosures(c, self.left, 142, label("enclosures"),
                             enclosure_names(insert_titles, piece.inserts, rec.language),
                             self.right - self.left, ENCLOSURE_LINES)

    def _table(self, c: Canvas, piece: Piece, label: LabelSet, rows: range, top: float, running: Decimal,
               first: bool, last: bool) -> Decimal:
        rec = piece.record
        amount_x, desc_x = self.right, self.left + DATE_COLUMN_MM
        desc_w = description_fit(self.layout).width_mm
        self._fixed_texts(c, ("table", label.language, top), lambda: [
            (self.left, top - 6, label("transactions"), 10, True, False, 120),
            (self.left, top, label("date"), 7.5, True, False, 31),
            (desc_x, top, label("description"), 7.5, True, False, desc_w),
            (amount_x, top, label("amount"), 7.5, True, True, 33)])
        c.setLineWidth(0.3)
        c.line(self.left * mm, self._y(top + 1.5), self.right * mm, self._y(top + 1.5))
        y = top + ROW_MM
        if not first:
            self._text(c, desc_x, y, label("brought_forward"), TABLE_FONT, max_mm=desc_w)
            self._text(c, amount_x, y, self._money(running), TABLE_FONT, align="right", max_mm=33)
            y += ROW_MM
        if not rec.transactions:
            self._text(c, desc_x, y, label("no_transactions"), TABLE_FONT, max_mm=desc_w)
            y += ROW_MM
        items = []
        for t in rec.transactions[rows.start:rows.stop]:
            running += t.amount
            items += ((self.left, y, self._date(t.date), TABLE_FONT, False, False, 31),
                      (desc_x, y, t.description, TABLE_FONT, False, False, desc_w),
                      (amount_x, y, self._money(t.amount), TABLE_FONT, False, True, 33))
            y += ROW_MM
        self._texts(c, items)
        c.line(self.left * mm, self._y(y - ROW_MM + 1.5), self.right * mm, self._y(y - ROW_MM + 1.5))
        key = "total_new_charges" if last else "carried_forward"
        self._text(c, desc_x, y, label(key), TABLE_FONT, bold=True, max_mm=desc_w)
        self._text(c, amount_x, y, self._money(running), TABLE_FONT, bold=True, align="right", max_mm=33)
        return running

    def _footer(self, c: Canvas, label: LabelSet, n: int, m: int) -> None:
        lay = self.layout
        self._fixed_texts(c, ("footer", label.language, n, m), lambda: [
            *((self.left, 262 + i * 3.3, line, 6.5, False, False, self.right - self.left)
              for i, line in enumerate(lay.footer)),
            (self.left, 270.5, lay.hotline, 7, False, False, 90),
            (self.right, 283, label.page(n, m), 8, False, True, 80)])
