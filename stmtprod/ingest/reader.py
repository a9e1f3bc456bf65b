"""Streaming ingest of a cycle extract: every line ends accepted, quarantined or suppressed.

Records are validated one at a time and spilled to a per-region file, so memory does not grow with
the extract. A reject never stops the line by itself; it is written to the quarantine file with its
1-based line number, the account id when readable, the field and the reason.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from collections import Counter, deque
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path
from typing import IO, Callable, Iterator, NamedTuple

import numpy as np
from pydantic import ValidationError

from stmtprod.cardnumbers import echo_safe, reason as card_number_reason, redact, statement_card_number
from stmtprod.catalog import Catalog, select_inserts
from stmtprod.fsutil import atomic_open
from stmtprod.ingest import printable
from stmtprod.ingest.duplicates import Copy, Seen, resolve
from stmtprod.ingest.lines import OVERSIZE, input_lines, nfc_line, oversize_reason, read_line_at
from stmtprod.ingest.models import (ACCOUNT_ID_PATTERN, TEXT_PATTERN, TEXT_PATTERN_REASON, RuleError, StatementRecord,
                                    Transaction, schema_errors)
from stmtprod.layout import Layout, LayoutSet
from stmtprod.plan import Accepted, presort_key
from stmtprod.regions import REGIONS
from stmtprod.render.statement import record_boxes, sheet_count
from stmtprod.engine.workers import start_worker
from stmtprod.engine.workers import stop as stop_workers


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
    err = schema_errors(exc)[0]
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


def text_fields(name: str, address) -> list[tuple[str, str]]:
    """(path, text) of the name and address fields both lines print."""
    texts = [("name", name), ("address.city", address.city), ("address.state", address.state),
             ("address.postcode", address.postcode)]
    return texts + [(f"address.lines.{i}", t) for i, t in enumerate(address.lines)]


_DESCRIPTION = attrgetter("description")


def check_printable(record: StatementRecord, layout: Layout, catalog: Catalog, inserts) -> None:
    """Reject a record that could not be printed and inspected (`stmtprod.ingest.printable`)."""
    address = record.address
    try:
        if not printable.layout_prints(layout, "".join([record.name, *address.lines, address.city, address.state,
                                                     address.postcode, *map(_DESCRIPTION, record.transactions)])):
            texts = text_fields(record.name, address)
            texts += [(f"transactions.{i}.description", t.description) for i, t in enumerate(record.transactions)]
            printable.check_characters(texts, layout.fonts, record.region)
        printable.check_window(layout, record.name, record.address)
        printable.check_fits(layout, record_boxes(layout, record))
        printable.check_weight(catalog, sheet_count(len(record.transactions)), inserts)
    except printable.Unprintable as exc:
        raise Reject(exc.field, exc.reason, exc.kind) from None


def quarantine_reject(quarantine: IO[str], result, rej: Reject, **row: object) -> None:
    """Count a reject in `result` and write its quarantine row (`row`: line number and ids).

    Every text goes through `redact`: a field path may be a JSON key and a reason may quote a value,
    and neither may repeat a card number.
    """
    result.quarantined += 1
    result.quarantined_by_kind[rej.kind] += 1
    row |= {"field": rej.field, "kind": rej.kind, "reason": rej.reason}
    row = {k: redact(v) if isinstance(v, str) else v for k, v in row.items()}
    text = json.dumps(row, ensure_ascii=False, sort_keys=True)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate in a reason: escaped, never a crash
        text = json.dumps(row, sort_keys=True)
    quarantine.write(text + "\n")


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
_FIELDS_SET = attrgetter("__pydantic_fields_set__")   # what `model_fields_set` returns, without a Python call
# A valid transaction sets every field when all are required (extra keys are refused): no need to count
_TRANSACTION_KEYS = len(Transaction.model_fields) if all(
    f.is_required() for f in Transaction.model_fields.values()) else 0


def _check_keys_once(raw: bytes, record: StatementRecord) -> None:
    """Refuse a line that gives a key twice. Pydantic keeps the last value, but the accepted line is
    kept whole in the run's work files, so an earlier value would be kept unchecked (a card number in
    a first "name", say). Every key has a colon: as many colons as the record's keys settle it cheaply."""
    keys = (len(record.model_fields_set) + len(record.address.model_fields_set)
            + (_TRANSACTION_KEYS * len(record.transactions) if _TRANSACTION_KEYS
               else sum(map(len, map(_FIELDS_SET, record.transactions)))))
    if raw.count(b":") != keys and len(_KEY.findall(raw)) != keys:
        raise Reject("(record)", "a key is given twice in the record; which value counts would be a guess", "json")


def check_postcode(layout: Layout, region: str, postcode: str) -> None:
    """Reject a postcode (or a missing one the region requires) that is not of the region's shape."""
    if (postcode or layout.address.postcode_required) and not layout.postcode_re.fullmatch(postcode):
        shape = layout.address.postcode_pattern
        raise Reject("address.postcode", f"postcode {postcode!r} does not match {region} shape {shape}", "postcode")


_ACCOUNT_ID = re.compile(ACCOUNT_ID_PATTERN)


def _account_id(raw: bytes) -> str | None:
    """The line's account id for its quarantine row; never raises, however deeply the line nests."""
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    account = value.get("account_id") if isinstance(value, dict) else None
    if not isinstance(account, str) or not _ACCOUNT_ID.fullmatch(account) or not echo_safe(account):
        return None   # only an id of the valid shape, and no card number, is echoed
    return account


class Verdict(NamedTuple):
    """What ingest decides about one line on its own, in any process: rejected (`reject`: field,
    reason, kind; `account` the id it may echo), suppressed by `rule`, or accepted with its presort
    `key`, its inserts' codes and its period end. `region` is set once the record is valid (a record
    valid but unprintable is counted in its region's input and quarantined)."""

    raw: bytes | None
    region: str | None = None
    account_id: str | None = None
    rule: str | None = None
    key: tuple[str, str] | None = None
    inserts: tuple[str, ...] = ()
    period_end: dt.date | None = None
    reject: tuple[str, str, str] | None = None
    account: str | None = None


def verdict(raw: bytes | None, layouts: LayoutSet, regions: tuple[str, ...], catalog: Catalog) -> Verdict:
    """One line (`OVERSIZE` for a line over the cap) validated and screened on its own."""
    record = None
    try:
        if raw is OVERSIZE:
            raise Reject("(record)", oversize_reason(), "size")
        raw = nfc_line(raw)
        record = _check_record(raw, layouts)
        rule = ("region not selected" if record.region not in regions
                else "paperless" if record.delivery == "paperless" else None)
        if rule:
            return Verdict(raw, record.region, record.account_id, rule)
        chosen = select_inserts(catalog, record)
        check_printable(record, layouts[record.region], catalog, chosen)
    except Reject as rej:
        return Verdict(raw, record.region if record is not None else None,
                       reject=(rej.field, rej.reason, rej.kind),
                       account=_account_id(raw) if raw is not OVERSIZE else None)
    return Verdict(raw, record.region, record.account_id, None, presort_key(record), tuple(map(_CODE, chosen)),
                   record.period_end)


_CODE = attrgetter("code")
_CONFIG: tuple = ()
_CHUNK_LINES = 500
_AHEAD = 4  # chunks in flight per worker: enough to keep them busy, little enough to keep memory flat


def _setup_worker(layouts: LayoutSet, regions: tuple[str, ...], catalog: Catalog) -> None:
    global _CONFIG
    start_worker()
    _CONFIG = (layouts, regions, catalog)


def _verdicts(raws: list[bytes | None]) -> list[Verdict]:
    """The chunk's verdicts; a line's bytes go back only when NFC changed them (the parent has them)."""
    out = []
    for raw in raws:
        v = verdict(raw, *_CONFIG)
        out.append(v._replace(raw=None) if v.raw is raw else v)
    return out


def _applied(chunk: list[tuple[int, bytes | None, int]], verdicts: list[Verdict]
             ) -> Iterator[tuple[int, int, Verdict, bytes | None]]:
    for (n, raw, s), v in zip(chunk, verdicts):
        yield n, s, v, raw


def _in_order(lines: Iterator[tuple[int, bytes | None, int]], layouts: LayoutSet, regions: tuple[str, ...],
              catalog: Catalog, workers: int) -> Iterator[tuple[int, int, Verdict, bytes | None]]:
    """(line number, offset, verdict, line as read) of each line in order: here, or with `workers`
    processes validating chunks of lines while this one reads ahead and applies their verdicts in
    order. A verdict from a worker holds the line (`raw`) only when NFC changed it."""
    if workers <= 1:
        for number, raw, start in lines:
            yield number, start, verdict(raw, layouts, regions, catalog), raw
        return
    # once here, not once in each worker (they are forked with it)
    printable.prepare_all([layouts[region] for region in regions], workers)
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_setup_worker, initargs=(layouts, regions, catalog))
    try:
        pending: deque = deque()
        chunks = _chunks(lines)
        for chunk in chunks:
            pending.append((chunk, pool.submit(_verdicts, [raw for _n, raw, _s in chunk])))
            if len(pending) < workers * _AHEAD:
                continue
            chunk, future = pending.popleft()
            yield from _applied(chunk, future.result())
        while pending:
            chunk, future = pending.popleft()
            yield from _applied(chunk, future.result())
    except BaseException:
        stop_workers(pool)
        raise
    pool.shutdown(wait=True)


def _chunks(lines: Iterator[tuple[int, bytes | None, int]]) -> Iterator[list[tuple[int, bytes | None, int]]]:
    chunk: list = []
    for line in lines:
        chunk.append(line)
        if len(chunk) == _CHUNK_LINES:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


_SPILL_BUFFER = 1 << 16   # a spilled record is about 2 KB: one write call per 30 or so


def ingest(path: Path, layouts: LayoutSet, regions: tuple[str, ...], spill_dir: Path,
           quarantine_path: Path, catalog: Catalog,
           progress: Callable[[int, int, int], None] | None = None, workers: int = 1) -> IngestResult:
    """Validate every line of the extract; spill accepted records per region; quarantine rejects.

    Each accepted record's inserts are chosen here, from the catalog, while the record is at hand.
    Duplicate account ids are settled once every line is read (`stmtprod.ingest.duplicates`).
    `progress(bytes_read, bytes_total, records)` is called every few thousand lines. With `workers`
    above 1, lines are validated in that many processes (`verdict`, the same function) and their
    verdicts applied here in line order, so every output is byte for byte the serial one.
    """
    digest = hashlib.sha256()
    result = IngestResult(input_sha256="")
    spill_dir.mkdir(parents=True, exist_ok=True)
    spills = {r: open(spill_dir / f"{r}.jsonl", "wb", buffering=_SPILL_BUFFER) for r in regions}
    ends = dict.fromkeys(regions, 0)   # each spill's size so far: where the next record starts
    result.accepted = {r: [] for r in regions}
    region_index = {r: i for i, r in enumerate(regions)}
    insert_index: dict[tuple[str, ...], int] = {}
    seen = Seen()
    try:
        with open(path, "rb") as source, atomic_open(quarantine_path) as quarantine:
            size = os.fstat(source.fileno()).st_size
            lines = input_lines(source, digest, result)
            for number, start, v, read in _in_order(lines, layouts, regions, catalog, workers):
                if progress is not None and number % 5000 == 0:
                    progress(source.tell(), size, result.input)
                if v.region is not None:
                    result.input_by_region[v.region] += 1
                if v.reject is not None:
                    quarantine_reject(quarantine, result, Reject(*v.reject), line=number, account_id=v.account)
                    if v.account is not None:
                        seen.reject(v.account, number, start)
                    continue
                if v.rule:
                    result.suppressed[v.rule] += 1
                    seen.add(v.account_id, number, offset=start)
                    continue
                offset = ends[v.region]
                which = insert_index.setdefault(v.inserts, len(insert_index))
                seen.add(v.account_id, number, region_index[v.region], offset)
                result.accepted[v.region].append(Accepted.pack(v.key, number, offset, which))
                result.accepted_count += 1
                raw = v.raw if v.raw is not None else read
                ends[v.region] = offset + spills[v.region].write(b'{"line":%d,"record":%s}\n' % (number, raw.strip()))
                if result.cycle_end is None or v.period_end > result.cycle_end:
                    result.cycle_end = v.period_end
            for fh in spills.values():
                fh.flush()
            _settle_duplicates(seen, path, spill_dir, regions, result, quarantine)
    finally:
        seen.close()
        for fh in spills.values():
            fh.close()
    result.input_sha256 = digest.hexdigest()
    result.insert_sets = list(insert_index)
    return result


def _settle_duplicates(seen: Seen, path: Path, spill_dir: Path, regions: tuple[str, ...], result: IngestResult,
                       quarantine: IO[str]) -> None:
    """Suppress identical duplicates after the first; quarantine every accepted copy of a conflicting one."""
    with ExitStack() as stack:
        spills: dict[int, IO[bytes]] = {}

        def raw(copy: Copy) -> bytes:
            """The record's JSON as spilled (`{"line":N,"record":...}` without its line)."""
            if copy.region not in spills:
                spills[copy.region] = stack.enter_context(open(spill_dir / f"{regions[copy.region]}.jsonl", "rb"))
            spills[copy.region].seek(copy.offset)
            line = spills[copy.region].readline()
            return line[line.index(b',"record":') + 10:-2]

        def parse(text: bytes) -> tuple[str, StatementRecord]:
            record = StatementRecord.model_validate_json(text)
            return record.account_id, record

        verdicts = resolve(seen, raw, parse, lambda copy: _account_id(read_line_at(path, copy.offset)))
    if not len(verdicts.suppressed) and not verdicts.conflicting:
        return
    result.suppressed["duplicate account"] += len(verdicts.suppressed)
    for line, (account, lines) in sorted(verdicts.conflicting.items()):
        others = ", ".join(str(n) for n in lines if n != line)
        quarantine_reject(quarantine, result, Reject(
            "account_id", f"account {account} also appears on line(s) {others} with different contents; "
                          "every copy is quarantined", "duplicate"), line=line, account_id=account)
    dropped = verdicts.dropped()
    del verdicts
    for keys in result.accepted.values():  # compacted in place: no second list of keys
        lines = np.fromiter((Accepted.unpack(k)[0] for k in keys), dtype=np.int64, count=len(keys))
        keep = ~np.isin(lines, dropped)
        del lines
        kept = 0
        for index in np.flatnonzero(keep):
            keys[kept] = keys[index]
            kept += 1
        result.accepted_count -= len(keys) - kept
        del keys[kept:]
