"""The halt report: what stopped the line, where, and what the operator does next.

Written beside the run record as `halt.txt` for people and `halt.json` for machines.
"""
from __future__ import annotations

from pathlib import Path

from stmtprod.fsutil import atomic_open, write_json

_ORDER = ("step", "batch", "page", "piece", "sheet", "field", "expected", "found")


def describe(run_id: str, halt: dict) -> str:
    lines = [f"DRILL RUN ({halt['drill']}): a training run, not production quality history"] if halt.get("drill") else []
    lines.append(f"RUN {run_id} HALTED: {halt['reason']}")
    lines += [f"  {key:<9} {halt[key]}" for key in _ORDER if halt.get(key) is not None]
    lines += [f"  {key:<9} {value}" for key, value in halt.items()
              if key not in (*_ORDER, "reason", "action", "drill", "next")]
    lines.append("Nothing was released.")
    if halt.get("action"):
        lines.append(f"Next: {halt['action']}")
    return "\n".join(lines) + "\n"


def write(run_dir: Path, run_id: str, halt: dict) -> None:
    write_json(run_dir / "halt.json", {"run_id": run_id, **halt})
    with atomic_open(run_dir / "halt.txt") as fh:
        fh.write(describe(run_id, halt))
