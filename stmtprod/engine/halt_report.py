"""The halt report: what stopped the line, where, and what the operator does next.

Written beside the run record as `halt.txt` for people and `halt.json` for machines. A resume moves
them into `halts/` (numbered, oldest first) before it starts, so the halt files in the run folder
are always the current halt's, and the earlier ones stay as history.
"""
from __future__ import annotations

from pathlib import Path

from stmtprod.fsutil import atomic_open, fsync_dir, write_json

_ORDER = ("step", "batch", "page", "piece", "sheet", "field", "expected", "found")
_TEXT = ("reason", "action", "next", "rerender", "drill")


def describe(run_id: str, halt: dict, released: bool = False) -> str:
    """The operator's text for a halt. `released`: the halt is a released run failing re-verification
    (`stmtprod verify`), which leaves the run RELEASED, so its files may already be at the printer."""
    lines = [f"DRILL RUN ({halt['drill']}): a training run, not production quality history"] if halt.get("drill") else []
    lines.append(f"RUN {run_id} (RELEASED) FAILED RE-VERIFICATION: {halt['reason']}" if released
                 else f"RUN {run_id} HALTED: {halt['reason']}")
    lines += [f"  {key:<9} {halt[key]}" for key in _ORDER if halt.get(key) is not None]
    lines += [f"  {key:<9} {value}" for key, value in halt.items() if key not in (*_ORDER, *_TEXT)]
    if released:
        lines.append("The run stays RELEASED, but its files no longer match what was verified at release: hold "
                     "the batch at the printer and do not mail what was printed from it.")
    else:
        lines.append("Nothing was released.")
    if halt.get("rerender"):
        lines.append(f"The resume renders {', '.join(halt['rerender'])} again.")
    if halt.get("action"):
        lines.append(f"Fix: {halt['action']}")
    commands = halt.get("next") or []
    for index, command in enumerate(commands):
        lines.append(f"{'Next:' if index == 0 else '     '} {command}")
    return "\n".join(lines) + "\n"


def write(run_dir: Path, run_id: str, halt: dict) -> None:
    write_json(run_dir / "halt.json", {"run_id": run_id, **halt})
    with atomic_open(run_dir / "halt.txt") as fh:
        fh.write(describe(run_id, halt))


def archive(run_dir: Path) -> list[Path]:
    """Move the current halt report into `halts/NNN-halt.{json,txt}` (a resume is going past it)."""
    current = [run_dir / "halt.json", run_dir / "halt.txt"]
    if not any(p.exists() for p in current):
        return []
    folder = run_dir / "halts"
    folder.mkdir(exist_ok=True)
    number = 1 + max((int(p.name.split("-", 1)[0]) for p in folder.glob("[0-9]*-halt.*")), default=0)
    moved = []
    for path in current:
        if path.exists():
            target = folder / f"{number:03d}-{path.name}"
            path.replace(target)
            moved.append(target)
    fsync_dir(folder)
    fsync_dir(run_dir)
    return moved
