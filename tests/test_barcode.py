"""Barcode contract: payload layout, check character, Code 128 drawing, optical read-back.

Expectations are computed independently of the code under test: a literal
payload, a separate MOD 37,36 implementation, and a real decoder on pixels.
"""

import random
import re
import string

import pytest
from PIL import Image
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from stmtprod.barcode import payload as P
from stmtprod.barcode import reader, symbol

ALPHA = string.digits + string.ascii_uppercase
REGIONS = ["AU", "NZ", "JP", "MY", "ID", "SG", "HK"]


def iso7064_mod37_36_check(body: str) -> str:
    """Independent ISO/IEC 7064 hybrid MOD 37,36: find the one char that makes S_n == 1."""

    def valid(s):
        p = 36
        for ch in s:
            sj = (p + ALPHA.index(ch)) % 36 or 36
            p = (sj * 2) % 37
        return sj == 1

    (check,) = [c for c in ALPHA if valid(body + c)]
    return check


def with_check(body22: str) -> str:
    assert len(body22) == 22
    return body22 + iso7064_mod37_36_check(body22)


def random_fields(rng):
    sheets = rng.randint(1, 99)
    return dict(
        region=rng.choice(REGIONS),
        run_id=f"{rng.randint(20000101, 20991231)}-{''.join(rng.choices(ALPHA, k=6))}",
        sequence=rng.choice([1, 9_999_999, rng.randint(1, 9_999_999)]),
        sheet=rng.randint(1, sheets),
        sheets=sheets,
        hoppers=frozenset(h for h in range(1, 9) if rng.random() < 0.3),
    )


# -- payload ---------------------------------------------------------------


def test_independent_mod37_36_matches_stdnum_doc_example():
    assert iso7064_mod37_36_check("A12425GABC1234002") == "M"


def test_hand_computed_example():
    text = P.build("AU", "20240131-AB12CD", 42, 1, 2, {1, 3})
    assert text == "1AUAB12CD00000420102053"
    assert text[-1] == iso7064_mod37_36_check(text[:-1])
    assert P.parse(text) == P.Payload("1", "AU", "AB12CD", 42, 1, 2, frozenset({1, 3}))


def test_fields_tile_the_payload():
    ends = [0] + [end for _, _, end in P.FIELDS]
    assert [start for _, start, _ in P.FIELDS] == ends[:-1]
    assert ends[-1] == P.PAYLOAD_LENGTH == 23
    assert [name for name, _, _ in P.FIELDS][-1] == "check"


def test_round_trip_many():
    rng = random.Random(7)
    for _ in range(3000):
        f = random_fields(rng)
        text = P.build(**f)
        assert len(text) == 23 and set(text) <= set(ALPHA)
        assert text[-1] == iso7064_mod37_36_check(text[:-1])
        p = P.parse(text)
        assert (p.version, p.region, p.run_tag, p.sequence, p.sheet, p.sheets, p.hoppers) == (
            "1", f["region"], f["run_id"][-6:], f["sequence"], f["sheet"], f["sheets"], f["hoppers"])
        assert p.encode() == text
        assert text[20:22] == f"{sum(1 << (h - 1) for h in f['hoppers']):02X}"


def test_bitmap_helpers():
    assert P.Payload.hoppers_from_bitmap(0) == frozenset()
    assert P.Payload.hoppers_from_bitmap(0x81) == {1, 8}
    assert P.Payload.hoppers_from_bitmap(0xFF) == set(range(1, 9))
    assert P.Payload("1", "NZ", "ZZZZZZ", 1, 1, 1, {2, 4}).bitmap == 0x0A
    with pytest.raises(P.PayloadError, match="hopper > 8"):
        P.Payload.hoppers_from_bitmap(0x100)


@pytest.mark.parametrize(
    "text, reason",
    [
        ("1AUAB12CD0000042010205", r"wrong length: 22"),
        ("1AUAB12CD000004201020533", r"wrong length: 24"),
        ("1AUAB12CD00000420102-53", r"bad char '-' at position 20 in hoppers"),
        ("1auAB12CD00000420102053", r"bad char 'a' at position 1 in region"),
        (with_check("2AUAB12CD0000042010205"), r"version \(pos 0\): unknown version '2'"),
        (with_check("1UKAB12CD0000042010205"), r"region \(pos 1-2\): unknown region 'UK'"),
        (with_check("1AUAB12CD0000000010205"), r"sequence \(pos 9-15\): 0 out of range"),
        (with_check("1AUAB12CD00000X2010205"), r"bad char 'X' at position 14 in sequence"),
        (with_check("1AUAB12CD0000042000205"), r"sheet \(pos 16-17\): 0 out of range"),
        (with_check("1AUAB12CD0000042000005"), r"sheet \(pos 16-17\): 0 out of range"),
        (with_check("1AUAB12CD0000042030205"), r"sheet \(pos 16-17\): sheet 3 > sheets 2"),
        (with_check("1AUAB12CD0000042010005"), r"sheets \(pos 18-19\): 0 out of range"),
        (with_check("1AUAB12CD00000420102G5"), r"bad char 'G' at position 20 in hoppers"),
        ("1AUAB12CD00000420102054", r"check \(pos 22\): bad check character: expected 3 found 4"),
    ],
)
def test_parse_errors(text, reason):
    with pytest.raises(P.PayloadError, match=reason):
        P.parse(text)


@pytest.mark.parametrize(
    "kwargs, reason",
    [
        (dict(region="UK"), "unknown region"),
        (dict(run_id="2024013-AB12CD"), "run id"),
        (dict(run_id="20240131-ab12cd"), "run id"),
        (dict(sequence=0), "sequence .* out of range"),
        (dict(sequence=10_000_000), "sequence .* out of range"),
        (dict(sheet=0), "sheet .* out of range"),
        (dict(sheet=3, sheets=2), "sheet 3 > sheets 2"),
        (dict(sheets=100, sheet=1), "sheets .* out of range"),
        (dict(hoppers={9}), r"hopper\(s\) \[9\] outside 1..8"),
        (dict(hoppers={0}), r"hopper\(s\) \[0\] outside 1..8"),
    ],
)
def test_build_rejects(kwargs, reason):
    base = dict(region="AU", run_id="20240131-AB12CD", sequence=42, sheet=1, sheets=2, hoppers={1})
    with pytest.raises(P.PayloadError, match=reason):
        P.build(**{**base, **kwargs})


def test_a_piece_s_payloads_are_each_sheet_built_alone():
    """`build_piece` (the renderer's: fields validated once, the check's running value shared) gives
    each sheet's `build`, checked against the independent MOD 37,36, for every region, reprint run ids,
    1 to 99 sheets and any hopper set; and refuses what `build` refuses for sheet 1, with its reason."""
    rng = random.Random(11)
    for k in range(400):
        f = random_fields(rng)
        run_id = f["run_id"] + (f"-R{rng.randint(1, 999)}" if k % 5 == 0 else "")
        sheets = rng.choice([1, 2, 3, rng.randint(1, 99), 99])
        texts = P.build_piece(f["region"], run_id, f["sequence"], sheets, tuple(f["hoppers"]))
        assert texts == [P.build(f["region"], run_id, f["sequence"], n, sheets, f["hoppers"])
                         for n in range(1, sheets + 1)]
        assert all(t[-1] == iso7064_mod37_36_check(t[:-1]) and t[16:20] == f"{n:02d}{sheets:02d}"
                   for n, t in enumerate(texts, 1))
    base = dict(region="AU", run_id="20240131-AB12CD", sequence=42, sheets=2, hoppers={1})
    for change in (dict(region="UK"), dict(run_id="20240131-ab12cd"), dict(sequence=0), dict(sequence=10_000_000),
                   dict(sheets=0), dict(sheets=100), dict(hoppers={9}), dict(hoppers={0}), dict(hoppers={1.0})):
        args = {**base, **change}
        with pytest.raises(P.PayloadError) as alone:
            P.build(args["region"], args["run_id"], args["sequence"], 1, args["sheets"], args["hoppers"])
        with pytest.raises(P.PayloadError, match=re.escape(str(alone.value))):
            P.build_piece(**args)


def test_payload_error_is_value_error():
    assert issubclass(P.PayloadError, ValueError)


def test_any_single_character_change_is_detected():
    rng = random.Random(11)
    samples = ["1AUAB12CD00000420102053"] + [P.build(**random_fields(rng)) for _ in range(5)]
    for text in samples:
        for i in range(len(text)):
            for c in ALPHA + "a-*/ ":
                if c != text[i]:
                    with pytest.raises(P.PayloadError):
                        P.parse(text[:i] + c + text[i + 1:])


def _parsed(parse, text):
    try:
        payload = parse(text)
    except P.PayloadError as exc:
        return "PayloadError", str(exc)
    return "payload", payload, type(payload), dict(vars(payload))


def test_the_one_match_parse_gives_what_the_field_by_field_parse_gives():
    """`parse` takes a payload as the builder writes it in one match; on built payloads, every one- and
    two-character change of them (check character put right or not) and texts at the fields' limits,
    the payload or the first reason is the field-by-field parse's."""
    rng = random.Random(18)
    texts = ["1AUAB12CD00000420102053", 12345, None, "", "1AU" + "\u0663" * 20]
    texts += [P.build(**random_fields(rng)) for _ in range(300)]
    for body in ("1AUAB12CD0000000010100", "1AUAB12CD0000001000100", "1AUAB12CD0000001020100",
                 "1AUAB12CD0000001990100", "1AUAB12CD9999999999900", "1AUAB12CD00000019999FF",
                 "1XXAB12CD0000001010100", "1AUab12cd0000001010100", "2AUAB12CD0000001010100",
                 "1AUAB12CD0000001010G00"):
        texts += [with_check(body) if set(body) <= set(ALPHA) else body + "1", body + "0"]
    for text in texts[5:25]:
        for i in range(len(text)):
            for c in ALPHA + "a-*/ \u0663":
                changed = text[:i] + c + text[i + 1:]
                texts += [changed, with_check(changed[:22]) if set(changed[:22]) <= set(ALPHA) else changed]
    texts += [t[:n] for t in texts[5:20] for n in range(24)] + [t + "0" for t in texts[5:20]]
    accepted = 0
    for text in texts:
        got = _parsed(P.parse, text)
        assert got == _parsed(P.parse_each_field, text), text
        accepted += got[0] == "payload"
    assert 1000 < accepted < len(texts) / 2


# -- symbol ----------------------------------------------------------------


def test_modules_and_runs_shape():
    m = symbol.modules("1AUAB12CD00000420102053")
    assert set(m) == {"0", "1"}
    assert (len(m) - 2) % 11 == 0  # 11-module symbols + 2-module termination bar
    assert m.endswith("1100011101011")  # stop pattern
    r = symbol.runs(m)
    assert r[0][0] == 0 and r[-1][0] + r[-1][1] == len(m)
    assert sum(w for _, w in r) == m.count("1")
    rebuilt = ["0"] * len(m)
    for s, w in r:
        rebuilt[s:s + w] = "1" * w
    assert "".join(rebuilt) == m
    assert symbol.runs("0110111001") == [(1, 2), (4, 3), (9, 1)]


def test_symbol_width():
    spec = symbol.SymbolSpec()
    assert (spec.narrow_bar_mm, spec.height_mm, spec.quiet_zone_modules) == (0.33, 8.0, 10)
    for text in ["1AUAB12CD00000420102053", P.build("HK", "20991231-ZZZZZZ", 9_999_999, 99, 99, range(1, 9))]:
        n = len(symbol.modules(text))
        assert spec.width_mm(text) == pytest.approx((n + 20) * 0.33)


def test_module_strings_decode_pixel_perfect():
    """python-barcode's encoding, checked by zxing on a synthetic 3 px/module image."""
    rng = random.Random(3)
    for _ in range(300):
        text = P.build(**random_fields(rng))
        m = "0" * 10 + symbol.modules(text) + "0" * 10
        row = bytes(0 if b == "1" else 255 for b in m for _ in range(3))
        img = Image.frombytes("L", (len(row), 20), row * 20)
        assert reader.decode_image(img) == [text]


def _draw_pdf(path, payloads, positions, spec=symbol.SymbolSpec()):
    c = Canvas(str(path), pagesize=A4, invariant=1)
    for text, (x, y) in zip(payloads, positions):
        c.setFont("Helvetica", 9)
        c.drawString(20 * 2.8346, 150 * 2.8346, "Statement body text that is not a barcode")
        symbol.draw(c, text, x, y, spec)
        c.showPage()
    c.save()


def test_draw_then_read_back(tmp_path):
    rng = random.Random(5)
    payloads = [P.build(**random_fields(rng)) for _ in range(3)]
    positions = [(10, 280), (120, 10), (60, 140)]
    spec = symbol.SymbolSpec()
    pdf = tmp_path / "three.pdf"
    _draw_pdf(pdf, payloads, positions, spec)

    assert reader.read_page_barcodes(pdf, dpi=200) == [[t] for t in payloads]
    for i, (text, (x, y)) in enumerate(zip(payloads, positions)):
        strip = (x - 2, y - 2, spec.width_mm(text) + 4, spec.height_mm + 4)
        assert reader.read_page_barcodes(pdf, [i], dpi=200, region_mm=strip) == [[text]]
        # a strip elsewhere on the same page sees nothing: the crop is where we think it is
        elsewhere = (x, (y + 100) % 250, spec.width_mm(text), spec.height_mm)
        assert reader.read_page_barcodes(pdf, [i], dpi=200, region_mm=elsewhere) == [[]]
    assert reader.read_page_barcodes(pdf, [2, 0]) == [[payloads[2]], [payloads[0]]]


def test_read_region_outside_page(tmp_path):
    pdf = tmp_path / "one.pdf"
    _draw_pdf(pdf, ["1AUAB12CD00000420102053"], [(10, 10)])
    with pytest.raises(ValueError, match="outside the page"):
        reader.read_page_barcodes(pdf, region_mm=(300, 10, 10, 10))


def test_module_strings_are_python_barcodes():
    """Payloads of digits and capital letters are encoded by `symbol` itself: the same modules as
    python-barcode's Code128 for sheet payloads and random strings of every mix (runs of digits of
    every length, odd and even, first and last, a leading 99 that python-barcode folds into its
    start code); other text goes to python-barcode."""
    from barcode.codex import Code128

    rng = random.Random(128)
    texts = [P.build(rng.choice(REGIONS), "20261120-5BFQ9H", rng.randrange(1, 10 ** 7), 1, rng.randrange(1, 9),
                     rng.sample(range(1, 9), rng.randrange(0, 4))) for _ in range(300)]
    for alphabet in ("0123456789", "0123456789A", ALPHA, "09AZ", "99999999Q"):
        texts += ["".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 30))) for _ in range(2000)]
    texts += ["1", "A", "99", "990", "9912AB", "100", "12345", "A1234", "A123", "1234A5678", "abc", "1a2b", "A-B 1"]
    for text in texts:
        assert symbol.modules(text) == Code128(text).build()[0], text


def test_check_character_table_is_stdnums_mod37_36_for_any_body():
    """The payload's table-driven check character against python-stdnum's own MOD 37,36 and the
    independent one above, on bodies of every length up to past the payload's."""
    from stdnum.iso7064 import mod_37_36

    rng = random.Random(18)
    for length in range(0, 40):
        for _ in range(200):
            body = "".join(rng.choice(ALPHA) for _ in range(length))
            assert P.check_character(body) == mod_37_36.calc_check_digit(body)
            if body:
                assert P.check_character(body) == iso7064_mod37_36_check(body)
