"""Production encoding through zint (zint-bindings): a well-kept encoder of both postal symbologies.

zint gives its symbol as bit-packed rows (least significant bit first): the top row holds the
ascenders, the bottom row the descenders, a bar every other column. The letters come from there.
"""
from __future__ import annotations

import numpy as np
import zint

from stmtprod.postal import auspost, japanpost


# A bar's (ascender, descender) bits as 2 * top + bottom -> its state letter.
_STATES = bytes.maketrans(bytes([0b11, 0b10, 0b01, 0b00]), b"FADT")


def _letters(symbol: zint.Symbol) -> str:
    """The state letter of each bar: F both, A ascender only, D descender only, T neither (the tracker)."""
    rows = np.unpackbits(np.asarray(symbol.encoded_data)[:symbol.rows], axis=1, bitorder="little")
    top, bottom = rows[0, :symbol.width:2], rows[symbol.rows - 1, :symbol.width:2]
    return (top * 2 + bottom).tobytes().translate(_STATES).decode("ascii")


def _encode(symbology: zint.Symbology, data: str) -> str:
    symbol = zint.Symbol()
    symbol.symbology = symbology
    try:
        symbol.encode(data)
    except RuntimeError as exc:
        raise ValueError(f"zint refused the input: {exc}") from None
    return _letters(symbol)


def zint_accepts_auspost(fcc: int, info: str, table: str) -> bool:
    """zint takes the FCC from the input's length, so only full customer information fields (8 or
    15 digits in table N, 5 or 10 characters in table C) and FCC 11 without any."""
    if fcc == 11:
        return not info
    full = {(59, "N"): 8, (59, "C"): 5, (62, "N"): 15, (62, "C"): 10}
    return len(info) == full[(fcc, table)] and (table == "N" or not info.isdigit())


def auspost_bars(fcc: int, dpid: str, info: str = "", table: str | None = None) -> str:
    """The bar string, by zint where its input conventions can express the fields, else by the
    reference encoder (a customer information field shorter than the format holds)."""
    table = table or auspost.info_table(info)
    auspost.encode(fcc, dpid, info, table)  # the same validation and messages on every path
    if zint_accepts_auspost(fcc, info, table):
        return _encode(zint.Symbology.AUSPOST, dpid + info)
    return auspost.encode(fcc, dpid, info, table)


def japanpost_bars(postcode: str, address_number: str) -> str:
    """The bar string, by zint. zint refuses an address number longer than 13 characters instead of
    cutting it as the manual says, so it is given the part that fits; when a letter's control code
    falls on the 13th character (its digit cut), zint cannot express it and the reference encodes."""
    japanpost.characters(postcode, address_number)  # the same validation and messages on every path
    fitting, used = "", 0
    for ch in address_number:
        need = 2 if ch.isalpha() else 1
        if used + need > japanpost.ADDRESS_CHARS:
            if used < japanpost.ADDRESS_CHARS:
                return japanpost.encode(postcode, address_number)
            break
        fitting, used = fitting + ch, used + need
    return _encode(zint.Symbology.JAPANPOST, postcode.replace("-", "") + fitting)
