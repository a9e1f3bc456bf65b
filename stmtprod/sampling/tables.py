"""ANSI/ASQ Z1.4-2008 (= MIL-STD-105E) single sampling by attributes: the tables, as data.

Transcribed from the published tables; nothing here is computed from a formula.

Sources (the same tables are printed in all of them; ISO 2859-1 Tables 1, 2-A, 2-B, 2-C and
ANSI/ASQ Z1.4-2008 Tables I, II-A, II-B, II-C carry the same single sampling plans as MIL-STD-105E):

* MIL-STD-105E, "Sampling procedures and tables for inspection by attributes", US Department of
  Defense, 10 May 1989 (public domain; scans at archive.org "MIL-STD-105E_1" and the "MIL-STD-105E
  legible copy"): Table I, Tables II-A, II-B and II-C.
* J. S. Lawson, R package AQLSchemes 1.7-2 (CRAN), function AAZ14Single: the three single-sampling
  master tables with every arrow already followed (n, Ac, Re for each letter and AQL). Every cell
  below, once its arrows are followed, gives the same n, Ac and Re as that package (checked cell by
  cell for all 3 x 16 x 26 combinations when this file was written).
* Table I and Table II-A cross-checked against the "AQL Sampling Chart" (ANSI/ASQC Z1.4 /
  MIL-STD-105E / ISO 2859 / BS 6001) and a text transcription of MIL-STD-105E Table II-A (the
  "legible copy" pages reproduced as "Tablas"): the plans of each row, in order, agree.
* Tables II-A and II-B, columns 0.65 to 15, letters A to Q, cross-checked against the NIBS FMOC
  "AC-TABLE" Tables 1-A and 1-B (built from MIL-STD-105E Tables II-A and II-B).
* Worked examples used in tests/test_sampling.py: D. C. Montgomery, Introduction to Statistical
  Quality Control (lot 2000, AQL 0.65%: K; normal 125 2/3, tightened 125 1/2, reduced 50 1/3) and
  Jenkins, Peck & Fernando (2023, PLOS ONE figure data, ISO 2859-1:1999 plans for lots of
  35,001-500,000 at levels S-3 and S-4).

Cell notation in the rows below, one token per AQL column:
``Ac/Re`` a plan; ``v`` "use the first sampling plan below the arrow"; ``^`` "use the first sampling
plan above the arrow" (in the same column of the same table; the sample size is then that of the
row the plan is in); ``.`` a blank cell (only in row S of Table II-B, which exists for the one plan
reached by the arrows of the 0.025 column).

Cells transcribed with less certainty:
* II-A row A, AQL 10: a down arrow (to C, n=5, 1/2). One derived table (NIBS) prints an up arrow
  there, which cannot be followed from the first row; AQLSchemes resolves it downwards.
* II-C rows A, B and C all have n=2, so the resolved values cannot show whether a cell of those rows
  is a plan or an arrow to a neighbour with the same n. They are laid out like Table II-A (arrow
  where II-A has one). Row B's plans 2/4 (AQL 40) and 3/5 (AQL 65), and its values at AQL 100 and
  above (equal to row A's, written as up arrows) are from AQLSchemes alone.
"""
from __future__ import annotations

# The AQL columns, in percent nonconforming (up to 10) or nonconformities per 100 units.
AQLS: tuple[float, ...] = (
    0.010, 0.015, 0.025, 0.040, 0.065, 0.10, 0.15, 0.25, 0.40, 0.65, 1.0, 1.5, 2.5, 4.0, 6.5,
    10, 15, 25, 40, 65, 100, 150, 250, 400, 650, 1000,
)
# How the standard prints each column heading.
AQL_LABELS: tuple[str, ...] = (
    "0.010", "0.015", "0.025", "0.040", "0.065", "0.10", "0.15", "0.25", "0.40", "0.65", "1.0",
    "1.5", "2.5", "4.0", "6.5", "10", "15", "25", "40", "65", "100", "150", "250", "400", "650",
    "1000",
)

LEVELS: tuple[str, ...] = ("S-1", "S-2", "S-3", "S-4", "I", "II", "III")

# Table I - Sample size code letters: (smallest lot, largest lot or None) -> letter per level,
# in the order of LEVELS.
TABLE_I: tuple[tuple[int, int | None, str], ...] = (
    #  lot size          S-1 S-2 S-3 S-4  I  II III
    (2, 8,               "A   A   A   A   A  A  B"),
    (9, 15,              "A   A   A   A   A  B  C"),
    (16, 25,             "A   A   B   B   B  C  D"),
    (26, 50,             "A   B   B   C   C  D  E"),
    (51, 90,             "B   B   C   C   C  E  F"),
    (91, 150,            "B   B   C   D   D  F  G"),
    (151, 280,           "B   C   D   E   E  G  H"),
    (281, 500,           "B   C   D   E   F  H  J"),
    (501, 1200,          "C   C   E   F   G  J  K"),
    (1201, 3200,         "C   D   E   G   H  K  L"),
    (3201, 10000,        "C   D   F   G   J  L  M"),
    (10001, 35000,       "C   D   F   H   K  M  N"),
    (35001, 150000,      "D   E   G   J   L  N  P"),
    (150001, 500000,     "D   E   G   J   M  P  Q"),
    (500001, None,       "D   E   H   K   N  Q  R"),
)

# Table I read into (smallest lot, largest lot or None, {level: letter}).
CODE_LETTERS: tuple[tuple[int, int | None, dict[str, str]], ...] = tuple(
    (low, high, dict(zip(LEVELS, letters.split()))) for low, high, letters in TABLE_I
)

LETTERS: tuple[str, ...] = tuple("ABCDEFGHJKLMNPQR")

# Sample size of each code letter, per table (the "Sample size" column of II-A, II-B, II-C).
SAMPLE_SIZES: dict[str, dict[str, int]] = {
    "normal": dict(zip(LETTERS, (2, 3, 5, 8, 13, 20, 32, 50, 80, 125, 200, 315, 500, 800, 1250, 2000))),
    "tightened": dict(zip(LETTERS + ("S",),
                          (2, 3, 5, 8, 13, 20, 32, 50, 80, 125, 200, 315, 500, 800, 1250, 2000, 3150))),
    "reduced": dict(zip(LETTERS, (2, 2, 2, 3, 5, 8, 13, 20, 32, 50, 80, 125, 200, 315, 500, 800))),
}

DOWN = "down"
UP = "up"


def _rows(severity: str, *rows: str) -> dict[str, dict[float, tuple[int, int] | str | None]]:
    """Reads the rows as printed below into {letter: {aql: (Ac, Re) | "down" | "up" | None}}."""
    table: dict[str, dict[float, tuple[int, int] | str | None]] = {}
    for row in rows:
        letter, n, *cells = row.split()
        if int(n) != SAMPLE_SIZES[severity][letter]:
            raise AssertionError(f"{severity} row {letter}: n={n}, expected {SAMPLE_SIZES[severity][letter]}")
        if len(cells) != len(AQLS):
            raise AssertionError(f"row {letter}: {len(cells)} cells for {len(AQLS)} AQL columns")
        parsed: dict[float, tuple[int, int] | str | None] = {}
        for aql, cell in zip(AQLS, cells):
            if cell == "v":
                parsed[aql] = DOWN
            elif cell == "^":
                parsed[aql] = UP
            elif cell == ".":
                parsed[aql] = None
            else:
                ac, re_ = cell.split("/")
                parsed[aql] = (int(ac), int(re_))
        table[letter] = parsed
    return table


# Table II-A - Single sampling plans for normal inspection (master table).
# Table II-B - Single sampling plans for tightened inspection (master table); row S only in II-B.
# Table II-C - Single sampling plans for reduced inspection (master table); Re may exceed Ac + 1:
#              a lot with Ac < d < Re is accepted, but normal inspection is reinstated.
TABLE_II_A = _rows(
    "normal",
    #      n  0.010 0.015 0.025 0.040 0.065  0.10  0.15  0.25  0.40  0.65   1.0   1.5   2.5   4.0   6.5    10    15    25    40    65   100   150   250   400   650  1000
    "A     2       v     v     v     v     v     v     v     v     v     v     v     v     v     v   0/1     v     v   1/2   2/3   3/4   5/6   7/8 10/11 14/15 21/22 30/31",
    "B     3       v     v     v     v     v     v     v     v     v     v     v     v     v   0/1     ^     v   1/2   2/3   3/4   5/6   7/8 10/11 14/15 21/22 30/31 44/45",
    "C     5       v     v     v     v     v     v     v     v     v     v     v     v   0/1     ^     v   1/2   2/3   3/4   5/6   7/8 10/11 14/15 21/22 30/31 44/45     ^",
    "D     8       v     v     v     v     v     v     v     v     v     v     v   0/1     ^     v   1/2   2/3   3/4   5/6   7/8 10/11 14/15 21/22 30/31 44/45     ^     ^",
    "E    13       v     v     v     v     v     v     v     v     v     v   0/1     ^     v   1/2   2/3   3/4   5/6   7/8 10/11 14/15 21/22 30/31 44/45     ^     ^     ^",
    "F    20       v     v     v     v     v     v     v     v     v   0/1     ^     v   1/2   2/3   3/4   5/6   7/8 10/11 14/15 21/22     ^     ^     ^     ^     ^     ^",
    "G    32       v     v     v     v     v     v     v     v   0/1     ^     v   1/2   2/3   3/4   5/6   7/8 10/11 14/15 21/22     ^     ^     ^     ^     ^     ^     ^",
    "H    50       v     v     v     v     v     v     v   0/1     ^     v   1/2   2/3   3/4   5/6   7/8 10/11 14/15 21/22     ^     ^     ^     ^     ^     ^     ^     ^",
    "J    80       v     v     v     v     v     v   0/1     ^     v   1/2   2/3   3/4   5/6   7/8 10/11 14/15 21/22     ^     ^     ^     ^     ^     ^     ^     ^     ^",
    "K   125       v     v     v     v     v   0/1     ^     v   1/2   2/3   3/4   5/6   7/8 10/11 14/15 21/22     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^",
    "L   200       v     v     v     v   0/1     ^     v   1/2   2/3   3/4   5/6   7/8 10/11 14/15 21/22     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^",
    "M   315       v     v     v   0/1     ^     v   1/2   2/3   3/4   5/6   7/8 10/11 14/15 21/22     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^",
    "N   500       v     v   0/1     ^     v   1/2   2/3   3/4   5/6   7/8 10/11 14/15 21/22     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^",
    "P   800       v   0/1     ^     v   1/2   2/3   3/4   5/6   7/8 10/11 14/15 21/22     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^",
    "Q  1250     0/1     ^     v   1/2   2/3   3/4   5/6   7/8 10/11 14/15 21/22     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^",
    "R  2000       ^     ^   1/2   2/3   3/4   5/6   7/8 10/11 14/15 21/22     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^",
)
TABLE_II_B = _rows(
    "tightened",
    #      n  0.010 0.015 0.025 0.040 0.065  0.10  0.15  0.25  0.40  0.65   1.0   1.5   2.5   4.0   6.5    10    15    25    40    65   100   150   250   400   650  1000
    "A     2       v     v     v     v     v     v     v     v     v     v     v     v     v     v     v     v     v     v   1/2   2/3   3/4   5/6   8/9 12/13 18/19 27/28",
    "B     3       v     v     v     v     v     v     v     v     v     v     v     v     v     v   0/1     v     v   1/2   2/3   3/4   5/6   8/9 12/13 18/19 27/28 41/42",
    "C     5       v     v     v     v     v     v     v     v     v     v     v     v     v   0/1     v     v   1/2   2/3   3/4   5/6   8/9 12/13 18/19 27/28 41/42     ^",
    "D     8       v     v     v     v     v     v     v     v     v     v     v     v   0/1     v     v   1/2   2/3   3/4   5/6   8/9 12/13 18/19 27/28 41/42     ^     ^",
    "E    13       v     v     v     v     v     v     v     v     v     v     v   0/1     v     v   1/2   2/3   3/4   5/6   8/9 12/13 18/19 27/28 41/42     ^     ^     ^",
    "F    20       v     v     v     v     v     v     v     v     v     v   0/1     v     v   1/2   2/3   3/4   5/6   8/9 12/13 18/19     ^     ^     ^     ^     ^     ^",
    "G    32       v     v     v     v     v     v     v     v     v   0/1     v     v   1/2   2/3   3/4   5/6   8/9 12/13 18/19     ^     ^     ^     ^     ^     ^     ^",
    "H    50       v     v     v     v     v     v     v     v   0/1     v     v   1/2   2/3   3/4   5/6   8/9 12/13 18/19     ^     ^     ^     ^     ^     ^     ^     ^",
    "J    80       v     v     v     v     v     v     v   0/1     v     v   1/2   2/3   3/4   5/6   8/9 12/13 18/19     ^     ^     ^     ^     ^     ^     ^     ^     ^",
    "K   125       v     v     v     v     v     v   0/1     v     v   1/2   2/3   3/4   5/6   8/9 12/13 18/19     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^",
    "L   200       v     v     v     v     v   0/1     v     v   1/2   2/3   3/4   5/6   8/9 12/13 18/19     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^",
    "M   315       v     v     v     v   0/1     v     v   1/2   2/3   3/4   5/6   8/9 12/13 18/19     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^",
    "N   500       v     v     v   0/1     v     v   1/2   2/3   3/4   5/6   8/9 12/13 18/19     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^",
    "P   800       v     v   0/1     v     v   1/2   2/3   3/4   5/6   8/9 12/13 18/19     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^",
    "Q  1250       v   0/1     v     v   1/2   2/3   3/4   5/6   8/9 12/13 18/19     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^",
    "R  2000     0/1     ^     v   1/2   2/3   3/4   5/6   8/9 12/13 18/19     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^",
    "S  3150       .     .   1/2     .     .     .     .     .     .     .     .     .     .     .     .     .     .     .     .     .     .     .     .     .     .     .",
)
TABLE_II_C = _rows(
    "reduced",
    #      n  0.010 0.015 0.025 0.040 0.065  0.10  0.15  0.25  0.40  0.65   1.0   1.5   2.5   4.0   6.5    10    15    25    40    65   100   150   250   400   650  1000
    "A     2       v     v     v     v     v     v     v     v     v     v     v     v     v     v   0/1     v     v   1/2   2/3   3/4   5/6   7/8 10/11 14/15 21/22 30/31",
    "B     2       v     v     v     v     v     v     v     v     v     v     v     v     v   0/1     ^     v   0/2   1/3   2/4   3/5     ^     ^     ^     ^     ^     ^",
    "C     2       v     v     v     v     v     v     v     v     v     v     v     v   0/1     ^     v   0/2   1/3   1/4   2/5   3/6   5/8  7/10 10/13 14/17 21/24     ^",
    "D     3       v     v     v     v     v     v     v     v     v     v     v   0/1     ^     v   0/2   1/3   1/4   2/5   3/6   5/8  7/10 10/13 14/17 21/24     ^     ^",
    "E     5       v     v     v     v     v     v     v     v     v     v   0/1     ^     v   0/2   1/3   1/4   2/5   3/6   5/8  7/10 10/13 14/17 21/24     ^     ^     ^",
    "F     8       v     v     v     v     v     v     v     v     v   0/1     ^     v   0/2   1/3   1/4   2/5   3/6   5/8  7/10 10/13     ^     ^     ^     ^     ^     ^",
    "G    13       v     v     v     v     v     v     v     v   0/1     ^     v   0/2   1/3   1/4   2/5   3/6   5/8  7/10 10/13     ^     ^     ^     ^     ^     ^     ^",
    "H    20       v     v     v     v     v     v     v   0/1     ^     v   0/2   1/3   1/4   2/5   3/6   5/8  7/10 10/13     ^     ^     ^     ^     ^     ^     ^     ^",
    "J    32       v     v     v     v     v     v   0/1     ^     v   0/2   1/3   1/4   2/5   3/6   5/8  7/10 10/13     ^     ^     ^     ^     ^     ^     ^     ^     ^",
    "K    50       v     v     v     v     v   0/1     ^     v   0/2   1/3   1/4   2/5   3/6   5/8  7/10 10/13     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^",
    "L    80       v     v     v     v   0/1     ^     v   0/2   1/3   1/4   2/5   3/6   5/8  7/10 10/13     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^",
    "M   125       v     v     v   0/1     ^     v   0/2   1/3   1/4   2/5   3/6   5/8  7/10 10/13     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^",
    "N   200       v     v   0/1     ^     v   0/2   1/3   1/4   2/5   3/6   5/8  7/10 10/13     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^",
    "P   315       v   0/1     ^     v   0/2   1/3   1/4   2/5   3/6   5/8  7/10 10/13     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^",
    "Q   500     0/1     ^     v   0/2   1/3   1/4   2/5   3/6   5/8  7/10 10/13     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^",
    "R   800       ^     ^   0/2   1/3   1/4   2/5   3/6   5/8  7/10 10/13     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^     ^",
)


TABLES: dict[str, dict[str, dict[float, tuple[int, int] | str | None]]] = {
    "normal": TABLE_II_A,
    "tightened": TABLE_II_B,
    "reduced": TABLE_II_C,
}
