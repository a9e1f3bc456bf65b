"""What an inspector may look at: the run's produced files and its source records.

Inspectors get read access to the print files, manifests, envelope logs and mailing manifests of a
run (staged or released) and to the source records as ingested; they judge sampled pieces against
the source, never against the renderer's own intermediate data.

Only small indexes (sequence -> file and byte offset) are held in memory; rows and records are read
back one at a time, so memory does not grow with the size of the run.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pypdfium2 as pdfium

from stmtprod.catalog import Catalog
from stmtprod.ingest.models import StatementRecord
from stmtprod.layout import Layout, LayoutSet
from stmtprod.plan import SpillRow, spill_offsets


class _RowIndex:
    """JSONL rows of every file in a folder, found by a key and read back on demand."""

    def __init__(self, folder: Path, key: str, keep=None):
        """`keep(row)`, when given, is a small value kept in memory per key."""
        self.files = sorted(folder.glob("*.jsonl")) if folder.is_dir() else []
        self.where: dict[int, tuple[int, int]] = {}
        self.kept: dict[int, object] = {}
        for number, path in enumerate(self.files):
            offset = 0
            with open(path, "rb") as fh:
                for raw in fh:
                    row = json.loads(raw)
                    self.where.setdefault(row[key], (number, offset))
                    if keep is not None:
                        self.kept[row[key]] = keep(row)
                    offset += len(raw)

    def get(self, key: int) -> dict | None:
        if key not in self.where:
            return None
        number, offset = self.where[key]
        with open(self.files[number], "rb") as fh:
            fh.seek(offset)
            return json.loads(fh.readline())


@dataclass
class InspectionContext:
    run_id: str
    folder: Path               # the run's staging/ (during the line) or release/ folder
    accepted_dir: Path         # the run's work/accepted spill of source records
    layouts: LayoutSet
    catalog: Catalog
    _offsets: dict[str, dict[int, int]] = field(default_factory=dict, init=False)
    _tray: tuple[str, list[dict]] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._manifest = _RowIndex(self.folder / "manifest", "sequence",
                                   keep=lambda row: (row.get("lot", row["region"]), row["region"], row["line"]))
        self._lot_of = self._manifest.kept
        self._envelopes = _RowIndex(self.folder / "envelopes", "sequence")
        self._mailing = _RowIndex(self.folder / "mailing", "sequence")

    def lots(self) -> dict[str, list[int]]:
        """Lot -> the sequences of its pieces (a lot is one region's pieces in this run; card lots are
        named by the manifest's `lot`)."""
        lots: dict[str, list[int]] = {}
        for seq in sorted(self._lot_of):
            lots.setdefault(self._lot_of[seq][0], []).append(seq)
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

    def record(self, sequence: int) -> StatementRecord:
        """The piece's source record, read back from the ingested input line."""
        _lot, region, line = self._lot_of[sequence]
        path = self.accepted_dir / f"{region}.jsonl"
        if region not in self._offsets:
            self._offsets[region] = spill_offsets(path)
        with open(path, "rb") as fh:
            fh.seek(self._offsets[region][line])
            return SpillRow.model_validate_json(fh.readline()).record

    def envelope(self, sequence: int) -> dict | None:
        """The inserter's envelope log row: sequence, region, sheets, hoppers, inserts, weight_g, batch,
        first_page."""
        return self._envelopes.get(sequence)

    def mailing_tray(self, tray: str) -> list[dict]:
        """The mailing manifest rows of one country tray in their manifest order: sequence, account_id,
        tray, postcode, weight_g, postage_class, presort_index. The last tray read is kept."""
        if self._tray is None or self._tray[0] != tray:
            rows = []
            for path in self._mailing.files:
                with open(path, "rb") as fh:
                    rows += [row for row in map(json.loads, fh) if row["tray"] == tray]
            self._tray = (tray, rows)
        return self._tray[1]

    def mailing(self, sequence: int) -> dict | None:
        return self._mailing.get(sequence)

    def sampled_prints(self, sample: list[int], missing_kind: str,
                       defects: list[dict]) -> Iterator[tuple[int, dict, Layout, pdfium.PdfDocument]]:
        """(sequence, manifest row, layout, open print file) for each sampled piece, each print file
        opened once and closed at the end; a missing print file is a `missing_kind` defect."""
        docs: dict[Path, pdfium.PdfDocument] = {}
        try:
            for seq in sample:
                piece = self.piece(seq)
                path = self.folder / "print" / piece["file"]
                if path not in docs:
                    if not path.exists():
                        defects.append({"piece": seq, "kind": missing_kind,
                                        "evidence": f"print file {piece['file']} is missing"})
                        continue
                    docs[path] = pdfium.PdfDocument(str(path))
                yield seq, piece, self.layouts[piece["region"]], docs[path]
        finally:
            for doc in docs.values():
                doc.close()
