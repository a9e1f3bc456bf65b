"""Challenge pieces planned: a piece addressed to the issuer itself, per lot, after the run's real pieces.

Each lot (a region's pieces) gets `per_lot` challenge pieces with the sequences after every real
piece of the run, so the real pieces' sequences, barcodes and print files are those of a run without
challenges. A challenge piece is a real statement (or card carrier) of a made-up account addressed to
the issuer's return address (never a customer) that says on its face what it is; a statement is two
sheets long so a sheet can be swapped. Its class rotates through the configured classes from an
offset the run id fixes, so over nights every class is planted in every lot. Its record is spilled
like an accepted record (`work/challenge/accepted/<region>.jsonl`), so verification reads it back the
way it reads a real one.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from stmtprod.cards.models import CardRecord
from stmtprod.catalog import Catalog, hoppers_of, select_inserts
from stmtprod.challenges.config import ChallengeConfig
from stmtprod.challenges.faults import WRONG_HOPPER
from stmtprod.errors import ConfigError
from stmtprod.fsutil import atomic_open
from stmtprod.ingest.models import StatementRecord
from stmtprod.layout import Layout, LayoutSet
from stmtprod.regions import CURRENCY, MINOR_UNITS
from stmtprod.render.statement import FIRST_PAGE_ROWS

LABEL = "CHALLENGE PIECE - DO NOT MAIL - RETURN TO QA"
"""What the piece's transactions say, so whoever opens one knows what it is."""


@dataclass(frozen=True)
class Challenge:
    """One planned challenge piece: its region (its lot is the region's), its number there, sequence,
    class, and its batch (one piece a file)."""

    region: str
    number: int
    sequence: int
    kind: str

    @property
    def name(self) -> str:
        """The batch and file name: `AU-C01`."""
        return f"{self.region}-C{self.number:02d}"


def plan(per_lot: int, classes: tuple[str, ...], run_id: str, lots: list[tuple[str, int]],
         first_sequence: int) -> list[Challenge]:
    """`per_lot` challenges for each lot that has pieces (`lots`: (region, real pieces) in run order),
    sequenced from `first_sequence`, `classes` rotating from the run's own offset."""
    start = int(hashlib.sha256(run_id.encode()).hexdigest(), 16) % len(classes)
    planned: list[Challenge] = []
    for region, count in lots:
        if not count:
            continue
        for number in range(1, per_lot + 1):
            kind = classes[(start + len(planned)) % len(classes)]
            planned.append(Challenge(region, number, first_sequence + len(planned), kind))
    return planned


def check_addressees(config: ChallengeConfig, layouts: LayoutSet, regions, source: str) -> None:
    """Every region of the run has a challenge addressee, and it is the issuer's own return address
    (each field is part of the layout's `return_address`), never anyone else's."""
    if config.per_lot == 0:
        return
    for region in regions:
        who = config.address.get(region)
        key = f"challenge.address.{region}"
        if who is None:
            raise ConfigError(f"no challenge addressee for region {region}: give the issuer's return address",
                              file=source, key=key)
        returns = " ".join(layouts[region].return_address)
        for field, value in (("name", who.name), *((f"lines.{i}", v) for i, v in enumerate(who.lines)),
                             ("city", who.city), ("state", who.state), ("postcode", who.postcode)):
            if value and value not in returns:
                raise ConfigError(f"{value!r} is not part of the layout's return address {returns!r}: challenge "
                                  "pieces go to the issuer only", file=source, key=f"{key}.{field}")


def _language(layout: Layout) -> str:
    return next((lang for lang in layout.labels if lang != "en"), "en")


def _address(config: ChallengeConfig, region: str) -> dict:
    who = config.address[region]
    return {"lines": list(who.lines), "city": who.city, "state": who.state, "postcode": who.postcode,
            "country": region}


def statement_record(challenge: Challenge, layout: Layout, config: ChallengeConfig,
                     cycle_end: dt.date) -> StatementRecord:
    """The challenge piece's statement: the issuer's own address, this cycle's dates, two sheets of
    small transactions (each amount different) that say what the piece is."""
    who = config.address[challenge.region]
    currency = CURRENCY[challenge.region]
    unit = Decimal(1).scaleb(-MINOR_UNITS[currency])
    rows = FIRST_PAGE_ROWS + 1
    start = cycle_end - dt.timedelta(days=30)
    transactions = [{"date": str(start + dt.timedelta(days=1 + i % 29)), "description": LABEL,
                     "amount": str(unit * (100 + i))} for i in range(rows)]
    zero = str(unit * 0)
    total = str(sum(unit * (100 + i) for i in range(rows)))
    data = {"account_id": f"CHALLENGE-{challenge.region}-{challenge.sequence}", "region": challenge.region,
            "product": "classic", "language": _language(layout), "delivery": "paper", "name": who.name,
            "address": _address(config, challenge.region),
            "card_last5": "00000", "period_start": str(start), "period_end": str(cycle_end),
            "due_date": str(cycle_end + dt.timedelta(days=20)), "currency": currency,
            "previous_balance": zero, "payments": zero, "credits": zero, "fees": zero, "interest": zero,
            "new_balance": total, "minimum_due": zero, "transactions": transactions}
    return StatementRecord.model_validate(data)


def planned_hoppers(challenge: Challenge, inserts) -> list[int]:
    """The hoppers the piece is planned with: its inserts', with WRONG_HOPPER flipped for `insert-bit`."""
    hoppers = set(hoppers_of(inserts))
    if challenge.kind == "insert-bit":
        hoppers ^= {WRONG_HOPPER}
    return sorted(hoppers)


def write_batch(challenge: Challenge, rec: StatementRecord, catalog: Catalog, batch: Path) -> str:
    """The piece's batch file (one piece); returns its line for the region's challenge spill (its
    line there is its number)."""
    inserts = select_inserts(catalog, rec)
    record_json = rec.model_dump_json()
    piece = {"sequence": challenge.sequence, "line": challenge.number, "inserts": [i.code for i in inserts],
             "hoppers": planned_hoppers(challenge, inserts)}
    with atomic_open(batch) as fh:
        fh.write(json.dumps(piece)[:-1] + ', "record": ' + record_json + "}\n")
    return f'{{"line": {challenge.number}, "record": {record_json}}}\n'


def card_record(challenge: Challenge, layout: Layout, config: ChallengeConfig) -> CardRecord:
    """The challenge carrier's order: the issuer's own address, no card (its token stands for none,
    last five digits 00000), an embossed name that says what it is."""
    card_id = f"CHALLENGE-{challenge.region}-{challenge.sequence}"
    return CardRecord(card_id=card_id, region=challenge.region, product="classic", language=_language(layout),
                      token="tok_" + hashlib.sha256(card_id.encode()).hexdigest()[:16], last5="00000",
                      embossed_name="CHALLENGE CARRIER", name=config.address[challenge.region].name,
                      address=_address(config, challenge.region), reason="new")
