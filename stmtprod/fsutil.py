"""Atomic file writes and content hashes.

A crash at any point must leave either the old file or the complete new one, never a torn one:
every file is written to a temporary sibling, fsynced, then renamed over its target.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
import tempfile
import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator


def _file_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


FILE_MODE = _file_mode()


def fsync_dir(path: Path) -> None:
    """Make a rename inside `path` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w") -> Iterator[IO]:
    """Open a temporary sibling of `path` for writing; rename it into place only on success."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.fchmod(fd, FILE_MODE)  # mkstemp makes 0600; print rooms and reviewers need the usual mode
    binary = "b" in mode
    try:
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8", "newline": "\n"})) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        fsync_dir(target.parent)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError) and exc.filename is None:  # a failed write names no file: name the target
            raise OSError(exc.errno, exc.strerror, str(target)) from exc
        raise


def remove_temporaries(folder: Path) -> int:
    """Delete the temporary files of atomic writes that a crash interrupted; returns how many."""
    count = 0
    for path in Path(folder).rglob(".*.tmp"):
        path.unlink(missing_ok=True)
        count += 1
    return count


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_open(path, "wb") as fh:
        fh.write(data)


def write_json(path: str | os.PathLike, obj: object) -> None:
    """Deterministic JSON (sorted keys, fixed indent) so identical state gives identical bytes."""
    with atomic_open(path) as fh:
        json.dump(obj, fh, ensure_ascii=False, indent=2, sort_keys=True)
        fh.write("\n")


_JSONL = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))
"""What `json.dumps(row, ensure_ascii=False, sort_keys=True, separators=(",", ":"))` uses, made once:
`json.dumps` with arguments builds a new encoder for every row (a quarter of a small row's cost)."""


class JsonlWriter:
    """Rows appended to an open text file as JSON lines (sorted keys, compact): a list-like sink, so a
    producer can stream rows to disk instead of holding them."""

    def __init__(self, fh: IO[str]):
        self.fh = fh
        self.count = 0

    def append(self, row: dict) -> None:
        self.fh.write(_JSONL.encode(row))
        self.fh.write("\n")
        self.count += 1


def write_jsonl(path: str | os.PathLike, rows) -> int:
    with atomic_open(path) as fh:
        sink = JsonlWriter(fh)
        for row in rows:
            sink.append(row)
    return sink.count


_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket"))


def not_regular(path: str | os.PathLike) -> str | None:
    """What stands at `path` when it is there but is not a regular file (a link is followed), else None.

    A print file or manifest must be checked before it is read: a link to /dev/zero reads for ever (qpdf,
    pdfium and a hash alike), a named pipe blocks, and a folder fails with no file named."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return None
    if stat.S_ISREG(mode):
        return None
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    target = os.path.realpath(path)
    return kind + (f" ({target})" if target != os.path.abspath(path) else "")


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """The file's SHA-256; an OSError (EINVAL) naming it when it is not a regular file (`not_regular`)."""
    kind = not_regular(path)
    if kind is not None:
        raise OSError(errno.EINVAL, f"it is {kind}, not a regular file", str(path))
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


class LineReader:
    """Lines read back from files by byte offset, through descriptors kept open while the reader lives.

    Opening a file for each line cost about 9 us a line (the mailing manifest reads one source record a
    piece); `os.pread` with a kept descriptor about 1.5 us. pread shares no file position, so a reader
    forked into a worker process goes on working there; pickled, it starts with nothing open."""

    def __init__(self) -> None:
        self._fds: dict[str, int] = {}
        weakref.finalize(self, _close_all, self._fds)

    def line(self, path: str | os.PathLike, offset: int, chunk: int = 16384) -> bytes:
        """The line that starts at byte `offset` of `path`, its newline included (none at the file's end)."""
        key = os.fspath(path)
        fd = self._fds.get(key)
        if fd is None:
            fd = self._fds[key] = os.open(key, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        parts = []
        while True:
            data = os.pread(fd, chunk, offset)
            end = data.find(b"\n")
            if end >= 0 or len(data) < chunk:
                parts.append(data[:end + 1] if end >= 0 else data)
                return b"".join(parts)
            parts.append(data)
            offset += len(data)
            chunk *= 2

    def close(self) -> None:
        _close_all(self._fds)

    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        self.__init__()


def _close_all(fds: dict[str, int]) -> None:
    while fds:
        os.close(fds.popitem()[1])
