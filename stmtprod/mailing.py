"""The mailing manifest: what the dispatch bay and the postal operator receive, one row per envelope.

Envelopes go into one tray per destination country, in presort order (postcode, then account id)
so the postal operator's sort discount applies; weight comes from the inserter's envelope log and
fixes the postage class.
"""
from __future__ import annotations

from pathlib import Path

from stmtprod.fsutil import write_jsonl

# (upper weight limit in grams, postage class): the first band the envelope fits.
POSTAGE_CLASSES: tuple[tuple[float, str], ...] = ((20.0, "LETTER-S"), (50.0, "LETTER-M"), (250.0, "LARGE"))


def postage_class(weight_g: float) -> str:
    for limit, name in POSTAGE_CLASSES:
        if weight_g <= limit:
            return name
    return "PARCEL"


def mailing_rows(envelopes: list[dict], record_of) -> list[dict]:
    """Rows in tray and presort order; `record_of(sequence)` reads a piece's source record (one at a
    time, so only the small rows stay in memory)."""
    rows = []
    for env in envelopes:
        record = record_of(env["sequence"])
        rows.append({"sequence": env["sequence"], "account_id": record.account_id,
                     "tray": record.address.country, "postcode": record.address.postcode,
                     "weight_g": env["weight_g"], "postage_class": postage_class(env["weight_g"])})
    rows.sort(key=lambda r: (r["tray"], r["postcode"], r["account_id"]))
    position: dict[str, int] = {}
    for row in rows:
        position[row["tray"]] = position.get(row["tray"], 0) + 1
        row["presort_index"] = position[row["tray"]]
    return rows


def write_mailing(path: Path, rows: list[dict]) -> int:
    return write_jsonl(path, rows)
