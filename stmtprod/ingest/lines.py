"""Reading an extract's lines safely, for both lines (statements and card orders).

Upstream files are not trusted to be well formed: a line may be of any length, start with a byte order
mark, hold text in decomposed Unicode, a lone surrogate escape or a hundred thousand nested arrays.
Nothing here may raise on such a line: the reader's job is to hand each line on, or to say why it
cannot, so that one line is quarantined and the rest of the night goes on.
"""
from __future__ import annotations

import json
import unicodedata
from typing import IO, Iterator

BOM = b"\xef\xbb\xbf"
# A record of 2,000 transactions (the schema's maximum) of 120-character descriptions is about 400 KB;
# anything longer than this cap is not a record, and is skipped in chunks without being held whole.
MAX_LINE_BYTES = 1 << 20
_CHUNK = 1 << 16
OVERSIZE = None  # what `input_lines` yields for a line over the cap


def input_lines(source: IO[bytes], digest, result, cap: int = MAX_LINE_BYTES
                ) -> Iterator[tuple[int, bytes | None, int]]:
    """Each non-blank line: its 1-based number, its bytes (or `OVERSIZE` for a line over `cap`
    bytes) and the file offset it starts at (`read_line_at` reads it again).

    Every byte goes into `digest`, counts into `result` (`input`, `blank_lines`). A UTF-8 byte
    order mark at the start of the file is not part of the first record. Memory is bounded by `cap`.
    """
    number = position = 0
    while True:
        start = position
        raw = source.readline(cap + 1)
        if not raw:
            return
        number += 1
        position += len(raw)
        digest.update(raw)
        if number == 1 and raw.startswith(BOM):
            raw = raw[len(BOM):]
            start += len(BOM)
        if len(raw) > cap and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):  # the rest of the long line, a chunk at a time
                raw = source.readline(_CHUNK)
                position += len(raw)
                digest.update(raw)
            result.input += 1
            yield number, OVERSIZE, start
            continue
        if not raw.strip():
            result.blank_lines += 1
            continue
        result.input += 1
        yield number, raw, start


def read_line_at(path, offset: int, cap: int = MAX_LINE_BYTES) -> bytes:
    """The line that starts at `offset` (at most `cap` bytes of it)."""
    with open(path, "rb") as fh:
        fh.seek(offset)
        return fh.readline(cap + 1)


def oversize_reason(cap: int = MAX_LINE_BYTES) -> str:
    return f"line longer than {cap:,} bytes (not read)"


def _nfc(value: object) -> object:
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, list):
        return [_nfc(v) for v in value]
    if isinstance(value, dict):
        return {_nfc(k): _nfc(v) for k, v in value.items()}
    return value


def nfc_line(raw: bytes) -> bytes:
    """The line with every string in Unicode normal form C (composed), or the line itself when it is
    already (the common case, decided in C without parsing).

    Decomposed text (`e` + U+0301, `か` + U+3099) prints with detached marks, since ReportLab does
    not position combining marks, and reads back differently; NFC is the same text, canonically.
    A line that is not JSON is returned as it is, for the validator to reject.
    """
    if raw.isascii() and b"\\u" not in raw:
        return raw
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw
    if unicodedata.is_normalized("NFC", text) and "\\u" not in text:
        return raw
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return raw
    normal = _nfc(value)
    if normal == value:
        return raw
    try:
        return json.dumps(normal, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
    except UnicodeEncodeError:  # a lone surrogate: the validator rejects the original
        return raw
