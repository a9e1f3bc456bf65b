"""Japan Post customer barcode (カスタマバーコード), from 郵便番号・バーコードマニュアル.

A symbol is 67 bars: start, the 7-digit postcode, 13 characters of the address number
(住所表示番号), a check character, stop; each character is three bars. A letter takes two
characters (control code CC1 for A-J, CC2 for K-T, CC3 for U-Z, then a digit), a short address
number is padded with CC4, and the check character makes the sum of all character values a
multiple of 19. This module is the reference encoder and the decoder of a bar string; production
encodes with zint (stmtprod.postal.zintcode) and the tests hold the two against each other.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

START = "FD"
STOP = "DF"
ADDRESS_CHARS = 13
BARS = len(START) + 3 * (7 + ADDRESS_CHARS + 1) + len(STOP)

# Character -> (check value, bars). Digits and hyphen are themselves; CC1..CC8 are control codes.
CHARACTERS = {
    "1": (1, "FFT"), "2": (2, "FDA"), "3": (3, "DFA"), "4": (4, "FAD"), "5": (5, "FTF"),
    "6": (6, "DAF"), "7": (7, "AFD"), "8": (8, "ADF"), "9": (9, "TFF"), "0": (0, "FTT"),
    "-": (10, "TFT"),
    "CC1": (11, "DAT"), "CC2": (12, "DTA"), "CC3": (13, "ADT"), "CC4": (14, "TDA"),
    "CC5": (15, "ATD"), "CC6": (16, "TAD"), "CC7": (17, "TTF"), "CC8": (18, "FFF"),
}
_BY_VALUE = {value: name for name, (value, _) in CHARACTERS.items()}
_BY_BARS = {bars: name for name, (_, bars) in CHARACTERS.items()}


class JapanPostError(ValueError):
    """Input that cannot be encoded, or a bar string that does not decode."""


def address_characters(address_number: str) -> list[str]:
    """The 13 barcode characters of an address number: letters as control code + digit, CC4 padding.

    Past 13 characters the rest is dropped; when a letter's control code falls on the 13th, the
    control code stays and its digit goes (the manual's rule).
    """
    if not re.fullmatch(r"[0-9A-Z-]*", address_number):
        raise JapanPostError("an address number may hold only digits, capitals and hyphens")
    chars: list[str] = []
    for ch in address_number:
        if ch.isalpha():
            offset = ord(ch) - ord("A")
            chars += [f"CC{offset // 10 + 1}", str(offset % 10)]
        else:
            chars.append(ch)
    chars = chars[:ADDRESS_CHARS]
    return chars + ["CC4"] * (ADDRESS_CHARS - len(chars))


def check_character(chars: list[str]) -> str:
    total = sum(CHARACTERS[c][0] for c in chars)
    return _BY_VALUE[-total % 19]


def characters(postcode: str, address_number: str) -> list[str]:
    """Postcode, address characters and the check character (without start and stop)."""
    digits = postcode.replace("-", "")
    if not re.fullmatch(r"[0-9]{7}", digits):
        raise JapanPostError("postcode must be 7 digits (NNN-NNNN)")
    chars = list(digits) + address_characters(address_number)
    return chars + [check_character(chars)]


def encode(postcode: str, address_number: str) -> str:
    """The 67-bar string for a postcode and an address number (as the manual's rules give it)."""
    return START + "".join(CHARACTERS[c][1] for c in characters(postcode, address_number)) + STOP


@dataclass(frozen=True)
class Decoded:
    postcode: str
    address_number: str
    characters: tuple[str, ...]
    check: str
    bars: str


def decode(bars: str) -> Decoded:
    """The fields of a bar string; checks start, stop, length, each character and the check character.

    The address number comes back as the barcode holds it: a letter whose digit was cut at the 13th
    character cannot be told from its neighbours and is returned as its control code in brackets.
    """
    if len(bars) != BARS:
        raise JapanPostError(f"{len(bars)} bars, a customer barcode has {BARS}")
    if not (bars.startswith(START) and bars.endswith(STOP)):
        raise JapanPostError("start or stop code missing")
    body = bars[len(START):-len(STOP)]
    chars = []
    for i in range(0, len(body), 3):
        name = _BY_BARS.get(body[i:i + 3])
        if name is None:
            raise JapanPostError(f"character {i // 3 + 1} ({body[i:i + 3]}) is not a barcode character")
        chars.append(name)
    data, check = chars[:-1], chars[-1]
    if check_character(data) != check:
        raise JapanPostError("check character does not match")
    postcode = "".join(data[:7])
    if not postcode.isdigit():
        raise JapanPostError("postcode characters are not digits")
    return Decoded(postcode=postcode, address_number=_address_text(data[7:]), characters=tuple(data),
                   check=check, bars=bars)


def _address_text(chars: list[str]) -> str:
    out = []
    i = 0
    while i < len(chars):
        c = chars[i]
        if c in ("CC1", "CC2", "CC3"):
            if i + 1 < len(chars) and chars[i + 1].isdigit():
                out.append(chr(ord("A") + (int(c[2]) - 1) * 10 + int(chars[i + 1])))
                i += 2
                continue
            if i + 1 < len(chars):
                raise JapanPostError(f"control code {c} is not followed by a digit")
            out.append(f"[{c}]")
        elif c == "CC4":
            if any(x != "CC4" for x in chars[i:]):
                raise JapanPostError("CC4 padding is followed by data")
            break
        elif c.startswith("CC"):
            raise JapanPostError(f"control code {c} is not used in an address number")
        else:
            out.append(c)
        i += 1
    return "".join(out)
