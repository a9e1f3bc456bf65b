"""Planning: accepted records become mail pieces with a sequence, inserts and a batch.

Pieces are sequenced region by region in the line's fixed region order and, within a region, in
presort order (postcode, then account id) so the dispatch trays come off the line in postal order.
Each batch is written to its own JSONL file so that rendering it is a pure function of that file.
"""
from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from pydantic import BaseModel, ConfigDict

from stmtprod.catalog import Catalog
from stmtprod.engine.workers import stopping_pool
from stmtprod.fsutil import LineReader, atomic_open
from stmtprod.ingest.models import CACHE_STRINGS, StatementRecord
from stmtprod.ingest.trusted import PickedRows, TrustedRows


SPILL_LINE_CHUNK = 4096  # bytes read first for a spill row (about 2 KB); a longer one is read on
PARALLEL_PIECES = 20000
"""A run this big or bigger plans its regions in worker processes (`plan_regions`); a smaller one
here, where starting them would cost more than they save."""


class Piece(BaseModel):
    """One envelope as planned: the record, where it came from, its place in the run, its inserts."""

    model_config = ConfigDict(frozen=True, cache_strings=CACHE_STRINGS)
    sequence: int
    line: int
    inserts: tuple[str, ...]
    hoppers: tuple[int, ...]
    record: StatementRecord


class SpillRow(BaseModel):
    """An accepted record as spilled by ingest: the input line's own JSON and its line number."""

    model_config = ConfigDict(cache_strings=CACHE_STRINGS)
    line: int
    record: StatementRecord


def spill_line(raw: bytes) -> int:
    """The input line number of a spill row, without parsing the record (rows start `{"line": N,`)."""
    return int(raw[8:raw.index(b",")])


def spill_offsets(spill: Path) -> dict[int, int]:
    """Input line number -> byte offset in a spill file, for reading source records back one by one."""
    offsets, position = {}, 0
    with open(spill, "rb") as fh:
        for raw in fh:
            offsets[spill_line(raw)] = position
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


class Accepted:
    """Where an accepted record sits in its region's spill file, its presort key and its inserts,
    packed into one `bytes` whose order is presort order (postcode, then account id, then line).

    Only these keys are held in memory, about 80 bytes a record (a tuple-based object took about
    260), and records are read back one at a time by offset. Account ids are [A-Z0-9-] and postcodes
    must match the market's shape at ingest, so the NUL separators cannot occur in the fields. The
    inserts, chosen at ingest where the validated record is at hand, are an index into the ingest's
    table of distinct insert sets.
    """

    _TAIL = struct.Struct(">QQH")

    @classmethod
    def pack(cls, key: tuple[str, str], line: int, offset: int, inserts: int) -> bytes:
        return key[0].encode() + b"\0" + key[1].encode() + b"\0" + cls._TAIL.pack(line, offset, inserts)

    @classmethod
    def unpack(cls, packed: bytes) -> tuple[int, int, int]:
        """(input line, spill offset, index of the insert set)."""
        return cls._TAIL.unpack_from(packed, len(packed) - cls._TAIL.size)


def plan_region(region: str, accepted: list[bytes], spill: Path, catalog: Catalog, insert_sets: list[tuple[str, ...]],
                first_sequence: int, batch_size: int, folder: Path) -> list[BatchRef]:
    """Sequence one region's accepted records (`Accepted` keys) and write its batch files; returns the batches.

    `accepted` is sorted in place into presort order. Each piece's record is copied from the spill as
    the validated input line's own JSON; the renderer reads it back as a trusted view (`read_batch`).
    """
    hopper = {i.code: i.hopper for i in catalog.insert}
    tails: dict[int, bytes] = {}  # per insert set, the inserts and hoppers as they print in the line
    accepted.sort()  # in place: the caller hands its keys over
    batches = []
    # Records are read in presort order, all over the spill: `pread` of the one line, not a buffered
    # reader's seek (which drops its buffer) and readline; a batch file is written at once.
    source, spill_path = LineReader(), os.fspath(spill)
    try:
        for start in range(0, len(accepted), batch_size):
            chunk = accepted[start:start + batch_size]
            number = len(batches) + 1
            ref = BatchRef(region, number, folder / f"{region}-{number:04d}.jsonl",
                           first_sequence + start, len(chunk))
            lines = []
            for position, packed in enumerate(chunk):
                line, offset, which = Accepted.unpack(packed)
                if which not in tails:
                    inserts = insert_sets[which]
                    tails[which] = _tail(inserts, sorted(hopper[c] for c in inserts))
                lines.append(_piece_line(ref.first_sequence + position, line, tails[which],
                                         source.line(spill_path, offset, SPILL_LINE_CHUNK)))
            with atomic_open(ref.path, "wb") as fh:
                fh.write(b"".join(lines))
            batches.append(ref)
    finally:
        source.close()
    return batches


def plan_regions(regions: list[tuple[str, list[bytes], Path]], catalog: Catalog, insert_sets: list[tuple[str, ...]],
                 batch_size: int, folder: Path, workers: int = 1) -> list[BatchRef]:
    """`plan_region` of each (region, its accepted keys, its spill) in turn, sequenced one after the
    other from 1; the batches of every region in that order.

    A region's pieces and batch files depend only on its own records and its first sequence number
    (one after the regions before it), so a large run plans its regions in `workers` processes while
    the cores are otherwise idle: the same files and batches, and the first error in region order."""
    firsts, sequence = [], 1
    for _region, accepted, _spill in regions:
        firsts.append(sequence)
        sequence += len(accepted)
    tasks = [(region, accepted, spill, catalog, insert_sets, first, batch_size, folder)
             for (region, accepted, spill), first in zip(regions, firsts)]
    if workers <= 1 or len(tasks) < 2 or sequence - 1 < PARALLEL_PIECES:
        return [ref for task in tasks for ref in plan_region(*task)]
    with stopping_pool(min(workers, len(tasks))) as pool:
        futures = [pool.submit(plan_region, *task) for task in tasks]
        return [ref for future in futures for ref in future.result()]


def _tail(inserts: tuple[str, ...], hoppers: list[int]) -> bytes:
    """`, "inserts": [...], "hoppers": [...]` as `json.dumps` writes them: one per insert set, not per piece."""
    return (', "inserts": ' + json.dumps(list(inserts), ensure_ascii=False)
            + ', "hoppers": ' + json.dumps(hoppers)).encode()


def _piece_line(sequence: int, line: int, tail: bytes, spill_row: bytes) -> bytes:
    """A batch file line: the `Piece` fields, the record spliced in as the spill holds it; the bytes of
    `json.dumps({"sequence", "line", "inserts", "hoppers"})` with the record after them."""
    record = spill_row[spill_row.index(b'"record":') + len(b'"record":'):spill_row.rindex(b"}")]
    return b'{"sequence": %d, "line": %d%s, "record": %s}\n' % (sequence, line, tail, record)


BATCH_ROWS = TrustedRows(Piece, "batch file row")
SPILL_ROWS = TrustedRows(SpillRow, "spill row")
"""Batch and spill rows as this run wrote them, read as views of `Piece` and `SpillRow` (`ingest.trusted`):
their records were validated once, at ingest."""
SPILL_ADDRESSES = PickedRows(SpillRow, {"record": dict.fromkeys(("account_id", "region", "name", "address"))},
                             "spill row")
"""A spill row's account id, region, name and address, as `json.loads` gives them: what the mailing
manifest and the inserter's window names need of a record."""


def spill_name(region: str) -> str:
    """A region's spill of accepted records as a halt names it: its path in the run folder."""
    return f"work/accepted/{region}.jsonl"


def read_batch(path: Path) -> Iterator[Piece]:
    """The batch's pieces in order, one at a time (a renderer holds one record, not the batch), as
    trusted views of `Piece`."""
    with open(path, "rb") as fh:
        for number, line in enumerate(fh, 1):
            yield BATCH_ROWS.decode(line, path, number)
