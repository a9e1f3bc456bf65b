"""The named points of a run where a fault can be injected: the engine's only door for drills.

The production path calls `run.inject(point, value)` and `run.reached(point)` at these points and
nothing else; with the default `Faults` they hand the value back unchanged. A drill
(`stmtprod.drills.Drill`) is a `Faults` that edits the value at its point, as the fault would in a
print room, so no production module holds a drill branch. Crash points (`stmtprod.engine.crashpoints`)
are reached through the same door, so a test can kill the run at any of them.
"""
from __future__ import annotations

from typing import Any

POINTS = {
    "plan": "the planned batches (list of BatchRef), after planning and before they are recorded",
    "jobs": "the render jobs (list of jobs), before rendering",
    "rendered": "the jobs rendered just now (list of jobs), after rendering and before read-back",
    "challenges": "the run's challenge pieces (list of stmtprod.challenges.pieces.Challenge), before they are planted",
    "checks-off": "the 100% checks to switch off (frozenset of names; empty in production)",
    "inserter-catalog": "the insert catalog the simulated inserter loads its hoppers from",
    "inserter-inventory": "the inserts in the inserter's hoppers (dict, or None: unlimited)",
    "mailing": "one lot's mailing rows (iterable of dict), with `lot` its index in the run",
}
"""Every injection point, and what its value is."""


class Faults:
    """No faults: every point hands its value back. `name` marks a run made with injected faults."""

    name: str | None = None

    def at(self, point: str, value: Any, run: Any, **context: Any) -> Any:
        """The value at `point`, as the fault leaves it."""
        return value


NO_FAULTS = Faults()
