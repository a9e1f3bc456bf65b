"""Verification of every carrier: its barcode read back from the print file itself.

Every sheet's barcode is read (`stmtprod.verify.read_all`, in worker processes: from the content
stream, and optically wherever that cannot vouch for the sheet and for each file's first and last
sheet) and checked against the manifest and against a recomputation from the sanitized source
record: exactly one symbol per sheet; the payload the manifest names for that page; one sheet per
carrier; sequences 1..N across the run with no gap or duplicate; the region of barcode, batch,
record and address country alike; the card id, token and last five digits of the manifest equal to
the record's; the hopper bitmap equal to the welcome-kit eligibility applied afresh.
The first mismatch raises `Halt` naming batch, page, carrier (piece), field, expected and found.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from stmtprod.barcode.payload import parse, run_tag
from stmtprod.cards.eligibility import select_card_inserts
from stmtprod.cards.ingest import read_spill
from stmtprod.cards.models import CardRecord
from stmtprod.cards.texts import CarrierSet
from stmtprod.catalog import Catalog, hoppers_of
from stmtprod.errors import Halt
from stmtprod.verify import (PrintFile, check_barcode, check_own_payload, check_page_total, check_row_inserts,
                             check_row_place, check_sequence, manifest_rows, require_spill)

CARD_FIELDS = {"card_id": str, "token": str, "last5": str, "page": int, "payload": str}
"""What a carrier's manifest row holds besides a statement's (`stmtprod.verify.manifest_rows`)."""


class _Records:
    def __init__(self, accepted_dir: Path):
        self.dir, self.cache = accepted_dir, {}

    def get(self, region: str, line: int, batch: str) -> CardRecord | None:
        if region not in self.cache:
            require_spill(self.dir / f"{region}.jsonl", batch)
            self.cache[region] = read_spill(self.dir / f"{region}.jsonl")
        return self.cache[region].get(line)


def verify_carriers(files: list[PrintFile], decoded: dict[str, list[list[str]]], run_id: str, catalog: Catalog,
                    carriers: CarrierSet, accepted_dir: Path, production_date: dt.date, first_sequence: int = 1) -> dict:
    """Check every decoded sheet; returns counts, or raises Halt at the first mismatch. Sequences run
    from `first_sequence` (1 for a run's carriers; a challenge carrier's own, after them)."""
    records = _Records(accepted_dir)
    tag = run_tag(run_id)
    next_sequence, pieces = first_sequence, 0
    seen: set[str] = set()
    for f in files:
        rows = manifest_rows(f, CARD_FIELDS)
        pages = decoded[f.batch]
        here = {"step": "verify", "batch": f.batch}
        for page, (found, row) in enumerate(zip(pages, rows), 1):
            payload = row["payloads"][0]
            at = {**here, "page": page, "piece": row["sequence"], "card": row["card_id"]}
            if row["sheets"] != 1 or row["payloads"] != [row["payload"]] or row["page"] != page:
                raise Halt("manifest row does not describe one carrier sheet on its page", **at, field="sheets",
                           expected=f"1 sheet on page {page}", found=f"{row['sheets']} sheets on page {row['page']}",
                           action="the manifest was altered: re-render the batch")
            parsed = check_barcode(found, payload, at, seen, pages[page:], noun="carrier")
            check_own_payload(parsed, row["sequence"], 1, 1, tag, at, noun="carrier", unit="carrier")
            check_row_place(row, f, page, at)
            seen.add(payload)
        check_page_total(pages, len(rows), here)
        for row in rows:
            at = {**here, "piece": row["sequence"], "card": row["card_id"]}
            check_sequence(row["sequence"], next_sequence, at, noun="carrier")
            next_sequence += 1
            _check_source(row, f.region, records, catalog, carriers, production_date, at)
            pieces += 1
    return {"pieces": pieces, "sheets": pieces}


def _check_source(row: dict, region: str, records: _Records, catalog: Catalog, carriers: CarrierSet,
                  production_date: dt.date, at: dict) -> None:
    record = records.get(region, row["line"], at["batch"])
    if record is None or record.card_id != row["card_id"]:
        raise Halt("carrier has no matching card order in its region", **at, field="card_id",
                   expected=row["card_id"], found=record.card_id if record else None,
                   action="the manifest does not belong to this run's orders: re-render the run")
    for name, mine in (("token", record.token), ("last5", record.last5)):
        if row[name] != mine:
            raise Halt(f"manifest {name} differs from the card order", **at, field=name, expected=mine,
                       found=row[name], action="re-render the batch")
    first = parse(row["payloads"][0])
    if not first.region == region == record.region == record.address.country:
        raise Halt("region differs between barcode, batch and address country", **at, field="region",
                   expected=f"{record.region}/{record.address.country}", found=f"{first.region} in batch {region}",
                   action="correct the plan or layout and re-render")
    chosen = select_card_inserts(catalog, record, carriers[region].welcome_kit, production_date)
    hoppers = hoppers_of(chosen)
    if first.hoppers != hoppers:
        raise Halt("insert bitmap differs from the welcome-kit eligibility applied afresh", **at, field="hoppers",
                   expected=sorted(hoppers), found=sorted(first.hoppers),
                   action="check the catalog and carrier texts used by the run; re-plan and re-render")
    check_row_inserts(row, first, chosen, at)
