"""The run folder both lines share: its id, its ingest hand-over, its summary and how a run ends.

The statement line (`stmtprod.statements.line`) and the card line (`stmtprod.cards.line`) lay out a run the
same way (`quarantine.jsonl`, `work/accepted/`, `staging/` -> `release/`, `summary.json`,
`run.json`) so that `stmtprod runs`, `show`, `qa` and `proof` read either; the steps that build
that shape live here once, so the two lines cannot drift apart.
"""
from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable, Protocol, TypeVar

from stmtprod.cardnumbers import PAN_MIN, PAN_MAX, card_number_field
from stmtprod.engine import halt_report
from stmtprod.errors import EnvironmentFault, Halt, UsageError
from stmtprod.fsutil import fsync_dir, remove_temporaries, write_json
from stmtprod.engine.ledger import LEDGER_FILE, Ledger
from stmtprod.regions import REGIONS

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
RUN_ID = re.compile(r"[0-9]{8}-[0-9A-Z]{6}(?:-R[0-9]{1,3})?")  # -R<k>: a reprint child (round k)
"""A run id, and so a run folder's name: ASCII only, matched in full (no separator, no newline)."""
Ingested = TypeVar("Ingested")


class IngestCounts(Protocol):
    """What the run summary reads from either line's ingest result."""

    input: int
    blank_lines: int
    quarantined: int
    suppressed: dict
    quarantined_by_kind: dict

    @property
    def accepted_count(self) -> int: ...


def run_id_tag(basis: list[str], salt: int = 0) -> str:
    """Six base-36 characters hashed from what shapes a run's output; `salt` > 0 for `--force` re-runs."""
    text = "|".join(basis)
    if salt:
        text += f"|force={salt}"
    number = int(hashlib.sha256(text.encode()).hexdigest(), 16)
    tag = ""
    for _ in range(6):
        number, digit = divmod(number, 36)
        tag += _ALPHABET[digit]
    return tag


def check_run_id(run_id: object, what: str = "run id") -> str:
    """`run_id` if it is a run id `YYYYMMDD-XXXXXX` (or a reprint child's, `YYYYMMDD-XXXXXX-R<k>`) in
    full (ASCII digits and capitals, nothing else);
    else a usage error. Called before any work by every command that takes a run id, since the id
    becomes a folder name under --out."""
    if not isinstance(run_id, str) or not RUN_ID.fullmatch(run_id):
        shown = ascii(run_id)[:40]
        raise UsageError(f"{what} {shown} is not a run id: YYYYMMDD-XXXXXX (or YYYYMMDD-XXXXXX-R<k>) with "
                         "ASCII digits and capitals only")
    return run_id


def check_batching(batch_size: int, run_id: str | None) -> None:
    """The options both lines take for a new run, refused before any work: `--batch-size` at least 1, a
    `--run-id` (when given) a run id in full."""
    if batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    if run_id is not None:
        check_run_id(run_id, "--run-id")


def refuse_card_numbers(options: dict, out: Path) -> None:
    """A usage error (exit 2, before any work) for an option whose value reads as a card number: a
    run's options and paths are written to its record, summary, report and ledger, and printed by
    `stmtprod show`; the value is not quoted, so the operator's paste stays off the screen too."""
    for name, value in {**options, "out": str(out)}.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        texts = [("value", str(v)) for v in values if isinstance(v, (str, int, Path)) and not isinstance(v, bool)]
        if card_number_field(texts):
            raise UsageError(f"--{name.replace('_', '-')}: the value reads as a card number ({PAN_MIN} to {PAN_MAX} "
                             "digits passing the Luhn check, in any script or spacing) and is not used or echoed; "
                             "rename the file or folder, or correct the value")


def prepare_out(out: Path) -> Path:
    """The output folder, made if missing and resolved; a path that cannot be a folder is a usage error."""
    out = Path(out)
    for part in (out, *out.parents):
        if part.exists() and not part.is_dir():
            raise UsageError(f"--out {out}: {part} is a regular file, not a folder; choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    return out.resolve()


def _run_folders(out: Path) -> list[str]:
    """The names of the run folders in `out`, sorted."""
    return sorted(p.name for p in out.iterdir() if RUN_ID.fullmatch(p.name) and p.is_dir())


def require_ledger(out: Path) -> None:
    """Before continuing a run in `out`: a usage error when it has no ledger and no run folder (nothing to
    resume), and, as `open_ledger` refuses, exit 7 naming them when it has run folders but no ledger
    (deleted or lost: restore it; a run is never continued without its record)."""
    if (out / LEDGER_FILE).exists():
        return
    folders = _run_folders(out) if out.is_dir() else []
    if folders:
        raise _unknown_folders(out / LEDGER_FILE, "is missing", folders, out)
    raise UsageError(f"{out} has no ledger: nothing to resume")


def open_ledger(out: Path) -> Ledger:
    """The ledger of `out`, refusing (exit 7) when `out` holds run folders the ledger does not know.

    That happens when the ledger was deleted, emptied or replaced by an older copy: building again
    would give a released cycle the same id and print it twice. Nothing is touched (a deleted ledger
    is not even re-created); the operator restores the ledger, or moves the folders away deliberately.
    """
    folders = _run_folders(out)
    ledger_file = out / LEDGER_FILE
    if folders and not ledger_file.exists():
        raise _unknown_folders(ledger_file, "is missing", folders, out)
    ledger = Ledger(out)
    try:
        unknown = [name for name in folders if ledger.run(name) is None]
        if unknown:
            raise _unknown_folders(ledger_file, "does not know", unknown, out)
    except BaseException:
        ledger.close()
        raise
    return ledger


def _unknown_folders(ledger_file: Path, what: str, folders: list[str], out: Path) -> EnvironmentFault:
    listed = ", ".join(folders[:5]) + (f" and {len(folders) - 5} more" if len(folders) > 5 else "")
    subject = "the ledger is missing beside" if what == "is missing" else "the ledger does not know"
    return EnvironmentFault(
        f"{ledger_file}: {subject} the run folders {listed} in {out}: it was deleted, emptied or replaced; restore it "
        "from a backup (stmtprod never re-makes or deletes a run folder, so it stops here)")


def check_input_file(path: Path, what: str, option: str) -> None:
    """Usage errors (exit 2, before any work) for an input that is missing, a folder or unreadable."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{option} {path} is a folder, not a file: give the {what} itself")
    if not path.exists():
        raise UsageError(f"{what} {path} does not exist ({option})")
    if not path.is_file():
        raise UsageError(f"{option} {path} is not a regular file")
    try:
        with open(path, "rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise UsageError(f"{what} {path} cannot be read ({option}): {exc.strerror or exc}") from None


def choose_run_id(ledger: Ledger, base_id: str, requested: str | None, force: bool, work: Path,
                  rerun_id: Callable[[int], str], released: str, exists: str) -> str:
    """The id of a new run: the one asked for, else `base_id`, else with `force` the next salted id.

    Refuses (removing the ingest folder `work`) an id already in the ledger, or a run of the same
    input without `force`; `released` and `exists` are the refusals' texts with `{run_id}` and
    `{state}` of the latest such run. `requested` must already be a valid run id.
    """
    existing = ledger.runs(base_id)
    if requested:
        if ledger.run(requested):
            shutil.rmtree(work, ignore_errors=True)
            raise UsageError(f"run id {requested} is already in the ledger")
        return requested
    if existing and not force:
        shutil.rmtree(work, ignore_errors=True)
        latest = existing[-1]
        template = released if latest["state"] in ("RELEASED", "COMPLETE") else exists
        raise UsageError(template.format(run_id=latest["run_id"], state=latest["state"]))
    return rerun_id(len(existing)) if existing else base_id


def clear_stale_ingests(out: Path, prefix: str) -> None:
    """Ingest folders a crash left behind in `out`; only called while holding the output lock."""
    for stale in out.glob(f"{prefix}*"):
        shutil.rmtree(stale, ignore_errors=True)


def ingest_into(folder: Path, prefix: str, ingest: Callable[[Path, Path], Ingested]) -> tuple[Path, Ingested]:
    """Run `ingest(accepted_dir, quarantine_file)` in a fresh temporary folder, removed if ingest fails."""
    work = Path(tempfile.mkdtemp(prefix=prefix, dir=folder))
    try:
        return work, ingest(work / "accepted", work / "quarantine.jsonl")
    except BaseException as exc:
        shutil.rmtree(work, ignore_errors=True)
        if isinstance(exc, OSError) and exc.filename is None:  # a failed write names no file: name the folder
            raise OSError(exc.errno, exc.strerror, str(work)) from exc
        raise


def place_new_run(out: Path, run_dir: Path, work: Path) -> None:
    """Make `run_dir` and move the ingest's quarantine and accepted spill into it.

    A run folder is never deleted or reused: if `run_dir` exists (made by hand, or by a run whose
    ledger record is gone) the run is refused.
    """
    try:
        run_dir.mkdir()
    except FileExistsError:
        shutil.rmtree(work, ignore_errors=True)
        raise EnvironmentFault(f"{run_dir} already exists but its run is not in the ledger; move it away or restore "
                               "the ledger (a run folder is never overwritten)") from None
    (work / "quarantine.jsonl").rename(run_dir / "quarantine.jsonl")
    (run_dir / "work").mkdir()
    (work / "accepted").rename(run_dir / "work" / "accepted")
    shutil.rmtree(work)
    fsync_dir(out)


def replace_ingest(run_dir: Path, work: Path) -> None:
    """On resume: the fresh ingest's quarantine and accepted spill take the place of the old ones."""
    (work / "quarantine.jsonl").replace(run_dir / "quarantine.jsonl")
    (run_dir / "work").mkdir(exist_ok=True)
    shutil.rmtree(run_dir / "work" / "accepted", ignore_errors=True)
    (work / "accepted").rename(run_dir / "work" / "accepted")
    shutil.rmtree(work)


def reopen_staging(run_dir: Path) -> tuple[Path, Path]:
    """`staging/` and `release/` of a run as the line (re)starts on it: a release left by an unfinished run
    goes back to staging, the temporary files of interrupted atomic writes are removed, and the halt
    report of a halt being resumed moves into `halts/`."""
    staging, release = run_dir / "staging", run_dir / "release"
    halt_report.archive(run_dir)
    if release.exists() and not staging.exists():
        release.rename(staging)
    if staging.exists():
        remove_temporaries(staging)  # what workers stopped mid-write (a signal, a full disk) left behind
    return staging, release


def check_reject_share(ingested: IngestCounts, threshold: float, noun: str, correct: str) -> None:
    """Halt when more than `threshold` of the input was quarantined (`noun`: what the input holds)."""
    share = ingested.quarantined / ingested.input if ingested.input else 0.0
    if share > threshold:
        raise Halt(f"{ingested.quarantined} of {ingested.input} {noun} rejected ({share:.1%}), above the "
                   f"{threshold:.1%} threshold", step="ingest",
                   expected=f"<= {threshold:.1%}", found=f"{share:.1%}",
                   action=f"inspect quarantine.jsonl, {correct}")


def refuse_empty(ingested: IngestCounts, allow_empty: bool, path: Path, work: Path, noun: str) -> None:
    """Refuse, before a run is made, an input without one record (empty, or blank lines only),
    removing the ingest folder `work`; `allow_empty` is the operator saying the cycle is empty on purpose."""
    if ingested.input == 0 and not allow_empty:
        shutil.rmtree(work, ignore_errors=True)
        raise UsageError(f"{path} holds no {noun} (it is empty or has only blank lines): nothing to run; "
                         "pass --allow-empty if this cycle is empty on purpose")


def check_not_empty(ingested: IngestCounts, allow_empty: bool, noun: str, correct: str) -> None:
    """Halt a run that would release nothing because no record was accepted (all quarantined or suppressed)."""
    if ingested.input and ingested.accepted_count == 0 and not allow_empty:
        raise Halt(f"none of the {ingested.input} {noun} was accepted ({ingested.quarantined} quarantined, "
                   f"{sum(ingested.suppressed.values())} suppressed): an empty night is not released",
                   step="ingest", field="accepted", expected=">= 1", found=0,
                   action=f"inspect quarantine.jsonl, {correct}; if nothing is to be printed on purpose, "
                          "build again with --allow-empty --force")


def release_staging(staging: Path, release: Path, run_dir: Path, any_jobs: bool,
                    reached: Callable[[str], None] = lambda _point: None) -> None:
    """Rename `staging/` to `release/` (with empty print and manifest folders for an empty run).

    `reached` marks the crash points around the rename for the crash-safety tests.
    """
    if not any_jobs:
        (staging / "print").mkdir(parents=True, exist_ok=True)
        (staging / "manifest").mkdir(exist_ok=True)
    reached("release:before")
    staging.rename(release)
    fsync_dir(run_dir)
    reached("release:after")


def write_summary(run_dir: Path, summary: dict, timings: dict, started: float) -> None:
    """`summary.json` with the step timings, the total counted from `started`."""
    timings["total"] = time.perf_counter() - started
    summary["timings"] = {k: round(v, 3) for k, v in timings.items()}
    write_json(run_dir / "summary.json", summary)


def note_waiting(summary: dict, waiting) -> None:
    """The summary of a run that waits for a manual inspection stage (`AwaitingInspection`)."""
    summary["state"] = "INSPECTING"
    from stmtprod.engine.wayout import waiting_commands

    summary["waiting"] = {"stage": waiting.stage, "lots": waiting.lots, "message": str(waiting),
                          "next": waiting_commands(summary["run_id"], Path(summary["run_dir"]), waiting.stage,
                                                   summary.get("line", "statements"))}


def note_halt(ledger: Ledger, run_id: str, run_dir: Path, summary: dict, halt: Halt, line: str = "statements") -> None:
    """The summary, halt report and ledger record of a halted run, with its way out (`stmtprod.engine.wayout`)."""
    from stmtprod.engine import wayout

    summary["state"] = "HALTED"
    summary["halt"] = wayout.prepare(ledger, run_id, run_dir, halt.as_dict(), line)
    halt_report.write(run_dir, run_id, summary["halt"])
    ledger.record_halt(run_id, summary["halt"])


def mirror(ledger: Ledger, run_id: str, run_dir: Path, config_keys: tuple[str, ...] = ("layouts_dir", "catalog_file"),
           **extra: object) -> None:
    """`run.json`: a readable copy of the run's ledger record for people and for `stmtprod verify`.

    `config_keys`: the recorded options a verify needs to reload the run's configuration.
    """
    run = ledger.run(run_id)
    write_json(run_dir / "run.json", {
        "run_id": run_id, "state": run["state"], "input": run["input_path"], "input_sha256": run["input_sha256"],
        "layouts_version": run["layouts_version"], "catalog_version": run["catalog_version"],
        **{key: run["options"][key] for key in config_keys},
        "options": run["options"], "history": ledger.history(run_id), "halts": ledger.halts(run_id), **extra})


def run_summary(run_id: str, run_dir: Path, ingested: IngestCounts, jobs: list[dict], released: bool,
                batches: list[dict] | None = None) -> dict:
    """The counts that must reconcile (input = produced + quarantined + suppressed + not released)."""
    release = run_dir / "release"
    batches = batches or []
    produced = sum(b["pieces"] for b in batches) if released else 0
    regions = {region: sum(b["pieces"] for b in batches if b["region"] == region) for region in REGIONS}
    pending = 0 if released else ingested.accepted_count
    counts = {"input": ingested.input, "produced": produced, "quarantined": ingested.quarantined,
              "suppressed": sum(ingested.suppressed.values()),
              "sheets": sum(b["sheets"] or 0 for b in batches) if released else 0, "not_released": pending}
    reconciled = counts["input"] == counts["produced"] + counts["quarantined"] + counts["suppressed"] + pending
    return {
        "run_id": run_id,
        "state": "RELEASED" if released else "HALTED",
        "run_dir": str(run_dir),
        "print_files": [str(release / "print" / Path(j["pdf_file"]).name) for j in jobs] if released else [],
        "manifest_files": [str(release / "manifest" / Path(j["manifest_file"]).name) for j in jobs] if released else [],
        "quarantine_file": str(run_dir / "quarantine.jsonl"),
        "counts": counts,
        "reconciled": reconciled,
        "regions": {r: n for r, n in regions.items() if n} if released else {},
        "suppressed_by_reason": dict(sorted(ingested.suppressed.items())),
        "quarantined_by_kind": dict(sorted(ingested.quarantined_by_kind.items())),
        "blank_lines": ingested.blank_lines,
    }
