"""The address number (住所表示番号) of a Japanese address, by Japan Post's extraction rules.

郵便番号・バーコードマニュアル, バーコードに必要な文字情報の抜き出し法: capitals for small letters;
"&", "/", "・" and "." removed; kanji numerals in front of 丁目 丁 番地 番 号 地割 線 の ノ turned
into Arabic digits; then Arabic digits, hyphens and single letters are kept and whatever stands
between them (kanji, kana, blanks, runs of two or more letters) becomes one hyphen; a digit's "F"
(a floor) ends the number; repeated hyphens are merged, leading and trailing ones dropped, and a
hyphen next to a letter is dropped.

Beyond the manual, and because a wrong barcode is worse than none: without Japan Post's town
dictionary the town name cannot be cut off with certainty, so a kanji numeral with a marker that
runs straight on into more of a name (八丁堀, 三番町, 一の橋, 三ノ輪) makes the number ambiguous and
no address number is formed. So does an address without any digit, and a representative postcode
(ending in 00), which the manual says gets no customer barcode.
"""
from __future__ import annotations

import re
import unicodedata

KANJI_DIGITS = {"〇": 0, "零": 0, "一": 1, "壱": 1, "二": 2, "弐": 2, "三": 3, "参": 3, "四": 4, "五": 5,
                "六": 6, "七": 7, "八": 8, "九": 9}
KANJI_UNITS = {"十": 10, "拾": 10, "百": 100, "千": 1000}
MARKERS = ("丁目", "番地", "地割", "丁", "番", "号", "線", "の", "ノ")
_OPEN_MARKERS = {"丁", "番", "線", "の", "ノ"}  # may also be the middle of a place name
_NUMERAL = "".join(KANJI_DIGITS) + "".join(KANJI_UNITS)
_KANJI_NUMBER = re.compile(f"([{_NUMERAL}]+)({'|'.join(MARKERS)})")
_HYPHENS = re.compile("[‐‑‒–—―−ーｰ﹣－]")
_REMOVED = re.compile("[&/・.]")


class AddressNumberError(ValueError):
    """No address number can be formed with certainty: the piece gets no customer barcode."""


def kanji_to_int(numeral: str) -> int:
    """一二三 -> 123 (digit by digit) and 二十三 -> 23, 百五 -> 105 (with unit characters)."""
    if not any(ch in KANJI_UNITS for ch in numeral):
        return int("".join(str(KANJI_DIGITS[ch]) for ch in numeral))
    total, digit = 0, None
    for ch in numeral:
        if ch in KANJI_DIGITS:
            if digit is not None:
                raise AddressNumberError(f"kanji numeral {numeral!r} is not a number")
            digit = KANJI_DIGITS[ch]
        else:
            total += (1 if digit is None else digit) * KANJI_UNITS[ch]
            digit = None
    return total + (digit or 0)


def _convert_kanji(text: str) -> str:
    def arabic(match: re.Match) -> str:
        numeral, marker = match.group(1), match.group(2)
        following = text[match.end():match.end() + 1]
        if marker in _OPEN_MARKERS and following and not _continues_number(following):
            raise AddressNumberError(
                f"{match.group(0) + following!r} may be part of a place name: the address number is ambiguous")
        return str(kanji_to_int(numeral)) + marker
    return _KANJI_NUMBER.sub(arabic, text)


def _continues_number(ch: str) -> bool:
    """What may follow a number's marker: another number, a separator, a blank, a Latin character."""
    return (ch in _NUMERAL or ch.isascii() or ch.isspace() or ch in "目地割号番丁の"
            or unicodedata.category(ch) in ("Pd", "Po", "Zs"))


def address_number(text: str) -> str:
    """The address number of the part of an address after the town name (or of a whole address)."""
    text = unicodedata.normalize("NFKC", text)
    text = _HYPHENS.sub("-", text).upper()
    text = _REMOVED.sub("", text)
    text = _convert_kanji(text)
    text = re.sub(r"(?<=[0-9])F", "-", text)  # 2F: the floor's F ends the number
    kept = re.sub(r"[A-Z]{2,}", "-", text)
    kept = re.sub(r"[^0-9A-Z-]+", "-", kept)
    kept = re.sub(r"-+", "-", kept).strip("-")
    kept = re.sub(r"-(?=[A-Z])|(?<=[A-Z])-", "", kept)
    if not re.search(r"[0-9]", kept):
        raise AddressNumberError("the address holds no block or building number")
    return kept


def barcode_postcode(postcode: str) -> str:
    """The 7 digits of a postcode that may carry a customer barcode."""
    digits = unicodedata.normalize("NFKC", postcode).replace("-", "")
    if not re.fullmatch(r"[0-9]{7}", digits):
        raise AddressNumberError("the postcode is not NNN-NNNN")
    if digits.endswith("00"):
        raise AddressNumberError(f"postcode {postcode} is a representative postcode: no customer barcode")
    return digits
