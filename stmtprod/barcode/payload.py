"""The sheet barcode payload: the one place that defines, builds and parses it.

Fixed width, 23 characters from `[0-9A-Z]` (Code 128 set B/C friendly, no
personal data, never a card number). Positions are 0-based and inclusive:

| Field    | Positions | Width | Content                                                          |
|----------|-----------|-------|------------------------------------------------------------------|
| version  | 0         | 1     | payload layout version, `1`                                      |
| region   | 1-2       | 2     | one of `AU NZ JP MY ID SG HK`                                    |
| run_tag  | 3-8       | 6     | `XXXXXX` part of the run id `YYYYMMDD-XXXXXX`, `[0-9A-Z]` (*)    |
| sequence | 9-15      | 7     | piece sequence in the run, zero-padded, 1..9999999               |
| sheet    | 16-17     | 2     | sheet number within the piece, zero-padded, 1..99                |
| sheets   | 18-19     | 2     | sheets in the piece, zero-padded, 1..99, sheet <= sheets         |
| hoppers  | 20-21     | 2     | insert bitmap, uppercase hex; bit (h-1) set = pull hopper h, 1..8 |
| check    | 22        | 1     | ISO/IEC 7064 MOD 37,36 check character over positions 0-21       |

Example: `1AUAB12CD00000420102053` = version 1, region AU, run tag AB12CD
(run `20240131-AB12CD`), piece 42, sheet 1 of 2, hoppers {1, 3} (bitmap 05),
check character `3`.

(*) A reprint child `YYYYMMDD-XXXXXX-R<k>` has a tag of its own, derived from its whole run id
(`run_tag`) and never its parent's, so an original and its reprint can never both pass as valid.

Any other version, or any change to the layout, bumps `PAYLOAD_VERSION`.
"""

from __future__ import annotations

import hashlib
import re
import string
from dataclasses import dataclass

from stmtprod.regions import REGIONS as ALL_REGIONS

PAYLOAD_VERSION = "1"
PAYLOAD_LENGTH = 23
ALPHABET = string.digits + string.ascii_uppercase
REGIONS = frozenset(ALL_REGIONS)
MAX_HOPPER = 8

# (name, start, end) with Python slice semantics (end exclusive); the builder,
# the parser and the docs all read this one table.
FIELDS: tuple[tuple[str, int, int], ...] = (
    ("version", 0, 1),
    ("region", 1, 3),
    ("run_tag", 3, 9),
    ("sequence", 9, 16),
    ("sheet", 16, 18),
    ("sheets", 18, 20),
    ("hoppers", 20, 22),
    ("check", 22, 23),
)
_SPAN = {name: (start, end) for name, start, end in FIELDS}
assert FIELDS[-1][2] == PAYLOAD_LENGTH

_RUN_ID = re.compile(r"[0-9]{8}-([0-9A-Z]{6})(-R[0-9]{1,3})?")  # ASCII only, used with fullmatch
_TAG = re.compile(r"[0-9A-Z]{6}")
_HEX = frozenset("0123456789ABCDEF")
_CHARS = re.compile(f"[{ALPHABET}]*")  # with fullmatch: every character in the alphabet


# ISO/IEC 7064 MOD 37,36 as a table: from each running check value (0..35), the next for each
# character; the same arithmetic as python-stdnum's `mod_37_36`, without its per-character
# `str.index` (the inserter and the verification parse every sheet's payload).
_STEP = tuple({ch: (((check or 36) * 2) % 37 + value) % 36 for value, ch in enumerate(ALPHABET)}
              for check in range(36))


def check_character(body: str) -> str:
    """The MOD 37,36 check character of `body` (characters of `ALPHABET`)."""
    return _closing(_running(18, body))


def _running(check: int, text: str) -> int:
    """The check's running value after `text`, from `check` (18 before the first character)."""
    for ch in text:
        check = _STEP[check][ch]
    return check


def _closing(check: int) -> str:
    """The check character that ends a body whose running value is `check`."""
    return ALPHABET[(1 - ((check or 36) * 2) % 37) % 36]


class PayloadError(ValueError):
    """A payload (or a value destined for one) is malformed; the message says where."""


def _where(name: str) -> str:
    start, end = _SPAN[name]
    pos = str(start) if end - start == 1 else f"{start}-{end - 1}"
    return f"{name} (pos {pos})"


def run_tag(run_id: str) -> str:
    """The 6-char tag of a run id ``YYYYMMDD-XXXXXX``; only the tag fits the payload.

    A reprint child ``YYYYMMDD-XXXXXX-R<k>`` gets a tag derived from its whole id (SHA-256, base 36),
    never equal to its root's: its sheets can never pass as the original's."""
    m = _RUN_ID.fullmatch(run_id) if isinstance(run_id, str) else None
    if not m:
        raise PayloadError(f"run id {run_id!r} does not match YYYYMMDD-XXXXXX ([0-9A-Z] tag), optionally -R<k>")
    if m.group(2) is None:
        return m.group(1)
    for salt in range(100):
        number = int.from_bytes(hashlib.sha256(f"{run_id}#{salt}".encode()).digest()[:8], "big")
        tag = "".join(ALPHABET[(number // 36 ** i) % 36] for i in range(6))
        if tag != m.group(1):
            return tag
    raise PayloadError(f"no tag for {run_id}")  # unreachable: 100 hashes equal to one tag


@dataclass(frozen=True)
class Payload:
    """Decoded payload; validated on construction so built and parsed values obey the same rules."""

    version: str
    region: str
    run_tag: str
    sequence: int
    sheet: int
    sheets: int
    hoppers: frozenset[int]

    def __post_init__(self) -> None:
        object.__setattr__(self, "hoppers", frozenset(self.hoppers))
        if self.version != PAYLOAD_VERSION:
            raise PayloadError(f"{_where('version')}: unknown version {self.version!r}, expected {PAYLOAD_VERSION!r}")
        if self.region not in REGIONS:
            raise PayloadError(f"{_where('region')}: unknown region {self.region!r}, expected one of {sorted(REGIONS)}")
        if not isinstance(self.run_tag, str) or not _TAG.fullmatch(self.run_tag):
            raise PayloadError(f"{_where('run_tag')}: {self.run_tag!r} is not 6 chars of [0-9A-Z]")
        for name, hi in (("sequence", 9_999_999), ("sheet", 99), ("sheets", 99)):
            value = getattr(self, name)
            if type(value) is not int or not 1 <= value <= hi:
                raise PayloadError(f"{_where(name)}: {value!r} out of range 1..{hi}")
        if self.sheet > self.sheets:
            raise PayloadError(f"{_where('sheet')}: sheet {self.sheet} > sheets {self.sheets}")
        bad = sorted(h for h in self.hoppers if type(h) is not int or not 1 <= h <= MAX_HOPPER)
        if bad:
            raise PayloadError(f"{_where('hoppers')}: hopper(s) {bad} outside 1..{MAX_HOPPER}")

    @classmethod
    def proven(cls, region: str, run_tag: str, sequence: int, sheet: int, sheets: int,
               hoppers: frozenset[int]) -> Payload:
        """A payload of this version whose fields `parse` has proven valid, made without checking them again."""
        payload = object.__new__(cls)
        payload.__dict__.update(version=PAYLOAD_VERSION, region=region, run_tag=run_tag, sequence=sequence,
                                sheet=sheet, sheets=sheets, hoppers=hoppers)
        return payload

    @staticmethod
    def hoppers_from_bitmap(bitmap: int) -> frozenset[int]:
        """Hopper numbers from the bitmap; bit (h-1) is hopper h."""
        if bitmap < 0 or bitmap >> MAX_HOPPER:
            raise PayloadError(f"{_where('hoppers')}: bitmap {bitmap:#x} uses a hopper > {MAX_HOPPER}")
        return frozenset(h for h in range(1, MAX_HOPPER + 1) if bitmap >> (h - 1) & 1)

    @property
    def bitmap(self) -> int:
        return sum(1 << (h - 1) for h in self.hoppers)

    def encode(self) -> str:
        """The full 23-char payload, check character included."""
        texts = {
            "version": self.version,
            "region": self.region,
            "run_tag": self.run_tag,
            "sequence": f"{self.sequence:07d}",
            "sheet": f"{self.sheet:02d}",
            "sheets": f"{self.sheets:02d}",
            "hoppers": f"{self.bitmap:02X}",
        }
        body = "".join(texts[name] for name, _, _ in FIELDS[:-1])
        for name, start, end in FIELDS[:-1]:  # guard: every field exactly fills its span
            assert len(texts[name]) == end - start, name
        return body + check_character(body)


def build(region: str, run_id: str, sequence: int, sheet: int, sheets: int, hoppers) -> str:
    """Payload text for one sheet of one piece of run ``run_id``."""
    return Payload(PAYLOAD_VERSION, region, run_tag(run_id), sequence, sheet, sheets, frozenset(hoppers)).encode()


def build_piece(region: str, run_id: str, sequence: int, sheets: int, hoppers) -> list[str]:
    """`build` of each sheet 1..sheets of one piece, its fields validated once (sheet 1's `Payload`:
    every later sheet differs only in a number the range already bounds). The sheets share all but
    six characters, so the check's running value over the rest is taken once: half the time of
    building each sheet's payload afresh (about 0.6% of a statement's render time)."""
    first = Payload(PAYLOAD_VERSION, region, run_tag(run_id), sequence, 1, sheets, frozenset(hoppers))
    head = f"{PAYLOAD_VERSION}{region}{first.run_tag}{sequence:07d}"
    tail = f"{sheets:02d}{first.bitmap:02X}"
    running = _running(18, head)
    bodies = [f"{head}{sheet:02d}{tail}" for sheet in range(1, sheets + 1)]
    return [body + _closing(_running(running, body[len(head):])) for body in bodies]


# A payload as the builder writes it: the version, a known region, the tag, 7 + 2 + 2 digits, 2 hex digits and
# a character of the alphabet (ASCII only, as `[0-9]` is).
_WELL_FORMED = re.compile(f"{PAYLOAD_VERSION}({'|'.join(sorted(REGIONS))})([0-9A-Z]{{6}})([0-9]{{7}})([0-9]{{2}})"
                          f"([0-9]{{2}})([0-9A-F]{{2}})[{ALPHABET}]")
_HOPPER_SETS = tuple(frozenset(h for h in range(1, MAX_HOPPER + 1) if bitmap >> (h - 1) & 1)
                     for bitmap in range(min(256, 1 << MAX_HOPPER)))


def parse(text: str) -> Payload:
    """Parse and fully validate a payload, raising PayloadError with the first precise reason.

    Every sheet of the night is parsed (verification, the inserter), so a payload as the builder writes
    it is taken in one match: well formed, its check character right and its numbers in range, it is
    the payload the field-by-field parse (`parse_each_field`) gives, made without checking it again;
    anything else goes to that parse, for its first precise reason."""
    m = _WELL_FORMED.fullmatch(text) if type(text) is str else None
    if m is not None and check_character(text[:-1]) == text[-1]:
        region, tag, sequence, sheet, sheets, bitmap = m.groups()
        sequence, sheet, sheets, bitmap = int(sequence), int(sheet), int(sheets), int(bitmap, 16)
        if sequence and 0 < sheet <= sheets and bitmap < len(_HOPPER_SETS):
            return Payload.proven(region, tag, sequence, sheet, sheets, _HOPPER_SETS[bitmap])
    return parse_each_field(text)


def parse_each_field(text: str) -> Payload:
    """`parse`, field by field: each check in turn, the first failing one raising its reason."""
    if not isinstance(text, str) or len(text) != PAYLOAD_LENGTH:
        n = len(text) if isinstance(text, str) else type(text).__name__
        raise PayloadError(f"wrong length: {n}, expected {PAYLOAD_LENGTH}")
    if not _CHARS.fullmatch(text):  # then find the first character outside the alphabet
        for i, ch in enumerate(text):
            if ch not in ALPHABET:
                field = next(name for name, start, end in FIELDS if start <= i < end)
                raise PayloadError(f"bad char {ch!r} at position {i} in {_where(field)}")
    f = {name: text[start:end] for name, start, end in FIELDS}
    if f["version"] != PAYLOAD_VERSION:  # the version decides the layout, so check it first
        raise PayloadError(f"{_where('version')}: unknown version {f['version']!r}, expected {PAYLOAD_VERSION!r}")
    expected = check_character(text[:-1])
    if f["check"] != expected:
        raise PayloadError(f"{_where('check')}: bad check character: expected {expected} found {f['check']}")
    for name in ("sequence", "sheet", "sheets"):
        if not f[name].isdigit():
            i = _SPAN[name][0] + next(k for k, c in enumerate(f[name]) if not c.isdigit())
            raise PayloadError(f"bad char {text[i]!r} at position {i} in {_where(name)}: digits only")
    for k, c in enumerate(f["hoppers"]):
        if c not in _HEX:
            i = _SPAN["hoppers"][0] + k
            raise PayloadError(f"bad char {c!r} at position {i} in {_where('hoppers')}: hex 0-9A-F only")
    return Payload(
        version=f["version"],
        region=f["region"],
        run_tag=f["run_tag"],
        sequence=int(f["sequence"]),
        sheet=int(f["sheet"]),
        sheets=int(f["sheets"]),
        hoppers=Payload.hoppers_from_bitmap(int(f["hoppers"], 16)),
    )
