"""Results files in: read and validate a whole file before anything is applied.

A line that does not parse, a piece of another run, a sequence the run does not have, a status code
the model does not map, a bin or timestamp that is not one: the file is refused (`ResultsRefused`,
exit 2) naming file, line and field, and nothing changes. Two records for one piece are not an error
here: they are a duplicate read, which the reconciliation sends to the operator.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path

from stmtprod.cardnumbers import redact
from stmtprod.errors import UsageError
from stmtprod.inserting.models import InserterModel
from stmtprod.inserting.records import RecordError, parse_records

_SHOWN = 20


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

    def __init__(self, file: Path, problems: list[tuple[int, str, str]]):
        self.file, self.problems = str(file), [(n, f, redact(r)) for n, f, r in problems]
        problems = self.problems
        line, field, reason = problems[0]
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        super().__init__(f"{file}: line {line}: {field}: {reason}{more}; the results file was refused whole, "
                         "nothing was applied")

    def as_dict(self) -> dict:
        return {"file": self.file, "refused": True,
                "problems": [{"line": n, "field": f, "reason": r} for n, f, r in self.problems[:_SHOWN]],
                "problem_count": len(self.problems)}


def _check(fields: dict[str, str], model: InserterModel, run_id: str, sequences) -> ResultRecord | tuple[str, str]:
    if fields.get("run_id", "") != run_id:
        return "run_id", f"piece of another run: run id {fields.get('run_id', '')[:40]!r}, this run is {run_id}"
    text = fields["sequence"]
    if not text.isdigit() or not text.isascii():
        return "sequence", f"{text[:20]!r} is not a piece sequence number"
    sequence = int(text)
    if sequence not in sequences:
        return "sequence", f"run {run_id} has no piece {sequence}"
    code = fields["status"]
    status = model.status_of(code)
    if status is None:
        return "status", f"status code {code[:20]!r} is not mapped by model {model.name} ({', '.join(model.statuses)})"
    bin_text = fields.get("bin", "")
    if bin_text and not (bin_text.isascii() and bin_text.isdigit()):
        return "bin", f"{bin_text[:20]!r} is not a bin number"
    stamp = fields.get("timestamp", "")
    if stamp:
        try:
            dt.datetime.fromisoformat(stamp)
        except ValueError:
            return "timestamp", f"{stamp[:40]!r} is not an ISO 8601 timestamp"
    return ResultRecord(0, sequence, status, code, int(bin_text) if bin_text else None, stamp,
                        fields.get("note", ""))


def read_results(path: Path, model: InserterModel, run_id: str, sequences) -> list[ResultRecord]:
    """Every record of `path`, or ResultsRefused listing every bad line (nothing is half-read)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the results file: {exc.strerror}") from None
    try:
        text = data.decode(model.results.encoding)
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ResultsRefused(path, [(line, "encoding", f"not {model.results.encoding} text")]) from None
    records, problems = [], []
    for number, fields in parse_records(model.results, text):
        if isinstance(fields, RecordError):
            problems.append((number, fields.field or "record", str(fields)))
            continue
        checked = _check(fields, model, run_id, sequences)
        if isinstance(checked, tuple):
            problems.append((number, *checked))
        else:
            records.append(replace(checked, line=number))
    if problems:
        raise ResultsRefused(path, problems)
    return records
