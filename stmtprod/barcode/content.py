"""Reading each sheet's barcode and text out of the print file's content stream, for 100% verification.

DESIGN.md asks verification to read every sheet's barcode back out of the produced PDF,
independently of the code that drew it. Rasterising every sheet (`reader.py`) costs about 0.9 ms a
sheet, more than rendering it; this reader costs a fraction of that. It shares nothing with
`symbol.py` or the renderer: qpdf (pikepdf) decodes the page streams, the bars are taken from the
stream as the PDF operators state them, laid out on a one-pixel row and decoded by zxing-cpp, the
same decoder as the optical reader; each text is decoded through its font's ToUnicode map. The page's
content is scanned in one pass by compiled code (`_scan.c`, built from source by the set-up): about
0.03 ms a page instead of 0.5 ms in Python; the pure-Python reader it replaced is kept in the tests
as the reference it is held to (tests/test_scan.py).

The content read vouches for a sheet only when it has proven, over the whole page, that nothing
changes where or how the bars print (the print contract, `Contract`):
- the symbol is one path of rectangles filled in 100% black ink (`0 0 0 1 k`), the last thing painted,
  lying where the layout puts it with the layout's bar height and module width;
- every operator of the page is one of a short list of plain drawing operators: no clip, no
  transformation but the identity, no graphics state dictionary, no Form XObject or image, no marked
  content, no text object but the plain one-line form;
- nothing else (line, rectangle, text, measured with the font's widths) is painted in the camera's
  strip, the symbol's quiet zones included;
- the page's boxes, rotation, user unit and annotations do not change what prints.
A sheet that does not prove all of it is not guessed at: it is reported as unvouched and the caller
reads it optically (`reader.py`), which measures the contract on pixels, while `ink_breach` here
looks at the colour every painted object in the strip is printed in (the pixels cannot tell rich
black from 100% K). A file that qpdf cannot read without repair, or a stream that does not decode,
raises `Damaged` naming the page.
"""
from __future__ import annotations

import math
import re
import time
import zlib
from dataclasses import dataclass
from decimal import Decimal
from os import PathLike
from typing import Callable

import numpy as np
import pikepdf
import zxingcpp
from isal import isal_zlib
from barcode.codex import Code128

from stmtprod.fsutil import not_regular

try:
    from stmtprod.barcode import _scan
except ImportError as exc:  # no silent fallback: the pure-Python reader is the tests' reference only
    raise ImportError("stmtprod's compiled content scan (stmtprod/barcode/_scan.c) is not built: run "
                      "scripts/setup.sh (pip install -e .) with a C compiler and the Python headers") from exc

_PT_PER_MM = 72 / 25.4
# Row resolution: 600 dpi gives about 7.8 pixels to the narrowest allowed bar, so rounding each
# edge to a pixel moves it by at most 6% of a module.
_PX_PER_PT = 600 / 72
_QUIET_PX = int(15 * _PX_PER_PT)
_PAGE_BOXES = ("/MediaBox", "/CropBox", "/BleedBox", "/TrimBox", "/ArtBox")
GEOMETRY_TOLERANCE = 0.01   # the content states exact numbers: bars within 1% of the layout's
POSITION_TOLERANCE_PT = 0.5
# The text a reader extracts must be what prints (`read_page`): type at least this size, inside the
# part of the sheet a press or printer prints, with no stroke wider than this able to cross it.
TEXT_MIN_PT = 5.0
PRINTABLE_MARGIN_PT = 5 * _PT_PER_MM
MAX_STROKE_PT = 2.0


class Damaged(Exception):
    """The print file cannot be read as written: torn, truncated or with bytes that do not decode."""

    def __init__(self, page: int | None, detail: str):
        self.page, self.detail = page, detail
        super().__init__(f"page {page}: {detail}" if page else detail)


@dataclass(frozen=True)
class Contract:
    """Where and how the symbol must print, in points from the page's bottom-left.

    `strip` is where the camera looks and nothing but the bars may print: the symbol, its quiet zones
    and a margin. `left` is the first bar's leading edge, `bottom` and `height` the bars' extent."""

    strip: tuple[float, float, float, float]
    left: float
    bottom: float
    height: float
    narrow: float
    quiet: float

    @classmethod
    def of(cls, layout, strip_mm: tuple[float, float, float, float]) -> Contract:
        bc = layout.barcode
        bottom_mm = layout.page.size_mm[1] - bc.y_mm - bc.height_mm
        quiet_mm = bc.quiet_zone_modules * bc.narrow_bar_mm
        return cls(zone_points(strip_mm), (bc.x_mm + quiet_mm) * _PT_PER_MM, bottom_mm * _PT_PER_MM,
                   bc.height_mm * _PT_PER_MM, bc.narrow_bar_mm * _PT_PER_MM, quiet_mm * _PT_PER_MM)

    @property
    def strip_mm(self) -> tuple[float, float, float, float]:
        x0, y0, x1, y1 = (v / _PT_PER_MM for v in self.strip)
        return (x0, y0, x1 - x0, y1 - y0)


@dataclass
class PageRead:
    """One page as its content states it: the barcode texts (None: not vouched for, read optically),
    the text lines it shows top to bottom (None: not plain text, extract it otherwise) and a breach of
    the print contract the content itself proves (field, reason, found)."""

    barcodes: list[str] | None
    lines: list[str] | None = None
    breach: tuple[str, str, object] | None = None


def page_streams(page_dict: pikepdf.Dictionary, decoded: dict | None = None) -> bytes:
    """The page's content, decoded, with several content streams joined as PDF readers join them.
    `decoded` holds streams decoded already, by object (`check_streams`); what is used is taken out."""
    contents = page_dict.get("/Contents")
    if contents is None:
        return b""
    parts = contents if isinstance(contents, pikepdf.Array) else [contents]
    data = []
    for part in parts:
        known = decoded.pop(part.objgen, None) if decoded and part.is_indirect else None
        data.append(part.read_bytes() if known is None else known)
    return data[0] if len(data) == 1 and not isinstance(contents, pikepdf.Array) else b"\n".join(data)


def modules_of(text: str) -> int:
    """The Code 128 symbol's width in modules between its outer bar edges (python-barcode's encoding)."""
    return len(Code128(text).build()[0].strip("0"))


def _overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


# What the compiled scan (`_scan.page`) found on a page.
_UNREADABLE, _TEXT_IN_STRIP, _TEXT_LEFT, _NOT_VOUCHED, _BARS = range(5)
_TEXT_IN_STRIP_BREACH = ("background", "text is printed in the barcode strip", None)


def scan_terms(contract: Contract) -> tuple:
    """The contract as the compiled scan takes it: strip, bars' place, size and module, tolerances, row
    scale, and what text must be to count as printed."""
    return (contract.strip, contract.left, contract.bottom, contract.height, contract.narrow,
            POSITION_TOLERANCE_PT, GEOMETRY_TOLERANCE, _PX_PER_PT, _QUIET_PX, TEXT_MIN_PT, PRINTABLE_MARGIN_PT,
            MAX_STROKE_PT)


TEXT_TIMED_EVERY = 8
"""The text's share of the content read is timed on one page in this many (`read_file`)."""


def read_page(data: bytes, contract: Contract, fonts: dict[bytes, _scan.Font | None] | None = None,
              timing: dict | None = None, terms: tuple | None = None,
              page: tuple[float, float, float, float] | None = None) -> PageRead:
    """The barcode texts and text lines of one page's content; barcodes None when the page must be read
    optically. `fonts` are the page's fonts by resource name (`_Fonts.of_page`); `timing["text"]`, when
    given, gathers the CPU seconds spent decoding the text and proving it prints; `terms` is
    `scan_terms(contract)`, when known.

    The content is read in one pass by the compiled scan (`_scan.c`): text objects decoded into lines
    through their fonts' ToUnicode maps, the strip checked clear of text and drawing, every operator
    checked against the plain ones, the bars' rectangles laid on a row of pixels and their geometry
    held to the contract; zxing-cpp decodes the row here.

    The text lines are given only when the text is proven to print as it reads on `page` (its media
    box): the drawing uses only the plain operators (no clip, no transformation, no form, image or
    graphics state, no text but the plain form), every fill colour is a neutral ink at least about half
    as dark as black, no stroke is wider than `MAX_STROKE_PT`, every text is at least `TEXT_MIN_PT` and
    lies wholly inside the printable area (`PRINTABLE_MARGIN_PT` from each edge, measured with its
    fonts' widths), and no filled area outside the barcode strip covers a text. Otherwise (or without
    `page`) lines is None: the caller must not vouch for the text."""
    kind, lines, row, holds, text_seconds = _scan.page(data, terms or scan_terms(contract), fonts or {},
                                                       timing is not None, page)
    if timing is not None:
        timing["text"] = timing.get("text", 0.0) + text_seconds
    if kind == _BARS:
        try:
            texts = _decode(row)
        except ValueError:
            return PageRead(None, None)
        return PageRead(texts if len(texts) == 1 and holds else None, lines)
    if kind == _TEXT_IN_STRIP:
        return PageRead(None, lines, _TEXT_IN_STRIP_BREACH)
    return PageRead(None, lines)


_CODE128, _BOOL_CAST, _GREY = zxingcpp.BarcodeFormat.Code128, zxingcpp.Binarizer.BoolCast, zxingcpp.ImageFormat.Lum


def _decode(row: bytes) -> list[str]:
    """Code 128 texts zxing-cpp finds in the bars laid out on one row of pixels (white is 255, ink 0:
    nothing to threshold, so zxing-cpp is told to take any lit pixel as white). The row is handed over
    as the one-row grey image view zxing-cpp makes of a (1, n) array itself, which saves its look at
    the array (about 4 of a call's 9 us); an empty row is the same ValueError."""
    found = zxingcpp.read_barcodes(zxingcpp.ImageView(np.frombuffer(row, dtype=np.uint8), len(row), 1, _GREY),
                                   formats=_CODE128, binarizer=_BOOL_CAST,
                                   try_invert=False, try_rotate=False, try_downscale=False)
    return [b.text for b in found]


class _Fonts:
    """The fonts of a file's pages (pages share them): widths and ToUnicode maps, each read once."""

    def __init__(self) -> None:
        self._by_object: dict[tuple[int, int], _scan.Font | None] = {}
        self._by_table: dict[tuple[int, int], dict[bytes, _scan.Font | None]] = {}

    def of_page(self, resources) -> dict[bytes, _scan.Font | None]:
        """The page's fonts by resource name (a font table that pages share is read once)."""
        fonts = resources.get("/Font") if resources is not None else None
        if isinstance(fonts, pikepdf.Dictionary) and fonts.is_indirect:
            table = self._by_table.get(fonts.objgen)
            if table is None:
                table = self._by_table[fonts.objgen] = self._read(fonts)
            return table
        return self._read(fonts)

    def _read(self, fonts) -> dict[bytes, _scan.Font | None]:
        found: dict[bytes, _scan.Font | None] = {}
        for name, obj in (fonts.items() if isinstance(fonts, pikepdf.Dictionary) else ()):
            key = obj.objgen if obj.is_indirect else None
            if key is None:
                found[name[1:].encode("latin-1")] = _load_font(obj)
                continue
            if key not in self._by_object:
                self._by_object[key] = _load_font(obj)
            found[name[1:].encode("latin-1")] = self._by_object[key]
        return found


_BFCHAR = re.compile(rb"<([0-9A-Fa-f]{2})>\s*<([0-9A-Fa-f]{4,})>")


def _load_font(obj) -> _scan.Font | None:
    if obj.get("/Subtype") not in ("/TrueType", "/Type1") or "/Widths" not in obj:
        return None
    widths = [float(w) for w in obj.Widths]
    chars: list[str] | None = None  # code -> text, for str.translate over the codes as latin-1
    if "/ToUnicode" in obj:
        chars = {}
        cmap = obj.ToUnicode.read_bytes()
        if b"beginbfrange" in cmap:
            return _scan.Font(widths, int(obj.get("/FirstChar", 0)), None)
        for code, uni in _BFCHAR.findall(cmap):
            chars[int(code, 16)] = bytes.fromhex(uni.decode()).decode("utf-16-be", "replace")
    return _scan.Font(widths, int(obj.get("/FirstChar", 0)), chars)


def zone_points(strip_mm: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """(x, y, w, h) in mm from the page's bottom-left as (x0, y0, x1, y1) in points."""
    x, y, w, h = strip_mm
    return (x * _PT_PER_MM, y * _PT_PER_MM, (x + w) * _PT_PER_MM, (y + h) * _PT_PER_MM)


def _open(pdf_path: str | PathLike) -> pikepdf.Pdf:
    """The file opened by qpdf, or Damaged when qpdf cannot open it or had to repair it, or when it is not
    a regular file (qpdf reads a link to /dev/zero for ever)."""
    kind = not_regular(pdf_path)
    if kind is not None:
        raise Damaged(None, f"it is {kind}, not a regular file")
    try:
        pdf = pikepdf.open(pdf_path)
    except (pikepdf.PdfError, ValueError, OSError) as exc:
        raise Damaged(None, f"qpdf cannot open it: {_short(exc)}") from None
    if pdf.is_encrypted:   # qpdf reads it with the empty password; the renderer never encrypts a print file
        pdf.close()
        raise Damaged(None, "it is encrypted, which the renderer never does: a RIP may refuse it or ask for a "
                            "password, so it was changed after rendering")
    return pdf


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]


def check_streams(pdf: pikepdf.Pdf, pages: list, expected_pages: int | None) -> dict[tuple[int, int], bytes]:
    """Every stream of the file decodes (flate's own checksum catches a changed byte) and qpdf found
    nothing to repair; otherwise Damaged, naming the first page that uses a broken stream, or for a
    repaired file the first page it lacks (the whole file when it lacks none). qpdf decodes a file's
    streams in a few milliseconds. Returns the decoded data of its streams by object (page contents are
    most of it), so that they are not inflated twice."""
    decoded: dict[tuple[int, int], bytes] = {}
    fonts = []
    for obj in pdf.objects:
        if isinstance(obj, pikepdf.Stream):
            try:
                data = _decode_stream(obj)
            except (pikepdf.PdfError, zlib.error) as exc:
                raise Damaged(_page_using(pages, obj.objgen), f"stream {obj.objgen[0]} does not decode: "
                                                              f"{_short(exc)}") from None
            except _Unread as unread:
                raise Damaged(_page_using(pages, obj.objgen), f"stream {obj.objgen[0]} {unread}") from None
            if data is not None:
                decoded[obj.objgen] = data
        elif isinstance(obj, pikepdf.Dictionary) and obj.get("/Type") == "/Font":
            fonts.append(obj)
    for font in fonts:
        fault = _font_fault(font, decoded)
        if fault:
            raise Damaged(_page_using(pages, font.objgen), f"font object {font.objgen[0]} {fault}")
    warnings = pdf.get_warnings()
    if warnings:
        short = expected_pages is not None and len(pages) < expected_pages
        raise Damaged(len(pages) + 1 if short else _page_using(pages, None),
                      f"qpdf had to repair the file ({len(pages)} pages found): {_short(warnings[0])}")
    return decoded


_FLATE = pikepdf.Name.FlateDecode  # made once: pikepdf builds a new Name at each attribute lookup


class _Unread(Exception):
    """A stream that a RIP would not read as the renderer wrote it (the message says why)."""


_STREAM_KEYS = frozenset({
    "/Length", "/Filter", "/Type", "/Subtype", "/Length1", "/Length2", "/Length3", "/Metadata",  # any, fonts
    "/BBox", "/Matrix", "/Resources", "/FormType", "/Group", "/Ref", "/PieceInfo", "/LastModified",  # forms
    "/StructParent", "/StructParents", "/OPI", "/OC", "/Name", "/Width", "/Height", "/ColorSpace",  # images
    "/BitsPerComponent", "/Intent", "/ImageMask", "/Mask", "/Decode", "/Interpolate", "/Alternates", "/SMask",
    "/SMaskInData", "/ID", "/N", "/Alternate", "/Range", "/CMapName", "/CIDSystemInfo", "/WMode", "/UseCMap",
    "/FunctionType", "/Domain", "/Size", "/BitsPerSample", "/Order", "/Encode", "/ShadingType", "/Background",
    "/AntiAlias", "/Extend", "/Coords", "/Function", "/BitsPerCoordinate", "/BitsPerFlag", "/VerticesPerRow"})
"""The keys of a stream dictionary in the PDF standard, less the ones that change how its data is read
(/DecodeParms, /DL and the external file's /F, /FFilter, /FDecodeParms), which ReportLab never writes. A
RIP ignores a key it does not know: a changed byte in /Filter (/Gilter) leaves the data read as it is
stored, compressed, which a key missing from this list shows."""


def _filters(stream_dict) -> list[str]:
    """The stream's filters, as the renderer may write them: none or /FlateDecode alone, with no
    parameters and no key a stream does not have; otherwise _Unread."""
    unknown = sorted(set(stream_dict.keys()) - _STREAM_KEYS)
    if unknown:
        raise _Unread(f"has keys a print file's streams never have ({', '.join(unknown)[:80]}): its data is "
                      "not read as written")
    filters = stream_dict.get("/Filter")
    names = [] if filters is None else list(filters) if isinstance(filters, pikepdf.Array) else [filters]
    if names and names != [_FLATE]:
        raise _Unread(f"is filtered by {' '.join(map(str, names))[:80]}, not the FlateDecode alone a print file has")
    return names


def _decode_stream(obj: pikepdf.Stream) -> bytes | None:
    """Decode one stream and return its data. Flate streams go through zlib itself, since qpdf ignores
    the checksum that flate keeps over the decoded data (a changed byte can inflate to other data
    without an error). None for a flate stream with bytes after its end: zlib's data is then not
    surely what qpdf (and a RIP) would read. _Unread for a stream that is not plain or flate alone
    (`_filters`)."""
    if _filters(obj.stream_dict):
        return _inflate(obj.read_raw_bytes())
    return obj.read_bytes()


_STANDARD_14 = frozenset(f"/{name}" for name in (
    "Courier", "Courier-Bold", "Courier-Oblique", "Courier-BoldOblique", "Helvetica", "Helvetica-Bold",
    "Helvetica-Oblique", "Helvetica-BoldOblique", "Times-Roman", "Times-Bold", "Times-Italic", "Times-BoldItalic",
    "Symbol", "ZapfDingbats"))
_SFNT = (b"\x00\x01\x00\x00", b"true")


def _font_fault(font: pikepdf.Dictionary, decoded: dict[tuple[int, int], bytes]) -> str | None:
    """What keeps a font from printing as the renderer embedded it, or None: a TrueType font's program
    (FontFile2) missing, not a TrueType font or not of its /Length1; a Type1 font neither one of the
    standard 14 a RIP holds nor embedded; a subtype no font has. A RIP substitutes a font it cannot
    load, and the text prints in another face, width and weight."""
    subtype = font.get("/Subtype")
    descriptor = font.get("/FontDescriptor")
    files = {key: descriptor.get(key) for key in ("/FontFile", "/FontFile2", "/FontFile3")
             if isinstance(descriptor, pikepdf.Dictionary) and key in descriptor}
    if subtype == "/TrueType":
        program = files.get("/FontFile2")
        if not isinstance(program, pikepdf.Stream) or len(files) != 1:
            return f"({font.get('/BaseFont')}) has no embedded TrueType program (FontFile2) alone"
        data = decoded.get(program.objgen) if program.is_indirect else None
        data = program.read_bytes() if data is None else data
        if data[:4] not in _SFNT:
            return f"({font.get('/BaseFont')}): its embedded program is not a TrueType font"
        if program.get("/Length1", len(data)) != len(data):
            return f"({font.get('/BaseFont')}): its program is {len(data)} bytes, its /Length1 says {program.Length1}"
        return None
    if subtype == "/Type1":
        if "/FontFile2" in files or not (files or font.get("/BaseFont") in _STANDARD_14):
            return f"({font.get('/BaseFont')}) is a Type1 font neither embedded nor one of the standard 14"
        return None
    if subtype not in ("/Type0", "/Type3", "/MMType1"):
        return f"has a subtype no font has ({subtype})"
    return None


def _inflate(raw: bytes) -> bytes | None:
    """A zlib stream inflated and its checksum checked, as zlib does it; None with bytes after its end.

    ISA-L (isal) inflates print files' page streams in about half zlib's time (12 against 21 us a page).
    It is used only for a stream with the standard header (32 KiB window, no preset dictionary) that it
    inflates to its end with the checksum found right; anything else goes through zlib itself, whose
    error is the one reported."""
    if len(raw) > 2 and raw[0] == 0x78 and not raw[1] & 0x20 and (0x7800 | raw[1]) % 31 == 0:
        inflate = isal_zlib.decompressobj()
        try:
            data = inflate.decompress(raw)
        except isal_zlib.error:
            pass
        else:
            if inflate.eof:
                return None if inflate.unused_data else data
    inflate = zlib.decompressobj()
    data = inflate.decompress(raw)
    if not inflate.eof:
        zlib.decompress(raw)  # raises zlib's own error for a truncated stream
    return None if inflate.unused_data else data


def _page_using(pages: list, objgen: tuple[int, int] | None) -> int:
    """The first page (1-based) whose content or resources reach the object, or (objgen None) reach an
    object the file lacks; 1 if none does."""
    for number, page in enumerate(pages, 1):
        todo, seen = [page.obj], set()
        while todo:
            obj = todo.pop()
            if obj is None:
                if objgen is None:
                    return number
                continue
            if isinstance(obj, (pikepdf.Dictionary, pikepdf.Stream)):
                if obj.is_indirect:
                    if obj.objgen == objgen:
                        return number
                    if obj.objgen in seen:
                        continue
                    seen.add(obj.objgen)
                items = obj.items() if isinstance(obj, pikepdf.Dictionary) else obj.stream_dict.items()
                todo.extend(v for k, v in items if k != "/Parent")
                if isinstance(obj, pikepdf.Stream) and objgen is None and not obj.read_raw_bytes():
                    return number
            elif isinstance(obj, pikepdf.Array):
                todo.extend(obj)
    return 1


_PLAIN_PAGE = frozenset({"/Type", "/Parent", "/Resources", "/Contents", "/MediaBox", "/Rotate", "/Trans"})


class _Frames:
    """`_box_breach` and `_unframed` of a file's pages, judged once per media box and rotation for the
    pages that hold nothing else that frames them (no other box, user unit or annotation; a /Trans, a
    viewer's page transition, prints nothing): every page of a print file, as ReportLab writes them
    (`/Rotate 0 /Trans << >>`: before, the two keys made every page judged afresh, 15 us a page)."""

    def __init__(self, contract: Contract):
        self.contract = contract
        self._known: dict[tuple, tuple] = {}

    def judge(self, page_dict: pikepdf.Dictionary) -> tuple[tuple[str, str, object] | None, bool,
                                                           tuple[float, float, float, float] | None]:
        """(the page box breach or None, whether the page is unframed, its media box or None)."""
        keys = set(page_dict.keys())
        if "/MediaBox" in keys and keys <= _PLAIN_PAGE:
            media, rotate = page_dict["/MediaBox"], page_dict.get("/Rotate", 0)
            key = (media.unparse(), repr(rotate)) if isinstance(media, pikepdf.Array) and not media.is_indirect \
                and type(rotate) in (int, Decimal) else None
            if key is not None:
                known = self._known.get(key)
                if known is None:
                    known = self._known[key] = (_box_breach(page_dict, self.contract), _unframed(page_dict),
                                                _media(page_dict))
                return known
        return (_box_breach(page_dict, self.contract) or _annotated(page_dict), _unframed(page_dict),
                _media(page_dict))


def _media(page_dict: pikepdf.Dictionary) -> tuple[float, float, float, float] | None:
    """The page's media box (left, bottom, right, top), or None when it is not a rectangle of numbers."""
    try:
        a, b, c, d = (float(v) for v in page_dict.get("/MediaBox", []))
    except (TypeError, ValueError):
        return None
    if not all(map(math.isfinite, (a, b, c, d))):
        return None
    return (min(a, c), min(b, d), max(a, c), max(b, d))


def read_file(pdf_path: str | PathLike, contract: Contract, expected_pages: int | None = None,
              timing: dict | None = None, visit: Callable[[int, bytes], None] | None = None) -> list[PageRead]:
    """For each page, what its content states. The first and last page, and every page the content
    read cannot vouch for, are also checked for ink in the strip (`ink_breach`), and every page for
    boxes that cut the symbol. Raises Damaged for a file that does not read cleanly. `visit(index,
    content)` is shown each page's decoded content (0-based index), for other readers of it.

    `timing["text"]`, when given, gathers an estimate of the CPU seconds the file's text decoding and
    proof took: timed on every `TEXT_TIMED_EVERY`-th page and scaled to all of them (the CPU clock is a
    system call; four a page cost about 2.5 us, part of it counted in the barcode read-back)."""
    fonts, frames, terms = _Fonts(), _Frames(contract), scan_terms(contract)
    scanned = sampled = 0
    text_before = timing.get("text", 0.0) if timing is not None else 0.0
    with _open(pdf_path) as pdf:
        try:
            pages = list(pdf.pages)
        except pikepdf.PdfError as exc:
            raise Damaged(None, f"the page tree does not read: {_short(exc)}") from None
        decoded = check_streams(pdf, pages, expected_pages)
        result = []
        for index, page in enumerate(pages):
            page_dict = page.obj
            try:
                contents = page_dict.get("/Contents")  # one content stream, decoded already: most pages
                data = decoded.pop(contents.objgen, None) if contents is not None and contents.is_indirect else None
                if data is None:
                    data = page_streams(page_dict, decoded)
                if visit is not None:
                    visit(index, data)
                box, unframed, media = frames.judge(page_dict)
                timed = timing if timing is not None and index % TEXT_TIMED_EVERY == 0 else None
                scanned += unframed
                sampled += timed is not None and unframed
                read = read_page(data, contract, fonts.of_page(page_dict.get("/Resources")), timed, terms, media) \
                    if unframed else PageRead(None, None)
                if box:
                    read.breach = box
                elif read.barcodes is None or index in (0, len(pages) - 1):
                    read.breach = read.breach or ink_breach(page_dict, contract)
            except pikepdf.PdfError as exc:
                raise Damaged(index + 1, f"the page's content does not read: {_short(exc)}") from None
            result.append(read)
        if timing is not None and sampled:
            timing["text"] = text_before + (timing.get("text", 0.0) - text_before) * scanned / sampled
        return result


def _unframed(page_dict: pikepdf.Dictionary) -> bool:
    """The page shows its whole media box, unrotated and unscaled, with nothing over it.

    qpdf pushes the attributes a page inherits from the page tree down to the page, so a crop box or
    rotation set on the whole file is seen here too. Annotations are drawn over the page by viewers
    and RIPs alike, so a page with any is read optically.
    """
    if int(page_dict.get("/Rotate", 0)) % 360 or "/UserUnit" in page_dict or "/Annots" in page_dict:
        return False
    media = [float(v) for v in page_dict.get("/MediaBox", [])]
    return all(name not in page_dict or [float(v) for v in page_dict[name]] == media for name in _PAGE_BOXES[1:])


def _box_breach(page_dict: pikepdf.Dictionary, contract: Contract) -> tuple[str, str, object] | None:
    """A page box (media, crop, bleed, trim, art) that does not hold the whole strip: the RIP or the
    guillotine would cut the symbol or its quiet zones."""
    x0, y0, x1, y1 = contract.strip
    for name in _PAGE_BOXES:
        if name not in page_dict:
            continue
        try:
            a, b, c, d = (float(v) for v in page_dict[name])
        except (TypeError, ValueError):
            return ("page box", f"page {name[1:]} is not a rectangle", str(page_dict[name]))
        left, right, bottom, top = min(a, c), max(a, c), min(b, d), max(b, d)
        if left > x0 or bottom > y0 or right < x1 or top < y1:
            return ("page box", f"the page's {name[1:]} cuts the barcode strip",
                    [round(v / _PT_PER_MM, 1) for v in (left, bottom, right, top)])
    return None


def _annotated(page_dict: pikepdf.Dictionary) -> tuple[str, str, object] | None:
    """The page's annotations, as a breach: the renderer never writes one, and a viewer or RIP draws a
    printable one over the sheet (a white square over the address, a mark over the bars)."""
    annots = page_dict.get("/Annots")
    items = list(annots) if isinstance(annots, pikepdf.Array) else [] if annots is None else [annots]
    if not items:
        return None
    kinds = sorted({str(a.get("/Subtype", "/?"))[1:40] if isinstance(a, pikepdf.Dictionary) else "?" for a in items})
    return ("annotation", "the page carries an annotation, which prints over the sheet",
            f"{len(items)} ({', '.join(kinds[:5])})")


_WHITE = {("/DeviceCMYK", (0.0, 0.0, 0.0, 0.0)), ("/DeviceRGB", (1.0, 1.0, 1.0)), ("/DeviceGray", (1.0,))}
_BLACK_K = ("/DeviceCMYK", (0.0, 0.0, 0.0, 1.0))


def _matmul(a, b):
    """The product of two PDF matrices [a b c d e f] (a applied first)."""
    return (a[0] * b[0] + a[1] * b[2], a[0] * b[1] + a[1] * b[3], a[2] * b[0] + a[3] * b[2],
            a[2] * b[1] + a[3] * b[3], a[4] * b[0] + a[5] * b[2] + b[4], a[4] * b[1] + a[5] * b[3] + b[5])


def _apply(m, x: float, y: float) -> tuple[float, float]:
    return (m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5])


def _bbox(m, points: list[tuple[float, float]]) -> tuple[float, float, float, float]:
    moved = [_apply(m, x, y) for x, y in points]
    xs, ys = [p[0] for p in moved], [p[1] for p in moved]
    return (min(xs), min(ys), max(xs), max(ys))


_COLOUR_SPACES = {"k": "/DeviceCMYK", "rg": "/DeviceRGB", "g": "/DeviceGray"}
_WALKED = frozenset({"q", "Q", "cm", "k", "rg", "g", "K", "RG", "G", "cs", "CS", "sc", "scn", "SC", "SCN", "m", "l",
                     "c", "v", "y", "re", "S", "s", "f", "F", "f*", "B", "B*", "b", "b*", "n", "sh", "BI",
                     "INLINE IMAGE", "Do"})
_UNIT_SQUARE = [(0, 0), (1, 0), (0, 1), (1, 1)]


def ink_breach(page_dict: pikepdf.Dictionary, contract: Contract) -> tuple[str, str, object] | None:
    """The first path or image painted in the strip in any ink but 100% K (or paper white), found by
    following the page's content and its Form XObjects with their transformations and colours; None if
    all of it is 100% K. (Text is left to the pixels: dark text in the strip fails the optical read.) The pixels show where ink lies; only the content tells rich black, a
    spot colour or a tint of K from the 100% K a print room demands of barcodes."""
    found: list[tuple[str, str, object]] = []
    try:
        _walk(pikepdf.parse_content_stream(page_dict), page_dict.get("/Resources"), (1, 0, 0, 1, 0, 0),
              contract.strip, found, 0)
    except (pikepdf.PdfError, ValueError, TypeError, IndexError, KeyError, AttributeError) as exc:
        return ("content", "the page's content cannot be followed", f"{type(exc).__name__}: {_short(exc)}")
    return found[0] if found else None


def _walk(operations, resources, ctm, zone, found: list, depth: int) -> None:
    if depth > 8:
        raise ValueError("Form XObjects nested too deep")
    fill = stroke = ("/DeviceGray", (0.0,))
    stack: list = []
    path: list[tuple[float, float]] = []

    def paint(colour, what: str, points) -> None:
        if not points or found:
            return
        box = _bbox(ctm, points)
        if _overlaps(box, zone) and colour not in _WHITE and (colour != _BLACK_K or what == "a stroked line"):
            space, values = colour
            found.append(("ink" if what != "a stroked line" else "background",
                          f"{what} in the barcode strip" + (" is not 100% K ink" if what != "a stroked line" else ""),
                          f"{space[1:]} {' '.join(f'{v:g}' for v in values)}"))

    for instruction in operations:  # unpacking an instruction converts its operands: only walked ones are
        op = str(instruction.operator)
        if op not in _WALKED:  # text and other state: nothing that paints or moves paint (most of a page)
            continue
        operands = instruction.operands
        nums = [float(v) for v in operands if isinstance(v, (int, float, Decimal))]
        if op == "q":
            stack.append((ctm, fill, stroke))
        elif op == "Q" and stack:
            ctm, fill, stroke = stack.pop()
        elif op == "cm":
            ctm = _matmul(tuple(nums), ctm)
        elif op in _COLOUR_SPACES:
            fill = (_COLOUR_SPACES[op], tuple(nums))
        elif op.lower() in _COLOUR_SPACES and op.isupper():
            stroke = (_COLOUR_SPACES[op.lower()], tuple(nums))
        elif op in ("cs", "CS"):
            colour = (str(operands[0]), ())
            fill, stroke = (colour, stroke) if op == "cs" else (fill, colour)
        elif op in ("sc", "scn", "SC", "SCN"):
            space = fill[0] if op.islower() else stroke[0]
            colour = (space, tuple(nums))
            fill, stroke = (colour, stroke) if op.islower() else (fill, colour)
        elif op in ("m", "l"):
            path.append((nums[0], nums[1]))
        elif op in ("c", "v", "y"):
            path.extend(zip(nums[0::2], nums[1::2]))
        elif op == "re":
            x, y, w, h = nums
            path.extend([(x, y), (x + w, y + h)])
        elif op in ("S", "s"):
            paint(stroke, "a stroked line", path)
            path = []
        elif op in ("f", "F", "f*"):
            paint(fill, "a filled shape", path)
            path = []
        elif op in ("B", "B*", "b", "b*"):
            paint(fill, "a filled shape", path)
            paint(stroke, "a stroked line", path)
            path = []
        elif op == "n":
            path = []
        elif op == "sh" and not found:
            found.append(("ink", "a shading is painted on the page (it may reach the barcode strip)", str(operands)))
        elif op == "BI" or op == "INLINE IMAGE":
            paint(("/Image", ()), "an image", _UNIT_SQUARE)
        elif op == "Do":
            xobjects = resources.get("/XObject") if resources is not None else None
            xobject = xobjects.get(operands[0]) if xobjects is not None else None
            if xobject is None:
                raise KeyError(f"XObject {operands[0]} is not in the page's resources")
            if xobject.get("/Subtype") == "/Form":
                matrix = tuple(float(v) for v in xobject.get("/Matrix", [1, 0, 0, 1, 0, 0]))
                _walk(pikepdf.parse_content_stream(xobject), xobject.get("/Resources", resources),
                      _matmul(matrix, ctm), zone, found, depth + 1)
            else:
                paint(("/Image", ()), "an image", _UNIT_SQUARE)

