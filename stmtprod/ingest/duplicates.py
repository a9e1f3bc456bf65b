"""Duplicate account ids in one extract, found in bounded memory.

Each valid line (accepted, or suppressed by rule) is remembered as a few machine words: the id's hash,
the line, and for an accepted record its region and spill offset (25 bytes, about 25 MB per million
records), never as the id or the record. A quarantined line's id hash and offset go to a temporary
file instead, so memory does not grow with the number of rejects. After the extract is read, the
rejects are streamed past the sorted hashes of the valid lines; only lines sharing a hash are read
back and compared, so the rare duplicates cost a look-up each and the common case nothing more.

The rule: identical duplicates (the same record, field for field) produce one piece, from the first
line, and the others are suppressed as duplicates; duplicates that differ in anything (including a
copy that was quarantined or suppressed for its own reason) are conflicting, and every accepted copy
is quarantined, since the line cannot tell which one is right.
"""
from __future__ import annotations

import struct
import tempfile
from array import array
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np


@dataclass(frozen=True)
class Copy:
    line: int
    region: int    # index into the ingest's regions; -1 when the line was not accepted
    offset: int    # spill offset of an accepted line; -1 otherwise


_REJECT = np.dtype([("hash", "<i8"), ("line", "<i8"), ("offset", "<i8")])
_PACKED = struct.Struct("<qqq")  # the same record, written one at a time
_CHUNK = 65536  # rejects read back at a time


class Seen:
    """Every readable account id of an extract, as hashes with their lines."""

    def __init__(self) -> None:
        self._hashes = array("q")
        self._lines = array("q")
        self._regions = array("b")
        self._offsets = array("q")
        self._rejects = tempfile.TemporaryFile()

    def close(self) -> None:
        self._rejects.close()

    def add(self, account_id: str, line: int, region: int = -1, offset: int = -1) -> None:
        """A valid line: accepted (`region` >= 0, `offset` in the spill) or suppressed (`offset` in the input)."""
        self._add(hash(account_id), line, region, offset)  # hash(): stable within the process, all that is needed

    def reject(self, account_id: str, line: int, offset: int) -> None:
        """A quarantined line whose account id was readable (`offset` in the input)."""
        self._rejects.write(_PACKED.pack(hash(account_id), line, offset))

    def _matching_rejects(self, sorted_hashes: np.ndarray) -> None:
        """Move the rejects whose hash a valid line shares into the in-memory arrays, a chunk at a time."""
        self._rejects.seek(0)
        while chunk := self._rejects.read(_CHUNK * _REJECT.itemsize):
            rows = np.frombuffer(chunk, dtype=_REJECT)
            at = np.searchsorted(sorted_hashes, rows["hash"]).clip(max=len(sorted_hashes) - 1)
            for row in rows[sorted_hashes[at] == rows["hash"]]:
                self._add(int(row["hash"]), int(row["line"]), -1, int(row["offset"]))

    def _add(self, hashed: int, line: int, region: int, offset: int) -> None:
        self._hashes.append(hashed)
        self._lines.append(line)
        self._regions.append(region)
        self._offsets.append(offset)

    def groups(self) -> Iterator[list[Copy]]:
        """The lines of each hash seen more than once (at least one copy accepted), in line order."""
        if len(self._hashes) and self._rejects.tell():
            view = np.frombuffer(self._hashes, dtype=np.int64)
            valid = np.sort(view)
            del view  # the array grows next, which it cannot while a view of it exists
            self._matching_rejects(valid)
        if len(self._hashes) < 2:
            return
        hashes = np.frombuffer(self._hashes, dtype=np.int64)
        order = np.argsort(hashes, kind="stable")
        ordered = hashes[order]
        repeated = np.flatnonzero(ordered[1:] == ordered[:-1])
        if not len(repeated):
            return
        starts = repeated[np.r_[True, np.diff(repeated) > 1]]
        for start in starts:
            end = start + 1
            while end < len(ordered) and ordered[end] == ordered[start]:
                end += 1
            copies = sorted((Copy(self._lines[i], self._regions[i], self._offsets[i]) for i in order[start:end]),
                            key=lambda c: c.line)
            if any(c.region >= 0 for c in copies):
                yield copies


@dataclass
class Verdicts:
    suppressed: array                                # lines of identical copies after the first
    conflicting: dict[int, tuple[str, list[int]]]  # line -> (account id, every line of that account)

    def dropped(self) -> np.ndarray:
        """Every accepted line that is not produced, sorted."""
        return np.sort(np.concatenate([np.frombuffer(self.suppressed, dtype=np.int64),
                                       np.fromiter(self.conflicting, dtype=np.int64, count=len(self.conflicting))]))


def resolve(seen: Seen, raw: Callable[[Copy], bytes], parse: Callable[[bytes], tuple[str, object]],
            account_of: Callable[[Copy], str | None]) -> Verdicts:
    """Decide every duplicate group. `raw(copy)` gives an accepted copy's record as spilled, `parse`
    its (account id, record); `account_of(copy)` the account id of a copy that was not accepted (None
    if unreadable). Byte-identical copies are decided without parsing: the common repeat is cheap."""
    verdicts = Verdicts(array("q"), {})
    for copies in seen.groups():
        texts = [raw(c) if c.region >= 0 else None for c in copies]
        if texts[0] is not None and all(t == texts[0] for t in texts[1:]):
            verdicts.suppressed.extend(c.line for c in copies[1:])
            continue
        by_account: dict[str, list[tuple[Copy, object]]] = {}
        for copy, text in zip(copies, texts):  # equal hashes are not always equal ids: group by the id itself
            account, record = parse(text) if text is not None else (account_of(copy), None)
            if account is not None:
                by_account.setdefault(account, []).append((copy, record))
        for account, group in by_account.items():
            accepted = [(c, r) for c, r in group if c.region >= 0]
            if len(group) < 2 or not accepted:
                continue
            first = accepted[0][1]
            if len(accepted) == len(group) and all(r == first for _c, r in accepted[1:]):
                verdicts.suppressed.extend(c.line for c, _r in accepted[1:])
            else:
                lines = [c.line for c, _r in group]
                verdicts.conflicting.update((c.line, (account, lines)) for c, _r in accepted)
    return verdicts
