"""Inspection stage 4, dispatch: sampled envelopes against the mailing manifest.

Each sampled piece must have its mailing row, in the tray of its destination country (which is its
lot's region), with the record's postcode in the country's shape, in presort order within the tray
(postcode, then account id, `presort_index` its 1-based place), weighing what the inserter weighed and
what the catalog's weights add up to, and in the postage class of that weight; its postal class
(barcoded or not) is the one its address implies and its postal barcode decodes to that address.
"""
from __future__ import annotations

import re

import numpy as np

from stmtprod.catalog import select_inserts
from stmtprod.inspect.context import InspectionContext
from stmtprod.mailing import postage_class
from stmtprod.postal.piece import decide
from stmtprod.postal.verify import decoded_fields, reference_bars
from stmtprod.regions import REGIONS

WEIGHT_TOLERANCE_G = 0.05  # weights are recorded to 0.1 g


def _defect(sequence: int, kind: str, evidence: str) -> dict:
    return {"piece": sequence, "kind": kind, "evidence": evidence}


class _TrayIndex:
    """sequence -> (tray, 0-based position in the tray's rows): the first place a sequence is found,
    trays in region order. Sorted numpy arrays per tray (16 bytes a row), not a dict of tuples."""

    def __init__(self, ctx: InspectionContext):
        self.trays = []
        for tray in REGIONS:
            sequences = np.frombuffer(ctx.mailing_tray_sequences(tray), dtype=np.int64)
            order = np.argsort(sequences, kind="stable")  # equal sequences keep row order: first row first
            self.trays.append((tray, sequences[order], order))

    def find(self, seq: int) -> tuple[str, int] | None:
        for tray, sequences, order in self.trays:
            at = int(np.searchsorted(sequences, seq))
            if at < len(sequences) and sequences[at] == seq:
                return tray, int(order[at])
        return None

    def __contains__(self, seq: int) -> bool:
        return self.find(seq) is not None

    def __getitem__(self, seq: int) -> tuple[str, int]:
        found = self.find(seq)
        if found is None:
            raise KeyError(seq)
        return found


def mailing_index(ctx: InspectionContext) -> _TrayIndex:
    """sequence -> (tray, position), built once per context from one read of the mailing manifest."""
    return ctx.memo("dispatch.mailing_index", lambda: _TrayIndex(ctx))


def expected_weight(ctx: InspectionContext, sheets: int, record) -> float:
    inserter = ctx.catalog.inserter
    inserts = select_inserts(ctx.catalog, record)
    return round(inserter.envelope_weight_g + sheets * inserter.sheet_weight_g + sum(i.weight_g for i in inserts), 1)


def check_mailing(ctx: InspectionContext, lot: str, seq: int, index: _TrayIndex) -> list[dict]:
    piece = ctx.piece(seq)
    found = index.find(seq)
    if found is None:
        return [_defect(seq, "missing-from-mailing", f"piece {seq} ({piece['account_id']}) is in no mailing tray")]
    tray, position = found
    row = ctx.mailing_tray_row(tray, position)
    record = ctx.record(seq)
    region = lot if lot in REGIONS else piece["region"]
    layout = ctx.layouts[region]
    defects = []
    if row.get("account_id") != record.account_id:
        defects.append(_defect(seq, "wrong-account", f"mailing row names {row.get('account_id')}, the piece is "
                                                     f"{record.account_id}"))
    if row.get("tray") != tray or tray != record.address.country or tray != region:
        defects.append(_defect(seq, "wrong-tray", f"in tray {row.get('tray')} (listed under {tray}); the address "
                                                  f"country is {record.address.country}, the lot's region {region}"))
    postcode = row.get("postcode")
    if postcode != record.address.postcode:
        defects.append(_defect(seq, "postcode-format", f"mailing postcode {postcode!r}, the record's is "
                                                       f"{record.address.postcode!r}"))
    elif not isinstance(postcode, str) or not (
            (postcode == "" and not layout.address.postcode_required)
            or (postcode and re.fullmatch(layout.address.postcode_pattern, postcode))):
        defects.append(_defect(seq, "postcode-format", f"postcode {postcode!r} is not of the shape "
                                                       f"{layout.address.postcode_pattern} for {region}"
                                                       + (" (required)" if layout.address.postcode_required else "")))
    key = (row.get("postcode"), row.get("account_id"))
    if position > 0:
        before = ctx.mailing_tray_row(tray, position - 1)
        previous = (before.get("postcode"), before.get("account_id"))
        if not previous <= key:
            defects.append(_defect(seq, "presort-order", f"tray {tray}: {key} comes after {previous}, out of "
                                                         "(postcode, account) order"))
    if row.get("presort_index") != position + 1:
        defects.append(_defect(seq, "presort-order", f"tray {tray}: presort_index {row.get('presort_index')}, "
                                                     f"but the row is number {position + 1} in the tray"))
    want = expected_weight(ctx, piece["sheets"], record)
    weight = row.get("weight_g")
    env = ctx.envelope(seq)
    logged = env.get("weight_g") if env else None
    if not isinstance(weight, (int, float)) or abs(weight - want) > WEIGHT_TOLERANCE_G:
        defects.append(_defect(seq, "weight", f"mailing weight {weight} g; {piece['sheets']} sheets and the "
                                              f"eligible inserts weigh {want} g"))
    elif logged is None or abs(weight - logged) > WEIGHT_TOLERANCE_G:
        defects.append(_defect(seq, "weight", f"mailing weight {weight} g; the inserter weighed {logged} g"))
    if row.get("postage_class") != postage_class(want):
        defects.append(_defect(seq, "postage-class", f"postage class {row.get('postage_class')}; {want} g is "
                                                     f"{postage_class(want)}"))
    return defects + check_postal(seq, row, piece, record)


def check_postal(seq: int, row: dict, piece: dict, record) -> list[dict]:
    """The postal class of the mailing row is the one the address implies, and a BARCODED piece's
    manifest carries a postal barcode that decodes (parity or check character) to the record's fields."""
    decision = decide(record)
    if row.get("postal_class") != decision.postal_class:
        why = f" ({decision.reason})" if decision.reason else ""
        return [_defect(seq, "postal-class", f"postal class {row.get('postal_class')}; the address gives "
                                             f"{decision.postal_class}{why}")]
    entry = piece.get("postal") or {}
    if entry.get("class") != decision.postal_class:
        return [_defect(seq, "postal-class", f"the print manifest says {entry.get('class')}, the mailing "
                                             f"manifest {decision.postal_class}")]
    if decision.wanted is None:
        return []
    bars = entry.get("bars") or ""
    try:
        fields = decoded_fields(decision.wanted.symbology, bars)
    except ValueError as exc:
        return [_defect(seq, "postal-barcode", f"the piece's postal barcode does not decode: {exc}")]
    if bars != reference_bars(decision.wanted.symbology, decision.wanted.fields):
        return [_defect(seq, "postal-barcode", f"the postal barcode carries {fields}, the address gives "
                                               f"{decision.wanted.fields}")]
    return []


def inspect(ctx: InspectionContext, lot: str, sample: list[int]) -> list[dict]:
    """Dispatch defects of the sampled pieces of one lot."""
    index = mailing_index(ctx)
    defects: list[dict] = []
    for seq in sample:
        defects += check_mailing(ctx, lot, seq, index)
    return defects
