"""The defect kinds an inspector may record at each stage, per line: the kinds the automatic
inspectors find, plus what only a person at the stage can see (print quality, damage).

One list, so that `stmtprod qa record` refuses a kind nobody defined (a typo would otherwise start a
category of its own in the quality history) and the README can print the same list.
"""
from __future__ import annotations

STATEMENT_KINDS: dict[int, dict[str, str]] = {
    1: {
        "wrong-name": "the name differs from the record",
        "wrong-address": "an address line differs from the record or is missing",
        "wrong-account": "the account or card reference differs from the record",
        "wrong-date": "a date differs from the record or is not in the region's format",
        "wrong-amount": "an amount or total differs from the record or is not in the region's format",
        "missing-transaction": "a transaction of the record is not printed",
        "extra-transaction": "a transaction is printed that the record does not have",
        "wrong-description": "a transaction's description differs from the record",
        "wrong-page-count": "the statement has more or fewer sheets than its pagination",
        "wrong-language": "labels are not in the record's language",
        "text-cut": "a title, label or value is cut off or runs out of its box",
    },
    2: {
        "wrong-payload": "the barcode reads, but not the manifest's payload",
        "unreadable": "the barcode does not read",
        "bar-width": "the narrow bar is thinner than the layout's minimum",
        "quiet-zone": "something prints inside the barcode's quiet zone",
        "address-outside-window": "the address block is not inside the envelope window",
        "print-quality": "smear, streak, faint or missing print seen on the sheet",
        "paper-damage": "a torn, creased or marked sheet",
    },
    3: {
        "missing-envelope": "a piece has no envelope in the inserter's log",
        "insert-not-allowed": "an insert the piece is not eligible for",
        "insert-missing": "an insert the piece is eligible for is missing",
        "wrong-hopper": "an insert pulled from the wrong hopper",
        "collation": "sheets of the envelope out of order, missing or foreign",
        "envelope-damage": "a torn, unsealed or marked envelope",
    },
    4: {
        "missing-from-mailing": "an envelope is not in the mailing manifest",
        "wrong-account": "the mailing row names another account",
        "wrong-tray": "the envelope is in another country's tray",
        "postcode-format": "the postcode does not have the country's format",
        "presort-order": "the envelope is out of presort order",
        "weight": "the weight differs from the envelope's contents",
        "postage-class": "the postage class does not fit the envelope",
    },
}

CARD_KINDS: dict[int, dict[str, str]] = {
    1: {
        "address": "an address line is not on the carrier",
        "embossed-name": "the embossed name is not on the carrier",
        "masked-number": "the masked card number ('Card ending ...') is wrong or missing",
        "greeting": "the greeting is wrong or missing",
        "hotline": "the hotline is wrong or missing",
        "activation": "the activation steps are missing",
        "enclosures": "an enclosure is not listed",
        "card-number-shape": "a run of digits shaped like a card number is printed",
        "text-cut": "a title, label or value is cut off or runs out of its box",
    },
    2: {
        "barcode": "the barcode does not read as the manifest's payload",
        "print-quality": "smear, streak, faint or missing print seen on the carrier",
        "paper-damage": "a torn, creased or marked carrier",
    },
    3: {
        "no-card": "no card in the carrier's slot",
        "card-id": "the card in the slot is another order's",
        "last5": "the card's last five digits differ from the carrier's",
        "embossed-name": "the card's embossed name differs from the carrier's",
        "inserts": "the welcome-kit inserts differ from eligibility",
    },
}


def defect_kinds(line: str, stage: int) -> dict[str, str]:
    """The kinds (name -> meaning) defined for a stage of the statement or card line."""
    return (CARD_KINDS if line == "cards" else STATEMENT_KINDS).get(stage, {})
