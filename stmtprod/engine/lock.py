"""One line at a time per output folder.

An advisory `flock` on `OUT/.stmtprod.engine.lock`: the kernel drops it when its process dies, however it
dies, so a crashed or killed run never leaves the folder locked. The file is opened without following
symbolic links (a link there is refused, exit 7).
"""
from __future__ import annotations

import fcntl
import os
import socket
import stat
from pathlib import Path

from stmtprod.errors import BusyError, EnvironmentFault
from stmtprod.engine.ledger import now


class OutputLock:
    def __init__(self, folder: Path):
        self.path = Path(folder) / ".stmtprod.engine.lock"
        self.fd: int | None = None

    def __enter__(self) -> "OutputLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Never through a symbolic link: the holder's line is written into the file, and a link could
        # point that write (and the truncation before it) at any file this user may write.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise EnvironmentFault(f"{self.path}: not a regular file; remove it (stmtprod makes its own lock file)")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise BusyError(f"{self.path.parent} is in use by {holder}; wait for it to finish "
                            "(the lock is released when that process ends, even if it crashes)") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"stmtprod pid {os.getpid()} on {socket.gethostname()} since {now()}\n".encode())
        self.fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def held(folder: Path) -> bool:
    """Whether a build or resume holds `folder` now; takes nothing and writes nothing."""
    try:
        fd = os.open(Path(folder) / ".stmtprod.engine.lock", os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the shared lock just taken
    return False
