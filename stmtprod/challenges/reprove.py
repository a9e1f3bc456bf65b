"""`stmtprod verify` proves the checkers alive again: every challenge piece of a statement run is
verified anew and must still be stopped by the check meant for it.

A run's challenge pieces (`release/challenge/`, `challenges.jsonl`) prove its checkers were not blind
the night it ran. Re-verifying the run days later with other code or tools proves nothing unless the
checkers doing it are proven too, so each piece's print file is verified again by the same
`verify_file`, every check on, and judged as the run judged it; one that passes now halts "checker blind".
"""
from __future__ import annotations

import json
from pathlib import Path

from stmtprod.catalog import load_catalog
from stmtprod.challenges.faults import CLASSES
from stmtprod.challenges.step import FOLDER, _judge, halt_if_blind
from stmtprod.errors import Halt
from stmtprod.layout import load_layouts
from stmtprod.verify import PrintFile, contract, verify_file


def reprove_statements(run: dict, run_dir: Path, folder: Path) -> dict:
    """Verify each challenge piece under `folder` (the run's release or staging folder) again; returns
    {"pieces", "caught"}, or raises Halt "checker blind" for the first not stopped by its meant check."""
    listed = Path(folder) / FOLDER / "challenges.jsonl"
    planted = _planted(Path(run_dir))
    if not listed.exists():
        if planted:
            raise Halt("the run's challenge pieces are gone", step="verify", field="challenges",
                       expected=f"{planted} challenge pieces listed in {listed}", found="no list",
                       action="restore the run folder from its copy: without its challenge pieces nothing "
                              "proves the checkers")
        return {"pieces": 0, "caught": 0}
    layouts = load_layouts(Path(run["layouts_dir"]))
    catalog, _ = load_catalog(Path(run["catalog_file"]))
    accepted = Path(run_dir) / "work" / FOLDER / "accepted"
    rows = []
    for line in listed.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["class"] not in CLASSES:
            raise Halt("challenge piece of an unknown class", step="verify", batch=Path(row["file"]).stem,
                       piece=row["sequence"], field="class", expected=", ".join(CLASSES), found=row["class"],
                       action="the challenge list was altered: re-run the run's challenge step (resume)")
        pdf = Path(folder) / row["file"]
        name, layout = pdf.stem, layouts[row["region"]]
        halt = verify_file(PrintFile(name, row["region"], pdf, Path(folder) / FOLDER / "manifest" / f"{name}.jsonl"),
                           contract(layout), run["run_id"], catalog, accepted, frozenset(), layout).halt
        rows.append({**row, **_judge(CLASSES[row["class"]].caught_by, halt, frozenset())})
    halt_if_blind({"list": rows})
    return {"pieces": len(rows), "caught": sum(r["outcome"] == "caught" for r in rows)}


def _planted(run_dir: Path) -> int:
    """How many challenge pieces the run's summary says it planted (0 when it says nothing)."""
    try:
        summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return 0
    entry = summary.get("challenges") if isinstance(summary, dict) else None
    return int(entry.get("pieces") or 0) if isinstance(entry, dict) else 0
