"""The compiled content scan (`stmtprod/barcode/_scan.c`) reads every page as the pure-Python reader did.

The reference is the pure-Python reader kept in tests/scan_reference.py. Both read the pages of a real
run, the same pages mutated many ways (operators and text objects inserted, numbers changed, strings
with every kind of escape, bytes flipped, slices dropped or repeated, truncations), and random bytes;
every barcode, text line and breach must be the same. Random bytes must never crash the scan.
"""
from __future__ import annotations

import random
import re
import zlib
from pathlib import Path

import pikepdf
import pytest

from stmtprod.barcode import _scan, content
from stmtprod.layout import load_layouts
from stmtprod.verify import contract
from tests import scan_reference
from tests.conftest import ROOT, volume

LAYOUTS = load_layouts(ROOT / "layouts")
NUMBER = re.compile(rb"(?<![^\s])[-+]?(?:\d+\.?\d*|\.\d+)(?![^\s])")
ESCAPES = [b"\\n", b"\\r", b"\\t", b"\\b", b"\\f", b"\\(", b"\\)", b"\\\\", b"\\0", b"\\12", b"\\101", b"\\777",
           b"\\8", b"\\9", b"\\\r", b"\\\n", b"\\\r\n", b"\\x", b"\\a", b"\\v", b"\\'", b"\\ ", b"\xe9", b"\x00", b"\\"]
OPERATORS = [b"1 0 0 1 0 0 cm", b"2 0 0 2 0 0 cm", b"1 0 0 1 0 300 cm", b"0 0 m 600 600 l S", b"W n", b"q", b"Q",
             b"0 0 0 1 k", b"1 0 0 0 k", b"0 g", b"1 1 1 rg", b"10 20 30 40 re f", b"BT", b"ET", b"/GS0 gs",
             b"/Im1 Do", b"nan nan m 1 1 l S", b"-inf 0 m 1 1 l S", b"+1 +2 3 4 re f", b"1_0 2 3 4 re f",
             b"0 0 0 0 re f", b"1e2 2 3 4 re F", b"(x) Tj", b"1 2 3 4 5 6 c f", b"1 2 3 c S", b"1 2 3 4 v f",
             b"h", b"n", b"1 2 re f", b"f*", b"+nan 1 2 3 re f", b"1 2 3 4 re 5 6 7 8 re nan 1 1 1 re f",
             b"1e308 1e308 1e308 1e308 re 1e308 1 1 1 re f", b"0.5 w", b"[] 0 d", b"1 J", b"/P <</MCID 0>> BDC",
             b"EMC", b"1 0 0 1 0 0 Tm", b"T*", b"BT 1 0 0 1 1 1 Tm", b"T* ET", b"-0 -0 m 1 1 l B*", b".5 .5 l s",
             b".9 g", b".5 g", b"0 0 0 .2 k", b".1 .2 .9 1 k", b".4 .4 .4 rg", b".4 .5 .4 rg", b"3 w", b"2 w", b"1 2 w",
             b"w", b"1 g 100 500 300 30 re f 0 g", b"0 g 50 100 500 700 re f", b"30 w 40 400 m 560 400 l S",
             b"1 2 3 4 5 6 7 cm", b"3 Tr", b"1 2 m S", b"1 2 3 m", b"1 2 3 4 5 v f", b"1 nan re f", b"1e999 w"]


def _real_pages(print_files: list[str]) -> list[tuple[bytes, content.Contract, dict]]:
    pages = []
    for pdf_path in print_files:
        terms = contract(LAYOUTS[Path(pdf_path).stem[:2]])
        fonts = content._Fonts()
        with pikepdf.open(pdf_path) as pdf:
            for page in pdf.pages:
                pages.append((content.page_streams(page.obj), terms, fonts.of_page(page.obj.get("/Resources"))))
    return pages


A4 = (0.0, 0.0, 595.2756, 841.8898)


def _same(data: bytes, terms: content.Contract, fonts: dict | None, page: tuple | None = A4) -> content.PageRead:
    got = content.read_page(data, terms, fonts, page=page)
    want = scan_reference.read_page(data, terms, fonts, page)
    assert (got.barcodes, got.lines, got.breach) == (want.barcodes, want.lines, want.breach), data[:3000]
    return got


@pytest.fixture(scope="module")
def pages(sample_run) -> list[tuple[bytes, content.Contract, dict]]:
    return _real_pages(sample_run["print_files"])


def test_every_page_of_a_real_run_reads_the_same(pages):
    reads = [_same(*page) for page in pages]
    assert all(r.barcodes and r.lines and not r.breach for r in reads)  # real pages are all vouched for
    assert all(_same(*page, page=None).lines is None for page in pages[:20])  # no page box: text not vouched
    small = (0.0, 0.0, 400.0, 600.0)  # a page smaller than the text: it does not print
    assert all(_same(*page, page=small).lines is None for page in pages[:20])


def _string(rng: random.Random) -> bytes:
    parts = [rng.choice([b"Total", b"1,234.56", b"A", b"", b" ", b"\xa0", bytes([rng.randrange(256)])])
             if rng.random() < 0.6 else rng.choice(ESCAPES) for _ in range(rng.randrange(6))]
    return b"".join(parts)


def _text_object(rng: random.Random, terms: content.Contract, names: list[bytes]) -> bytes:
    x0, y0, x1, y1 = terms.strip
    x = rng.choice([x0 - 200, x0 - 5, x0 + 10, x1 + 0.5, 40, 300, "nan", "1_0", "-"])
    y = rng.choice([y0 - 45, y0 - 3, (y0 + y1) / 2, y1 + 0.9, y1 + 42, 700, "inf", ".", "1e1"])
    name = rng.choice(names + [b"Zz", b"F1+0"])
    size = rng.choice([b"9", b"0", b"-4", b"x", b"1e3", b"nan"])
    if rng.random() < 0.15:
        return b"BT /" + name + b" " + size + b" Tf 10 TL ET"
    tf = b"/" + name + b" " + size + b" Tf 10.8 TL " if rng.random() < 0.7 else b""
    runs = b"".join((b"/" + rng.choice(names) + b" 8 Tf 9 TL " if rng.random() < 0.5 else b"")
                    + b"(" + _string(rng) + b") Tj " for _ in range(rng.choice([0, 0, 1, 2])))
    return b"BT 1 0 0 1 %s %s Tm " % (str(x).encode(), str(y).encode()) + tf + b"(" + _string(rng) + b") Tj " + runs + b"T* ET"


def _mutate(rng: random.Random, data: bytes, terms: content.Contract, names: list[bytes]) -> bytes:
    kind = rng.randrange(9)
    at = rng.randrange(len(data) + 1)
    if kind == 0:  # an operator inserted at a token boundary
        space = data.rfind(b"\n", 0, at)
        return data[:space + 1] + rng.choice(OPERATORS) + b"\n" + data[space + 1:]
    if kind == 1:  # a text object inserted
        space = data.rfind(b"\n", 0, at)
        return data[:space + 1] + _text_object(rng, terms, names) + b"\n" + data[space + 1:]
    if kind == 2:  # a number changed
        found = list(NUMBER.finditer(data))
        if not found:
            return data
        m = rng.choice(found)
        value = float(m.group())
        x0, y0, x1, y1 = terms.strip
        new = rng.choice([value + rng.choice([-0.3, 0.001, 1, 50]), -value, 0, x0, y1, "nan", "-0", "1e400", ".", "1_5",
                          "+.5", "0x10", "1e-320", value * 1.5, round(value)])
        return data[:m.start()] + str(new).encode() + data[m.end():]
    if kind == 3:  # torn
        return data[:at]
    if kind == 4:  # a slice dropped
        return data[:at] + data[at + rng.randrange(1, 200):]
    if kind == 5:  # a slice repeated
        return data[:at] + data[at:at + rng.randrange(1, 400)] + data[at:]
    if kind == 6:  # bytes flipped
        out = bytearray(data)
        for _ in range(rng.randrange(1, 4)):
            if out:
                out[rng.randrange(len(out))] = rng.choice([rng.randrange(256), 0x20, 0x09, 0x0B, 0x0C, 0x0D, 0x1C, 0x28,
                                                            0x29, 0x5C, 0x2F])
        return bytes(out)
    if kind == 7:  # a string's text replaced by escapes
        opens = [m.start() for m in re.finditer(rb"\(", data)]
        if not opens:
            return data
        start = rng.choice(opens) + 1
        return data[:start] + _string(rng) + data[start:]
    space = data.find(b" ", at)  # a separator made another kind of white space
    return data if space < 0 else data[:space] + rng.choice([b"\t", b"\n", b"\r", b"\x0b", b"\x0c", b"  "]) + data[space + 1:]


def _fonts_variant(rng: random.Random, fonts: dict) -> dict | None:
    roll = rng.random()
    if roll < 0.7:
        return fonts
    if roll < 0.75:
        return None
    odd = dict(fonts)
    name = rng.choice(list(fonts) or [b"F1+0"])
    real = fonts.get(name)
    widths = list(real.widths) if real else [500.0] * 95
    odd[name] = rng.choice([None, _scan.Font(widths, 32, None), _scan.Font(widths[:3], rng.choice([0, 65, 2**70, -2**70]),
                                                                             {65: "", 66: "xy", 67: 0x263A, 68: None})])
    odd[b""] = _scan.Font([1e308, float("nan"), 250.0], 40, {40: "\U0001F600"})
    return odd


def test_mutated_pages_read_the_same(pages):
    rng = random.Random(18)
    chosen = rng.sample(pages, min(len(pages), 60))
    trials = volume(3000, 30000)
    for n in range(trials):
        data, terms, fonts = chosen[n % len(chosen)]
        names = list(fonts) or [b"F1+0"]
        for _ in range(rng.choice([1, 1, 2, 3])):
            data = _mutate(rng, data, terms, names)
        _same(data, terms, _fonts_variant(rng, fonts))


def test_random_bytes_read_the_same_and_never_crash(pages):
    rng = random.Random(7)
    data, terms, fonts = pages[0]
    vocabulary = data.split() + [o for op in OPERATORS for o in op.split()] + ESCAPES + [b"BT", b"(", b")", b"Tj", b"Tf"]
    for n in range(volume(3000, 30000)):
        if n % 3 == 0:
            blob = bytes(rng.randrange(256) for _ in range(rng.randrange(300)))
        else:
            blob = b"".join(rng.choice(vocabulary) + rng.choice([b" ", b" ", b"\n", b"", b"\t"]) for _ in range(rng.randrange(80)))
        _same(blob, terms, fonts)
    for cut in range(0, len(data), 7):  # every truncation of a real page, no reference needed for a crash
        _scan.page(data[:cut], content.scan_terms(terms), fonts)


def test_bars_at_a_position_that_is_not_a_number_are_not_vouched_for(pages):
    data, terms, fonts = pages[0]
    assert content.read_page(data, terms, fonts).barcodes
    at = data.rindex(b" k")
    tokens = data[at:].split()
    bottom = tokens[tokens.index(b"re") - 3]  # the first bar's bottom
    nan = data[:at] + data[at:].replace(b" " + bottom + b" ", b" nan ")
    assert nan != data
    assert _same(nan, terms, fonts).barcodes is None


def test_the_scan_fails_clearly_on_wrong_arguments():
    with pytest.raises(TypeError):
        _scan.page(b"", ((0, 0, 1, 1), 0, 0, 1, 1, 0.5, 0.01, 8.3, 125), {b"F": object()})
    with pytest.raises(TypeError):
        _scan.page(b"", "not terms", {})
    with pytest.raises(TypeError):
        _scan.Font([1.0], 0, ["not", "a", "dict"])


def _zlib_only(raw: bytes) -> bytes | None:
    """The stream check as it was before ISA-L: zlib alone."""
    inflate = zlib.decompressobj()
    data = inflate.decompress(raw)
    if not inflate.eof:
        zlib.decompress(raw)
    return None if inflate.unused_data else data


def _outcome(inflate, raw: bytes):
    try:
        return "data", inflate(raw)
    except zlib.error as exc:
        return "error", str(exc)


def test_streams_inflate_as_zlib_inflates_them(sample_run):
    """ISA-L inflates page streams; whatever it is given, the data, the bytes after the end and the
    error (zlib's own) are what zlib alone gives."""
    with pikepdf.open(sample_run["print_files"][0]) as pdf:
        raws = [obj.read_raw_bytes() for obj in pdf.objects if isinstance(obj, pikepdf.Stream)][:200]
    raws += [zlib.compress(b"0 0 0 1 k 1 2 3 4 re f " * 50, level) for level in (0, 1, 9)]
    raws += [zlib.compress(b"x" * 5000, wbits=9), zlib.compressobj(zdict=b"0 0 0 1 k").compress(b"0 0 0 1 k") + b"\0"]
    rng = random.Random(16)
    for n in range(volume(3000, 20000)):
        raw = bytearray(rng.choice(raws))
        kind = n % 5
        if kind == 0:
            for _ in range(rng.randrange(1, 4)):
                raw[rng.randrange(len(raw))] = rng.randrange(256)
        elif kind == 1:
            del raw[rng.randrange(len(raw)):]
        elif kind == 2:
            raw += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 5)))
        elif kind == 3:
            raw[rng.randrange(2)] = rng.randrange(256)
        raw = bytes(raw)
        assert _outcome(content._inflate, raw) == _outcome(_zlib_only, raw)


def _as_float(convert, token: bytes):
    try:
        value = convert(token)
    except ValueError:
        return "ValueError"
    return repr(value)  # nan and the sign of zero compared too


def test_numbers_convert_as_python_converts_them():
    rng = random.Random(3)
    tokens = [b"0", b"-0", b"+0", b".5", b"5.", b".", b"-", b"+", b"", b"1.417323", b"-42.51969", b"007", b"1e3",
              b"1E-3", b"1_000", b"1__0", b"_1", b"nan", b"-NaN", b"inf", b"+Infinity", b"0x10", b"1.2.3", b" 1",
              b"1 ", b"\t2\n", b"1e400", b"-1e400", b"123456789012345", b"1234567890123456", b"0.1234567890123456789012",
              b"0.00000000000000000000001", b"9007199254740993", b"\xd9\xa1", b"1e", b"e1", b"--1", b"1-"]
    for _ in range(3000):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randrange(1, 25)))
        cut = rng.randrange(len(digits) + 1)
        tokens.append((rng.choice(["", "-", "+"]) + digits[:cut] + rng.choice([".", ""]) + digits[cut:]).encode())
    for token in tokens:
        assert _as_float(lambda t: _scan.floats([t])[0], token) == _as_float(float, token), token
    with pytest.raises(TypeError):
        _scan.floats(["1.0"])


def test_the_text_share_is_timed_on_a_sample_of_pages_and_scaled_to_all(sample_run, monkeypatch):
    """`read_file` times the text on every TEXT_TIMED_EVERY-th page only (the CPU clock is a system call)
    and scales what it measured to every page it scanned; the pages read are the same as untimed."""
    pdf_path = max(sample_run["print_files"], key=lambda p: len(pikepdf.open(p).pages))
    terms = contract(LAYOUTS[Path(pdf_path).stem[:2]])
    timed_pages: list[int] = []
    real = content.read_page

    def counting(data, contract_, fonts=None, timing=None, terms_=None, page=None):
        read = real(data, contract_, fonts, None, terms_, page)
        if timing is not None:
            timed_pages.append(len(calls))
            timing["text"] = timing.get("text", 0.0) + 1.0  # one "second" a timed page
        calls.append(read)
        return read

    calls: list = []
    monkeypatch.setattr(content, "read_page", counting)
    timing = {"text": 0.5}
    reads = content.read_file(pdf_path, terms, None, timing)
    monkeypatch.setattr(content, "read_page", real)
    assert len(calls) == len(reads) > content.TEXT_TIMED_EVERY
    assert timed_pages == list(range(0, len(reads), content.TEXT_TIMED_EVERY))
    assert timing["text"] == pytest.approx(0.5 + len(reads))  # what was there, plus every page at the sampled rate
    plain = content.read_file(pdf_path, terms)
    assert [(r.barcodes, r.lines, r.breach) for r in reads] == [(r.barcodes, r.lines, r.breach) for r in plain]
