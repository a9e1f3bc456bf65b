"""One line at a time per output folder.

An advisory `flock` on `OUT/.stmtprod.lock`: the kernel drops it when its process dies, however it
dies, so a crashed or killed run never leaves the folder locked.
"""
from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path

from stmtprod.errors import BusyError
from stmtprod.ledger import now


class OutputLock:
    def __init__(self, folder: Path):
        self.path = Path(folder) / ".stmtprod.lock"
        self.fd: int | None = None

    def __enter__(self) -> "OutputLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
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
