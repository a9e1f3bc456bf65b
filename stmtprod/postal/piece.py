"""What a statement's record implies for its postal barcode, and the postage class that follows.

Australia: a DPID from the issuer's address validation gives the 4-state standard customer barcode
(FCC 11) and the barcoded PreSort class. Japan: the postcode and the address number formed by Japan
Post's rules give the customer barcode and its discount. A record for which neither can be formed
with certainty prints without a postal barcode, in the non-barcoded class: never a wrong barcode.
The other markets print no postal barcode.
"""
from __future__ import annotations

from dataclasses import dataclass

from stmtprod.layout import POSTAL_SYMBOLOGY
from stmtprod.postal import zintcode  # here, not on first use: see bars_of
from stmtprod.cardnumbers import card_number_field
from stmtprod.postal.address import AddressNumberError, address_number, barcode_postcode

BARCODED = "BARCODED"
NON_BARCODED = "NON-BARCODED"
NOT_APPLICABLE = "NO-POSTAL-BARCODE"  # markets whose bulk rates ask for no sender-printed barcode
AUSPOST_FCC = 11


@dataclass(frozen=True)
class PostalFields:
    """What the barcode must carry: the fields (a DPID, or postcode and address number)."""

    symbology: str
    fields: dict


@dataclass(frozen=True)
class PostalDecision:
    postal_class: str
    wanted: PostalFields | None = None
    reason: str | None = None


def decide(record) -> PostalDecision:
    """The postal barcode fields a record implies, or why it gets none."""
    address = record.address
    return decide_address(record.region, address.lines, address.postcode, getattr(address, "dpid", None))


def decide_address(region: str, lines: list[str], postcode: str, dpid: str | None) -> PostalDecision:
    """`decide` from the plain address fields (the mailing manifest reads records as JSON)."""
    if region not in POSTAL_SYMBOLOGY:
        return PostalDecision(NOT_APPLICABLE)
    if region == "AU":
        if not dpid:
            return PostalDecision(NON_BARCODED, reason="no DPID from address validation")
        return PostalDecision(BARCODED, PostalFields("auspost", {"fcc": AUSPOST_FCC, "dpid": dpid}))
    try:
        code = barcode_postcode(postcode)
        number = address_number(" ".join(lines))
    except AddressNumberError as exc:
        return PostalDecision(NON_BARCODED, reason=str(exc))
    if card_number_field([("address_number", number)]):
        # The address's numbers joined with hyphens (4241-5920-6611-2571 from 4241番 ... 2571棟) would put
        # what reads as a card number into the manifest and the mailing files: mailed without the barcode.
        return PostalDecision(NON_BARCODED, reason="the address's numbers, joined as the address number, read as "
                                                   "a card number")
    return PostalDecision(BARCODED, PostalFields("japanpost", {"postcode": code, "address_number": number}))


def bars_of(wanted: PostalFields) -> str:
    """The bar string production prints for the fields (zint). zint is imported with this module, so
    the line's process has it before it starts its render workers: imported inside a worker's first
    render, its caught exceptions held that render's frames, and its print file, in a reference cycle."""
    if wanted.symbology == "auspost":
        return zintcode.auspost_bars(wanted.fields["fcc"], wanted.fields["dpid"])
    return zintcode.japanpost_bars(wanted.fields["postcode"], wanted.fields["address_number"])


def manifest_entry(decision: PostalDecision) -> dict:
    """The manifest row's `postal` value: class, symbology, fields and bars, or the reason for none."""
    if decision.wanted is None:
        return {"class": decision.postal_class, "reason": decision.reason}
    return {"class": decision.postal_class, "symbology": decision.wanted.symbology,
            "fields": decision.wanted.fields, "bars": bars_of(decision.wanted)}
