"""One run in progress: what every step reads and leaves for the next."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable

from stmtprod.engine import crashpoints
from stmtprod.engine.ledger import Ledger
from stmtprod.engine.points import POINTS, Faults

Events = Callable[..., None]


def quiet(_event: str, **_data: object) -> None:
    """Default event sink: the library itself never prints."""


@dataclasses.dataclass
class Run:
    """A run's identity, its folders and the results its steps hand on (`batches`, `jobs`, `files`, `summary`).

    `data` holds what one product's steps pass to each other and the engine does not read.
    """

    ledger: Ledger
    run_id: str
    run_dir: Path
    product: Any
    ingested: Any
    events: Events
    timings: dict
    started: float
    faults: Faults
    batches: list = dataclasses.field(default_factory=list)
    jobs: list = dataclasses.field(default_factory=list)
    files: list = dataclasses.field(default_factory=list)
    data: dict = dataclasses.field(default_factory=dict)
    summary: dict = dataclasses.field(default_factory=dict)
    """The run's summary as the steps build it; the engine writes it when the run ends."""
    batch_pool: Any = None
    """The local workers the batches rendered in (`stmtprod.engine.batchpool.BatchPool`), holding the
    next task of each batch the product queued (`read_ahead`); None when they rendered elsewhere."""
    closing: list = dataclasses.field(default_factory=list)
    """What a step started for a later one (worker processes, say): each closed when the run's steps end,
    whichever way they end."""

    @property
    def staging(self) -> Path:
        return self.run_dir / "staging"

    @property
    def release(self) -> Path:
        return self.run_dir / "release"

    @property
    def accepted_dir(self) -> Path:
        return self.run_dir / "work" / "accepted"

    @property
    def drill(self) -> str | None:
        """The drill the run was made with (recorded with it), or None for a production run."""
        return self.ledger.run(self.run_id)["options"].get("drill")

    def inject(self, point: str, value: Any, **context: Any) -> Any:
        """`value` at the named point, as the run's faults leave it (unchanged in production)."""
        if point not in POINTS:
            raise KeyError(f"unknown injection point {point!r}")
        return self.faults.at(point, value, self, **context)

    def reached(self, point: str) -> None:
        """A crash point: tests can stop the process here (`stmtprod.engine.crashpoints`)."""
        crashpoints.reached(point)
