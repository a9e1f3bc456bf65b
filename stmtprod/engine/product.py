"""What a product (statements, cards) plugs into the engine: one small interface.

The engine owns the run's life (`stmtprod.engine.life`); a product says how its input is ingested,
how its run id is made, which steps run between render and release, and what its release adds.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable, Protocol

from stmtprod.engine.points import Faults
from stmtprod.engine.run import Run


@dataclasses.dataclass(frozen=True)
class Step:
    """One step of a run: `do(run)`, after the run moves to `state` (if given) and the `step` event.

    `timed`: the step's seconds go to the run's timings under its name.
    """

    name: str
    do: Callable[[Run], None]
    state: str | None = None
    event: bool = True
    timed: bool = True


@dataclasses.dataclass(frozen=True)
class Messages:
    """The words a product's refusals use."""

    noun: str
    """What its input holds: "records", "card orders"."""
    correct: str
    """How an operator corrects its input: "correct the extract upstream"."""
    then_resume: str
    """How the run goes on after that: "then resume the run"."""
    released: str
    """Refusal of a cycle already released; `{run_id}` is filled in."""
    exists: str
    """Refusal of a cycle whose run exists in another state; `{run_id}`, `{state}` filled in."""


class Product(Protocol):
    """A product line. Its options (input, out, thresholds, executor) are attributes; see each method."""

    line: str
    """"statements" or "cards": recorded with the run, shown with it."""
    ingest_prefix: str
    config_keys: tuple[str, ...]
    """The recorded options `run.json` mirrors so `stmtprod verify` reloads the configuration."""
    messages: Messages
    faults: Faults
    input_path: Path
    out: Path
    requested_run_id: str | None
    allow_empty: bool
    reject_threshold: float
    executor: str
    workers: int
    scheduler: str | None
    layouts: Any
    catalog: Any
    layouts_version: str
    catalog_version: str

    def ingest(self, accepted: Path, quarantine: Path, events: Callable[..., None]) -> Any:
        """Read the input into accepted spills and quarantine; returns the ingest result."""

    def make_run_id(self, ingested: Any, salt: int = 0) -> str:
        """`YYYYMMDD-XXXXXX` from the input and everything that shapes the output."""

    def record(self) -> dict:
        """The options recorded with the run (ledger and `run.json`), from which `resume` rebuilds it."""

    def identity(self, run: Run) -> dict:
        """Summary keys that identify what the run was made from."""

    def steps(self) -> list[Step]:
        """The product's steps, in order, from plan to the last inspection."""

    def read_ahead(self, run: Run, job: Any) -> tuple | None:
        """The next task of a batch just rendered, to queue in the render workers at once: (key, function,
        *args), which the next step claims under the same key; None: none."""

    def released(self, run: Run, summary: dict) -> list[str]:
        """Adds the product's release results to the summary; returns the extra released files."""

    def resume_detail(self) -> dict:
        """What the RESUMED transition records besides the state."""
