"""Postal barcodes: both encoders against the specifications' published examples, zint against the
reference encoder written from the specifications, the readers' checks, and the address rules
against the examples of Japan Post's manual."""
from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest

from stmtprod.postal import auspost, japanpost, zintcode
from stmtprod.postal.address import AddressNumberError, address_number, barcode_postcode, kanji_to_int

# "A Guide to Printing the 4-State Barcode" (Australia Post), the worked examples' bars as printed
# in its figures (and the Technical Specifications' diagram 1), transcribed as letters.
AUSPOST_GUIDE = [
    (11, "96184209", "", "ATFAFATFDFFADDAAFDFFTFTDFFTDADADTADAT"),
    (11, "39549554", "", "ATFAFAAFTFADAATFADADAATTADAFATAATDDAT"),
    (59, "56439111", "ABA 9", "ATADTFADDFAAAFTFFAFAFAFFFFFAFFFFFTTDDTTAFADAFFFTTAAT"),
]


@pytest.mark.parametrize("fcc,dpid,info,bars", AUSPOST_GUIDE)
def test_auspost_guide_examples(fcc, dpid, info, bars):
    assert auspost.encode(fcc, dpid, info) == bars
    assert zintcode.auspost_bars(fcc, dpid, info) == bars
    decoded = auspost.decode(bars, "C" if info else None)
    assert (decoded.fcc, decoded.dpid, decoded.info) == (fcc, dpid, info)


def test_auspost_structure_from_the_specification():
    bars = auspost.encode(11, "96184209")
    assert len(bars) == 37 and bars[:2] == "AT" and bars[-2:] == "AT"
    assert bars[2:6] == "FAFA"  # FCC 11 in table N: 1 = bars 0 1
    assert bars[6:8] == "TF"  # DPID's first digit 9 = bars 3 0
    assert bars[22] == "T"  # the filler bar before the parity
    assert [len(auspost.encode(f, "12345678")) for f in (11, 59, 62)] == [37, 52, 67]


def _random_info(rng: random.Random, table: str, n: int) -> str:
    alphabet = "0123456789" if table == "N" else "".join(auspost.C_TABLE)
    while True:
        text = "".join(rng.choice(alphabet) for _ in range(n))
        if table == "N" or not text.isdigit():
            return text


def test_zint_agrees_with_the_reference_encoder():
    rng = random.Random(17)
    for _ in range(300):
        dpid = f"{rng.randrange(10 ** 8):08d}"
        fcc, table = rng.choice([(11, None), (59, "N"), (59, "C"), (62, "N"), (62, "C")])
        info = "" if fcc == 11 else _random_info(rng, table, {(59, "N"): 8, (59, "C"): 5, (62, "N"): 15,
                                                              (62, "C"): 10}[(fcc, table)])
        assert zintcode.zint_accepts_auspost(fcc, info, table or "N")
        ref = auspost.encode(fcc, dpid, info, table)
        assert zintcode._encode(zintcode.zint.Symbology.AUSPOST, dpid + info) == ref, (fcc, dpid, info)
        decoded = auspost.decode(ref, table)
        # table C's "z" is three trackers, which a reader cannot tell from filler at the end
        expected = info.rstrip("z") if table == "C" else info
        assert (decoded.fcc, decoded.dpid, decoded.info) == (fcc, dpid, expected)


def test_every_table_c_character_agrees_with_zint():
    chars = "".join(auspost.C_TABLE)
    for i in range(0, len(chars), 10):
        info = chars[i:i + 10].ljust(10, "A")
        assert zintcode._encode(zintcode.zint.Symbology.AUSPOST, "12345678" + info) == auspost.encode(
            62, "12345678", info, "C")


def test_short_customer_information_is_filled_with_trackers():
    bars = zintcode.auspost_bars(59, "12345678", "42")
    assert bars == auspost.encode(59, "12345678", "42", "N")
    assert bars[22:26] == "AAFD" and bars[26:38] == "T" * 12
    assert auspost.decode(bars).info == "42"


def test_auspost_parity_catches_every_single_bar_error():
    bars = auspost.encode(62, "56439111", "ABA 9", "C")
    for i in range(2, len(bars) - 2):
        for other in "FADT":
            if other != bars[i]:
                with pytest.raises(auspost.AusPostError):
                    auspost.decode(bars[:i] + other + bars[i + 1:])


@pytest.mark.parametrize("args,message", [
    ((12, "12345678"), "FCC 12"), ((11, "1234567"), "8 digits"), ((11, "1234567X"), "8 digits"),
    ((11, "12345678", "1"), "FCC 11"), ((59, "12345678", "123456789"), "too long"),
    ((59, "12345678", "AB!"), "cannot encode"),
])
def test_auspost_refuses_what_it_cannot_encode(args, message):
    with pytest.raises(auspost.AusPostError, match=message):
        zintcode.auspost_bars(*args)


def test_auspost_decode_refuses_wrong_shapes():
    good = auspost.encode(11, "96184209")
    for bad in (good[:-1], "TT" + good[2:], good.replace("F", "X", 1)):
        with pytest.raises(auspost.AusPostError):
            auspost.decode(bad)


def _bwipp(symbology: str, data: str, **options) -> str:
    """BWIPP's symbol (through treepoem and Ghostscript) read back by the raster reader."""
    import numpy as np
    import treepoem

    from stmtprod.postal.read import bars_in_image, letters

    image = treepoem.generate_barcode(symbology, data, options=options or None).convert("L")
    return letters(bars_in_image(np.array(image), 0.1))


def test_bwipp_agrees_with_both_encoders():
    """A third, independent encoder: BWIPP, read back from its raster."""
    cases = [
        ("auspost", "1196184209", {}, zintcode.auspost_bars(11, "96184209")),
        ("auspost", "5956439111ABA 9", {"custinfoenc": "character"}, zintcode.auspost_bars(59, "56439111", "ABA 9")),
        ("auspost", "6232211324123456789012345", {"custinfoenc": "numeric"},
         zintcode.auspost_bars(62, "32211324", "123456789012345")),
        ("auspost", "593221132442", {"custinfoenc": "numeric"}, auspost.encode(59, "32211324", "42")),
        ("japanpost", "10000131-3-2-503", {}, zintcode.japanpost_bars("1000013", "1-3-2-503")),
        ("japanpost", "064080429-1524-23-2-", {}, zintcode.japanpost_bars("0640804", "29-1524-23-2-501")),
        ("japanpost", "1540023Z3-16-4-205", {}, zintcode.japanpost_bars("1540023", "Z3-16-4-205")),
    ]
    for symbology, data, options, bars in cases:
        assert _bwipp(symbology, data, **options) == bars, data


# 郵便番号・バーコードマニュアル: the worked example (p17, p21) and the cutting examples (p20).
def test_japanpost_manual_example_check_character_9():
    chars = japanpost.characters("100-0013", "1-3-2-503")
    assert chars == list("10000131-3-2-503") + ["CC4"] * 4 + ["9"]
    bars = zintcode.japanpost_bars("1000013", "1-3-2-503")
    assert bars == japanpost.encode("1000013", "1-3-2-503")
    assert len(bars) == 67 and bars[:2] == "FD" and bars[-2:] == "DF"
    assert bars[-5:-2] == "TFF"  # check character 9
    decoded = japanpost.decode(bars)
    assert (decoded.postcode, decoded.address_number, decoded.check) == ("1000013", "1-3-2-503", "9")


def test_japanpost_manual_cutting_examples():
    assert "".join(japanpost.characters("064-0804", "29-1524-23-2-501")[:20]) == "064080429-1524-23-2-"
    chars = japanpost.characters("910-0067", "3-80-25J1-2B")[:20]
    assert chars == list("91000673-80-25") + ["CC1", "9", "1", "-", "2", "CC1"]
    bars = zintcode.japanpost_bars("910-0067", "3-80-25J1-2B")
    assert bars == japanpost.encode("910-0067", "3-80-25J1-2B")
    assert japanpost.decode(bars).address_number == "3-80-25J1-2[CC1]"


def test_japanpost_zint_agrees_with_the_reference_encoder():
    rng = random.Random(19)
    for _ in range(300):
        postcode = f"{rng.randrange(10 ** 7):07d}"
        parts = [str(rng.randrange(1, 3000)) for _ in range(rng.randrange(1, 5))]
        if rng.random() < 0.4:
            parts[rng.randrange(len(parts))] += rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        number = "-".join(parts)
        ref = japanpost.encode(postcode, number)
        assert zintcode.japanpost_bars(postcode, number) == ref, (postcode, number)
        assert japanpost.decode(ref).postcode == postcode


def test_japanpost_letters_are_control_code_and_digit():
    assert japanpost.address_characters("A")[:2] == ["CC1", "0"]
    assert japanpost.address_characters("K")[:2] == ["CC2", "0"]
    assert japanpost.address_characters("Z")[:2] == ["CC3", "5"]
    assert japanpost.decode(japanpost.encode("1540023", "3-16-4-205Z")).address_number == "3-16-4-205Z"


def test_japanpost_check_character_catches_every_single_character_error():
    bars = japanpost.encode("1540023", "3-16-4-205")
    patterns = {b for _, b in japanpost.CHARACTERS.values()}
    for pos in range(2, 2 + 3 * 20, 3):
        for other in patterns - {bars[pos:pos + 3]}:
            with pytest.raises(japanpost.JapanPostError):
                japanpost.decode(bars[:pos] + other + bars[pos + 3:])


# The extraction rules, with the manual's own examples (p17, p19, p20) and others of the same class.
@pytest.mark.parametrize("text,number", [
    ("1丁目3番2号 郵便プラザ503室", "1-3-2-503"),
    ("東3丁目-20-5 郵便・A&bコーポB604号", "3-20-5B604"),
    ("6丁目7-14 ABCビル2F", "6-7-14-2"),
    ("29丁目1524-23 第2郵便ハウス501", "29-1524-23-2-501"),
    ("3丁目80-25 J1ビル2-B", "3-80-25J1-2B"),
    ("北海道札幌市中央区南三条西7-11-24", "7-11-24"),
    ("十一丁目六番地一号　郵便タワー601", "11-6-1-601"),
    ("大須一丁目二十五番二十八号", "1-25-28"),
    ("青野町出口 6-7 LプラザB 106", "6-7LB106"),
    ("４丁目５－６　ハイツ１０２", "4-5-6-102"),
    ("虎ノ門4-1-1 神谷町トラストタワー", "4-1-1"),
    ("三丁目十番地の五号", "3-10-5"),
    ("大更第三十五地割六十二番", "35-62"),
])
def test_address_number_rules(text, number):
    assert address_number(text) == number


@pytest.mark.parametrize("text", ["八丁堀3-1-1", "三番町5-2", "三ノ輪1-2", "一の橋2-3", "無番地", "神谷町トラストタワー"])
def test_no_address_number_rather_than_a_wrong_one(text):
    with pytest.raises(AddressNumberError):
        address_number(text)


def test_kanji_numerals():
    assert [kanji_to_int(k) for k in ("一", "十", "十一", "二十", "百五", "千二百三十四", "一〇五")] == [
        1, 10, 11, 20, 105, 1234, 105]


def test_representative_postcodes_get_no_barcode():
    assert barcode_postcode("105-0001") == "1050001"
    for bad in ("105-0000", "1050100", "10500", "ABC-DEFG"):
        with pytest.raises(AddressNumberError):
            barcode_postcode(bad)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "stmtprod", "postal", *args], capture_output=True, text=True)


def test_cli_encode_and_address():
    out = _cli("encode", "--symbology", "auspost", "--fcc", "11", "--dpid", "96184209")
    assert out.returncode == 0 and out.stdout.strip() == AUSPOST_GUIDE[0][3]
    out = _cli("encode", "--symbology", "auspost", "--fcc", "59", "--dpid", "56439111", "--info", "ABA 9", "--json")
    doc = json.loads(out.stdout)
    assert doc == {"bars": AUSPOST_GUIDE[2][3],
                   "fields": {"fcc": 59, "dpid": "56439111", "info": "ABA 9", "table": "C"}}
    out = _cli("encode", "--symbology", "japanpost", "--postcode", "1540023", "--address-number", "3-16-4-205",
               "--json")
    doc = json.loads(out.stdout)
    assert doc["bars"] == japanpost.encode("1540023", "3-16-4-205")
    assert doc["fields"]["postcode"] == "1540023" and doc["fields"]["address_number"] == "3-16-4-205"
    out = _cli("address", "北海道札幌市中央区南三条西7-11-24")
    assert out.returncode == 0 and out.stdout.strip() == "7-11-24"


def test_cli_refuses_bad_input_without_a_traceback():
    for args in (("encode", "--symbology", "auspost", "--dpid", "1234"),
                 ("encode", "--symbology", "japanpost", "--postcode", "12", "--address-number", "1"),
                 ("address", "八丁堀3-1-1")):
        out = _cli(*args)
        assert out.returncode == 2 and "Traceback" not in out.stderr and out.stderr.startswith("stmtprod postal:")


def test_cli_never_echoes_what_could_be_a_card_number():
    pan = "4111111111111111"
    for args in (("encode", "--symbology", "auspost", "--dpid", pan),
                 ("encode", "--symbology", "auspost", "--fcc", "62", "--dpid", "12345678", "--info", "378282246310005"),
                 ("encode", "--symbology", "japanpost", "--postcode", "1000013", "--address-number", pan),
                 ("encode", "--symbology", "japanpost", "--postcode", "1000013", "--address-number", "4111-1111-1111-1111"),
                 ("address", f"虎ノ門{pan}"), ("address", "４１１１ １１１１ １１１１ １１１１")):
        out = _cli(*args, "--json")
        assert out.returncode == 2 and "Traceback" not in out.stderr
        assert not any(s in out.stderr + out.stdout for s in ("1111111", "１１１１", "8282246"))
