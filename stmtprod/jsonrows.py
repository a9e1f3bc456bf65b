"""A few top-level fields of the JSON rows a run wrote (manifests, envelope logs, mailing manifests).

Readers that index or stream every row of a run (the inspection context, the mailing step, the
inserter's control files, release's postal counts) need a few fields of each row, but `json.loads`
builds all of it, payloads and postal bars included: about ten times the cost of picking the fields.
`Fields` decodes a row with msgspec into the named fields only, the rest skipped unread, and gives
for them exactly what `json.loads` gives. Whatever msgspec does not read as `json.loads` would (NaN,
a lone surrogate, a byte order mark, malformed or too deeply nested JSON, a row that is not an
object) and any row that is not valid UTF-8 (msgspec does not look inside a string it skips) is read
by `json.loads` itself, so a damaged row fails exactly as it did before (tests/test_jsonrows.py).
"""
from __future__ import annotations

import json
from typing import Any, NotRequired, TypedDict

import msgspec


class Fields:
    """The top-level fields `names` of a JSON object row, as `json.loads` gives them: a dict holding
    those of them the row has (a missing one is absent, as from `json.loads`)."""

    def __init__(self, *names: str):
        self.names = names
        kind = TypedDict("Picked", {name: NotRequired[Any] for name in names})
        self._decode = msgspec.json.Decoder(kind).decode

    def __call__(self, raw: bytes | str) -> Any:
        """The picked fields of `raw`; for a row that is not a JSON object, whatever `json.loads` gives
        (so a caller fails on it as before); `json.loads`'s own error for what it refuses."""
        if isinstance(raw, str) or raw.isascii() or _utf8(raw):
            try:
                return self._decode(raw)
            except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
                pass
        row = json.loads(raw)
        return {name: row[name] for name in self.names if name in row} if isinstance(row, dict) else row


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
