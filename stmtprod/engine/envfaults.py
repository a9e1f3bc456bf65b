"""Faults of the machine rather than of the data: a full disk, a folder that cannot be written, a damaged
ledger, a signal.

Each ends the same way: one line on stderr naming the file and what to do, a documented exit code
(README, "Exit codes"), never a traceback, and a run the ledger no longer calls running: it is
marked INTERRUPTED with the reason, and `stmtprod resume RUN_ID --out OUT` continues it.
"""
from __future__ import annotations

import errno
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from stmtprod.errors import EnvironmentFault, StmtprodError, Terminated

INTERRUPTED = "INTERRUPTED"
"""The ledger state of a run stopped by a signal or a fault of the machine; `resume` continues it."""
ACTIVE_STATES = frozenset({"CREATED", "PLANNED", "RESUMED", "RENDERING", "VERIFYING"})
"""States a run holds only while a line works on it: shown as stopped when no line holds the folder
(after a SIGKILL, an OOM kill or a power cut, which leave no chance to mark the run INTERRUPTED)."""


def stopped(state: str, out: Path) -> bool:
    """The ledger says `state`, a working state, but no build or resume holds the folder."""
    from stmtprod.engine.lock import held

    return state in ACTIVE_STATES and not held(out)

_NOT_WRITABLE = "make it writable for this user, or choose another --out"
_ADVICE = {
    errno.ENOSPC: "the filesystem is full: free space on it",
    errno.EDQUOT: "the disk quota is used up: free space or raise the quota",
    errno.EFBIG: "a file size limit was reached: raise it (ulimit -f) or free space",
    errno.EROFS: "the filesystem is read-only: remount it read-write, or choose another --out",
    errno.EACCES: f"permission denied: {_NOT_WRITABLE}",
    errno.EPERM: f"operation not permitted: {_NOT_WRITABLE}",
    errno.ENOTDIR: "a part of the path is a regular file, not a folder: choose another --out",
    errno.EISDIR: "a folder stands where a file belongs: move it away",
    errno.ELOOP: "it is a symbolic link, which stmtprod does not follow there: remove the link",
    errno.EIO: "the device reported an I/O error: check the disk",
    errno.ENOENT: "it is missing (was it removed while the line ran?)",
    errno.EPIPE: "the reader of the output (a pipe) closed it early",
}


def os_fault(exc: OSError) -> EnvironmentFault:
    """A one-line EnvironmentFault for an OSError: the file, the system's reason and what to do."""
    name = exc.filename if exc.filename is not None else "a file"
    reason = exc.strerror or type(exc).__name__
    advice = _ADVICE.get(exc.errno, "check the file and its filesystem")
    return EnvironmentFault(f"{name}: {reason}; {advice}")


def signal_name(exc: BaseException) -> str:
    return "SIGTERM" if isinstance(exc, Terminated) else "SIGINT"


RESERVE_FILE = ".stmtprod.reserve"
RESERVE_BYTES = 64 * 1024
"""Space set aside in the output folder and given back when the disk fills, so that the ledger can
still record that the run stopped (a few pages of its write-ahead log)."""
_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def keep_reserve(out: Path) -> None:
    """Make sure the reserve file is in place (best effort: without room for it the run says so itself)."""
    path = Path(out) / RESERVE_FILE
    try:
        if path.lstat().st_size >= RESERVE_BYTES:
            return
    except FileNotFoundError:
        pass
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, bytes(RESERVE_BYTES))
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        try:
            path.unlink()
        except OSError:
            pass


def _free_space(out: Path, run_id: str) -> None:
    """The disk is full: give back the reserve and the temporary files the stopped workers left."""
    from stmtprod.fsutil import remove_temporaries

    try:
        (Path(out) / RESERVE_FILE).unlink(missing_ok=True)
        if (Path(out) / run_id / "staging").is_dir():
            remove_temporaries(Path(out) / run_id / "staging")
    except OSError:
        pass


@contextmanager
def resumable(ledger, run_id: str, out) -> Iterator[None]:
    """Around a run's steps: whatever stops them (a halt or a wait is recorded by the line itself and
    never escapes) leaves the run INTERRUPTED in the ledger, with the reason, and tells how to resume.

    An OSError becomes an EnvironmentFault naming its file. When the disk is full, the reserve file
    and the stopped workers' temporaries are removed first so the ledger can take the mark; if it
    still cannot be written, the run keeps its last state, and `resume` still continues it. A run
    already RELEASED (the fault hit its report) stays RELEASED.
    """
    hint = f"'stmtprod resume {run_id} --out {out}' continues the run"
    keep_reserve(out)
    try:
        yield
    except BaseException as exc:
        if (isinstance(exc, OSError) and exc.errno in _FULL) or getattr(exc, "disk_full", False):
            _free_space(out, run_id)
        if isinstance(exc, (KeyboardInterrupt, Terminated)):
            reason = f"stopped by {signal_name(exc)}"
        elif isinstance(exc, OSError):
            reason = str(os_fault(exc))
        else:
            reason = str(exc) if isinstance(exc, StmtprodError) else f"internal error: {type(exc).__name__}"
        try:
            released = (ledger.run(run_id) or {}).get("state") == "RELEASED"
            if not released:
                ledger.transition(run_id, INTERRUPTED, reason=reason)
        except Exception:  # noqa: BLE001 (the ledger may be what failed; its last state stands)
            released = False
        if released:  # only the report or run.json after the release failed: nothing to resume
            hint = f"run {run_id} is RELEASED; its report.json/report.pdf or run.json may be missing"
        if isinstance(exc, OSError):
            raise EnvironmentFault(f"{reason}; then {hint}") from exc
        if isinstance(exc, EnvironmentFault):
            raise EnvironmentFault(f"{exc}; then {hint}") from exc
        exc.add_note(hint)
        raise
