"""Results files in: read and validate a whole file before anything is applied, line by line.

A line that does not parse, a piece of another run, a sequence the run does not have, a status code
the model does not map, a bin that is not one of the model's outsort bins, a timestamp that is not
one: the file is refused (`ResultsRefused`, exit 2) naming file, line and field, and nothing changes.
A value refused is not repeated where it could be a card number (bin, sequence). Two records for one
piece are not an error here: they are a duplicate read, which the reconciliation sends to the operator.

The file is streamed twice (`scan`, then `records`): memory holds a byte per piece, not the records.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

from stmtprod.cardnumbers import redact
from stmtprod.errors import UsageError
from stmtprod.inserting.models import InserterModel
from stmtprod.inserting.pieces import RunMap
from stmtprod.inserting.records import RecordError, parse_records

_SHOWN = 20
_KEPT = 1000  # problems kept for the message; all are counted
_ECHOED = 9  # digits of a sequence a message repeats: no more than a run can have


@dataclass(frozen=True)
class ResultRecord:
    line: int
    sequence: int
    status: str  # stmtprod's status
    code: str  # the model's own code, as written
    bin: int | None
    timestamp: str
    note: str


class ResultsRefused(UsageError):
    """The results file was refused whole; `problems` lists (line, field, reason), first first."""

    def __init__(self, file: Path, problems: list[tuple[int, str, str]], total: int | None = None):
        self.file, self.problems = str(file), [(n, f, redact(r)) for n, f, r in problems]
        self.total = total or len(problems)
        line, field, reason = self.problems[0]
        more = f" (and {self.total - 1} more problems)" if self.total > 1 else ""
        super().__init__(f"{file}: line {line}: {field}: {reason}{more}; the results file was refused whole, "
                         "nothing was applied")

    def as_dict(self) -> dict:
        return {"file": self.file, "refused": True,
                "problems": [{"line": n, "field": f, "reason": r} for n, f, r in self.problems[:_SHOWN]],
                "problem_count": self.total}


def _check(fields: dict[str, str], model: InserterModel, run_id: str, run: RunMap,
           lots: frozenset[str]) -> ResultRecord | tuple[str, str]:
    if fields.get("run_id", "") != run_id:
        return "run_id", f"piece of another run: run id {fields.get('run_id', '')[:40]!r}, this run is {run_id}"
    text = fields["sequence"]
    if not text.isdigit() or not text.isascii():
        return "sequence", "not a piece sequence number (the value is not repeated)"
    if len(text.lstrip("0")) > _ECHOED:
        return "sequence", f"run {run_id} has no piece with a {len(text.lstrip('0'))}-digit sequence"
    sequence = int(text)
    lot = run.lot_of(sequence)
    if lot is None:
        return "sequence", f"run {run_id} has no piece {sequence}"
    if lot not in lots:
        return "sequence", f"piece {sequence} is in lot {lot}; this results file is for lots {', '.join(sorted(lots))}"
    code = fields["status"]
    status = model.status_of(code)
    if status is None:
        return "status", f"status code {code[:20]!r} is not mapped by model {model.name} ({', '.join(model.statuses)})"
    bin_text = fields.get("bin", "")
    if bin_text and not (bin_text.isascii() and bin_text.isdigit() and len(bin_text.lstrip("0")) <= 2
                         and 1 <= int(bin_text) <= model.bins):
        return "bin", f"not an outsort bin of model {model.name} (1 to {model.bins}; the value is not repeated)"
    stamp = fields.get("timestamp", "")
    if stamp:
        try:
            if not _STAMP.fullmatch(stamp):
                raise ValueError
            dt.datetime.fromisoformat(stamp)
        except ValueError:
            return "timestamp", ("not an ISO 8601 timestamp YYYY-MM-DDTHH:MM:SS, with at most six decimals of a "
                                 "second and an offset (the value is not repeated)")
    return ResultRecord(0, sequence, status, code, int(bin_text) if bin_text else None, stamp,
                        fields.get("note", ""))


# What the models' timestamps are (formats.md: `2026-11-21T02:14:07+11:00`). Python reads more (a fraction of
# any length, which let a 16-digit number into the ledger as part of a time), so the form is held first.
_STAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})?")


@dataclass(frozen=True)
class Scan:
    """What a first pass over a valid results file found: its hash, how many records, and the
    number of records per sequence (capped at 255), which tells singles from duplicate reads."""

    sha256: str
    records: int
    counts: bytearray


class _Reader:
    """One pass over a results file: (line number, record or problem), hashing what it reads."""

    def __init__(self, path: Path, model: InserterModel, run_id: str, run: RunMap, lots: frozenset[str]):
        self.path, self.model, self.run_id, self.run, self.lots = Path(path), model, run_id, run, lots
        self.sha = hashlib.sha256()

    def _lines(self, fh, problems: list) -> Iterator[str]:
        encoding = self.model.results.encoding
        for number, raw in enumerate(fh, 1):
            self.sha.update(raw)
            raw = raw[:-1] if raw.endswith(b"\n") else raw
            try:
                yield raw.decode(encoding)
            except UnicodeDecodeError:
                problems.append((number, "encoding", f"not {encoding} text"))
                yield ""

    def __iter__(self) -> Iterator[tuple[int, ResultRecord | tuple[str, str]]]:
        problems: list = []
        try:
            fh = open(self.path, "rb")
        except OSError as exc:
            raise UsageError(f"{self.path}: cannot read the results file: {exc.strerror}") from None
        with fh:
            for number, fields in parse_records(self.model.results, self._lines(fh, problems)):
                while problems:
                    yield problems.pop(0)[0], ("encoding", f"not {self.model.results.encoding} text")
                if isinstance(fields, RecordError):
                    yield number, (fields.field or "record", str(fields))
                    continue
                checked = _check(fields, self.model, self.run_id, self.run, self.lots)
                yield number, checked if isinstance(checked, tuple) else replace(checked, line=number)
            for number, _field, reason in problems:
                yield number, ("encoding", reason)


def scan(path: Path, model: InserterModel, run_id: str, run: RunMap, lots: frozenset[str]) -> Scan:
    """First pass: every line valid, or ResultsRefused listing the bad ones (nothing is applied)."""
    reader = _Reader(path, model, run_id, run, lots)
    counts = bytearray(run.last + 1)
    problems, total, records = [], 0, 0
    for number, item in reader:
        if isinstance(item, tuple):
            total += 1
            if len(problems) < _KEPT:
                problems.append((number, *item))
            continue
        records += 1
        if counts[item.sequence] < 255:
            counts[item.sequence] += 1
    if total:
        raise ResultsRefused(path, sorted(problems), total)
    return Scan(reader.sha.hexdigest(), records, counts)


def records(path: Path, model: InserterModel, run_id: str, run: RunMap, lots: frozenset[str],
            first: Scan) -> Iterator[list[ResultRecord]]:
    """Second pass: each piece's records, a single read as soon as it is met, duplicate reads
    together at the end. Refuses (nothing applied) if the file changed since the first pass."""
    reader = _Reader(path, model, run_id, run, lots)
    duplicates: dict[int, list[ResultRecord]] = {}
    for number, item in reader:
        if isinstance(item, tuple):
            raise ResultsRefused(path, [(number, item[0], f"{item[1]} (the file changed while it was applied)")])
        if first.counts[item.sequence] == 1:
            yield [item]
        else:
            duplicates.setdefault(item.sequence, []).append(item)
    if reader.sha.hexdigest() != first.sha256:
        raise ResultsRefused(path, [(1, "file", "the file changed while it was applied")])
    for sequence in sorted(duplicates):
        yield duplicates[sequence]
