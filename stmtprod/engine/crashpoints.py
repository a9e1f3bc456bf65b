"""Named points where a test can make the process die by SIGKILL, to prove crash safety.

`STMTPROD_CRASH_AT=render:batch:2` kills the process the second time that point is reached.
`STMTPROD_CRASH_SIGNAL=TERM` (or INT) sends that signal instead of SIGKILL, to prove that an operator's
stop leaves a resumable run. Unset (always, in production) it costs one dictionary lookup.
"""
from __future__ import annotations

import os
import signal
from collections import Counter

_seen: Counter = Counter()


def reached(name: str) -> None:
    target = os.environ.get("STMTPROD_CRASH_AT")
    if not target:
        return
    point, _, count = target.rpartition(":") if target.rsplit(":", 1)[-1].isdigit() else (target, "", "1")
    if point != name:
        return
    _seen[name] += 1
    if _seen[name] >= int(count):
        name = os.environ.get("STMTPROD_CRASH_SIGNAL", "KILL")
        os.kill(os.getpid(), getattr(signal, f"SIG{name}"))
