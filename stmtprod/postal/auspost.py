"""Australia Post 4-state customer barcode, from the Customer Barcoding Technical Specifications.

A symbol is: start bars, the format control code (FCC), the DPID, the customer information field
(FCC 59 and 62), filler, four Reed-Solomon parity symbols over GF(64), stop bars. Each bar has a
value 0-3 (full, ascender, descender, tracker). This module is the reference encoder and the
decoder of a bar string; production encodes with zint (stmtprod.postal.zintcode) and the tests hold
the two against each other and against the printing guide's worked examples.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

BAR_LETTERS = "FADT"  # bar value 0 full, 1 ascender, 2 descender, 3 tracker
START = "AT"
STOP = "AT"
FORMATS = {11: 37, 59: 52, 62: 67}  # FCC -> bars in the symbol
INFO_BARS = {11: 0, 59: 16, 62: 31}
PARITY_SYMBOLS = 4

# Table N: a digit is two bars (the digit in base 3 over values 0-2, nine as 3 0).
N_TABLE = {str(d): (d // 3, d % 3) if d < 9 else (3, 0) for d in range(10)}
# Table C: a character is three bars. Capitals count in base 3 (A = 000 .. Z = 221), the digits
# follow (0 = 222, then 1-9 = 300 .. 322), lower case and space/# use the codes that hold a 3.
_C_ORDER = ("ABCDEFGHIJKLMNOPQRSTUVWXYZ" "0123456789"
            "abcdefghijklmnopqrstuvwxyz" " #")
_C_CODES = ([f"{i // 9}{i // 3 % 3}{i % 3}" for i in range(27)]
            + [f"3{i // 3}{i % 3}" for i in range(9)]
            + ["023", "030", "031", "032", "033", "103", "113", "123", "130", "131", "132", "133", "203",
               "213", "223", "230", "231", "232", "233", "303", "313", "323", "330", "331", "332", "333",
               "003", "013"])
C_TABLE = {ch: tuple(int(v) for v in code) for ch, code in zip(_C_ORDER, _C_CODES)}

Table = Literal["N", "C"]


class AusPostError(ValueError):
    """Input that cannot be encoded, or a bar string that does not decode."""


# GF(64) with the primitive polynomial x^6 + x + 1.
_EXP = [0] * 126
_LOG = [0] * 64
_v = 1
for _i in range(63):
    _EXP[_i] = _EXP[_i + 63] = _v
    _LOG[_v] = _i
    _v <<= 1
    if _v & 0x40:
        _v ^= 0x43


def _mul(a: int, b: int) -> int:
    return 0 if a == 0 or b == 0 else _EXP[_LOG[a] + _LOG[b]]


def _generator() -> list[int]:
    """(x - a^1)(x - a^2)(x - a^3)(x - a^4), highest power first."""
    poly = [1]
    for root in range(1, PARITY_SYMBOLS + 1):
        nxt = poly + [0]
        for i, c in enumerate(poly):
            nxt[i + 1] ^= _mul(c, _EXP[root])
        poly = nxt
    return poly


_GEN = _generator()


def parity(symbols: list[int]) -> list[int]:
    """The four parity symbols of a message of GF(64) symbols (first symbol = highest power)."""
    rem = [0] * PARITY_SYMBOLS
    for s in symbols:
        factor = s ^ rem[0]
        rem = rem[1:] + [0]
        for i in range(PARITY_SYMBOLS):
            rem[i] ^= _mul(factor, _GEN[i + 1])
    return rem


def _triples(values: list[int]) -> list[int]:
    return [values[i] * 16 + values[i + 1] * 4 + values[i + 2] for i in range(0, len(values), 3)]


def _bars(values) -> str:
    return "".join(BAR_LETTERS[v] for v in values)


def info_table(info: str) -> Table:
    """The table a customer information field is written in: N for digits only, else C."""
    return "N" if info.isdigit() else "C"


def encode(fcc: int, dpid: str, info: str = "", table: Table | None = None) -> str:
    """The bar string for FCC 11, 59 or 62, a DPID of 8 digits and optional customer information."""
    if fcc not in FORMATS:
        raise AusPostError(f"FCC {fcc} is not one of 11, 59, 62")
    if not re.fullmatch(r"[0-9]{8}", dpid):
        raise AusPostError("DPID must be exactly 8 digits")
    if info and fcc == 11:
        raise AusPostError("FCC 11 carries no customer information (use 59 or 62)")
    table = table or info_table(info)
    source = N_TABLE if table == "N" else C_TABLE
    bad = sorted({ch for ch in info if ch not in source})
    if bad:
        raise AusPostError(f"customer information has characters table {table} cannot encode: {''.join(bad)!r}")
    values: list[int] = []
    for ch in f"{fcc:02d}{dpid}":
        values += N_TABLE[ch]
    info_values = [v for ch in info for v in source[ch]]
    if len(info_values) > INFO_BARS[fcc]:
        raise AusPostError(f"customer information too long for FCC {fcc}: {len(info_values)} bars > {INFO_BARS[fcc]}")
    values += info_values
    data_bars = FORMATS[fcc] - len(START) - len(STOP) - 3 * PARITY_SYMBOLS
    values += [3] * (data_bars - len(values))
    check = parity(_triples(values))
    values += [b for s in check for b in (s // 16, s // 4 % 4, s % 4)]
    return START + _bars(values) + STOP


@dataclass(frozen=True)
class Decoded:
    fcc: int
    dpid: str
    info: str
    table: Table | None
    bars: str


def decode(bars: str, table: Table | None = None) -> Decoded:
    """The fields of a bar string; checks start, stop, length and the Reed-Solomon parity.

    The customer information's table is not in the symbol; without ``table`` it is read as N when
    that gives only digits and filler, else as C. Table C's "z" is three trackers, like filler, so
    a trailing "z" cannot be read back (a limit of the symbology, not of this reader).
    """
    if any(ch not in BAR_LETTERS for ch in bars):
        raise AusPostError("bar string holds letters other than F A D T")
    fcc_for_length = {n: fcc for fcc, n in FORMATS.items()}
    if len(bars) not in fcc_for_length:
        raise AusPostError(f"{len(bars)} bars is not a customer barcode length (37, 52, 67)")
    if not (bars.startswith(START) and bars.endswith(STOP)):
        raise AusPostError("start or stop bars missing")
    values = [BAR_LETTERS.index(ch) for ch in bars[len(START):-len(STOP)]]
    data, check = values[:-3 * PARITY_SYMBOLS], values[-3 * PARITY_SYMBOLS:]
    if parity(_triples(data)) != _triples(check):
        raise AusPostError("Reed-Solomon parity does not match")
    digits = _read_n(data[:20])
    if digits is None:
        raise AusPostError("FCC or DPID bars are not table N digits")
    fcc = int(digits[:2])
    if FORMATS.get(fcc) != len(bars):
        raise AusPostError(f"FCC {fcc} does not match a {len(bars)}-bar symbol")
    info_values = data[20:20 + INFO_BARS[fcc]]
    info, used = _read_info(info_values, table)
    return Decoded(fcc=fcc, dpid=digits[2:], info=info, table=used, bars=bars)


def _read_n(values: list[int]) -> str | None:
    back = {v: k for k, v in N_TABLE.items()}
    out = []
    for i in range(0, len(values), 2):
        pair = tuple(values[i:i + 2])
        if pair not in back:
            return None
        out.append(back[pair])
    return "".join(out)


def _read_info(values: list[int], table: Table | None) -> tuple[str, Table | None]:
    if not values or all(v == 3 for v in values):
        return "", None
    order = [table] if table else ["N", "C"]
    for tab in order:
        width = 2 if tab == "N" else 3
        source = N_TABLE if tab == "N" else C_TABLE
        back = {v: k for k, v in source.items()}
        out = []
        i = 0
        while i + width <= len(values):
            chunk = tuple(values[i:i + width])
            if all(v == 3 for v in values[i:]):
                break
            if chunk not in back:
                out = None
                break
            out.append(back[chunk])
            i += width
        if out is not None and all(v == 3 for v in values[i:]):
            return "".join(out), tab
    raise AusPostError("customer information bars are not table N or C characters")
