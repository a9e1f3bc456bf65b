"""What an inspector may look at: the run's produced files and its source records.

Inspectors get read access to the print files, manifests, envelope logs and mailing manifests of a
run (staged or released) and to the source records as ingested; they judge sampled pieces against
the source, never against the renderer's own intermediate data.

Only small indexes (sequence -> file and byte offset) are held in memory, the manifest's built at
once, the others (envelope log, mailing manifest by tray) the first time they are needed; rows and
records are read back one at a time, so memory does not grow with the size of the run.

Stages 1 and 2 judge print files. Their sampled pieces are handed out as `PrintJob`s: the pieces of
one print file, in sample order, with everything needed to judge them (manifest row, layout, the
source record's line as ingested), so a job runs the same in this process or in a worker process
(`stmtprod.inspect.parallel`), and the defects of a lot are its jobs' defects in order.
"""
from __future__ import annotations

import json
import os
from array import array
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium

from stmtprod.catalog import Catalog
from stmtprod.fsutil import LineReader
from stmtprod.ingest.models import StatementRecord
from stmtprod.jsonrows import Fields
from stmtprod.layout import Layout, LayoutSet
from stmtprod.plan import SPILL_ROWS, spill_name, spill_offsets

SPILL_CHUNK = 4096  # bytes read first for a source record line (about 2 KB); a longer one is read on


def _jsonl_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.jsonl")) if folder.is_dir() else []


def _read_row(lines: LineReader, path: Path, offset: int) -> dict:
    return json.loads(lines.line(path, offset))


def _ints(values: np.ndarray) -> array:
    return array("q", values.astype(np.int64).tobytes())


class _RowIndex:
    """JSONL rows of every file in a folder, found by an integer key and read back on demand.

    The locators are sorted arrays (key, file, byte offset: 24 bytes a row) rather than dicts
    of tuples (about 250 bytes a row), so the index of a million pieces stays near 20 MB. A key that
    appears twice is found at its first row; what `keep` kept of it is from its last.
    """

    def __init__(self, folder: Path, key: str, lines: LineReader, keep=None, fields: tuple[str, ...] = ()):
        """`keep(row)`, when given, returns (group, number) kept in memory per key: a group from a small
        set (stored once) and an integer, from the row's `key` and `fields` (only these are decoded
        here). Rows are read back whole through `lines`."""
        self.files = _jsonl_files(folder)
        picked = Fields(key, *fields)
        self._lines = lines
        keys, files, offsets, groups, numbers = array("q"), array("i"), array("q"), array("i"), array("q")
        self.groups: list = []
        group_code: dict = {}
        for file_number, path in enumerate(self.files):
            offset = 0
            with open(path, "rb") as fh:
                for raw in fh:
                    row = picked(raw)
                    keys.append(row[key])
                    files.append(file_number)
                    offsets.append(offset)
                    if keep is not None:
                        group, number = keep(row)
                        groups.append(group_code.setdefault(group, len(group_code)))
                        numbers.append(number)
                    offset += len(raw)
        self.groups = list(group_code)
        key_array = np.frombuffer(keys, dtype=np.int64)
        order = np.argsort(key_array, kind="stable")
        self.keys, first = np.unique(key_array[order], return_index=True)
        last = np.append(first[1:], len(order)) - 1 if len(first) else first
        # Looked up one key at a time: held as `array`s, whose items are Python ints without a numpy scalar.
        self._file = _ints(np.frombuffer(files, dtype=np.int32)[order[first]])
        self._offset = _ints(np.frombuffer(offsets, dtype=np.int64)[order[first]])
        self._group = _ints(np.frombuffer(groups, dtype=np.int32)[order[last]]) if keep is not None else None
        self._number = _ints(np.frombuffer(numbers, dtype=np.int64)[order[last]]) if keep is not None else None
        # A run's sequences are one unbroken range: then a key's place is its distance from the first.
        self._base = int(self.keys[0]) if len(self.keys) else 0
        self._dense = len(self.keys) > 0 and int(self.keys[-1]) - self._base + 1 == len(self.keys)

    def _position(self, key: int) -> int | None:
        if self._dense and type(key) is int:
            position = key - self._base
            return position if 0 <= position < len(self._file) else None
        position = int(np.searchsorted(self.keys, key))
        return position if position < len(self.keys) and self.keys[position] == key else None

    def __contains__(self, key: int) -> bool:
        return self._position(key) is not None

    def get(self, key: int) -> dict | None:
        position = self._position(key)
        if position is None:
            return None
        return _read_row(self._lines, self.files[self._file[position]], self._offset[position])

    def kept(self, key: int) -> tuple:
        """(group, number) kept for `key`; KeyError when the key is not indexed."""
        position = self._position(key)
        if position is None:
            raise KeyError(key)
        return self.groups[self._group[position]], self._number[position]

    def kept_items(self):
        """(key, group, number) for every key, in key order."""
        for key, group, number in zip(self.keys.tolist(), self._group, self._number):
            yield key, self.groups[group], number


class _Trays:
    """The mailing manifest by country tray: each tray's rows in manifest order (files in name order,
    rows in file order) as (file, byte offset) locators, read back on demand."""

    def __init__(self, folder: Path, lines: LineReader):
        self.files = _jsonl_files(folder)
        self._lines = lines
        self.rows: dict[str, tuple[array, array]] = {}
        self.sequences: dict[str, array] = {}   # tray -> the rows' sequences in the tray's order (0: none given)
        picked = Fields("tray", "sequence")
        for number, path in enumerate(self.files):
            offset = 0
            with open(path, "rb") as fh:
                for raw in fh:
                    row = picked(raw)
                    files, offsets = self.rows.setdefault(row["tray"], (array("i"), array("q")))
                    files.append(number)
                    offsets.append(offset)
                    sequence = row.get("sequence")
                    self.sequences.setdefault(row["tray"], array("q")).append(
                        sequence if isinstance(sequence, int) and not isinstance(sequence, bool) else 0)
                    offset += len(raw)

    def count(self, tray: str) -> int:
        return len(self.rows[tray][0]) if tray in self.rows else 0

    def row(self, tray: str, position: int) -> dict:
        files, offsets = self.rows[tray]
        return _read_row(self._lines, self.files[files[position]], offsets[position])

    def all(self, tray: str) -> list[dict]:
        return [self.row(tray, position) for position in range(self.count(tray))]


@dataclass(frozen=True)
class PrintJob:
    """Sampled pieces of one print file, in sample order, with what it takes to judge them anywhere:
    (sequence, manifest row, layout, the source record's spill line) per piece."""

    path: Path
    pieces: tuple[tuple[int, dict, Layout, bytes], ...]

    def printed(self, prints: OpenPrints, missing_kind: str, defects: list[dict]):
        """(sequence, manifest row, layout, source line, open document) per piece, in order; while the
        print file is missing, each piece becomes a `missing_kind` defect in `defects` instead."""
        pdf = prints.get(self.path)
        for seq, piece, layout, line in self.pieces:
            if pdf is None:
                defects.append(missing_print(seq, missing_kind, piece))
            else:
                yield seq, piece, layout, line, pdf


def parse_record(line: bytes, region: str) -> StatementRecord:
    """A source record from its line in `region`'s spill, as a trusted view (ingest validated it)."""
    return SPILL_ROWS.decode(line, spill_name(region)).record


class OpenPrints:
    """Print files opened on demand and kept open (at most `keep`, least recently used closed first);
    pdfium is not thread-safe: one per process. Use as a context manager; everything is closed at exit."""

    def __init__(self, keep: int = 1):
        self.keep = keep
        self.docs: OrderedDict[str, tuple[tuple, pdfium.PdfDocument]] = OrderedDict()

    def get(self, path: Path) -> pdfium.PdfDocument | None:
        """The open document, or None when the file does not exist. A file changed since it was opened
        (size, time or inode) is opened afresh."""
        key = str(path)
        try:
            st = path.stat()
        except FileNotFoundError:
            self._close(key)
            return None
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        held = self.docs.get(key)
        if held is not None and held[0] == stamp:
            self.docs.move_to_end(key)
            return held[1]
        self._close(key)
        doc = pdfium.PdfDocument(key)
        self.docs[key] = (stamp, doc)
        while len(self.docs) > self.keep:
            self._close(next(iter(self.docs)))
        return doc

    def _close(self, key: str) -> None:
        held = self.docs.pop(key, None)
        if held is not None:
            held[1].close()

    def close(self) -> None:
        while self.docs:
            self._close(next(iter(self.docs)))

    def __enter__(self) -> OpenPrints:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass
class InspectionContext:
    run_id: str
    folder: Path               # the run's staging/ (during the line) or release/ folder
    accepted_dir: Path         # the run's work/accepted spill of source records
    layouts: LayoutSet
    catalog: Catalog
    _offsets: dict[str, dict[int, int]] = field(default_factory=dict, init=False)
    _spills: dict[str, str] = field(default_factory=dict, init=False)
    _indexes: dict[str, object] = field(default_factory=dict, init=False)
    # One set of kept descriptors for every file the context and its indexes read rows from.
    _lines: LineReader = field(default_factory=LineReader, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._manifest = _RowIndex(self.folder / "manifest", "sequence", self._lines,
                                   keep=lambda row: ((row.get("lot", row["region"]), row["region"]), row["line"]),
                                   fields=("lot", "region", "line"))

    @property
    def _envelopes(self) -> _RowIndex:
        if "envelopes" not in self._indexes:
            self._indexes["envelopes"] = _RowIndex(self.folder / "envelopes", "sequence", self._lines)
        return self._indexes["envelopes"]

    @property
    def _mailing(self) -> _RowIndex:
        if "mailing" not in self._indexes:
            self._indexes["mailing"] = _RowIndex(self.folder / "mailing", "sequence", self._lines)
        return self._indexes["mailing"]

    @property
    def _trays(self) -> _Trays:
        if "trays" not in self._indexes:
            self._indexes["trays"] = _Trays(self.folder / "mailing", self._lines)
        return self._indexes["trays"]

    def lots(self) -> dict[str, list[int]]:
        """Lot -> the sequences of its pieces (a lot is one region's pieces in this run; card lots are
        named by the manifest's `lot`)."""
        lots: dict[str, list[int]] = {}
        for seq, (lot, _region), _line in self._manifest.kept_items():
            lots.setdefault(lot, []).append(seq)
        return lots

    def piece(self, sequence: int) -> dict:
        """The manifest row: sequence, account_id, region, line, sheets, inserts, hoppers, payloads,
        file, first_page, last_page."""
        row = self._manifest.get(sequence)
        if row is None:
            raise KeyError(sequence)
        return row

    def pdf(self, sequence: int) -> Path:
        return self.folder / "print" / self.piece(sequence)["file"]

    def record_line(self, sequence: int) -> bytes:
        """The piece's source record as spilled by ingest (one JSON line), unparsed."""
        return self._source(sequence)[1]

    def record(self, sequence: int) -> StatementRecord:
        """The piece's source record, read back from the ingested input line."""
        region, line = self._source(sequence)
        return parse_record(line, region)

    def _source(self, sequence: int) -> tuple[str, bytes]:
        """(region, the piece's line in the region's spill)."""
        (_lot, region), line = self._manifest.kept(sequence)
        if region not in self._offsets:
            self._spills[region] = os.fspath(self.accepted_dir / f"{region}.jsonl")  # once, not a Path a piece
            self._offsets[region] = spill_offsets(self._spills[region])
        return region, self._lines.line(self._spills[region], self._offsets[region][line], SPILL_CHUNK)

    def envelope(self, sequence: int) -> dict | None:
        """The inserter's envelope log row: sequence, region, sheets, hoppers, inserts, weight_g, batch,
        first_page."""
        return self._envelopes.get(sequence)

    def mailing_tray(self, tray: str) -> list[dict]:
        """The mailing manifest rows of one country tray in their manifest order: sequence, account_id,
        tray, postcode, weight_g, postage_class, presort_index."""
        return self._trays.all(tray)

    def mailing_tray_sequences(self, tray: str) -> array:
        """The sequences of a country tray's rows, in manifest order."""
        return self._trays.sequences.get(tray, array("q"))

    def mailing_tray_row(self, tray: str, position: int) -> dict:
        """Row `position` (0-based) of a country tray, in manifest order."""
        return self._trays.row(tray, position)

    def mailing(self, sequence: int) -> dict | None:
        return self._mailing.get(sequence)

    def print_jobs(self, sample: list[int], most: int | None = None) -> list[PrintJob]:
        """The sampled pieces as jobs: consecutive pieces of one print file, in sample order, at most
        `most` pieces a job (None: no limit)."""
        jobs: list[PrintJob] = []
        current: list[tuple[int, dict, Layout, bytes]] = []
        path = None
        for seq in sample:
            piece = self.piece(seq)
            here = self.folder / "print" / piece["file"]
            if current and (here != path or (most is not None and len(current) >= most)):
                jobs.append(PrintJob(path, tuple(current)))
                current = []
            path = here
            current.append((seq, piece, self.layouts[piece["region"]], self.record_line(seq)))
        if current:
            jobs.append(PrintJob(path, tuple(current)))
        return jobs

    def memo(self, name: str, build):
        """A value derived from the run's files, built once per context by `build()`."""
        if name not in self._indexes:
            self._indexes[name] = build()
        return self._indexes[name]


def missing_print(seq: int, kind: str, piece: dict) -> dict:
    return {"piece": seq, "kind": kind, "evidence": f"print file {piece['file']} is missing"}
