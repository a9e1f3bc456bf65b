"""Streaming ingest of a card order file: every line ends accepted or quarantined.

Each line is validated on its own (schema, Luhn, expiry, region and country, postcode shape of the
market, characters that print and read back, fields that fit their boxes: `stmtprod.ingest.printable`).
One order per card id: an identical repeat is suppressed ("duplicate order"), a repeat that differs
quarantines every copy; a card number already ordered under another card id is quarantined. An accepted
order is turned at once into a sanitized `CardRecord` (token and last five digits; no number, no
expiry) and only that is spilled to `accepted/<REGION>.jsonl`. A rejected line becomes a quarantine
row `{line, card_id, field, kind, reason}`; neither the raw line nor any message quoting the card
number is ever written, so no work file, spill or quarantine row holds a card number.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from pydantic import ValidationError

from stmtprod.cardnumbers import echo_safe
from stmtprod.cards.keys import CardKey
from stmtprod.cards.models import CardOrder, CardRecord, CardSpillRow, digit_runs
from stmtprod.fsutil import atomic_open
from stmtprod.cards.texts import CarrierSet, record_boxes
from stmtprod.ingest import printable
from stmtprod.ingest.lines import OVERSIZE, input_lines, nfc_line, oversize_reason
from stmtprod.ingest.models import ACCOUNT_ID_PATTERN
from stmtprod.ingest.trusted import TrustedRows
from stmtprod.ingest.reader import Reject, check_postcode, quarantine_reject, reject_from, text_fields
from stmtprod.layout import LayoutSet
from stmtprod.regions import REGIONS


@dataclass
class CardIngest:
    input_sha256: str = ""
    input: int = 0
    blank_lines: int = 0
    quarantined: int = 0
    accepted: dict[str, list[int]] = field(default_factory=dict)   # region -> input line numbers, file order
    quarantined_by_kind: Counter = field(default_factory=Counter)
    suppressed: Counter = field(default_factory=Counter)

    @property
    def accepted_count(self) -> int:
        return sum(len(v) for v in self.accepted.values())


_REJECT_KINDS = {"pan": "pan", "expiry": "expiry", "region": "region", "embossed_name": "emboss"}

PROGRESS_EVERY = 5000
"""Lines between two progress reports."""


def _reject_from(exc: ValidationError) -> Reject:
    """The first error as a quarantine reason; built from message and path only, never the input value."""
    return reject_from(exc, _REJECT_KINDS, region_fields=("region", "address.country"))


def _printable(order: CardOrder, layouts: LayoutSet, carriers: CarrierSet | None) -> None:
    """What the carrier prints of the order must print, read back and fit (`stmtprod.ingest.printable`)."""
    layout = layouts[order.region]
    texts = text_fields(order.name, order.address) + [("embossed_name", order.embossed_name)]
    try:
        printable.check_characters(texts, layout.fonts, order.region)
        printable.check_window(layout, order.name, order.address)
        if carriers is not None:
            printable.check_fits(layout, record_boxes(layout, carriers[order.region], order.language,
                                                      order.card_id, order.embossed_name))
    except printable.Unprintable as exc:
        raise Reject(exc.field, exc.reason, exc.kind) from None


def _check(raw: bytes, layouts: LayoutSet, carriers: CarrierSet | None, produced: dt.date | None = None) -> CardOrder:
    try:
        order = CardOrder.model_validate_json(raw)
    except ValidationError as exc:
        raise _reject_from(exc) from None
    _check_keys_once(raw, order)
    if produced is not None and _expired(order.expiry, produced):
        raise Reject("expiry", f"the card expires before the production month {produced:%Y-%m}", "expiry")
    check_postcode(layouts[order.region], order.region, order.address.postcode)
    _printable(order, layouts, carriers)
    return order


def _expired(expiry: str, produced: dt.date) -> bool:
    """A card whose expiry month (YYYY-MM, validated) is before the month it is made in."""
    return (int(expiry[:4]), int(expiry[5:7])) < (produced.year, produced.month)


def _check_keys_once(raw: bytes, order: CardOrder) -> None:
    """Refuse an order that gives a key twice, as the statement line does: pydantic keeps the last value,
    so a first "pan" or "name" would go unchecked (which value counts would be a guess). A line with as
    many colons as the order's keys has none twice; any other is read again keeping every key."""
    if raw.count(b":") == len(order.model_fields_set) + len(order.address.model_fields_set):
        return
    try:
        json.loads(raw, object_pairs_hook=_once)
    except _Twice:
        raise Reject("(record)", "a key is given twice in the order; which value counts would be a guess",
                     "json") from None


class _Twice(Exception):
    """A JSON object with a key given twice."""


def _once(pairs: list[tuple[str, object]]) -> dict:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise _Twice
    return found


_CARD_ID = re.compile(ACCOUNT_ID_PATTERN)   # card ids have the shape of account ids


def safe_card_id(raw: bytes) -> str | None:
    """The line's card id for the quarantine row, if readable and free of long digit runs."""
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    card_id = value.get("card_id") if isinstance(value, dict) else None
    if not isinstance(card_id, str) or not _CARD_ID.fullmatch(card_id) or digit_runs(card_id) or not echo_safe(card_id):
        return None
    return card_id


def ingest_orders(path: Path, layouts: LayoutSet, key: CardKey, spill_dir: Path, quarantine_path: Path,
                  carriers: CarrierSet | None = None,
                  progress: Callable[[int, int, int], None] | None = None,
                  produced: dt.date | None = None) -> CardIngest:
    """Validate every order; spill sanitized records per region; quarantine rejects with line and reason.

    `carriers` (the carrier texts) lets the fitting check measure the lines the carrier prints the
    embossed name on. `progress(bytes_read, bytes_total, orders)` is called every few thousand lines,
    as the statement line's ingest does. `produced`: the production date; a card expiring before its
    month is quarantined."""
    digest = hashlib.sha256()
    result = CardIngest()
    result.accepted = {r: [] for r in REGIONS}
    spill_dir.mkdir(parents=True, exist_ok=True)
    seen_ids: dict[str, tuple[int, str, bytes]] = {}   # card id -> (first line, region, digest of its record)
    seen_tokens: dict[str, int] = {}                     # token -> the line that first ordered it
    withdrawn: set[str] = set()                          # card ids whose every copy is quarantined
    with ExitStack() as stack:
        spills = {r: stack.enter_context(atomic_open(spill_dir / f"{r}.jsonl")) for r in REGIONS}
        source = stack.enter_context(open(path, "rb"))
        quarantine = stack.enter_context(atomic_open(quarantine_path))

        def withdraw(card_id: str, reason: str) -> None:
            """Quarantine the accepted first copy of `card_id` (once): its duplicate conflicts with it."""
            if card_id in withdrawn:
                return
            withdrawn.add(card_id)
            line, region, _digest = seen_ids[card_id]
            result.accepted[region].remove(line)
            quarantine_reject(quarantine, result, Reject("card_id", reason, "duplicate"), line=line,
                              card_id=card_id, account_id=card_id)

        size = os.fstat(source.fileno()).st_size
        for number, raw, _start in input_lines(source, digest, result):
            if progress is not None and number % PROGRESS_EVERY == 0:
                progress(source.tell(), size, result.input)
            try:
                if raw is OVERSIZE:
                    raise Reject("(record)", oversize_reason(), "size")
                raw = nfc_line(raw)
                order = _check(raw, layouts, carriers, produced)
                record: CardRecord = order.record(key.token(order.pan))
                del order
                fingerprint = hashlib.blake2b(record.model_dump_json().encode(), digest_size=16).digest()
                first = seen_ids.get(record.card_id)
                if first is not None and first[2] == fingerprint and record.card_id not in withdrawn:
                    result.suppressed["duplicate order"] += 1
                    continue
                if first is not None:
                    reason = (f"card id {record.card_id} is ordered on lines {first[0]} and {number} with different "
                              "contents; every copy is quarantined")
                    withdraw(record.card_id, reason)
                    raise Reject("card_id", reason, "duplicate")
                if record.token in seen_tokens:
                    raise Reject("pan", f"the same card number was already ordered on line "
                                        f"{seen_tokens[record.token]} ({record.token})", "duplicate")
            except Reject as rej:
                card_id = safe_card_id(raw) if raw is not OVERSIZE else None
                quarantine_reject(quarantine, result, rej, line=number, card_id=card_id, account_id=card_id)
                continue
            seen_ids[record.card_id] = (number, record.region, fingerprint)
            seen_tokens[record.token] = number
            result.accepted[record.region].append(number)
            spills[record.region].write(json.dumps({"line": number, "record": record.model_dump(mode="json")},
                                                   ensure_ascii=False, sort_keys=True) + "\n")
    result.input_sha256 = digest.hexdigest()
    return result


_SPILL_ROWS = TrustedRows(CardSpillRow, "spill row")


def read_spill(path: Path) -> dict[int, CardRecord]:
    """Input line number -> sanitized record, from one region's spill, as trusted views
    (`stmtprod.ingest.trusted`): ingest validated them; the readers check carriers against them."""
    return _read_spill(path, lambda raw, number: _SPILL_ROWS.decode(raw, path, number))


def read_spill_records(path: Path) -> dict[int, CardRecord]:
    """`read_spill` as pydantic models, for code that builds new models around them (the plan's carriers)."""
    return _read_spill(path, lambda raw, _number: CardSpillRow.model_validate_json(raw))


def _read_spill(path: Path, decode: Callable) -> dict:
    out = {}
    if not path.exists():
        return out
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, 1):
            row = decode(raw, number)
            out[row.line] = row.record
    return out


def ingest_records(path: Path, spill_dir: Path, quarantine_path: Path) -> CardIngest:
    """A reprint child's input: sanitized records (token and last five digits, never a card number) as
    the parent's ingest spilled them, already validated then; validated again as records here, spilled
    with their line numbers. Nothing is quarantined that the parent accepted, so the quarantine is empty."""

    digest = hashlib.sha256()
    result = CardIngest()
    result.accepted = {r: [] for r in REGIONS}
    spill_dir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        spills = {r: stack.enter_context(atomic_open(spill_dir / f"{r}.jsonl")) for r in REGIONS}
        stack.enter_context(atomic_open(quarantine_path))
        with open(path, "rb") as source:
            for number, raw in enumerate(source, 1):
                digest.update(raw)
                result.input += 1
                record = CardRecord.model_validate_json(raw)
                result.accepted[record.region].append(number)
                spills[record.region].write(json.dumps({"line": number, "record": record.model_dump(mode="json")},
                                                       ensure_ascii=False, sort_keys=True) + "\n")
    result.input_sha256 = digest.hexdigest()
    return result
