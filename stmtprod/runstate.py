"""Reading a run folder's `run.json`: the readable copy of its ledger record that the pipeline keeps.

Tools that are given a run folder (verify, proof, qa) start here: it names the run id, the
configuration the run used (layouts, catalog, inspection) and their versions.
"""
from __future__ import annotations

import json
from pathlib import Path


class RunRecord:
    def __init__(self, data: dict):
        self.data = data

    @classmethod
    def load(cls, run_dir: Path) -> "RunRecord":
        return cls(json.loads((Path(run_dir) / "run.json").read_text(encoding="utf-8")))

    @property
    def state(self) -> str | None:
        return self.data.get("state")
