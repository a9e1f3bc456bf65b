"""The build line end to end: ingest, plan, render, reconcile, release.

Library entry point `build(options, events)`; the CLI is a thin layer over it. Every step writes
into the run folder; nothing reaches `release/` unless every step before it proved its output, and
a halt leaves `release/` absent.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Callable

from stmtprod import drills, halt_report
from stmtprod.barcode.payload import run_tag
from stmtprod.catalog import load_catalog
from stmtprod.config import BuildOptions
from stmtprod.errors import Halt, UsageError
from stmtprod.fsutil import fsync_dir, write_json
from stmtprod.ingest.reader import IngestResult, ingest
from stmtprod.inserter import Inserter, write_envelope_log
from stmtprod.layout import load_layouts
from stmtprod.plan import BatchRef, plan_region
from stmtprod.regions import REGIONS
from stmtprod.render.batch import BatchJob, render_batch
from stmtprod.runstate import RunRecord
from stmtprod.verify import PrintFile, read_all, verify_files

Events = Callable[..., None]
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _quiet(_event: str, **_data: object) -> None:
    """Default event sink: the library itself never prints."""


def make_run_id(ingested: IngestResult, layouts_version: str, catalog_version: str, options: BuildOptions) -> str:
    """`YYYYMMDD-XXXXXX`: the cycle's end date and a hash of the input and everything that shapes output."""
    basis = "|".join([ingested.input_sha256, layouts_version, catalog_version, options.fingerprint()])
    number = int(hashlib.sha256(basis.encode()).hexdigest(), 16)
    tag = ""
    for _ in range(6):
        number, digit = divmod(number, 36)
        tag += _ALPHABET[digit]
    cycle = ingested.cycle_end.strftime("%Y%m%d") if ingested.cycle_end else "00000000"
    return f"{cycle}-{tag}"


def _jobs(batches: list[BatchRef], run_id: str, run_dir: Path, options: BuildOptions) -> list[BatchJob]:
    staging = run_dir / "staging"
    return [BatchJob(name=b.name, region=b.region, run_id=run_id, batch_file=str(b.path),
                     layouts_dir=str(options.layouts_dir), catalog_file=str(options.catalog_file),
                     pdf_file=str(staging / "print" / f"{b.name}.pdf"),
                     manifest_file=str(staging / "manifest" / f"{b.name}.jsonl")) for b in batches]


def _render(jobs: list[BatchJob], workers: int, events: Events) -> list[dict]:
    results = []
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            results.append(render_batch(job))
            events("batch", **results[-1])
        return results
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(render_batch, job) for job in jobs]
        for future in as_completed(futures):
            results.append(future.result())
            events("batch", **results[-1])
    return sorted(results, key=lambda r: r["batch"])


def _reconcile(jobs: list[BatchJob], batches: list[BatchRef]) -> None:
    """Manifests against the plan: every planned piece once, in sequence, with its sheets."""
    expected = 1
    for job, batch in zip(jobs, batches):
        with open(job.manifest_file, encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh]
        if len(rows) != batch.pieces:
            raise Halt("manifest does not hold every planned piece", batch=job.name,
                       expected=batch.pieces, found=len(rows))
        for row in rows:
            if row["sequence"] != expected:
                raise Halt("piece sequence gap or duplicate", batch=job.name, piece=row["sequence"],
                           expected=expected, found=row["sequence"])
            if len(row["payloads"]) != row["sheets"]:
                raise Halt("sheet count differs from payloads", batch=job.name, piece=row["sequence"],
                           expected=row["sheets"], found=len(row["payloads"]))
            expected += 1


def insert_lots(files: list[PrintFile], decoded: dict[str, list[list[str]]], catalog, run_id: str,
                folder: Path, inventory: dict[str, int] | None = None) -> dict:
    """Run each region's lot through the simulated inserter by its barcodes alone; one envelope log per lot.

    Insert inventory is carried from lot to lot within the run.
    """
    counts = {}
    for region in dict.fromkeys(f.region for f in files):
        machine = Inserter(catalog, run_id, inventory=inventory)
        for f in (f for f in files if f.region == region):
            for page, texts in enumerate(decoded[f.batch], 1):
                machine.feed(texts[0], batch=f.batch, page=page)
        counts[region] = write_envelope_log(folder / f"{region}.jsonl", machine.finish())
        inventory = machine.inventory
    return {"envelopes": counts, "inventory_left": inventory or {}}


def _prepare_run_dir(out: Path, run_id: str, work: Path) -> Path:
    run_dir = out / run_id
    if run_dir.exists():
        try:
            state = RunRecord.load(run_dir).state
        except (OSError, ValueError, KeyError):
            state = None
        if state == "RELEASED":
            shutil.rmtree(work, ignore_errors=True)
            raise UsageError(f"run {run_id} for this input and configuration is already released in {run_dir}")
        shutil.rmtree(run_dir)
    work.rename(run_dir)
    fsync_dir(out)
    return run_dir


def build(options: BuildOptions, events: Events = _quiet) -> dict:
    """Run the line over one cycle extract; returns the run summary (state RELEASED or HALTED)."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    if not options.input.is_file():
        raise UsageError(f"input file {options.input} does not exist")
    if options.batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    drills.check(options.drill)
    layouts = load_layouts(options.layouts_dir)
    catalog, catalog_version = load_catalog(options.catalog_file)
    out = options.out.resolve()
    out.mkdir(parents=True, exist_ok=True)

    work = Path(tempfile.mkdtemp(prefix=".ingest-", dir=out))
    events("step", step="ingest")
    try:
        ingested = ingest(options.input, layouts, options.regions, work / "work" / "accepted",
                          work / "quarantine.jsonl")
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    timings["ingest"] = time.perf_counter() - started
    run_id = options.run_id or make_run_id(ingested, layouts.version, catalog_version, options)
    run_tag(run_id)
    run_dir = _prepare_run_dir(out, run_id, work)
    run = RunRecord(run_dir, run_id, {
        "input": str(options.input.resolve()), "input_sha256": ingested.input_sha256,
        "layouts_version": layouts.version, "catalog_version": catalog_version,
        "layouts_dir": str(Path(options.layouts_dir).resolve()), "catalog_file": str(Path(options.catalog_file).resolve()),
        "options": options.fingerprint(),
    })
    summary = _summary(run_id, run_dir, ingested, [], [])
    summary.update(layouts_version=layouts.version, catalog_version=catalog_version,
                   input_sha256=ingested.input_sha256)
    try:
        share = ingested.quarantined / ingested.input if ingested.input else 0.0
        if share > options.reject_threshold:
            raise Halt(f"{ingested.quarantined} of {ingested.input} records rejected ({share:.1%}), above the "
                       f"{options.reject_threshold:.1%} threshold", step="ingest",
                       expected=f"<= {options.reject_threshold:.1%}", found=f"{share:.1%}",
                       action="inspect quarantine.jsonl, correct the extract upstream and rebuild")
        events("step", step="plan")
        t = time.perf_counter()
        batches: list[BatchRef] = []
        sequence = 1
        for region in options.regions:
            refs = plan_region(region, ingested.accepted[region], run_dir / "work" / "accepted" / f"{region}.jsonl",
                               catalog, sequence, options.batch_size, run_dir / "work" / "batches")
            sequence += sum(r.pieces for r in refs)
            batches.extend(refs)
        drills.corrupt_plan(options.drill, batches)
        run.transition("PLANNED", pieces=sequence - 1, batches=len(batches))
        timings["plan"] = time.perf_counter() - t

        t = time.perf_counter()
        run.transition("RENDERING")
        events("render", pieces=sequence - 1, batches=len(batches))
        jobs = _jobs(batches, run_id, run_dir, options)
        results = _render(jobs, options.workers, events)
        if jobs:
            drills.damage_print_file(options.drill, Path(jobs[0].pdf_file), Path(jobs[0].manifest_file),
                                     layouts[jobs[0].region])
        timings["render"] = time.perf_counter() - t

        t = time.perf_counter()
        run.transition("VERIFYING")
        events("step", step="verify")
        _reconcile(jobs, batches)
        files = [PrintFile(j.name, j.region, Path(j.pdf_file), Path(j.manifest_file)) for j in jobs]
        decoded = read_all(files, layouts, options.workers)
        verified = verify_files(files, decoded, run_id, catalog, run_dir / "work" / "accepted")
        run.update(verified=verified)
        timings["verify"] = time.perf_counter() - t

        t = time.perf_counter()
        events("step", step="inserter")
        envelopes = insert_lots(files, decoded, catalog, run_id, run_dir / "staging" / "envelopes",
                                drills.inventory(options.drill, catalog))
        run.update(envelopes=envelopes)
        timings["inserter"] = time.perf_counter() - t

        t = time.perf_counter()
        events("step", step="release")
        staging, release = run_dir / "staging", run_dir / "release"
        if jobs:
            staging.rename(release)
        else:
            (release / "print").mkdir(parents=True)
            (release / "manifest").mkdir()
        fsync_dir(run_dir)
        timings["release"] = time.perf_counter() - t
        summary = _summary(run_id, run_dir, ingested, jobs, results, released=True) | {
            k: summary[k] for k in ("layouts_version", "catalog_version", "input_sha256")}
        run.transition("RELEASED", counts=summary["counts"])
    except Halt as halt:
        summary["state"] = "HALTED"
        summary["halt"] = halt.as_dict()
        halt_report.write(run_dir, run_id, summary["halt"])
        run.transition("HALTED", **summary["halt"])
    timings["total"] = time.perf_counter() - started
    summary["timings"] = {k: round(v, 3) for k, v in timings.items()}
    write_json(run_dir / "summary.json", summary)
    return summary


def _summary(run_id: str, run_dir: Path, ingested: IngestResult, jobs: list[BatchJob], results: list[dict],
             released: bool = False) -> dict:
    release = run_dir / "release"
    produced = sum(r["pieces"] for r in results) if released else 0
    regions = {region: sum(r["pieces"] for r in results if r["region"] == region) for region in REGIONS}
    regions = {region: pieces for region, pieces in regions.items() if pieces}
    pending = sum(len(v) for v in ingested.accepted.values()) if not released else 0
    counts = {"input": ingested.input, "produced": produced, "quarantined": ingested.quarantined,
              "suppressed": sum(ingested.suppressed.values()), "sheets": sum(r["sheets"] for r in results),
              "not_released": pending}
    reconciled = counts["input"] == counts["produced"] + counts["quarantined"] + counts["suppressed"] + pending
    return {
        "run_id": run_id,
        "state": "RELEASED" if released else "HALTED",
        "run_dir": str(run_dir),
        "print_files": [str(release / "print" / Path(j.pdf_file).name) for j in jobs] if released else [],
        "manifest_files": [str(release / "manifest" / Path(j.manifest_file).name) for j in jobs] if released else [],
        "quarantine_file": str(run_dir / "quarantine.jsonl"),
        "counts": counts,
        "reconciled": reconciled,
        "regions": regions,
        "suppressed_by_reason": dict(sorted(ingested.suppressed.items())),
        "quarantined_by_kind": dict(sorted(ingested.quarantined_by_kind.items())),
        "blank_lines": ingested.blank_lines,
    }
