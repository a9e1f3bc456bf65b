"""Planning: accepted records become mail pieces with a sequence, inserts and a batch.

Pieces are sequenced region by region in the line's fixed region order and, within a region, in
presort order (postcode, then account id) so the dispatch trays come off the line in postal order.
Each batch is written to its own JSONL file so that rendering it is a pure function of that file.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from pydantic import BaseModel, ConfigDict

from stmtprod.catalog import Catalog, hoppers_of, select_inserts
from stmtprod.fsutil import atomic_open
from stmtprod.ingest.models import StatementRecord


class Piece(BaseModel):
    """One envelope as planned: the record, where it came from, its place in the run, its inserts."""

    model_config = ConfigDict(frozen=True)
    sequence: int
    line: int
    inserts: tuple[str, ...]
    hoppers: tuple[int, ...]
    record: StatementRecord


class SpillRow(BaseModel):
    """An accepted record as spilled by ingest: the input line's own JSON and its line number."""

    line: int
    record: StatementRecord


def spill_offsets(spill: Path) -> dict[int, int]:
    """Input line number -> byte offset in a spill file, for reading source records back one by one."""
    offsets, position = {}, 0
    with open(spill, "rb") as fh:
        for raw in fh:
            offsets[int(raw[8:raw.index(b",")])] = position
            position += len(raw)
    return offsets


@dataclass(frozen=True)
class BatchRef:
    region: str
    number: int
    path: Path
    first_sequence: int
    pieces: int

    @property
    def name(self) -> str:
        return f"{self.region}-{self.number:04d}"


def presort_key(record: StatementRecord) -> tuple[str, str]:
    return (record.address.postcode, record.account_id)


@dataclass(frozen=True, order=True)
class Accepted:
    """Where an accepted record sits in its region's spill file, and its presort key.

    Only these small keys are held in memory; records are read back one at a time by offset.
    """

    key: tuple[str, str]
    line: int
    offset: int


def plan_region(region: str, accepted: list[Accepted], spill: Path, catalog: Catalog,
                first_sequence: int, batch_size: int, folder: Path) -> list[BatchRef]:
    """Sequence one region's accepted records and write its batch files; returns the batches."""
    ordered = sorted(accepted)
    batches = []
    with open(spill, "rb") as source:
        for start in range(0, len(ordered), batch_size):
            chunk = ordered[start:start + batch_size]
            number = len(batches) + 1
            ref = BatchRef(region, number, folder / f"{region}-{number:04d}.jsonl",
                           first_sequence + start, len(chunk))
            with atomic_open(ref.path) as fh:
                for offset, item in enumerate(chunk):
                    source.seek(item.offset)
                    record = SpillRow.model_validate_json(source.readline()).record
                    inserts = select_inserts(catalog, record)
                    piece = Piece(sequence=ref.first_sequence + offset, line=item.line,
                                  inserts=tuple(i.code for i in inserts),
                                  hoppers=tuple(sorted(hoppers_of(inserts))), record=record)
                    fh.write(piece.model_dump_json() + "\n")
            batches.append(ref)
    return batches


def read_batch(path: Path) -> list[Piece]:
    with open(path, encoding="utf-8") as fh:
        return [Piece.model_validate(json.loads(line)) for line in fh]
