"""The local process pool, with workers that die with their parent.

If the line's process is killed (SIGKILL, OOM), orphaned workers would otherwise wait forever on
their queue, holding memory and the job's output pipes. On Linux each worker asks the kernel to send
it SIGKILL when its parent dies.
"""
from __future__ import annotations

import ctypes
import signal
import sys
from concurrent.futures import ProcessPoolExecutor

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass


def pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, initializer=_die_with_parent)
