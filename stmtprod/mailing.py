"""The mailing manifest: what the dispatch bay and the postal operator receive, one row per envelope.

Envelopes go into one tray per destination country, in presort order (postcode, then account id)
so the postal operator's sort discount applies; weight comes from the inserter's envelope log and
fixes the postage class. The postal class says whether the envelope carries the postal operator's
barcode (stmtprod.postal.piece): Australia's PreSort barcoded rate and Japan's customer barcode
discount apply to BARCODED envelopes only.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

from stmtprod.fsutil import write_jsonl
from stmtprod.jsonrows import Fields
from stmtprod.plan import SPILL_ADDRESSES, spill_name
from stmtprod.postal.piece import decide_address

ENVELOPE_FIELDS = Fields("sequence", "region", "weight_g")  # what the manifest reads of an envelope log row
MAILING_FIELDS = Fields("tray", "postal_class")  # what the postal counts read of a mailing row

# (upper weight limit in grams, postage class): the first band the envelope fits.
POSTAGE_CLASSES: tuple[tuple[float, str], ...] = ((20.0, "LETTER-S"), (50.0, "LETTER-M"), (250.0, "LARGE"))


def postage_class(weight_g: float) -> str:
    for limit, name in POSTAGE_CLASSES:
        if weight_g <= limit:
            return name
    return "PARCEL"


def mailing_rows(envelope_log: Path, record_line_of, pulled: frozenset[int] = frozenset()) -> Iterator[dict]:
    """Rows in tray and presort order, from a lot's envelope log; `record_line_of(sequence)` reads a
    piece's source record as ingest spilled it (validated then; only its plain address fields are
    read, `plan.SPILL_ADDRESSES`). Only a small tuple per envelope is held, for the sort.
    Pieces `pulled` by a QA screening are not mailed, so they have no row."""
    keys = []
    with open(envelope_log, encoding="utf-8") as fh:
        for raw in fh:
            env = ENVELOPE_FIELDS(raw)
            if env["sequence"] in pulled:
                continue
            record = SPILL_ADDRESSES.decode(record_line_of(env["sequence"]), spill_name(env["region"]))["record"]
            address = record["address"]
            postal = decide_address(record["region"], address["lines"], address.get("postcode", ""),
                                    address.get("dpid")).postal_class
            keys.append((address["country"], address.get("postcode", ""), record["account_id"], env["sequence"],
                         env["weight_g"], postal))
    keys.sort()
    position: dict[str, int] = {}
    for tray, postcode, account_id, sequence, weight, postal in keys:
        position[tray] = position.get(tray, 0) + 1
        yield {"sequence": sequence, "account_id": account_id, "tray": tray, "postcode": postcode,
               "weight_g": weight, "postage_class": postage_class(weight), "postal_class": postal,
               "presort_index": position[tray]}


def postal_counts(mailing_dir: Path) -> dict[str, dict[str, int]]:
    """Envelopes per tray and postal class (BARCODED, NON-BARCODED, NO-POSTAL-BARCODE) in the
    mailing manifest: what the lodgement declares at each rate."""
    counts: dict[str, dict[str, int]] = {}
    for path in sorted(Path(mailing_dir).glob("*.jsonl")):
        with open(path, encoding="utf-8") as fh:
            for raw in fh:
                row = MAILING_FIELDS(raw)
                tray = counts.setdefault(row["tray"], {})
                tray[row["postal_class"]] = tray.get(row["postal_class"], 0) + 1
    return counts


def write_mailing(path: Path, rows: Iterable[dict]) -> int:
    return write_jsonl(path, rows)
