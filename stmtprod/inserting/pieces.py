"""The mail pieces of a released (or about to be released) run folder, lot by lot, for either line.

Both lines write `manifest/*.jsonl` rows with sequence, region, sheets, hoppers, inserts and line
(the record's line in `work/accepted/<region>.jsonl`); the card line adds `lot`. The statement
line's envelope log and mailing manifest give weight and postage class; where a line writes neither
(cards today), they are computed from the catalog's inserter weights, as the simulated inserter does.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Iterator

from stmtprod.catalog import Catalog
from stmtprod.layout import LayoutSet
from stmtprod.mailing import postage_class
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
    divert: bool  # a planned divert: must not be mailed (pulled at inspection)

    def bins(self, hoppers: int) -> str:
        return "".join("Y" if h in self.hoppers else "N" for h in range(1, hoppers + 1))


@dataclass(frozen=True)
class Slot:
    """What reconciliation needs of a piece: its lot, sequence and whether it is a planned divert."""

    lot: str
    sequence: int
    divert: bool


def _rows(path: Path) -> Iterator[dict]:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def _by_sequence(folder: Path, key: str) -> dict[int, object]:
    out: dict[int, object] = {}
    if folder.exists():
        for path in sorted(folder.glob("*.jsonl")):
            for row in _rows(path):
                out[row["sequence"]] = row[key]
    return out


def window_name(layouts: LayoutSet, region: str, record: dict) -> str:
    """The addressee line as it prints in the envelope window (`山田 太郎 様` in Japan)."""
    layout = layouts[region]
    a = record["address"]
    address = SimpleNamespace(lines=a["lines"], city=a.get("city", ""), state=a.get("state", ""),
                              postcode=a.get("postcode", ""))
    lines = address_lines(layout, record["name"], address)
    return lines[-1] if layout.address.order == "postcode_first" else lines[0]


def _names(accepted: Path, region: str, wanted: set[int], layouts: LayoutSet) -> dict[int, str]:
    names: dict[int, str] = {}
    path = accepted / f"{region}.jsonl"
    if not wanted or not path.exists():
        return names
    for row in _rows(path):
        if row["line"] in wanted:
            names[row["line"]] = window_name(layouts, region, row["record"])
    return names


def _pulled(folder: Path) -> set[int]:
    path = folder / "pulled.jsonl"
    return {r["sequence"] for r in _rows(path)} if path.exists() else set()


def run_slots(folder: Path) -> dict[str, list[Slot]]:
    """Every piece of the run in `folder` by lot, in sequence order, reading only the manifests and
    `pulled.jsonl`: what reconciliation needs, without names, weights or payloads."""
    pulled = _pulled(folder)
    slots = []
    for m in sorted((folder / "manifest").glob("*.jsonl")):
        for r in _rows(m):
            slots.append(Slot(r.get("lot") or r["region"], r["sequence"], r["sequence"] in pulled))
    lots: dict[str, list[Slot]] = {}
    for s in sorted(slots, key=lambda s: s.sequence):
        lots.setdefault(s.lot, []).append(s)
    return lots


def run_pieces(folder: Path, accepted: Path, catalog: Catalog, layouts: LayoutSet) -> dict[str, list[Piece]]:
    """Every piece of the run in `folder` (its `release/` or `staging/`), by lot, in sequence order.

    `accepted`: the run's `work/accepted/` (the records as ingest accepted them), for the names.
    """
    weights = _by_sequence(folder / "envelopes", "weight_g")
    classes = _by_sequence(folder / "mailing", "postage_class")
    pulled = _pulled(folder)
    limits = catalog.inserter
    insert_weight = {i.code: i.weight_g for i in catalog.insert}
    rows = [r for m in sorted((folder / "manifest").glob("*.jsonl")) for r in _rows(m)]
    lines: dict[str, set[int]] = {}
    for r in rows:
        lines.setdefault(r["region"], set()).add(r["line"])
    names = {region: _names(accepted, region, wanted, layouts) for region, wanted in lines.items()}
    lots: dict[str, list[Piece]] = {}
    for r in sorted(rows, key=lambda r: r["sequence"]):
        seq = r["sequence"]
        weight = weights.get(seq)
        if weight is None:
            weight = round(limits.envelope_weight(r["sheets"], (insert_weight.get(code, 0.0) for code in r["inserts"])), 1)
        lot = r.get("lot") or r["region"]
        lots.setdefault(lot, []).append(Piece(
            lot=lot, sequence=seq, region=r["region"], sheets=r["sheets"], hoppers=tuple(r["hoppers"]),
            payloads=tuple(r["payloads"]), weight_g=float(weight),
            postage_class=str(classes.get(seq) or postage_class(float(weight))),
            name=names[r["region"]].get(r["line"], ""), divert=seq in pulled))
    return lots
