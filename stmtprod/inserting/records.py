"""Reading and writing one model's records (delimited with a header, or fixed-length).

Values are plain strings here; what they mean is the caller's business. Fixed widths count
characters; numbers are right-aligned with zeros, text left-aligned with spaces.
"""
from __future__ import annotations

import csv
import io
from typing import Callable, Iterable, Iterator

from stmtprod.inserting.models import FieldSpec, RecordFormat

_NUMERIC = ("int", "decimal")
_WHOLE = ("run_id", "lot")  # identifiers are never cut to fit (a name may be)


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
    if spec.carries in _WHOLE and len(value) > width:
        raise RecordError(f"{value!r} does not fit in {width} characters", spec.name)
    return value[:width].ljust(width)


def header_line(fmt: RecordFormat) -> str | None:
    """The header line (with its newline), or None for a format without one."""
    if not fmt.header:
        return None
    if fmt.format == "fixed":
        return "".join(_fixed(f, f.name) for f in fmt.fields) + "\n"
    return _delimited(fmt, [f.name for f in fmt.fields])


def format_row(fmt: RecordFormat, row: dict[str, str]) -> str:
    """One record's line (with its newline); `row` maps what a field carries to its text."""
    if fmt.format == "fixed":
        return "".join(_fixed(f, row.get(f.carries, "")) for f in fmt.fields) + "\n"
    return _delimited(fmt, [row.get(f.carries, "") for f in fmt.fields])


def row_formatter(fmt: RecordFormat) -> Callable[[dict[str, str]], str]:
    """`format_row` for one format, made once: what each field carries looked up once, one csv writer
    kept (a control file formats a record a piece). `row_formatter(fmt)(row) == format_row(fmt, row)`."""
    carried = [(f, f.carries) for f in fmt.fields]
    if fmt.format == "fixed":
        return lambda row: "".join(_fixed(f, row.get(value, "")) for f, value in carried) + "\n"
    line = _Line()
    writer = csv.writer(line, delimiter=fmt.delimiter, lineterminator="\n")

    def delimited(row: dict[str, str]) -> str:
        line.text = ""
        writer.writerow([row.get(value, "") for _f, value in carried])
        return line.text

    return delimited


class _Line:
    """Where a csv writer puts the one line `writerow` writes."""

    __slots__ = ("text",)

    def write(self, text: str) -> None:
        self.text = text


def _delimited(fmt: RecordFormat, cells: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=fmt.delimiter, lineterminator="\n").writerow(cells)
    return buffer.getvalue()


def format_records(fmt: RecordFormat, rows: Iterable[dict[str, str]]) -> Iterator[str]:
    """Lines (with their newline): the header, if the format has one, then one per row."""
    head = header_line(fmt)
    if head is not None:
        yield head
    for row in rows:
        yield format_row(fmt, row)


def parse_records(fmt: RecordFormat, lines: str | Iterable[str]) -> Iterator[tuple[int, dict[str, str] | RecordError]]:
    """(line number, fields by what they carry, or the RecordError of that line); blank lines skipped.

    `lines`: the whole text, or its lines one by one (without their newline), so a large file streams.
    """
    it = iter(lines.split("\n") if isinstance(lines, str) else lines)
    start = 1
    if fmt.header:
        head = next(it, None)
        if head is None or not head.strip():
            yield 1, RecordError("the file is empty: the header line is missing", "header")
            return
        head = head.rstrip("\r")
        want = header_line(fmt)[:-1]
        if head.lstrip("\ufeff") != want:
            yield 1, RecordError(f"header is {head[:120]!r}, expected {want!r}", "header")
            return
        start = 2
    for number, raw in enumerate(it, start):
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
