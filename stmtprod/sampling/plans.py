"""Single sampling plans by attributes, ANSI/ASQ Z1.4-2008 (MIL-STD-105E), from the tables.

``plan(lot_size, aql, level, severity)``:

1. Table I gives the sample size code letter for the lot size and inspection level.
2. Table II-A (normal), II-B (tightened) or II-C (reduced) gives, at that letter and AQL, either a
   plan (Ac, Re) or an arrow. An arrow is followed down (or up) the same AQL column of the same
   table to the first plan below (above) it, and the sample size is that of the row the plan is in
   (the "plan letter").
3. When that sample size equals or exceeds the lot size, every unit of the lot is inspected
   (``full_inspection``); the acceptance and rejection numbers are unchanged.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from stmtprod.sampling import tables

SEVERITIES: tuple[str, ...] = ("normal", "tightened", "reduced")

_TABLE_NAMES = {"normal": "II-A", "tightened": "II-B", "reduced": "II-C"}


@dataclass(frozen=True)
class Plan:
    """One single sampling plan, as read from the tables for one lot."""

    lot_size: int
    aql: float
    aql_label: str
    level: str
    severity: str
    code_letter: str  # from Table I
    plan_letter: str  # the row of the plan, after following arrows
    sample_size: int  # n of the table for plan_letter
    accept: int  # Ac
    reject: int  # Re
    full_inspection: bool  # sample_size >= lot_size: inspect the whole lot
    effective_sample_size: int  # units actually inspected: min(sample_size, lot_size)
    table: str  # "II-A", "II-B" or "II-C"

    def accepts(self, defects: int) -> bool:
        """Whether a lot with ``defects`` nonconforming units (or nonconformities) in its sample
        is accepted.

        Normal and tightened plans have Re = Ac + 1. Reduced plans may have a gap (Re > Ac + 1):
        a count strictly between Ac and Re still accepts the lot (Z1.4 8.3.4; the switching rules
        then reinstate normal inspection), only Re or more rejects it.
        """
        if defects < 0:
            raise ValueError(f"defects must be >= 0, got {defects}")
        return defects < self.reject

    def in_gap(self, defects: int) -> bool:
        """Ac < defects < Re: accepted, but normal inspection must be reinstated (reduced plans)."""
        return self.accept < defects < self.reject

    def as_dict(self) -> dict:
        return asdict(self)


def normalize_aql(aql: float | str) -> float:
    """The AQL column for ``aql`` (a number or a label such as "0.65", "1", "1.0", "10").

    Raises ValueError, listing the valid AQLs, when it is not a column of the tables.
    """
    try:
        value = float(aql)
    except (TypeError, ValueError):
        value = math.nan
    for column in tables.AQLS:
        if math.isclose(value, column, rel_tol=1e-9, abs_tol=1e-12):
            return column
    raise ValueError(f"unknown AQL {aql!r}; valid AQLs: {', '.join(tables.AQL_LABELS)}")


def aql_label(aql: float | str) -> str:
    return tables.AQL_LABELS[tables.AQLS.index(normalize_aql(aql))]


def normalize_level(level: str) -> str:
    """``level`` as Table I names it ("S-1".."S-4", "I", "II", "III"); accepts "s3", "S3", "ii"."""
    text = str(level).strip().upper().replace(" ", "")
    if text.startswith("S") and not text.startswith("S-"):
        text = "S-" + text[1:]
    text = {"1": "I", "2": "II", "3": "III", "G1": "I", "G2": "II", "G3": "III"}.get(text, text)
    if text not in tables.LEVELS:
        raise ValueError(f"unknown inspection level {level!r}; valid levels: {', '.join(tables.LEVELS)}")
    return text


def normalize_severity(severity: str) -> str:
    text = str(severity).strip().lower()
    if text not in SEVERITIES:
        raise ValueError(f"unknown severity {severity!r}; valid: {', '.join(SEVERITIES)}")
    return text


def code_letter(lot_size: int, level: str = "II") -> str:
    """Table I: the sample size code letter for a lot size and inspection level.

    A lot of 1 unit is read in the first range (2 to 8); it is inspected in full anyway.
    """
    if isinstance(lot_size, bool) or not isinstance(lot_size, int):
        raise ValueError(f"lot size must be an integer, got {lot_size!r}")
    if lot_size < 1:
        raise ValueError(f"lot size must be at least 1, got {lot_size}")
    level = normalize_level(level)
    for low, high, letters in tables.CODE_LETTERS:
        if high is None or lot_size <= high:
            return letters[level]
    raise AssertionError("Table I has an open last range")  # pragma: no cover


def resolve(letter: str, aql: float | str, severity: str = "normal") -> tuple[str, int, int, int]:
    """Follows the arrows of one table from ``letter`` in the ``aql`` column.

    Returns (plan letter, n, Ac, Re).
    """
    severity = normalize_severity(severity)
    column = normalize_aql(aql)
    table = tables.TABLES[severity]
    rows = list(table)
    if letter not in table:
        raise ValueError(f"unknown code letter {letter!r} for Table {_TABLE_NAMES[severity]}")
    index = rows.index(letter)
    direction = None
    while True:
        cell = table[rows[index]][column]
        if isinstance(cell, tuple):
            ac, re_ = cell
            return rows[index], tables.SAMPLE_SIZES[severity][rows[index]], ac, re_
        if cell is None:
            # Blank cells (row S of II-B) are never reached from Table I or by an arrow.
            raise AssertionError(f"Table {_TABLE_NAMES[severity]} {rows[index]}/{column}: blank cell reached")
        if direction is None:
            direction = cell
        # Once moving, keep the first arrow's direction: "the first sampling plan below (above)".
        index += 1 if direction == tables.DOWN else -1
        if not 0 <= index < len(rows):
            raise AssertionError(f"Table {_TABLE_NAMES[severity]}: arrow from {letter}/{column} leads off the table")


def plan(lot_size: int, aql: float | str, level: str = "II", severity: str = "normal") -> Plan:
    """The single sampling plan for one lot: Table I, then Table II-A/B/C with arrows followed."""
    severity = normalize_severity(severity)
    level = normalize_level(level)
    column = normalize_aql(aql)
    letter = code_letter(lot_size, level)
    plan_letter, n, ac, re_ = resolve(letter, column, severity)
    return Plan(
        lot_size=lot_size,
        aql=column,
        aql_label=aql_label(column),
        level=level,
        severity=severity,
        code_letter=letter,
        plan_letter=plan_letter,
        sample_size=n,
        accept=ac,
        reject=re_,
        full_inspection=n >= lot_size,
        effective_sample_size=min(n, lot_size),
        table=_TABLE_NAMES[severity],
    )
