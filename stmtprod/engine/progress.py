"""Progress of a run for the operator: what is running, how far it is, time spent and time left.

The line reports events (`step`, `ingest`, `render`, `batch`, `verified`, `stage`); this turns them
into one progress bar on a terminal, or into plain timestamped lines on stderr for the nightly logs.
The time left is for the whole run, not the current step: each step's cost is estimated per piece
relative to rendering (the measured shares of benchmarks/README.md), and the seconds a unit of work
takes are measured as the run goes (from ingest, then from rendering), so the estimate sharpens as
the run proceeds.
"""
from __future__ import annotations

import logging
import sys
import time

log = logging.getLogger("stmtprod")

# Cost of each step per piece, in units of rendering one piece (benchmarks at 10,000 accounts).
WEIGHTS = {"ingest": 0.15, "plan": 0.03, "render": 1.0, "verify": 0.5, "inserter": 0.05, "mailing": 0.03,
           "match": 0.05, "inspection": 0.6, "release": 0.01}
ORDER = ("ingest", "plan", "render", "verify", "inserter", "match", "inspection", "release")
_FIRST_GUESS = 0.002  # seconds per unit before anything was measured


def clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class Progress:
    """The event sink the CLI hands to `build`, `resume` and the card line."""

    def __init__(self, interactive: bool, stream=None):
        self.interactive = interactive
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self.step = None
        self.step_started = self.started
        self.fraction = 0.0          # of the current step
        self.pieces = None           # known after planning (estimated during ingest)
        self.unit = _FIRST_GUESS     # seconds per unit of work, measured as the run goes
        self.detail = ""
        self.bar = None
        self._rendered = 0
        self._render_total = 0
        self._last_log = 0.0
        self._done = 0.0

    # estimate -------------------------------------------------------------------------------------
    def _remaining(self) -> float | None:
        if self.pieces is None and self.fraction > 0:  # a lone step (stmtprod verify): its own pace
            spent = time.monotonic() - self.step_started
            return spent / self.fraction * (1 - self.fraction)
        if self.pieces is None or self.step is None:
            return None
        later = ORDER[ORDER.index(self.step) + 1:] if self.step in ORDER else ()
        units = WEIGHTS.get(self.step, 0) * (1 - self.fraction) + sum(WEIGHTS[s] for s in later)
        if self.step in ("render",) and self._render_total == 0:
            units -= WEIGHTS["render"]
        return max(0.0, units * self.pieces * self.unit)

    def status(self) -> str:
        elapsed = time.monotonic() - self.started
        left = self._remaining()
        return f"elapsed {clock(elapsed)}" + (f", about {clock(left)} left" if left is not None else "")

    def _measure(self, units: float) -> None:
        spent = time.monotonic() - self.step_started
        if units > 0 and spent > 0:
            self.unit = spent / units

    # events ---------------------------------------------------------------------------------------
    def __call__(self, event: str, **data: object) -> None:
        if event == "step":
            self._step(str(data["step"]))
        elif event == "ingest":
            done, total, records = int(data["done"]), max(1, int(data["total"])), int(data["records"])
            self.fraction = min(1.0, done / total)
            if self.fraction > 0:
                self.pieces = max(1, int(records / self.fraction))
                self._measure(records * WEIGHTS["ingest"])
            self.detail = f"{records} records read ({self.fraction:.0%} of the input)"
            self._show(quiet=True)
        elif event == "render":
            self._step("render", show=False)
            self._render_total = int(data["pieces"])
            self.pieces = int(data.get("total_pieces", data["pieces"])) or self.pieces or 0
            self.detail = (f"{data['pieces']} pieces in {data['batches']} batches"
                           + (f" ({data['kept']} batches already proven)" if data.get("kept") else ""))
            self._show()
        elif event == "batch":
            self._rendered += int(data["pieces"])
            if self._render_total:
                self.fraction = min(1.0, self._rendered / self._render_total)
                self._measure(self._rendered * WEIGHTS["render"])
            self.detail = (f"batch {data['batch']}: {data['pieces']} pieces, {data['sheets']} sheets "
                           f"({self._rendered}/{self._render_total} pieces)")
            self._show()
        elif event == "verified":
            self.fraction = int(data["done"]) / max(1, int(data["total"]))
            self.detail = f"print file {data['batch']} read back ({data['done']}/{data['total']} files)"
            self._show(quiet=True)
        elif event == "stage":
            stage, stages = int(data["stage"]), int(data.get("of", 4))
            self.fraction = min(1.0, (stage - 1) / stages)
            self.detail = (f"stage {stage} of {stages} ({data['name']}): {data['lots']} lots, "
                           f"{data['sampled']} sampled")
            self._show()

    def _step(self, step: str, show: bool = True) -> None:
        self.step, self.step_started, self.fraction, self.detail = step, time.monotonic(), 0.0, ""
        if show:
            self._show()

    def _show(self, quiet: bool = False) -> None:
        line = f"{self.step}" + (f": {self.detail}" if self.detail else "")
        if self.interactive:
            self._bar(line)
            return
        now = time.monotonic()
        if quiet and now - self._last_log < 5:
            return
        self._last_log = now
        log.info("%s | %s", line, self.status())

    def _bar(self, line: str) -> None:
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(total=1000, file=self.stream, leave=False, bar_format="{desc}")
        left = self._remaining()
        elapsed = time.monotonic() - self.started
        done = elapsed / (elapsed + left) if left is not None and elapsed + left > 0 else 0.0
        done = self._done = max(self._done, done)
        filled = int(done * 24)
        self.bar.set_description_str(f"[{'#' * filled}{'.' * (24 - filled)}] {done:4.0%}  {self.status()}  "
                                     f"{line[:70]}", refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
