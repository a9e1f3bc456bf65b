"""PDF proofs for reviewers: chosen pieces of a run (or a stage's sample), exactly as they will print.

`make_proof` builds one PDF with pypdf from the run's print files (released, else staged):

- a cover page: run, state, where the files came from, the selection, counts, the layout and catalog
  versions the run used, and the pieces listed with their barcode check;
- for each selected piece, in sequence order: its sheets, then the artwork of its inserts (the files
  named by each insert's `artwork` key, beside the catalog), one bookmark per piece titled
  ``"000042 AU0000000012 AU"`` pointing at its first sheet.

Every page is stamped "PROOF - NOT FOR MAILING". The stamp never touches what prints: a statement
sheet keeps its original content stream(s) first and unchanged, byte for byte, and the proof's
drawing is one extra content stream appended after them. That stream widens the page's MediaBox to
the right by `PANEL_WIDTH_MM`, draws a panel there (the barcode read optically from the print
file's page and decoded into its fields, the manifest's payload beside it with MATCH / MISMATCH, the
piece's inserts by code, title and hopper) and lays a faint diagonal "PROOF" watermark over the
sheet. The sheet area itself is therefore exactly the print file's page plus the watermark.

The barcode shown is decoded from pixels of the real print file (`read_page_barcodes`), never taken
from the manifest, so a proof exposes a sheet whose printed barcode disagrees with the plan.

Selection: every criterion given must hold (AND); `first` then keeps the first N pieces in sequence
order; no criterion selects the whole run. Asking for a piece or account that is not in the run, or
a selection that matches nothing, is a `UsageError`.

A stage's sample (`stage=K`) comes from `stage_sample_sequences(run_dir, K)`; see its contract.
"""
from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import pypdfium2 as pdfium
from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    ContentStream,
    DecodedStreamObject,
    DictionaryObject,
    FloatObject,
    IndirectObject,
    NameObject,
    RectangleObject,
    StreamObject,
)
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase.pdfmetrics import stringWidth

from stmtprod.cardnumbers import redact
from stmtprod.barcode.payload import PayloadError, parse
from stmtprod.barcode.reader import read_page_barcodes
from stmtprod.errors import EnvironmentFault, Halt, UsageError
from stmtprod.fsutil import atomic_open, not_regular
from stmtprod.proof_source import source_forms
from stmtprod.regions import REGIONS

STAMP = "PROOF - NOT FOR MAILING"
PANEL_WIDTH_MM = 70.0
PT_PER_MM = 72 / 25.4
PANEL_W = PANEL_WIDTH_MM * PT_PER_MM
DECODE_DPI = 200
PNG_DPI = 100
STAGES = (1, 2, 3, 4)

RED = (0.78, 0.06, 0.06)
GREEN = (0.0, 0.5, 0.18)
INK = (0.1, 0.1, 0.1)
GREY = (0.45, 0.45, 0.45)
PANEL_BG = (0.95, 0.95, 0.93)

# Standard-14 fonts the overlay uses, under names chosen not to clash with the page's own.
_FONTS = {"R": "Helvetica", "B": "Helvetica-Bold", "M": "Courier"}


# --------------------------------------------------------------------------------------------------
# Selection


def stage_sample_sequences(run_dir: Path, stage: int) -> list[int]:
    """The piece sequences of the sample drawn for inspection stage `stage` (1-4) of a run.

    The line writes ``run_dir/inspection/stage{K}.json`` when it draws a stage's samples
    (`stmtprod.inspect.stages`): a JSON object whose key ``"sample"`` is the list of piece
    sequences (integers; numeric strings and objects with a ``"sequence"`` key are accepted too).
    If the file or the key is absent, no sample has been drawn: `UsageError("stage K has no sample
    drawn yet")`. The order of the list does not matter (proofs run in sequence order);
    duplicates are ignored.
    """
    if stage not in STAGES:
        raise UsageError(f"stage {stage} does not exist; stages are {', '.join(map(str, STAGES))}")
    path = Path(run_dir) / "inspection" / f"stage{stage}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"stage {stage} has no sample drawn yet") from None
    except ValueError as exc:
        raise UsageError(f"{path}: not valid JSON: {exc}") from None
    sample = data.get("sample") if isinstance(data, dict) else None
    if sample is None:
        raise UsageError(f"stage {stage} has no sample drawn yet")
    if not isinstance(sample, list):
        raise UsageError(f"{path}: \"sample\" is not a list of piece sequences")
    out: list[int] = []
    for item in sample:
        value = item.get("sequence") if isinstance(item, dict) else item
        try:
            seq = int(value)
        except (TypeError, ValueError):
            raise UsageError(f"{path}: sample entry {item!r} is not a piece sequence") from None
        out.append(seq)
    return sorted(set(out))


def _source(run_dir: Path) -> tuple[str, Path]:
    """Where the run's print files and manifests are: release/ when released, else staging/."""
    for name in ("release", "staging"):
        folder = run_dir / name
        if (folder / "manifest").is_dir() and any((folder / "manifest").glob("*.jsonl")):
            return name, folder
    raise UsageError(f"run {run_dir.name} has no print files to proof (neither release/ nor staging/ holds manifests)")


def _manifest_rows(folder: Path) -> list[dict]:
    """Every manifest row of the run, checked as verification checks them (`verify.manifest_rows`)."""
    from stmtprod.verify import PrintFile, manifest_rows

    rows: list[dict] = []
    for path in sorted((folder / "manifest").glob("*.jsonl")):
        try:
            rows += manifest_rows(PrintFile(path.stem, path.stem[:2], folder / "print" / f"{path.stem}.pdf", path),
                                  payloads=False)
        except Halt as halt:
            where = f"line {halt.details['line']}: " if halt.details.get("line") else ""
            raise _unreadable(path, f"{where}{halt.details['field']}: {halt.details['found']}") from None
    rows.sort(key=lambda r: r["sequence"])
    return rows


def _unreadable(path: Path, detail: str) -> EnvironmentFault:
    """A print file or manifest of the run that cannot be read: `stmtprod verify` of the run says what to do."""
    return EnvironmentFault(f"{path}: {detail}; run 'stmtprod verify {path.parent.parent.parent}', which names "
                            "the fault and the way out, then proof again")


def _print_reader(path: Path) -> PdfReader:
    """pypdf's reader of a print file (already read by pdfium), or the fault naming it."""
    try:
        return PdfReader(path)
    except Exception as exc:  # noqa: BLE001 (pypdf raises many kinds for a damaged file)
        raise _unreadable(path, f"the print file does not read ({type(exc).__name__})") from None


def select_pieces(rows: list[dict], *, pieces=None, accounts=None, region=None, first=None,
                  sequences=None) -> list[dict]:
    """Manifest rows matching every given criterion, in sequence order, then the first N of them."""
    by_seq = {r["sequence"]: r for r in rows}
    by_account = {r["account_id"] for r in rows}
    for label, wanted, known in (("piece", pieces, by_seq), ("stage sample piece", sequences, by_seq),
                                 ("account", accounts, by_account)):
        if wanted is not None:
            missing = [w for w in wanted if w not in known]
            if missing:
                more = f" (and {len(missing) - 5} more)" if len(missing) > 5 else ""
                raise UsageError(redact(f"{label}(s) not in this run: {', '.join(map(str, missing[:5]))}{more}"))
    if region is not None and region not in REGIONS:
        raise UsageError(f"unknown region {region}; known: {' '.join(REGIONS)}")
    if first is not None and first < 1:
        raise UsageError("--first must be at least 1")
    chosen = rows
    if pieces is not None:
        chosen = [r for r in chosen if r["sequence"] in set(pieces)]
    if sequences is not None:
        chosen = [r for r in chosen if r["sequence"] in set(sequences)]
    if accounts is not None:
        chosen = [r for r in chosen if r["account_id"] in set(accounts)]
    if region is not None:
        chosen = [r for r in chosen if r["region"] == region]
    if first is not None:
        chosen = chosen[:first]
    if not chosen:
        raise UsageError("the selection matches no piece of this run")
    return chosen


# --------------------------------------------------------------------------------------------------
# Barcodes, inserts


@dataclass
class SheetCheck:
    """One sheet's barcode: what the manifest planned and what the print file's page shows."""

    sequence: int
    sheet: int
    file: str
    page: int  # 1-based page in the print file
    expected: str
    found: list[str]
    fields: dict | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.found == [self.expected] and self.error is None

    @property
    def reason(self) -> str:
        if not self.found:
            return "no barcode could be read from the print file"
        if len(self.found) > 1:
            return f"{len(self.found)} barcodes on the sheet"
        if self.error:
            return self.error
        if self.found[0] != self.expected:
            return "printed payload differs from the manifest"
        return ""


def _decode(text: str) -> tuple[dict | None, str | None]:
    try:
        p = parse(text)
    except PayloadError as exc:
        return None, f"payload does not parse: {exc}"
    return {"version": p.version, "region": p.region, "run_tag": p.run_tag, "sequence": p.sequence,
            "sheet": p.sheet, "sheets": p.sheets, "hoppers": sorted(p.hoppers), "bitmap": f"{p.bitmap:02X}"}, None


def _read_barcodes(print_dir: Path, chosen: list[dict]) -> dict[tuple[int, int], SheetCheck]:
    """Optically read every selected sheet from its print file, grouped by file (one open each)."""
    wanted: dict[str, list[tuple[dict, int]]] = {}
    for row in chosen:
        for k in range(row["sheets"]):
            wanted.setdefault(row["file"], []).append((row, k))
    checks: dict[tuple[int, int], SheetCheck] = {}
    for name, sheets in sorted(wanted.items()):
        path = print_dir / name
        if not path.exists():
            raise UsageError(f"print file {path} is missing")
        kind = not_regular(path)
        if kind is not None:
            raise _unreadable(path, f"it is {kind}, not a regular file")
        indexes = [row["first_page"] - 1 + k for row, k in sheets]
        try:
            found = read_page_barcodes(path, page_indexes=indexes, dpi=DECODE_DPI)
        except (pdfium.PdfiumError, OSError, IndexError) as exc:
            raise _unreadable(path, f"the print file does not read ({type(exc).__name__}: {exc})"[:300]) from None
        for (row, k), texts in zip(sheets, found):
            payloads = row.get("payloads") or []
            check = SheetCheck(row["sequence"], k + 1, name, row["first_page"] + k,
                               payloads[k] if k < len(payloads) else "", list(texts))
            if len(texts) == 1:
                check.fields, check.error = _decode(texts[0])
            checks[(row["sequence"], k + 1)] = check
    return checks


@dataclass
class InsertInfo:
    code: str
    title: str
    hopper: int | None
    artwork: Path | None
    known: bool = True


@dataclass
class _Catalog:
    """The catalog the run used, as far as proofs need it; loaded leniently (proofs are for review)."""

    inserts: dict[str, InsertInfo] = field(default_factory=dict)
    version: str | None = None
    error: str | None = None

    def get(self, code: str) -> InsertInfo:
        return self.inserts.get(code) or InsertInfo(code, "(not in the current catalog)", None, None, known=False)


def _load_catalog(path: Path | None) -> _Catalog:
    from stmtprod.catalog import load_catalog
    from stmtprod.errors import ConfigError

    if path is None:
        return _Catalog(error="the run records no catalog file")
    try:
        catalog, version = load_catalog(path)
    except ConfigError as exc:
        return _Catalog(error=str(exc))
    infos = {}
    for item in catalog.insert:
        artwork = (path.parent / item.artwork) if item.artwork else None
        infos[item.code] = InsertInfo(item.code, item.title, item.hopper, artwork)
    return _Catalog(infos, version)


# --------------------------------------------------------------------------------------------------
# The overlay: a content stream of our own, appended after the page's


def _pdf_text(text: str) -> bytes:
    """A PDF literal string in WinAnsi (what the standard fonts use); unprintable characters become ?."""
    raw = text.encode("cp1252", errors="replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def _n(x: float) -> bytes:
    s = f"{x:.4f}".rstrip("0").rstrip(".")
    return (s if s not in ("-0", "") else "0").encode()


class _Ops:
    """A tiny PDF content-stream writer for the overlay (standard fonts, rectangles, text)."""

    def __init__(self, fonts: dict[str, str], gstate: str):
        self.fonts, self.gstate, self.out = fonts, gstate, []

    def add(self, *parts: bytes) -> None:
        self.out.append(b" ".join(parts))

    def fill(self, rgb) -> None:
        self.add(*map(_n, rgb), b"rg")

    def stroke(self, rgb) -> None:
        self.add(*map(_n, rgb), b"RG")

    def rect(self, x, y, w, h, rgb) -> None:
        self.fill(rgb)
        self.add(_n(x), _n(y), _n(w), _n(h), b"re f")

    def text(self, x, y, text, font="R", size=8.0, rgb=INK) -> None:
        self.fill(rgb)
        self.add(b"BT /" + self.fonts[font].encode(), _n(size), b"Tf 1 0 0 1", _n(x), _n(y), b"Tm",
                 _pdf_text(text), b"Tj ET")

    def watermark(self, llx, lly, w, h) -> None:
        """Faint diagonal stamp across the sheet (transparent, so the statement stays readable)."""
        angle = math.atan2(h, w)
        diag = math.hypot(w, h)
        size = 0.8 * diag / stringWidth(STAMP, _FONTS["B"], 1)
        tw, cap = stringWidth(STAMP, _FONTS["B"], size), 0.72 * size
        cos, sin = math.cos(angle), math.sin(angle)
        cx, cy = llx + w / 2, lly + h / 2
        e = cx - cos * tw / 2 + sin * cap / 2
        f = cy - sin * tw / 2 - cos * cap / 2
        self.add(b"q /" + self.gstate.encode(), b"gs")
        self.fill(RED)
        self.add(b"BT /" + self.fonts["B"].encode(), _n(size), b"Tf", _n(cos), _n(sin), _n(-sin), _n(cos),
                 _n(e), _n(f), b"Tm", _pdf_text(STAMP), b"Tj ET Q")

    def data(self) -> bytes:
        return b"\n".join(self.out) + b"\n"


class _Panel:
    """Lays out the proof panel top-down in the widened margin to the right of the sheet."""

    def __init__(self, ops: _Ops, x: float, bottom: float, top: float, forms: dict[str, str] | None = None):
        self.ops, self.x, self.bottom, self.top, self.forms = ops, x, bottom, top, forms or {}
        self.width = PANEL_W - 2 * 5 * PT_PER_MM
        self.left = x + 5 * PT_PER_MM
        self.y = top

    def header(self) -> None:
        band = 16 * PT_PER_MM
        self.ops.rect(self.x, self.top - band, PANEL_W, band, RED)
        self.ops.text(self.left, self.top - 7.5 * PT_PER_MM, "PROOF", "B", 15, (1, 1, 1))
        self.ops.text(self.left, self.top - 12.5 * PT_PER_MM, STAMP, "B", 8.5, (1, 1, 1))
        self.y = self.top - band - 6 * PT_PER_MM

    def line(self, text: str, font="R", size=7.5, rgb=INK, gap=1.35) -> None:
        for part in simpleSplit(text, _FONTS[font], size, self.width) or [""]:
            if self.y < self.bottom + 12:
                return
            self.ops.text(self.left, self.y, part, font, size, rgb)
            self.y -= size * gap

    def raw(self, text: str, font="M", size=7.0, rgb=INK, gap=1.35) -> None:
        """One line as given (spaces kept, no wrapping): for aligned fixed-width fields."""
        if self.y >= self.bottom + 12:
            self.ops.text(self.left, self.y, text, font, size, rgb)
            self.y -= size * gap

    def heading(self, text: str) -> None:
        self.space(2.5)
        self.line(text, "B", 8.5, INK)
        self.space(0.5)

    def space(self, mm_: float) -> None:
        self.y -= mm_ * PT_PER_MM

    def badge(self, ok: bool, text: str) -> None:
        h = 6 * PT_PER_MM
        self.ops.rect(self.left, self.y - h + 6, self.width, h, GREEN if ok else RED)
        self.ops.text(self.left + 2 * PT_PER_MM, self.y - h + 6 + 1.8 * PT_PER_MM, text, "B", 9, (1, 1, 1))
        self.y -= h + 2 * PT_PER_MM

    def form(self, key: str, height: float) -> None:
        """Place the Form XObject `key` (drawn `height` points tall) at the current line, if it fits."""
        if key in self.forms and self.y - height >= self.bottom + 12:
            self.ops.add(b"q 1 0 0 1", _n(self.left), _n(self.y - height), b"cm", f"/{self.forms[key]}".encode(),
                         b"Do Q")
            self.y -= height + 2 * PT_PER_MM

    def footer(self, *lines: str) -> None:
        y = self.bottom + 5 * PT_PER_MM + 8 * (len(lines) - 1)
        for text in lines:
            self.ops.text(self.left, y, text, "R", 6, GREY)
            y -= 8


def _clean_state(content: bytes, reader) -> bytes:
    """Operators that bring the graphics state back to the page's initial one after `content`.

    ReportLab's pages balance q/Q and keep an identity matrix, so this is normally empty; it guards
    the overlay against a page that leaves a text object open, unbalanced q, or a changed matrix.
    """
    if b"cm" not in content and b"q" not in content:
        return b""
    stream = DecodedStreamObject()
    stream.set_data(content)
    try:
        operations = ContentStream(stream, reader).operations
    except Exception:  # unparseable: nothing we can safely undo
        return b""
    stack = [(1.0, 0.0, 0.0, 1.0, 0.0, 0.0)]
    in_text = False
    for operands, op in operations:
        if op == b"q":
            stack.append(stack[-1])
        elif op == b"Q" and len(stack) > 1:
            stack.pop()
        elif op == b"cm" and len(operands) == 6:
            a, b, c, d, e, f = (float(v) for v in operands)
            A, B, C, D, E, F = stack[-1]
            stack[-1] = (a * A + b * C, a * B + b * D, c * A + d * C, c * B + d * D,
                         e * A + f * C + E, e * B + f * D + F)
        elif op == b"BT":
            in_text = True
        elif op == b"ET":
            in_text = False
    out = b"ET\n" if in_text else b""
    out += b"Q\n" * (len(stack) - 1)
    a, b, c, d, e, f = stack[0]
    if (a, b, c, d, e, f) != (1.0, 0.0, 0.0, 1.0, 0.0, 0.0):
        det = a * d - b * c
        if abs(det) > 1e-12:
            ia, ib, ic, id_ = d / det, -b / det, -c / det, a / det
            ie, if_ = -(e * ia + f * ic), -(e * ib + f * id_)
            out += b" ".join(map(_n, (ia, ib, ic, id_, ie, if_))) + b" cm\n"
    return out


def _unique_names(existing: Iterable[str], wanted: Iterable[str]) -> dict[str, str]:
    taken = set(existing)
    names = {}
    for key in wanted:
        name, k = f"Proof{key}", 1
        while f"/{name}" in taken:
            name, k = f"Proof{key}{k}", k + 1
        taken.add(f"/{name}")
        names[key] = name
    return names


def _stamp(writer: PdfWriter, page, reader, draw_panel, forms: dict[str, IndirectObject] | None = None) -> None:
    """Widen `page` (already in `writer`) and append the overlay stream; the original streams stay first.

    `forms`: Form XObjects the panel may place (`_Panel.form(key, ...)`), added to the page's resources."""
    box = page.cropbox
    llx, lly, urx, ury = (float(v) for v in (box.left, box.bottom, box.right, box.top))
    media = page.mediabox
    page.mediabox = RectangleObject([float(media.left), float(media.bottom),
                                     max(float(media.right), urx + PANEL_W), float(media.top)])
    if "/CropBox" in page:
        page.cropbox = RectangleObject([llx, lly, urx + PANEL_W, ury])

    resources = DictionaryObject()
    original = page.get("/Resources")
    if original is not None:
        resources.update(original.get_object())
    fonts = DictionaryObject()
    if "/Font" in resources:
        fonts.update(resources["/Font"].get_object())
    gstates = DictionaryObject()
    if "/ExtGState" in resources:
        gstates.update(resources["/ExtGState"].get_object())
    font_names = _unique_names(fonts.keys(), _FONTS)
    gs_name = _unique_names(gstates.keys(), ["GS"])["GS"]
    for key, name in font_names.items():
        fonts[NameObject(f"/{name}")] = DictionaryObject({
            NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject(f"/{_FONTS[key]}"),
            NameObject("/Encoding"): NameObject("/WinAnsiEncoding")})
    gstates[NameObject(f"/{gs_name}")] = DictionaryObject({
        NameObject("/Type"): NameObject("/ExtGState"), NameObject("/ca"): FloatObject(0.16),
        NameObject("/CA"): FloatObject(0.16)})
    resources[NameObject("/Font")] = fonts
    resources[NameObject("/ExtGState")] = gstates
    form_names = {}
    if forms:
        xobjects = DictionaryObject()
        if "/XObject" in resources:
            xobjects.update(resources["/XObject"].get_object())
        form_names = _unique_names(xobjects.keys(), forms)
        for key, name in form_names.items():
            xobjects[NameObject(f"/{name}")] = forms[key]
        resources[NameObject("/XObject")] = xobjects
    page[NameObject("/Resources")] = resources

    contents = page.get("/Contents")
    streams: list = []
    if contents is not None:
        raw = page.raw_get("/Contents")
        items = list(raw.get_object()) if isinstance(raw.get_object(), ArrayObject) else [raw]
        for item in items:
            if isinstance(item, StreamObject) and not isinstance(item, IndirectObject):
                item = writer._add_object(item)
            streams.append(item)
        original_data = b"".join(s.get_object().get_data() + b"\n" for s in streams)
    else:
        original_data = b""

    ops = _Ops(dict(font_names), gs_name)
    ops.out.append(_clean_state(original_data, reader).rstrip(b"\n") or b"%proof overlay")
    ops.add(b"q 0 Tc 0 Tw 100 Tz 0 Ts 0 Tr [] 0 d 0 J 0 j 0.5 w")
    ops.watermark(llx, lly, urx - llx, ury - lly)
    ops.rect(urx, lly, PANEL_W, ury - lly, PANEL_BG)
    ops.stroke(GREY)
    ops.add(b"[3 2] 0 d 0.5 w", _n(urx + 0.5), _n(lly), b"m", _n(urx + 0.5), _n(ury), b"l S [] 0 d")
    draw_panel(_Panel(ops, urx, lly, ury, form_names))
    ops.add(b"Q")
    overlay = DecodedStreamObject()
    overlay.set_data(ops.data())
    streams.append(writer._add_object(overlay.flate_encode()))
    page[NameObject("/Contents")] = ArrayObject(streams)


def _sheet_panel(run: dict, row: dict, sheet: int, check: SheetCheck, inserts: list[InsertInfo],
                 source_height: float | None = None):
    def draw(p: _Panel) -> None:
        p.header()
        p.line(f"Piece {row['sequence']:06d} - sheet {sheet} of {row['sheets']}", "B", 10)
        p.line(f"Account {row['account_id']}   Region {row['region']}", "R", 8.5)
        p.line(f"Print file {check.file}, page {check.page}", "R", 7.5, GREY)
        p.heading("Barcode read from the print file")
        if len(check.found) == 1:
            p.line(check.found[0], "M", 8.5)
            if check.fields:
                f = check.fields
                hoppers = ", ".join(map(str, f["hoppers"])) or "none"
                for label, value in (("version", f["version"]), ("region", f["region"]),
                                     ("run tag", f"{f['run_tag']} (run {run.get('run_id', '?')})"),
                                     ("sequence", str(f["sequence"])), ("sheet", f"{f['sheet']} of {f['sheets']}"),
                                     ("hoppers", f"{hoppers} (bitmap {f['bitmap']})")):
                    p.raw(f"{label:<9} {value}", "M", 7)
        elif not check.found:
            p.line("NOT READ: no barcode found on this sheet", "B", 8, RED)
        else:
            p.line(f"{len(check.found)} barcodes found:", "B", 8, RED)
            for text in check.found:
                p.line(text, "M", 7.5, RED)
        if check.error:
            p.line(check.error, "R", 7, RED)
        p.heading("Manifest payload")
        p.line(check.expected or "(none)", "M", 8.5)
        p.space(2)
        p.badge(check.ok, "MATCH" if check.ok else "MISMATCH")
        if not check.ok:
            p.line(check.reason, "B", 7.5, RED)
        p.heading(f"Inserts ({len(inserts)})")
        if not inserts:
            p.line("none", "R", 8)
        for info in inserts:
            hopper = f"hopper {info.hopper}" if info.hopper else "hopper ?"
            p.line(f"{info.code} - {hopper}", "B", 8, INK if info.known else RED)
            p.line(info.title, "R", 7.5, INK if info.known else RED)
            p.space(1)
        if inserts:
            p.line("Artwork follows the statements, once per insert.", "R", 7, GREY)
        if source_height is not None:
            p.heading("Source record: compare with the statement")
            p.form("source", source_height)
        p.footer(f"run {run.get('run_id', '?')}", f"layouts {run.get('layouts_version', '?')}",
                 f"catalog {run.get('catalog_version', '?')}")
    return draw


def _artwork_panel(run: dict, rows: list[dict], info: InsertInfo, page_no: int, pages: int, missing: bool):
    def draw(p: _Panel) -> None:
        p.header()
        p.line("Insert artwork", "B", 10)
        p.line(f"{info.code} - hopper {info.hopper if info.hopper else '?'}", "B", 9)
        p.line(info.title, "R", 8)
        if pages > 1:
            p.line(f"artwork page {page_no} of {pages}", "R", 7.5, GREY)
        if missing:
            p.line("ARTWORK MISSING: a placeholder stands in for it.", "B", 8, RED)
        p.heading(f"Enclosed with {len(rows)} of the pieces in this proof")
        p.line(_short([f"{r['sequence']:06d}" for r in rows], 40), "R", 8)
        p.footer(f"run {run.get('run_id', '?')}", f"catalog {run.get('catalog_version', '?')}")
    return draw


# --------------------------------------------------------------------------------------------------
# Pages drawn with ReportLab: the cover, and a placeholder for missing artwork


def _canvas(buf):
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen.canvas import Canvas

    return Canvas(buf, pagesize=A4, invariant=1, pageCompression=1), A4


def _placeholder(info: InsertInfo) -> bytes:
    buf = io.BytesIO()
    c, (w, h) = _canvas(buf)
    c.setFont("Helvetica-Bold", 22)
    c.setFillColorRGB(*RED)
    c.drawString(60, h - 120, "ARTWORK MISSING")
    c.setFillColorRGB(*INK)
    c.setFont("Helvetica", 12)
    y = h - 160
    for text in (f"Insert {info.code}: {info.title}", f"Hopper {info.hopper or '?'}",
                 f"Expected file: {info.artwork or '(the catalog names no artwork)'}"):
        for part in simpleSplit(text, "Helvetica", 12, w - 120):
            c.drawString(60, y, part)
            y -= 18
    c.showPage()
    c.save()
    return buf.getvalue()


def _cover(run: dict, source: str, selection: dict, chosen: list[dict], checks: dict, artwork_pages: int,
           total_pages: int, catalog: _Catalog, warnings: list[str]) -> bytes:
    buf = io.BytesIO()
    c, (w, h) = _canvas(buf)
    c.setTitle(f"PROOF {run.get('run_id', '')}")
    c.setFillColorRGB(*RED)
    c.rect(0, h - 80, w, 80, stroke=0, fill=1)
    c.setFillColorRGB(1, 1, 1)
    c.setFont("Helvetica-Bold", 26)
    c.drawString(40, h - 45, "PROOF")
    c.setFont("Helvetica-Bold", 13)
    c.drawString(40, h - 66, STAMP)
    c.setFillColorRGB(*INK)
    y = h - 115

    def row(label: str, value: str, bold=False) -> None:
        nonlocal y
        c.setFont("Helvetica", 9.5)
        c.setFillColorRGB(*GREY)
        c.drawString(40, y, label)
        c.setFillColorRGB(*INK)
        c.setFont("Helvetica-Bold" if bold else "Helvetica", 9.5)
        for part in simpleSplit(value, "Helvetica", 9.5, w - 200) or [""]:
            c.drawString(160, y, part)
            y -= 13
        y -= 2

    sheets = sum(r["sheets"] for r in chosen)
    bad = [k for k, v in checks.items() if not v.ok]
    row("Run", str(run.get("run_id", "?")), bold=True)
    row("State", f"{run.get('state', '?')} (print files from {source}/)")
    row("Selection", _describe_selection(selection))
    row("Selected", f"{len(chosen)} pieces, {sheets} sheets, {artwork_pages} insert artwork pages; "
                    f"{total_pages} pages with this cover")
    regions = {}
    for r in chosen:
        regions[r["region"]] = regions.get(r["region"], 0) + 1
    row("Regions", ", ".join(f"{k} {regions[k]}" for k in REGIONS if k in regions))
    row("Layouts version", str(run.get("layouts_version", "?")))
    row("Catalog version", str(run.get("catalog_version", "?")))
    row("Barcodes", f"{sheets - len(bad)} of {sheets} sheets read optically from the print files match the manifest"
        + (f"; {len(bad)} MISMATCH" if bad else ""), bold=bool(bad))
    for text in warnings:
        c.setFillColorRGB(*RED)
        row("Warning", text, bold=True)
    y -= 8
    columns = (("Sequence", 40), ("Account", 100), ("Region", 185), ("Sheets", 225), ("Inserts", 265),
               ("Barcode", 480))
    c.setFont("Helvetica-Bold", 9)
    c.setFillColorRGB(*INK)
    for title, x in columns:
        c.drawString(x, y, title)
    y -= 4
    c.setStrokeColorRGB(*GREY)
    c.line(40, y, w - 40, y)
    y -= 11
    for i, r in enumerate(chosen):
        if y < 60:
            c.setFont("Helvetica-Oblique", 8.5)
            c.setFillColorRGB(*INK)
            c.drawString(40, y, f"... and {len(chosen) - i} more pieces: see the bookmarks.")
            break
        ok = all(checks[(r["sequence"], k)].ok for k in range(1, r["sheets"] + 1))
        inserts = ", ".join(r.get("inserts") or []) or "-"
        values = (f"{r['sequence']:06d}", r["account_id"], r["region"], str(r["sheets"]),
                  simpleSplit(inserts, "Helvetica", 8.5, 205)[0], "match" if ok else "MISMATCH")
        c.setFillColorRGB(*(INK if ok else RED))
        for (_, x), value in zip(columns, values):
            c.setFont("Helvetica-Bold" if not ok else "Helvetica", 8.5)
            c.drawString(x, y, value)
        y -= 11
    c.setFillColorRGB(*GREY)
    c.setFont("Helvetica", 7)
    c.drawString(40, 30, "Each statement sheet is the print file's page unchanged; the proof panel sits in an added "
                         "right margin. Bookmarks: one per piece.")
    c.showPage()
    c.save()
    return buf.getvalue()


def _describe_selection(selection: dict) -> str:
    parts = []
    if selection.get("stage") is not None:
        parts.append(f"stage {selection['stage']} sample")
    if selection.get("sequences") is not None and selection.get("stage") is None:
        parts.append(f"sequences {_short(selection['sequences'])}")
    if selection.get("pieces") is not None:
        parts.append(f"pieces {_short(selection['pieces'])}")
    if selection.get("accounts") is not None:
        parts.append(f"accounts {_short(selection['accounts'])}")
    if selection.get("region") is not None:
        parts.append(f"region {selection['region']}")
    if selection.get("first") is not None:
        parts.append(f"first {selection['first']}")
    return "; ".join(parts) if parts else "all pieces of the run"


def _short(values: list, limit: int = 12) -> str:
    text = ", ".join(map(str, values[:limit]))
    return text + (f" ... ({len(values)} in all)" if len(values) > limit else "")


# --------------------------------------------------------------------------------------------------
# The proof


def _outline_title(row: dict) -> str:
    return f"{row['sequence']:06d} {row['account_id']} {row['region']}"


def make_proof(run_dir: Path, out: Path, *, pieces=None, accounts=None, region=None, first=None, sequences=None,
               stage: int | None = None, png_dir: Path | None = None) -> dict:
    """Write a proof PDF of the selected pieces of the run in `run_dir` to `out` (atomically).

    pieces: piece sequences; accounts: account ids; region: one region code; first: keep the first N
    (in sequence order) of what the other criteria select; sequences: piece sequences from elsewhere
    (e.g. a sample); stage: use `stage_sample_sequences(run_dir, stage)` as `sequences` (intersected
    with `sequences` if both are given). png_dir: also render every proof page to
    ``png_dir/page-0001.png``... at 100 dpi (older ``page-*.png`` there are removed first).

    Returns a summary: file, run_id, state, source (release or staging), selection, pieces, sheets,
    artwork_pages, pages, sequences, barcode_mismatches, missing_artwork, warnings, layouts_version,
    catalog_version and, with png_dir, png_dir and png_pages. Same run and selection, same bytes.
    """
    from stmtprod.engine.runstate import RunRecord

    run_dir, out = Path(run_dir), Path(out)
    try:
        run = RunRecord.load(run_dir).data
    except FileNotFoundError:
        raise UsageError(f"{run_dir} is not a run folder (no run.json)") from None
    source, folder = _source(run_dir)

    norm = lambda values, kind: None if values is None else sorted({kind(v) for v in values})  # noqa: E731
    pieces, accounts, sequences = norm(pieces, int), norm(accounts, str), norm(sequences, int)
    if stage is not None:
        staged = stage_sample_sequences(run_dir, stage)
        sequences = staged if sequences is None else [s for s in sequences if s in set(staged)]
    region = region.upper() if isinstance(region, str) else region
    selection = {"pieces": pieces, "accounts": accounts, "region": region, "first": first,
                 "sequences": sequences, "stage": stage}
    chosen = select_pieces(_manifest_rows(folder), pieces=pieces, accounts=accounts, region=region, first=first,
                           sequences=sequences)

    catalog_file = Path(run["catalog_file"]) if run.get("catalog_file") else None
    catalog = _load_catalog(catalog_file)
    warnings = []
    if catalog.error:
        warnings.append(f"catalog not readable ({catalog.error}): insert titles and artwork are missing")
    elif run.get("catalog_version") and catalog.version != run["catalog_version"]:
        warnings.append(f"the catalog changed since the run (run used {run['catalog_version']}, now "
                        f"{catalog.version}): insert titles and artwork are today's")

    checks = _read_barcodes(folder / "print", chosen)

    # Plan the artwork so the cover can count it before anything is written.
    artwork_readers: dict[Path, PdfReader] = {}
    missing: dict[str, InsertInfo] = {}

    def artwork_pages_of(info: InsertInfo) -> list:
        if info.artwork is not None and info.artwork.is_file():
            if info.artwork not in artwork_readers:
                artwork_readers[info.artwork] = PdfReader(info.artwork)
            return list(artwork_readers[info.artwork].pages)
        missing[info.code] = info
        return []

    plan = [(row, [catalog.get(code) for code in row.get("inserts") or []]) for row in chosen]
    enclosed: dict[str, list[dict]] = {}
    for row in chosen:
        for code in row.get("inserts") or []:
            enclosed.setdefault(code, []).append(row)
    arts = [(catalog.get(code), artwork_pages_of(catalog.get(code)), rows) for code, rows in enclosed.items()]
    artwork_count = sum(max(1, len(pages)) for _, pages, _ in arts)
    sheet_count = sum(r["sheets"] for r in chosen)
    total = 1 + sheet_count + artwork_count
    if missing:
        warnings.append("artwork missing for " + ", ".join(sorted(missing)) + ": placeholder pages stand in")

    writer = PdfWriter()
    cover = PdfReader(io.BytesIO(_cover(run, source, selection, chosen, checks, artwork_count, total, catalog,
                                        warnings)))
    writer.add_page(cover.pages[0])
    placeholders = {code: PdfReader(io.BytesIO(_placeholder(info))) for code, info in sorted(missing.items())}

    print_readers: dict[str, PdfReader] = {}
    sources = source_forms(run, run_dir, chosen)
    for row, inserts in plan:
        reader = print_readers.get(row["file"])
        if reader is None:
            reader = print_readers[row["file"]] = _print_reader(folder / "print" / row["file"])
        first_index = len(writer.pages)
        form = sources.get(row["sequence"])
        for k in range(row["sheets"]):
            page = writer.add_page(reader.pages[row["first_page"] - 1 + k])
            shown = form is not None and k == 0
            _stamp(writer, page, reader, _sheet_panel(run, row, k + 1, checks[(row["sequence"], k + 1)], inserts,
                                                      form.height if shown else None),
                   {"source": form.add_to(writer)} if shown else None)
        writer.add_outline_item(title=_outline_title(row), page_number=first_index)
    for info, pages, rows in arts:
        is_missing = not pages
        src = pages if pages else list(placeholders[info.code].pages)
        first_index = len(writer.pages)
        for n, art in enumerate(src, 1):
            page = writer.add_page(art)
            _stamp(writer, page, None, _artwork_panel(run, rows, info, n, len(src), is_missing))
        writer.add_outline_item(title=f"insert {info.code}", page_number=first_index)
    assert len(writer.pages) == total, (len(writer.pages), total)
    writer.page_mode = "/UseOutlines"
    writer.add_metadata({"/Title": f"PROOF {run.get('run_id', '')} - {_describe_selection(selection)}",
                         "/Creator": "stmtprod proof", "/Subject": STAMP})

    with atomic_open(out, "wb") as fh:
        writer.write(fh)

    mismatches = [{"sequence": v.sequence, "sheet": v.sheet, "file": v.file, "page": v.page,
                   "expected": v.expected, "found": v.found, "reason": v.reason}
                  for _, v in sorted(checks.items()) if not v.ok]
    summary = {
        "file": str(out.resolve()),
        "run_id": run.get("run_id"),
        "state": run.get("state"),
        "source": source,
        "selection": {k: v for k, v in selection.items() if v is not None},
        "pieces": len(chosen),
        "sheets": sheet_count,
        "artwork_pages": artwork_count,
        "pages": total,
        "sequences": [r["sequence"] for r in chosen],
        "barcode_mismatches": mismatches,
        "missing_artwork": sorted(missing),
        "warnings": warnings,
        "layouts_version": run.get("layouts_version"),
        "catalog_version": run.get("catalog_version"),
    }
    if png_dir is not None:
        summary["png_dir"] = str(Path(png_dir).resolve())
        summary["png_pages"] = render_pngs(out, Path(png_dir))
    return summary


def render_pngs(pdf: Path, png_dir: Path, dpi: int = PNG_DPI) -> int:
    """Render every page of `pdf` to png_dir/page-0001.png, ... (atomically); returns the count."""
    import pypdfium2 as pdfium

    png_dir.mkdir(parents=True, exist_ok=True)
    for stale in png_dir.glob("page-*.png"):
        stale.unlink()
    doc = pdfium.PdfDocument(str(pdf))
    try:
        for i in range(len(doc)):
            page = doc[i]
            try:
                bitmap = page.render(scale=dpi / 72)
                try:
                    target = png_dir / f"page-{i + 1:04d}.png"
                    with atomic_open(target, "wb") as fh:
                        bitmap.to_pil().save(fh, format="PNG")
                finally:
                    bitmap.close()
            finally:
                page.close()
        return len(doc)
    finally:
        doc.close()
