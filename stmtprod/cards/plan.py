"""Planning the card run: accepted orders become carriers with a sequence, inserts and a batch.

Carriers are sequenced region by region in the line's fixed region order and, within a region, in
the order file's order, so sequences run 1..N without gap. That sequence is the production order:
the personalisation machine must make the cards in it (slot k = carrier k), and the sealing machine
pairs card k with carrier k. Each batch (one region, up to the batch size) is written to its own
JSONL file of sanitized records, so rendering it is a pure function of that file.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from stmtprod.cards.eligibility import select_card_inserts
from stmtprod.cards.ingest import read_spill_records
from stmtprod.cards.models import CarrierPiece
from stmtprod.cards.texts import CarrierSet
from stmtprod.catalog import Catalog, hoppers_of
from stmtprod.fsutil import atomic_open
from stmtprod.ingest.trusted import TrustedRows
from stmtprod.plan import BatchRef
from stmtprod.regions import REGIONS


def plan_carriers(accepted: dict[str, list[int]], spill_dir: Path, catalog: Catalog, carriers: CarrierSet,
                  production_date: dt.date, batch_size: int, folder: Path) -> list[BatchRef]:
    batches: list[BatchRef] = []
    sequence = 1
    for region in REGIONS:
        lines = accepted.get(region) or []
        if not lines:
            continue
        records = read_spill_records(spill_dir / f"{region}.jsonl")
        kit = carriers[region].welcome_kit
        for number, start in enumerate(range(0, len(lines), batch_size), start=1):
            chunk = lines[start:start + batch_size]
            ref = BatchRef(region, number, folder / f"{region}-{number:04d}.jsonl", sequence, len(chunk))
            with atomic_open(ref.path) as fh:
                for line in chunk:
                    record = records[line]
                    inserts = select_card_inserts(catalog, record, kit, production_date)
                    piece = CarrierPiece(sequence=sequence, line=line, inserts=tuple(i.code for i in inserts),
                                         hoppers=tuple(sorted(hoppers_of(inserts))), record=record)
                    fh.write(piece.model_dump_json() + "\n")
                    sequence += 1
            batches.append(ref)
    return batches


_BATCH_ROWS = TrustedRows(CarrierPiece, "batch file row")


def read_carrier_batch(path: Path) -> list[CarrierPiece]:
    """A batch's carriers in order, as trusted views (`stmtprod.ingest.trusted`): plan wrote them from
    records ingest validated."""
    with open(path, "rb") as fh:
        return [_BATCH_ROWS.decode(line, path, number) for number, line in enumerate(fh, 1)]
