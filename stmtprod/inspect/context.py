"""What an inspector may look at: the run's produced files and its source records.

Inspectors get read access to the print files, manifests, envelope logs and mailing manifests of a
run (staged or released) and to the source records as ingested; they judge sampled pieces against
the source, never against the renderer's own intermediate data.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from stmtprod.catalog import Catalog
from stmtprod.ingest.models import StatementRecord
from stmtprod.layout import LayoutSet
from stmtprod.plan import SpillRow, spill_offsets


def _rows(folder: Path) -> list[dict]:
    rows = []
    for path in sorted(folder.glob("*.jsonl")):
        rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return rows


@dataclass
class InspectionContext:
    run_id: str
    folder: Path               # the run's staging/ (during the line) or release/ folder
    accepted_dir: Path         # the run's work/accepted spill of source records
    layouts: LayoutSet
    catalog: Catalog
    _manifest: dict[int, dict] = field(default_factory=dict, init=False)
    _envelopes: dict[int, dict] = field(default_factory=dict, init=False)
    _mailing: dict[str, list[dict]] = field(default_factory=dict, init=False)
    _offsets: dict[str, dict[int, int]] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self._manifest = {r["sequence"]: r for r in _rows(self.folder / "manifest")}
        self._envelopes = {r["sequence"]: r for r in _rows(self.folder / "envelopes")}
        for row in _rows(self.folder / "mailing"):
            self._mailing.setdefault(row["tray"], []).append(row)

    def lots(self) -> dict[str, list[int]]:
        """Lot -> the sequences of its pieces (a lot is one region's pieces in this run; card lots are
        named by the manifest's `lot`)."""
        lots: dict[str, list[int]] = {}
        for seq, row in sorted(self._manifest.items()):
            lots.setdefault(row.get("lot", row["region"]), []).append(seq)
        return lots

    def piece(self, sequence: int) -> dict:
        """The manifest row: sequence, account_id, region, line, sheets, inserts, hoppers, payloads,
        file, first_page, last_page."""
        return self._manifest[sequence]

    def pdf(self, sequence: int) -> Path:
        return self.folder / "print" / self._manifest[sequence]["file"]

    def record(self, sequence: int) -> StatementRecord:
        """The piece's source record, read back from the ingested input line."""
        row = self._manifest[sequence]
        region = row["region"]
        path = self.accepted_dir / f"{region}.jsonl"
        if region not in self._offsets:
            self._offsets[region] = spill_offsets(path)
        with open(path, "rb") as fh:
            fh.seek(self._offsets[region][row["line"]])
            return SpillRow.model_validate_json(fh.readline()).record

    def envelope(self, sequence: int) -> dict | None:
        """The inserter's envelope log row: sequence, region, sheets, hoppers, inserts, weight_g, batch,
        first_page."""
        return self._envelopes.get(sequence)

    def mailing_tray(self, tray: str) -> list[dict]:
        """The mailing manifest rows of one country tray in their manifest order: sequence, account_id,
        tray, postcode, weight_g, postage_class, presort_index."""
        return self._mailing.get(tray, [])

    def mailing(self, sequence: int) -> dict | None:
        for rows in self._mailing.values():
            for row in rows:
                if row["sequence"] == sequence:
                    return row
        return None
