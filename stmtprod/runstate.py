"""The run record: state and the history of its transitions, kept in `run.json` in the run folder.

Written atomically at every transition so that whatever stops the process, the record on disk names
the last state reached and why.
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from stmtprod.fsutil import write_json

STATES = ("PLANNED", "RENDERING", "VERIFYING", "INSPECTING", "HALTED", "RELEASED")


class RunRecord:
    def __init__(self, run_dir: Path, run_id: str, info: dict | None = None):
        self.path = run_dir / "run.json"
        self.data = {"run_id": run_id, "state": None, "history": [], **(info or {})}

    @classmethod
    def load(cls, run_dir: Path) -> "RunRecord":
        data = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
        record = cls(run_dir, data["run_id"])
        record.data = data
        return record

    @property
    def state(self) -> str | None:
        return self.data["state"]

    def transition(self, state: str, **details: object) -> None:
        assert state in STATES, state
        self.data["state"] = state
        self.data["history"].append({"state": state, "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                                     **details})
        write_json(self.path, self.data)

    def update(self, **fields: object) -> None:
        self.data.update(fields)
        write_json(self.path, self.data)
