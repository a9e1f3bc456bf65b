"""Streaming ingest of a cycle extract: every line ends accepted, quarantined or suppressed.

Records are validated one at a time and spilled to a per-region file, so memory does not grow with
the extract. A reject never stops the line by itself; it is written to the quarantine file with its
1-based line number, the account id when readable, the field and the reason.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterable, Iterator

from pydantic import ValidationError

from stmtprod.cardnumbers import echo_safe, reason as card_number_reason, redact, statement_card_number
from stmtprod.catalog import Catalog, select_inserts
from stmtprod.fsutil import atomic_open
from stmtprod.ingest.models import ACCOUNT_ID_PATTERN, TEXT_PATTERN, TEXT_PATTERN_REASON, RuleError, StatementRecord
from stmtprod.layout import Layout, LayoutSet
from stmtprod.plan import Accepted, presort_key
from stmtprod.regions import REGIONS
from stmtprod.render.fonts import coverage


@dataclass
class Reject(Exception):
    field: str
    reason: str
    kind: str


@dataclass
class IngestResult:
    input_sha256: str
    input: int = 0
    blank_lines: int = 0
    quarantined: int = 0
    suppressed: Counter = field(default_factory=Counter)
    accepted: dict[str, list[bytes]] = field(default_factory=dict)   # region -> packed `Accepted` keys
    accepted_count: int = 0
    insert_sets: list[tuple[str, ...]] = field(default_factory=list)  # distinct insert sets, by index
    quarantined_by_kind: Counter = field(default_factory=Counter)
    input_by_region: Counter = field(default_factory=Counter)
    cycle_end: dt.date | None = None

    def take_accepted(self, region: str) -> list[bytes]:
        """A region's accepted keys, handed over once (to the planner), so they are not held for the
        rest of the run; `accepted_count` keeps the total."""
        return self.accepted.pop(region, [])


def reject_from(exc: ValidationError, kinds: dict[str, str] | None = None,
                region_fields: tuple[str, ...] = ()) -> Reject:
    """The first validation error as a quarantine reason, built from message and path, never the input value.

    `kinds` maps a field path to its reject kind (default "field"); for `region_fields` a short
    non-numeric bad value is named with the regions the line knows.
    """
    err = exc.errors()[0]
    cause = (err.get("ctx") or {}).get("error")
    if isinstance(cause, RuleError):
        return Reject(cause.field, str(cause), cause.kind)
    if err["type"] == "json_invalid":
        return Reject("(record)", f"not valid JSON: {err['ctx'].get('error', err['msg'])}", "json")
    path = ".".join(str(p) for p in err["loc"]) or "(record)"
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "missing":
        return Reject(path, f"required field {path} is missing", "missing")
    if err["type"] == "string_pattern_mismatch" and (err.get("ctx") or {}).get("pattern") == TEXT_PATTERN:
        message = TEXT_PATTERN_REASON
    if path in region_fields and isinstance(err.get("input"), str) and len(err["input"]) <= 8 \
            and not any(c.isdigit() for c in err["input"]):
        message = f"unknown region {err['input']!r}; expected one of {' '.join(REGIONS)}"
    return Reject(path, message, (kinds or {}).get(path, "field"))


def check_printable(texts: list[tuple[str, str]], covered: frozenset[int], region: str) -> None:
    """Reject the first (path, text) with a character the region layout's font cannot print."""
    for path, text in texts:
        if covered.issuperset(map(ord, text)):  # the common case, in C
            continue
        for ch in text:
            if ord(ch) not in covered:
                raise Reject(path, f"character {ch!r} (U+{ord(ch):04X}) cannot be printed with the {region} "
                                   "layout's font", "glyph")


def _printable(record: StatementRecord, covered: frozenset[int], region: str) -> None:
    texts = [("name", record.name), ("address.city", record.address.city),
             ("address.state", record.address.state), ("address.postcode", record.address.postcode)]
    texts += [(f"address.lines.{i}", t) for i, t in enumerate(record.address.lines)]
    texts += [(f"transactions.{i}.description", t.description) for i, t in enumerate(record.transactions)]
    check_printable(texts, covered, region)


def quarantine_reject(quarantine: IO[str], result, rej: Reject, **row: object) -> None:
    """Count a reject in `result` and write its quarantine row (`row`: line number and ids).

    Every text goes through `redact`: a field path may be a JSON key and a reason may quote a value,
    and neither may repeat a card number.
    """
    result.quarantined += 1
    result.quarantined_by_kind[rej.kind] += 1
    row |= {"field": rej.field, "kind": rej.kind, "reason": rej.reason}
    row = {k: redact(v) if isinstance(v, str) else v for k, v in row.items()}
    quarantine.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")


def _check_record(raw: bytes, layouts: LayoutSet) -> StatementRecord:
    try:
        record = StatementRecord.model_validate_json(raw)
    except ValidationError as exc:
        raise reject_from(exc) from None
    check_postcode(layouts[record.region], record.region, record.address.postcode)
    found = statement_card_number(record)
    if found:
        raise Reject(found, card_number_reason(found), "card-number")
    _check_keys_once(raw, record)
    return record


_KEY = re.compile(rb'(?<!\\)"\s*:')   # a key's closing quote and colon; a quote inside a string is escaped


def _check_keys_once(raw: bytes, record: StatementRecord) -> None:
    """Refuse a line that gives a key twice. Pydantic keeps the last value, but the accepted line is
    kept whole in the run's work files, so an earlier value would be kept unchecked (a card number in
    a first "name", say). Every key has a colon: as many colons as the record's keys settle it cheaply."""
    keys = (len(record.model_fields_set) + len(record.address.model_fields_set)
            + sum(len(t.model_fields_set) for t in record.transactions))
    if raw.count(b":") != keys and len(_KEY.findall(raw)) != keys:
        raise Reject("(record)", "a key is given twice in the record; which value counts would be a guess", "json")


def check_postcode(layout: Layout, region: str, postcode: str) -> None:
    """Reject a postcode (or a missing one the region requires) that is not of the region's shape."""
    if (postcode or layout.address.postcode_required) and not layout.postcode_re.fullmatch(postcode):
        shape = layout.address.postcode_pattern
        raise Reject("address.postcode", f"postcode {postcode!r} does not match {region} shape {shape}", "postcode")


def input_lines(source: Iterable[bytes], digest, result) -> Iterator[tuple[int, bytes]]:
    """Each non-blank input line with its 1-based number; every line goes into `digest`, counts into `result`."""
    for number, raw in enumerate(source, start=1):
        digest.update(raw)
        if not raw.strip():
            result.blank_lines += 1
            continue
        result.input += 1
        yield number, raw


_ACCOUNT_ID = re.compile(ACCOUNT_ID_PATTERN)


def _account_id(raw: bytes) -> str | None:
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    account = value.get("account_id") if isinstance(value, dict) else None
    if not isinstance(account, str) or not _ACCOUNT_ID.fullmatch(account) or not echo_safe(account):
        return None   # only an id of the valid shape, and no card number, is echoed
    return account


def ingest(path: Path, layouts: LayoutSet, regions: tuple[str, ...], spill_dir: Path,
           quarantine_path: Path, catalog: Catalog) -> IngestResult:
    """Validate every line of the extract; spill accepted records per region; quarantine rejects.

    Each accepted record's inserts are chosen here, from the catalog, while the record is at hand.
    """
    digest = hashlib.sha256()
    result = IngestResult(input_sha256="")
    spill_dir.mkdir(parents=True, exist_ok=True)
    spills = {r: open(spill_dir / f"{r}.jsonl", "wb") for r in regions}
    result.accepted = {r: [] for r in regions}
    insert_index: dict[tuple[str, ...], int] = {}
    try:
        with open(path, "rb") as source, atomic_open(quarantine_path) as quarantine:
            for number, raw in input_lines(source, digest, result):
                try:
                    record = _check_record(raw, layouts)
                    result.input_by_region[record.region] += 1
                    if record.region not in regions:
                        result.suppressed["region not selected"] += 1
                        continue
                    if record.delivery == "paperless":
                        result.suppressed["paperless"] += 1
                        continue
                    _printable(record, coverage(layouts[record.region].fonts), record.region)
                except Reject as rej:
                    quarantine_reject(quarantine, result, rej, line=number, account_id=_account_id(raw))
                    continue
                spill = spills[record.region]
                inserts = tuple(i.code for i in select_inserts(catalog, record))
                which = insert_index.setdefault(inserts, len(insert_index))
                result.accepted[record.region].append(Accepted.pack(presort_key(record), number, spill.tell(), which))
                result.accepted_count += 1
                spill.write(b'{"line":%d,"record":%s}\n' % (number, raw.strip()))
                if result.cycle_end is None or record.period_end > result.cycle_end:
                    result.cycle_end = record.period_end
    finally:
        for fh in spills.values():
            fh.close()
    result.input_sha256 = digest.hexdigest()
    result.insert_sets = list(insert_index)
    return result
