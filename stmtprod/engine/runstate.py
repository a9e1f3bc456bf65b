"""Reading a run folder's `run.json`: the readable copy of its ledger record that the engine keeps.

Tools that are given a run folder (verify, proof, qa) start here: it names the run id, the
configuration the run used (layouts, catalog, inspection) and their versions.
"""
from __future__ import annotations

import json
from pathlib import Path

from stmtprod.errors import UsageError


class RunRecord:
    def __init__(self, data: dict):
        self.data = data

    @classmethod
    def load(cls, run_dir: Path) -> "RunRecord":
        return cls(json.loads((Path(run_dir) / "run.json").read_text(encoding="utf-8")))

    @property
    def state(self) -> str | None:
        return self.data.get("state")


def load_run(run_dir: Path) -> dict:
    """A run folder's `run.json` record, or a UsageError that says the folder is not a run."""
    try:
        return RunRecord.load(run_dir).data
    except FileNotFoundError:
        raise UsageError(f"{run_dir} is not a run folder (no run.json)") from None
