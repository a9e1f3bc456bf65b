"""Reading and writing one model's records (delimited with a header, or fixed-length).

Values are plain strings here; what they mean is the caller's business. Fixed widths count
characters; numbers are right-aligned with zeros, text left-aligned with spaces.
"""
from __future__ import annotations

import csv
import io
from typing import Iterable, Iterator

from stmtprod.inserting.models import FieldSpec, RecordFormat

_NUMERIC = ("int", "decimal")


class RecordError(ValueError):
    """A record that does not fit its format; `field` names the field at fault."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def _fixed(spec: FieldSpec, value: str) -> str:
    width = spec.width or 0
    if spec.type in _NUMERIC and value:
        if len(value) > width:
            raise RecordError(f"{value!r} does not fit in {width} characters", spec.name)
        return value.rjust(width, "0")
    return value[:width].ljust(width)


def format_records(fmt: RecordFormat, rows: Iterable[dict[str, str]]) -> Iterator[str]:
    """Lines (with their newline) for `rows`, each a dict from what a field carries to its text."""
    if fmt.format == "fixed":
        if fmt.header:
            yield "".join(_fixed(f, f.name) for f in fmt.fields) + "\n"
        for row in rows:
            yield "".join(_fixed(f, row.get(f.carries, "")) for f in fmt.fields) + "\n"
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=fmt.delimiter, lineterminator="\n")
    if fmt.header:
        writer.writerow([f.name for f in fmt.fields])
    for row in rows:
        writer.writerow([row.get(f.carries, "") for f in fmt.fields])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if fmt.header and buffer.getvalue():
        yield buffer.getvalue()


def parse_records(fmt: RecordFormat, text: str) -> Iterator[tuple[int, dict[str, str] | RecordError]]:
    """(line number, fields by what they carry, or the RecordError of that line); blank lines skipped."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    start = 1
    if fmt.header:
        if not lines:
            yield 1, RecordError("the file is empty: the header line is missing", "header")
            return
        head = lines[0].rstrip("\r")
        want = ("".join(_fixed(f, f.name) for f in fmt.fields) if fmt.format == "fixed"
                else fmt.delimiter.join(f.name for f in fmt.fields))
        if head.lstrip("\ufeff") != want:
            yield 1, RecordError(f"header is {head[:120]!r}, expected {want!r}", "header")
            return
        start = 2
    for number, raw in enumerate(lines[start - 1:], start):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        yield number, _parse_line(fmt, line)


def _parse_line(fmt: RecordFormat, line: str) -> dict[str, str] | RecordError:
    if fmt.format == "fixed":
        if len(line) != fmt.record_length:
            return RecordError(f"record is {len(line)} characters, expected {fmt.record_length}", "record")
        out, at = {}, 0
        for f in fmt.fields:
            out[f.carries] = line[at:at + (f.width or 0)].strip()
            at += f.width or 0
        return out
    try:
        cells = next(csv.reader([line], delimiter=fmt.delimiter, strict=True))
    except csv.Error as exc:
        return RecordError(f"not a valid delimited line: {exc}", "record")
    if len(cells) != len(fmt.fields):
        return RecordError(f"{len(cells)} fields, expected {len(fmt.fields)} "
                           f"({fmt.delimiter.join(f.name for f in fmt.fields)})", "record")
    return {f.carries: cell.strip() for f, cell in zip(fmt.fields, cells)}
