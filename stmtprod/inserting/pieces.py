"""The mail pieces of a released (or about to be released) run folder, lot by lot, for either line.

Both lines write `manifest/*.jsonl` rows with sequence, region, sheets, hoppers, inserts and line
(the record's line in `work/accepted/<region>.jsonl`); the card line adds `lot`. The statement
line's envelope log and mailing manifest give weight and postage class; where a line writes neither
(cards today), they are computed from the catalog's inserter weights, as the simulated inserter does.
Challenge pieces (`challenge/manifest/*.jsonl`, issue 16) belong to their lot as planned diverts.
"""
from __future__ import annotations

import bisect
import json
import math
import os
from array import array
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Iterator

from stmtprod.catalog import Catalog
from stmtprod.fsutil import LineReader
from stmtprod.jsonrows import Fields
from stmtprod.layout import LayoutSet
from stmtprod.mailing import postage_class
from stmtprod.plan import SPILL_ADDRESSES, SPILL_LINE_CHUNK, spill_line
from stmtprod.render.formatting import address_lines


@dataclass(frozen=True)
class Piece:
    lot: str
    sequence: int
    region: str
    sheets: int
    hoppers: tuple[int, ...]
    payloads: tuple[str, ...]
    weight_g: float
    postage_class: str
    name: str
    divert: bool  # a planned divert: must not be mailed (pulled at inspection, or a challenge piece)

    def bins(self, hoppers: int) -> str:
        try:
            return _bins(self.hoppers, hoppers)
        except TypeError:  # a hopper that cannot be hashed (a damaged manifest row) is never fed either
            return _bins.__wrapped__(self.hoppers, hoppers)


@lru_cache(maxsize=4096)
def _bins(fed: tuple, hoppers: int) -> str:
    """Y or N for each hopper, hopper 1 first: made once per set of hoppers, not once a piece."""
    return "".join("Y" if h in fed else "N" for h in range(1, hoppers + 1))


@dataclass(frozen=True)
class Slot:
    """What reconciliation needs of a piece: its lot, sequence, whether it is a planned divert and
    whether that is because it is a challenge piece (else it was pulled at inspection)."""

    lot: str
    sequence: int
    divert: bool
    challenge: bool = False

    @property
    def divert_why(self) -> str:
        return "a challenge piece" if self.challenge else "pulled at inspection"


@dataclass(frozen=True)
class RunMap:
    """Every piece of a run as runs of consecutive sequences per lot, read from the manifests row by
    row: memory grows with the number of batches, not of pieces (reconciling 100,000 pieces holds a
    few ranges, not 100,000 objects)."""

    ranges: tuple[tuple[str, int, int], ...]  # (lot, first, last), in sequence order
    diverts: frozenset[int]
    challenges: frozenset[int] = frozenset()

    @classmethod
    def read(cls, folder: Path) -> "RunMap":
        """The run in `folder` (its `release/`): manifests (challenge pieces' too) and `pulled.jsonl`."""
        ranges: list[list] = []
        challenges = set()
        for m in manifests(Path(folder)):
            for r in _rows(m, _PLACE):
                lot, seq = r.get("lot") or r["region"], r["sequence"]
                if "planned_divert" in r:
                    challenges.add(seq)
                if ranges and ranges[-1][0] == lot and ranges[-1][2] == seq - 1:
                    ranges[-1][2] = seq
                else:
                    ranges.append([lot, seq, seq])
        ranges.sort(key=lambda x: x[1])
        return cls(tuple((lot, a, b) for lot, a, b in ranges), frozenset(pulled_sequences(Path(folder)) | challenges),
                   frozenset(challenges))

    @property
    def lots(self) -> dict[str, int]:
        """Pieces per lot, lots in the order of their first piece."""
        out: dict[str, int] = {}
        for lot, a, b in self.ranges:
            out[lot] = out.get(lot, 0) + b - a + 1
        return out

    @property
    def last(self) -> int:
        return max((b for _, _, b in self.ranges), default=0)

    def lot_of(self, sequence: int) -> str | None:
        at = bisect.bisect_right(self._firsts, sequence) - 1
        if at >= 0 and sequence <= self.ranges[at][2]:
            return self.ranges[at][0]
        return None

    def slot(self, sequence: int) -> Slot:
        return Slot(self.lot_of(sequence) or "", sequence, sequence in self.diverts, sequence in self.challenges)

    def sequences(self, lot: str) -> Iterator[int]:
        for name, a, b in self.ranges:
            if name == lot:
                yield from range(a, b + 1)

    @cached_property
    def _firsts(self) -> list[int]:
        return [a for _, a, _ in self.ranges]


_PLACE = Fields("lot", "region", "sequence", "planned_divert")  # where a manifest row's piece sits in the run
_PIECE = Fields("lot", "region", "sequence", "planned_divert", "sheets", "inserts", "hoppers", "payloads", "line",
                "name")  # what a `Piece` takes from its manifest row


def _rows(path: Path, fields: Fields) -> Iterator[dict]:
    """The `fields` of each row of a JSONL file (blank lines skipped)."""
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield fields(line)


class _BySequence:
    """One value per sequence from a folder of per-lot JSONL logs (`envelopes/`, `mailing/`), held
    compactly: a float array for weights, a byte per piece into a small table for classes."""

    def __init__(self, folder: Path, key: str, size: int, numeric: bool):
        self.numeric = numeric
        self.values = array("d", [math.nan]) * (size + 1) if numeric else bytearray(size + 1)
        self.names: list[str | None] = [None]
        index: dict[str, int] = {}
        fields = Fields("sequence", key)
        for path in sorted(folder.glob("*.jsonl")) if folder.exists() else ():
            for row in _rows(path, fields):
                seq = row["sequence"]
                if not 0 < seq <= size:
                    continue
                if numeric:
                    self.values[seq] = row[key]
                else:
                    if row[key] not in index:
                        index[row[key]] = len(self.names)
                        self.names.append(row[key])
                    self.values[seq] = index[row[key]]

    def get(self, seq: int):
        value = self.values[seq] if 0 < seq < len(self.values) else (math.nan if self.numeric else 0)
        if self.numeric:
            return None if math.isnan(value) else value
        return self.names[value]


class _Records:
    """A region's accepted records (`work/accepted/<region>.jsonl`) read one at a time by input line:
    two integer arrays (line, byte offset) instead of the records."""

    def __init__(self, path: Path):
        self.path, self.lines, self.offsets = path, array("q"), array("q")
        if path.exists():
            position, pairs_sorted, last = 0, True, -1
            with open(path, "rb") as fh:
                for raw in fh:
                    line = spill_line(raw)
                    pairs_sorted &= line > last
                    last = line
                    self.lines.append(line)
                    self.offsets.append(position)
                    position += len(raw)
            if not pairs_sorted:
                order = sorted(range(len(self.lines)), key=self.lines.__getitem__)
                self.lines = array("q", (self.lines[i] for i in order))
                self.offsets = array("q", (self.offsets[i] for i in order))
        self._rows, self._spill = LineReader(), os.fspath(path)  # each record its own `pread`, in manifest order

    def record(self, line: int) -> dict | None:
        at = bisect.bisect_left(self.lines, line)
        if at == len(self.lines) or self.lines[at] != line:
            return None
        return SPILL_ADDRESSES.decode(self._rows.line(self._spill, self.offsets[at], SPILL_LINE_CHUNK),
                                      self.path)["record"]

    def close(self) -> None:
        self._rows.close()


def window_name(layouts: LayoutSet, region: str, record: dict) -> str:
    """The addressee line as it prints in the envelope window (`山田 太郎 様` in Japan)."""
    layout = layouts[region]
    a = record["address"]
    address = SimpleNamespace(lines=a["lines"], city=a.get("city", ""), state=a.get("state", ""),
                              postcode=a.get("postcode", ""))
    lines = address_lines(layout, record["name"], address)
    return lines[-1] if layout.address.order == "postcode_first" else lines[0]


_SEQUENCE = Fields("sequence")


def pulled_sequences(folder: Path) -> set[int]:
    """The pieces a release's `pulled.jsonl` lists (none when there is no such file)."""
    path = folder / "pulled.jsonl"
    return {r["sequence"] for r in _rows(path, _SEQUENCE)} if path.exists() else set()


def manifests(folder: Path) -> list[Path]:
    """The manifests in sequence order (by their first row), so pieces stream in sequence order; the
    challenge pieces' (rows flagged `planned_divert`) come after the run's own."""
    from stmtprod.verify import check_regular

    firsts = []
    for m in [*(folder / "manifest").glob("*.jsonl"), *(folder / "challenge" / "manifest").glob("*.jsonl")]:
        check_regular(m, "manifest", m.stem)
        with open(m, encoding="utf-8") as fh:
            head = fh.readline()
        if head.strip():
            firsts.append((json.loads(head)["sequence"], m))
    return [m for _, m in sorted(firsts)]


@dataclass(frozen=True)
class RunFacts:
    """What a piece needs from the run beyond its manifest row: its weight (envelope log), postage class
    (mailing manifest) and whether a screening pulled it, by sequence, held compactly (a few bytes a
    piece); small enough to hand to a worker process whole."""

    size: int  # the run's last sequence
    weights: _BySequence
    classes: _BySequence
    pulled: frozenset[int]

    @classmethod
    def read(cls, folder: Path) -> "RunFacts":
        size = RunMap.read(folder).last
        return cls(size, _BySequence(folder / "envelopes", "weight_g", size, numeric=True),
                   _BySequence(folder / "mailing", "postage_class", size, numeric=False),
                   frozenset(pulled_sequences(folder)))


def iter_pieces(folder: Path, accepted: Path, catalog: Catalog, layouts: LayoutSet) -> Iterator[Piece]:
    """Every piece of the run in `folder` (its `release/` or `staging/`), in sequence order, one at
    a time (memory does not grow with the run beyond a few bytes per piece).

    `accepted`: the run's `work/accepted/` (the records as ingest accepted them), for the names.
    """
    yield from pieces_of(manifests(folder), RunFacts.read(folder), accepted, catalog, layouts)


def pieces_of(manifest_files: list[Path], facts: RunFacts, accepted: Path, catalog: Catalog,
              layouts: LayoutSet) -> Iterator[Piece]:
    """The pieces of `manifest_files` (some of `manifests(folder)`, in its order), one at a time."""
    weights, classes, pulled = facts.weights, facts.classes, facts.pulled
    limits = catalog.inserter
    insert_weight = {i.code: i.weight_g for i in catalog.insert}
    records: dict[str, _Records] = {}
    try:
        for m in manifest_files:
            for r in _rows(m, _PIECE):
                seq, region = r["sequence"], r["region"]
                weight = weights.get(seq)
                if weight is None:
                    weight = round(limits.envelope_weight(r["sheets"], (insert_weight.get(code, 0.0)
                                                                        for code in r["inserts"])), 1)
                if region not in records:
                    records[region] = _Records(accepted / f"{region}.jsonl")
                challenge = "planned_divert" in r
                record = None if challenge else records[region].record(r["line"])
                yield Piece(lot=r.get("lot") or region, sequence=seq, region=region, sheets=r["sheets"],
                            hoppers=tuple(r["hoppers"]), payloads=tuple(r["payloads"]), weight_g=float(weight),
                            postage_class=str(classes.get(seq) or postage_class(float(weight))),
                            name=r["name"] if challenge else window_name(layouts, region, record) if record else "",
                            divert=challenge or seq in pulled)
    finally:
        for reader in records.values():
            reader.close()


def run_pieces(folder: Path, accepted: Path, catalog: Catalog, layouts: LayoutSet) -> dict[str, list[Piece]]:
    """Every piece of the run by lot, in sequence order, held in memory (small runs and tests)."""
    lots: dict[str, list[Piece]] = {}
    for piece in iter_pieces(folder, accepted, catalog, layouts):
        lots.setdefault(piece.lot, []).append(piece)
    return lots
