"""The challenge step of a run: plant the night's challenge pieces, verify them, and prove each caught.

After the run's own pieces are verified, each lot's challenge pieces (`pieces.plan`) are rendered
by the line's renderer into print files of their own (`challenge/print/<region>-Cnn.pdf`, one piece
a file, so the real pieces' files are untouched), their class's fault is planted (`faults.CLASSES`),
and each file is verified by the very functions that verified the real ones, with the same checks
switched on (the line's `Kit`, `stmtprod.challenges.lines`). A challenge piece whose fault the meant check stops is set aside as expected: it is
printed, marked as a planned divert in its lot's inserter control file, and comes back to the
issuer if it ever escaped; it is never mailed or sampled. One that passes, or that only another
check stops, halts the run: "checker blind". `challenge/challenges.jsonl` lists every piece and how
it was caught; the summary and the run report show them.
"""
from __future__ import annotations

import json
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from stmtprod.challenges import pieces
from stmtprod.challenges.config import ChallengeConfig
from stmtprod.challenges.faults import CLASSES, family
from stmtprod.engine.run import Run
from stmtprod.errors import Halt
from stmtprod.fsutil import atomic_open, write_jsonl
from stmtprod.layout import LayoutSet

FOLDER = "challenge"
"""Under `staging/` (then `release/`): `print/`, `manifest/` and `challenges.jsonl`."""


@dataclass(frozen=True)
class Kit:
    """What a line lends the challenge step (`stmtprod.challenges.lines`): the classes its 100% checks
    exist to catch, and how it writes, renders and verifies one challenge piece."""

    classes: tuple[str, ...]
    layouts: LayoutSet
    write: Callable[[pieces.Challenge, Path], tuple[str, str]]
    """Writes the piece's batch file; returns (its line for the challenge spill, its window name)."""
    render: Callable[[pieces.Challenge, Path, Path, Path], None]
    """(piece, batch file, print file, manifest): renders the piece with the line's renderer."""
    verify: Callable[[pieces.Challenge, Path, Path, Path], dict | None]
    """(piece, print file, manifest, challenge spill folder): the halt the line's verification raises, or None."""


def challenge_run(run: Run, config: ChallengeConfig, kit: Kit, blind: frozenset[str]) -> dict:
    """Plant, render, damage and verify the run's challenge pieces; returns the summary's `challenges`
    entry (`halt_if_blind` then stops the run if one was missed). Redone whole on resume (a handful
    of one-piece files): the same run gives the same bytes."""
    if config.per_lot == 0:
        return {"pieces": 0, "off": config.off_reason}
    work, out = run.run_dir / "work" / FOLDER, run.staging / FOLDER
    for folder in (work, out):
        shutil.rmtree(folder, ignore_errors=True)
    lots: dict[str, int] = {}
    for batch in run.batches:
        lots[batch.region] = lots.get(batch.region, 0) + batch.pieces
    classes = tuple(c for c in config.classes if c in kit.classes) or kit.classes
    planned = run.inject("challenges", pieces.plan(config.per_lot, classes, run.run_id, list(lots.items()),
                                                   sum(lots.values()) + 1))
    spills: dict[str, list[str]] = {}
    rows = []
    for challenge in planned:
        batch, pdf = work / "batches" / f"{challenge.name}.jsonl", out / "print" / f"{challenge.name}.pdf"
        manifest = out / "manifest" / f"{challenge.name}.jsonl"
        spill, name = kit.write(challenge, batch)
        spills.setdefault(challenge.region, []).append(spill)
        kit.render(challenge, batch, pdf, manifest)
        _mark(manifest, challenge, name)
        plant = CLASSES[challenge.kind].plant
        fault = (plant(pdf, manifest, kit.layouts[challenge.region],
                       random.Random(f"{run.run_id}:{challenge.sequence}")) if plant else CLASSES[challenge.kind].what)
        rows.append({"sequence": challenge.sequence, "lot": _lot(manifest), "region": challenge.region,
                     "class": challenge.kind, "fault": fault, "file": f"{FOLDER}/print/{challenge.name}.pdf"})
    for region, lines in spills.items():
        with atomic_open(work / "accepted" / f"{region}.jsonl") as fh:
            fh.write("".join(lines))
    for row, challenge in zip(rows, planned):
        halt = kit.verify(challenge, out / "print" / f"{challenge.name}.pdf",
                          out / "manifest" / f"{challenge.name}.jsonl", work / "accepted")
        row.update(_judge(CLASSES[challenge.kind].caught_by, halt, blind))
    write_jsonl(out / "challenges.jsonl", rows)
    return {"pieces": len(rows), "caught": sum(r["outcome"] == "caught" for r in rows),
            "not_checked": sum(r["outcome"] == "not checked" for r in rows), "list": rows}


def halt_if_blind(entry: dict) -> None:
    """Halt "checker blind" at the first challenge piece the check meant for it did not stop."""
    for row in entry.get("list", []):
        if row["outcome"] != "missed":
            continue
        meant = "/".join(sorted(CLASSES[row["class"]].caught_by))
        raise Halt(f"checker blind: challenge piece {row['sequence']} of class {row['class']} passed"
                   if row["caught_by"] is None else
                   f"checker blind: challenge piece {row['sequence']} of class {row['class']} was stopped by the "
                   f"{row['caught_by']} check, not the {meant} check meant for it",
                   step="challenge", batch=Path(row["file"]).stem, piece=row["sequence"], field=row["class"],
                   expected=f"stopped by the {meant} check ({row['fault']})",
                   found=row["reason"] or "passed verification",
                   action="a 100% check failed to see a fault it exists to catch, so nothing it passed tonight "
                          "is proven: find what blinded it (code, configuration, tools), then resume")


def _mark(manifest: Path, challenge: pieces.Challenge, name: str) -> None:
    """The challenge piece's manifest row flagged a planned divert, with its lot and the name in its window."""
    row = json.loads(manifest.read_text(encoding="utf-8"))
    write_jsonl(manifest, [{**row, "lot": row.get("lot") or challenge.region,
                            "planned_divert": f"challenge:{challenge.kind}", "name": name}])


def _lot(manifest: Path) -> str:
    return json.loads(manifest.read_text(encoding="utf-8"))["lot"]


def _judge(meant: frozenset[str], halt: dict | None, blind: frozenset[str]) -> dict:
    """caught (a meant check stopped it), missed, or not checked (a meant check was switched off for
    this run, as a drill does to prove a sampling inspector)."""
    caught_by = family(halt) if halt else None
    if caught_by in meant:
        outcome = "caught"
    elif meant & blind:
        outcome = "not checked"
    else:
        outcome = "missed"
    return {"outcome": outcome, "caught_by": caught_by, "reason": halt["reason"] if halt else None,
            "page": halt.get("page") if halt else None}


def describe(entry: dict | None) -> list[str]:
    """The night's challenge pieces in plain lines, for `stmtprod show` and the build's output."""
    if not entry:
        return []
    if entry.get("off"):
        return [f"challenge pieces: OFF ({entry['off']}): the 100% checks were not proven this run"]
    rows = entry.get("list", [])
    out = [f"challenge pieces: {entry['caught']} of {entry['pieces']} caught by the check meant for them"
           + (f", {entry['not_checked']} not checked (check switched off)" if entry.get("not_checked") else "")]
    for r in rows:
        how = {"caught": f"caught by the {r['caught_by']} check",
               "not checked": "not checked (its check was switched off for this run)",
               "missed": "MISSED: checker blind" + (f" (stopped by the {r['caught_by']} check instead)"
                                                   if r["caught_by"] else "")}[r["outcome"]]
        out.append(f"  piece {r['sequence']} lot {r['lot']} {r['class']}: {r['fault']}; {how}"
                   + (f": {r['reason']}" if r["reason"] else ""))
    return out


def prove(run: Run, config: ChallengeConfig, kit: Kit, blind: frozenset[str] = frozenset()) -> None:
    """A line's `challenges` step: the pieces planted and judged, kept for the summary (a halted run's
    too), then the run halted if a check was blind."""
    entry = challenge_run(run, config, kit, blind)
    run.data["challenges"] = run.summary["challenges"] = entry
    halt_if_blind(entry)


def released(run: Run, summary: dict) -> list[str]:
    """At release: the challenges in the summary; returns the released challenge files."""
    summary["challenges"] = run.data["challenges"]
    return [str(p) for p in sorted((run.release / FOLDER).rglob("*")) if p.is_file()]
