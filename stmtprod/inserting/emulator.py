"""`stmtprod insert-sim`: an inserter for tests and drills, with seeded, reproducible faults.

Like a real one it knows only its control file and what its cameras read: it reads every sheet's
barcode out of the lot's print files (`stmtprod.verify.read_all`), collates, feeds and weighs the
envelopes with the simulated inserter of stage 3 (`stmtprod.inserting.machine.Inserter`: one inserter model
in the code), checks each envelope against its control record, and writes a results file in the
model's format. Faults, one at most per piece, drawn per lot from `random.Random(f"{seed}:{lot}")`:
jam (DAMAGED), double-feed (DAMAGED, outsorted), misread (ATTENTION), missing (no record),
pulled (PULLED by the machine operator), duplicate (the piece's record twice). Challenge pieces
(issue 16), whose barcodes are wrong by design, are set aside as the control file plans: DIVERTED.
"""
from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

from stmtprod.errors import UsageError
from stmtprod.fsutil import atomic_open
from stmtprod.inserting.machine import Inserter
from stmtprod.inserting.control import control_path
from stmtprod.inserting.lotmodels import covered_lots, results_model
from stmtprod.inserting.models import InserterModel
from stmtprod.inserting.records import RecordError, format_records, parse_records
from stmtprod.inserting.runctx import RunFolder
from stmtprod.verify import PrintFile, check_files, first_row, read_all

FAULTS = ("jam", "double-feed", "misread", "missing", "pulled", "duplicate")
REJECT_BIN = 1


def parse_faults(text: str | None) -> dict[str, float]:
    """`jam=0.002,double-feed=0.001,...` into rates per piece; unknown kinds and bad rates refused."""
    rates: dict[str, float] = {}
    for item in filter(None, (p.strip() for p in (text or "").split(","))):
        kind, _, value = item.partition("=")
        kind = kind.strip()
        if kind not in FAULTS:
            raise UsageError(f"--faults: unknown fault {kind!r} (known: {', '.join(FAULTS)})")
        try:
            rate = float(value)
        except ValueError:
            raise UsageError(f"--faults: {kind}={value!r} is not a rate between 0 and 1") from None
        if not 0 <= rate <= 1:
            raise UsageError(f"--faults: {kind}={value} is not a rate between 0 and 1")
        rates[kind] = rate
    if sum(rates.values()) > 1:
        raise UsageError("--faults: the rates add up to more than 1")
    return rates


def _control(run: RunFolder, lot: str, model: InserterModel) -> dict[int, dict[str, str]]:
    path = control_path(run.release, lot, model)
    if not path.exists():
        raise UsageError(f"no control file {path}: make it with `stmtprod inserter control {run.run_dir} "
                         f"--model {model.name}`")
    out = {}
    for number, fields in parse_records(model.control, path.read_bytes().decode(model.control.encoding)):
        if isinstance(fields, RecordError):
            raise UsageError(f"{path}: line {number}: {fields.field}: {fields}")
        out[int(fields["sequence"])] = fields
    return out


def _files(run: RunFolder, lot: str) -> list[PrintFile]:
    files = []
    for manifest in sorted((run.release / "manifest").glob("*.jsonl")):
        f = PrintFile(manifest.stem, manifest.stem[:2], run.release / "print" / f"{manifest.stem}.pdf", manifest)
        check_files(f)
        first = first_row(f)
        if first and (first.get("lot") or first["region"]) == lot:
            files.append(PrintFile(f.batch, first["region"], f.pdf, manifest))
    return sorted(files, key=lambda f: f.batch)


def _envelopes(run: RunFolder, files: list[PrintFile], workers: int) -> list[dict]:
    """The lot's envelopes as the simulated inserter makes them from the sheets' barcodes alone."""
    decoded = read_all(files, run.layouts, workers)
    machine = Inserter(run.catalog, run.run_id)
    for f in files:
        for page, codes in enumerate(decoded[f.batch], 1):
            machine.feed(codes[0] if codes else "", batch=f.batch, page=page)
    return machine.finish()


def _outcome(env: dict, ctl: dict[str, str] | None, hoppers: int) -> tuple[str, int | None, str]:
    """(status, bin, note) of an envelope that met no fault."""
    if ctl is None:
        return "ATTENTION", REJECT_BIN, "not in the control file"
    bins = "".join("Y" if h in env["hoppers"] else "N" for h in range(1, hoppers + 1))
    sheets = ctl.get("sheets", "")
    if (sheets and sheets.lstrip("0") != str(env["sheets"])) or ctl.get("bins", bins) != bins:
        return "ATTENTION", REJECT_BIN, "sheets or bins differ from the control file"
    if ctl.get("divert"):
        return "DIVERTED", int(ctl["divert"]), "planned divert"
    return "OK", None, ""


def _fault(rng: random.Random, rates: dict[str, float]) -> str | None:
    draw, edge = rng.random(), 0.0
    for kind in FAULTS:
        edge += rates.get(kind, 0.0)
        if draw < edge:
            return kind
    return None


def simulate(run_dir: Path, out: Path, *, lot: str | None = None, model: str | None = None,
             faults: dict[str, float] | None = None, seed: int = 0, workers: int = 1) -> dict:
    """Run the lot (default: every lot) through the emulated inserter; write its results file."""
    run = RunFolder.open(run_dir)
    lots = covered_lots(run, [lot] if lot else None)
    inserter = results_model(run, lots, model)
    code = {}
    for c, status in inserter.statuses.items():
        code.setdefault(status, c)
    start = dt.datetime.strptime(run.run_id[:8], "%Y%m%d").replace(hour=22, tzinfo=dt.timezone.utc)
    rows, injected = [], {kind: [] for kind in FAULTS}
    for name in lots:
        ctl = _control(run, name, inserter)
        rng = random.Random(f"{seed}:{name}")
        envelopes = _envelopes(run, _files(run, name), workers)
        made = {env["sequence"] for env in envelopes}
        envelopes += [{"sequence": seq, "challenge": True} for seq, fields in ctl.items()
                      if seq not in made and fields.get("divert")]  # challenge pieces: set aside by the controller
        for env in envelopes:
            seq = env["sequence"]
            status, bin_, note = (("DIVERTED", int(ctl[seq]["divert"]), "planned divert (challenge piece)")
                                  if env.get("challenge") else _outcome(env, ctl.get(seq), run.catalog.inserter.hoppers))
            kind = _fault(rng, faults or {})
            if kind:
                injected[kind].append(seq)
            if kind == "missing":
                continue
            if kind == "jam":
                status, bin_, note = "DAMAGED", None, "jam at the folder"
            elif kind == "double-feed":
                status, bin_, note = "DAMAGED", REJECT_BIN, "double feed: outsorted"
            elif kind == "misread":
                status, bin_, note = "ATTENTION", REJECT_BIN, "barcode not read"
            elif kind == "pulled":
                status, bin_, note = "PULLED", None, "pulled by the machine operator"
            if status not in code:
                raise UsageError(f"model {inserter.name} has no status code for {status}")
            stamp = (start + dt.timedelta(seconds=len(rows))).isoformat()
            row = {"run_id": run.run_id, "sequence": str(seq), "status": code[status],
                   "bin": "" if bin_ is None else str(bin_), "timestamp": stamp, "note": note}
            rows.append(row)
            if kind == "duplicate":
                rows.append({**row, "timestamp": (start + dt.timedelta(seconds=len(rows))).isoformat()})
    with atomic_open(out, "wb") as fh:
        for line in format_records(inserter.results, rows):
            fh.write(line.encode(inserter.results.encoding))
    return {"run_id": run.run_id, "model": inserter.name, "lots": lots, "records": len(rows), "seed": seed,
            "out": str(out), "faults": {k: v for k, v in injected.items() if v}}
