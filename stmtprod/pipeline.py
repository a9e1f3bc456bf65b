"""The build line end to end: ingest, plan, render, verify, insert, release; resumable at every step.

Library entry points `build(options, events)` and `resume(run_id, out, events)`; the CLI is a thin
layer over them. The line is incremental: each batch's render and verification are recorded in the
ledger with the hashes of what they proved, so a resumed run redoes only what is not already proven
good, and its output is byte-identical to a run that never stopped. Nothing reaches `release/`
unless every step before it passed; a halt leaves `release/` absent.
"""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Callable

from stmtprod import crashpoints, drills
from stmtprod.batchsteps import record_plan, record_verified, render_unproven, unverified
from stmtprod.catalog import Catalog, load_catalog
from stmtprod.config import BuildOptions
from stmtprod.errors import Halt, UsageError
from stmtprod.executors import check_executor
from stmtprod.envfaults import resumable
from stmtprod.fsutil import JsonlWriter, atomic_open
from stmtprod.ingest.reader import IngestResult, ingest
from stmtprod.inspect.config import load_inspection
from stmtprod.inspect.context import InspectionContext
from stmtprod.inserting.control import write_control_files
from stmtprod.inspect.pulled import note_pulled, write_pulled
from stmtprod.inspect.stages import AwaitingInspection, run_stages
from stmtprod.inserter import Inserter
from stmtprod.layout import LayoutSet, load_layouts
from stmtprod.ledger import Ledger
from stmtprod.lock import OutputLock
from stmtprod.mailing import mailing_rows, write_mailing, postal_counts
from stmtprod.plan import BatchRef, plan_region
from stmtprod.render.batch import BatchJob
from stmtprod.render.fonts import check_fonts
from stmtprod.report import write_report
from stmtprod.runfolder import (check_input_file, check_not_empty, check_reject_share, check_run_id, choose_run_id,
                                clear_stale_ingests, ingest_into, mirror, note_halt, note_waiting, open_ledger,
                                place_new_run, prepare_out, refuse_empty, release_staging, reopen_staging,
                                replace_ingest, run_id_tag, run_summary, write_summary)
from stmtprod.verify import PrintFile, check_sequence, verify_batches

Events = Callable[..., None]
_INGEST_PREFIX = ".ingest-"


def _quiet(_event: str, **_data: object) -> None:
    """Default event sink: the library itself never prints."""


def make_run_id(ingested: IngestResult, layouts_version: str, catalog_version: str, options: BuildOptions,
                salt: int = 0) -> str:
    """`YYYYMMDD-XXXXXX`: the cycle's end date and a hash of the input and everything that shapes output.

    `salt` > 0 gives the further runs of the same cycle that `--force` asks for.
    """
    tag = run_id_tag([ingested.input_sha256, layouts_version, catalog_version, options.fingerprint()], salt)
    cycle = ingested.cycle_end.strftime("%Y%m%d") if ingested.cycle_end else "00000000"
    return f"{cycle}-{tag}"


def _options_record(options: BuildOptions) -> dict:
    return {"input": str(options.input.resolve()), "regions": list(options.regions),
            "batch_size": options.batch_size, "reject_threshold": options.reject_threshold,
            "layouts_dir": str(Path(options.layouts_dir).resolve()),
            "catalog_file": str(Path(options.catalog_file).resolve()),
            "inspection_file": str(Path(options.inspection_file).resolve()), "workers": options.workers,
            "executor": options.executor, "scheduler": options.scheduler, "drill": options.drill,
            "allow_empty": options.allow_empty}


def _options_from(record: dict, out: Path, workers: int | None) -> BuildOptions:
    return BuildOptions(input=Path(record["input"]), out=out, regions=tuple(record["regions"]),
                        batch_size=record["batch_size"], reject_threshold=record["reject_threshold"],
                        layouts_dir=Path(record["layouts_dir"]), catalog_file=Path(record["catalog_file"]),
                        inspection_file=Path(record["inspection_file"]), workers=workers or record["workers"],
                        executor=record.get("executor", "local"), scheduler=record.get("scheduler"),
                        allow_empty=record.get("allow_empty", False))


def _check(options: BuildOptions) -> tuple[LayoutSet, Catalog, str]:
    """Validate options and every configuration file before any work starts."""
    check_input_file(options.input, "input file", "--input")
    if options.batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    if options.run_id is not None:
        check_run_id(options.run_id, "--run-id")
    drills.check(options.drill)
    check_executor(options.executor, options.scheduler)
    layouts = load_layouts(options.layouts_dir)
    check_fonts(layouts, options.layouts_dir)
    catalog, catalog_version = load_catalog(options.catalog_file)
    load_inspection(options.inspection_file)
    return layouts, catalog, catalog_version


def _ingest_into(options: BuildOptions, layouts: LayoutSet, catalog: Catalog,
                 folder: Path, events: Events = _quiet) -> tuple[Path, IngestResult]:
    def progress(done: int, total: int, records: int) -> None:
        events("ingest", done=done, total=total, records=records)

    return ingest_into(folder, _INGEST_PREFIX,
                       lambda accepted, quarantine: ingest(options.input, layouts, options.regions, accepted,
                                                           quarantine, catalog, progress))


def build(options: BuildOptions, events: Events = _quiet, force: bool = False) -> dict:
    """Run the line over one cycle extract; returns the run summary (state RELEASED or HALTED).

    Refuses a cycle whose run already exists (released: nothing to do; otherwise: resume it), unless
    `force`, which starts a new run with a new id.
    """
    started = time.perf_counter()
    layouts, catalog, catalog_version = _check(options)
    out = prepare_out(options.out)
    with OutputLock(out):
        clear_stale_ingests(out, _INGEST_PREFIX)
        ledger = open_ledger(out)
        try:
            events("step", step="ingest")
            work, ingested = _ingest_into(options, layouts, catalog, out, events)
            refuse_empty(ingested, options.allow_empty, options.input, work, "records")
            base_id = make_run_id(ingested, layouts.version, catalog_version, options)
            run_id = _choose_run_id(ledger, options, base_id, ingested, layouts, catalog_version, force, work)
            run_dir = out / run_id
            ledger.create_run(run_id, base_id, str(options.input.resolve()), ingested.input_sha256, layouts.version,
                              catalog_version, _options_record(options))
            with resumable(ledger, run_id, out):
                place_new_run(out, run_dir, work)
                return _continue(ledger, run_id, run_dir, options, layouts, catalog, ingested, events,
                                 {"ingest": time.perf_counter() - started}, started)
        finally:
            ledger.close()


def _choose_run_id(ledger: Ledger, options: BuildOptions, base_id: str, ingested: IngestResult,
                   layouts: LayoutSet, catalog_version: str, force: bool, work: Path) -> str:
    return choose_run_id(
        ledger, base_id, options.run_id, force, work,
        rerun_id=lambda salt: make_run_id(ingested, layouts.version, catalog_version, options, salt=salt),
        released="this cycle was already released as run {run_id}; use --force to make a new run with a new id",
        exists="run {run_id} for this cycle exists in state {state}; "
               "'stmtprod resume {run_id}' continues it, --force starts a new run")


def resume(run_id: str, out: Path, events: Events = _quiet, workers: int | None = None,
           executor: str | None = None, scheduler: str | None = None, personalisation: Path | None = None) -> dict:
    """Continue a crashed or halted run, redoing only what is not already proven good.

    `personalisation`: for a card run, the new personalisation log (after the cards were re-made)."""
    started = time.perf_counter()
    check_run_id(run_id)
    out = Path(out).resolve()
    if not (out / "ledger.sqlite").exists():
        raise UsageError(f"{out} has no ledger: nothing to resume")
    if _line_of(out, run_id) == "cards":
        from stmtprod.cards.keys import resolve_key
        from stmtprod.cards.line import resume_cards

        key, demo = resolve_key()
        return resume_cards(run_id, out, key=key, demo=demo, workers=workers, events=events, executor=executor,
                            scheduler=scheduler, personalisation=personalisation)
    if personalisation is not None:
        raise UsageError(f"run {run_id} is a statement run: --personalisation is only for card runs")
    with OutputLock(out):
        ledger = open_ledger(out)
        try:
            run = ledger.run(run_id)
            if run is None:
                raise UsageError(f"run {run_id} is not in the ledger of {out}")
            if run["state"] == "RELEASED":
                return run["summary"] | {"resumed": False}
            options = _options_from(run["options"], out, workers)
            if executor:
                options = dataclasses.replace(options, executor=executor, scheduler=scheduler)
            layouts, catalog, catalog_version = _check(options)
            run_dir = out / run_id
            with resumable(ledger, run_id, out):
                run_dir.mkdir(exist_ok=True)
                events("step", step="ingest")
                work, ingested = _ingest_into(options, layouts, catalog, run_dir, events)
                replace_ingest(run_dir, work)
                ledger.update_run(run_id, input_sha256=ingested.input_sha256, layouts_version=layouts.version,
                                  catalog_version=catalog_version)
                ledger.transition(run_id, "RESUMED")
                summary = _continue(ledger, run_id, run_dir, options, layouts, catalog, ingested, events,
                                    {"ingest": time.perf_counter() - started}, started)
            return summary | {"resumed": True}
        finally:
            ledger.close()


def _line_of(out: Path, run_id: str) -> str:
    """Which line made a run: "statements", or "cards" for the card line's runs."""
    ledger = Ledger(out)
    try:
        run = ledger.run(run_id)
    finally:
        ledger.close()
    return ((run or {}).get("options") or {}).get("line", "statements")


def _jobs(batches: list[BatchRef], run_id: str, run_dir: Path, options: BuildOptions) -> list[BatchJob]:
    staging = run_dir / "staging"
    first = batches[0].region if batches else ""
    return [BatchJob(name=b.name, region=b.region, run_id=run_id, batch_file=str(b.path),
                     layouts_dir=str(drills.layouts_for(options.drill, options.layouts_dir, first, run_dir / "work")
                                     if b.region == first else options.layouts_dir),
                     catalog_file=str(options.catalog_file),
                     pdf_file=str(staging / "print" / f"{b.name}.pdf"),
                     manifest_file=str(staging / "manifest" / f"{b.name}.jsonl")) for b in batches]


def _reconcile(jobs: list[BatchJob], batches: list[BatchRef]) -> None:
    """Manifests against the plan, before any sheet is read: every planned piece once, in sequence."""
    expected = 1
    for job, batch in zip(jobs, batches):
        with open(job.manifest_file, encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh]
        if len(rows) != batch.pieces:
            raise Halt("manifest does not hold every planned piece", step="verify", batch=job.name,
                       field="pieces", expected=batch.pieces, found=len(rows), action="re-render the batch")
        for row in rows:
            check_sequence(row["sequence"], expected, {"step": "verify", "batch": job.name, "piece": row["sequence"]})
            expected += 1


def insert_lots(files: list[PrintFile], decoded: dict[str, str], catalog: Catalog, run_id: str,
                folder: Path, inventory: dict[str, int] | None = None) -> dict:
    """Run each region's lot through the simulated inserter by its barcodes alone; one envelope log per lot.

    `decoded`: per print file, the barcode read from each sheet, one per line. Insert inventory is
    carried from lot to lot within the run.
    """
    counts = {}
    for region in dict.fromkeys(f.region for f in files):
        with atomic_open(folder / f"{region}.jsonl") as fh:
            machine = Inserter(catalog, run_id, inventory=inventory, rows=JsonlWriter(fh))
            for f in (f for f in files if f.region == region):
                for page, text in enumerate(decoded[f.batch].splitlines(), 1):
                    machine.feed(text, batch=f.batch, page=page)
            counts[region] = machine.finish().count
        inventory = machine.inventory
    return {"envelopes": counts, "inventory_left": inventory or {}}


def _continue(ledger: Ledger, run_id: str, run_dir: Path, options: BuildOptions, layouts: LayoutSet,
              catalog: Catalog, ingested: IngestResult, events: Events, timings: dict, started: float) -> dict:
    """Everything after ingest. Safe to run again on a partly done run: proven batches are kept."""
    summary = run_summary(run_id, run_dir, ingested, [], released=False)
    summary.update(layouts_version=layouts.version, catalog_version=ledger.run(run_id)["catalog_version"],
                   input_sha256=ingested.input_sha256)
    drill = ledger.run(run_id)["options"].get("drill")
    summary["drill"] = drill
    staging, release = reopen_staging(run_dir)
    try:
        check_reject_share(ingested, options.reject_threshold, "records",
                           "correct the extract upstream, then resume the run")
        check_not_empty(ingested, options.allow_empty, "records", "correct the extract upstream")
        events("step", step="plan")
        t = time.perf_counter()
        batches: list[BatchRef] = []
        sequence = 1
        for region in options.regions:
            refs = plan_region(region, ingested.take_accepted(region), run_dir / "work" / "accepted" / f"{region}.jsonl",
                               catalog, ingested.insert_sets, sequence, options.batch_size, run_dir / "work" / "batches")
            sequence += sum(r.pieces for r in refs)
            batches.extend(refs)
        drills.corrupt_plan(options.drill, batches)
        record_plan(ledger, run_id, batches, pieces=sequence - 1)
        timings["plan"] = time.perf_counter() - t

        t = time.perf_counter()
        jobs = _jobs(batches, run_id, run_dir, options)
        todo = render_unproven(ledger, run_id, jobs, batches, events, options,
                               after_batch=lambda: crashpoints.reached("render:batch"))
        if todo and options.drill:
            drills.damage_print_file(options.drill, Path(todo[0].pdf_file), Path(todo[0].manifest_file),
                                     layouts[todo[0].region])
        timings["render"] = time.perf_counter() - t

        t = time.perf_counter()
        ledger.transition(run_id, "VERIFYING")
        events("step", step="verify")
        _reconcile(jobs, batches)
        files, fresh = unverified(ledger, run_id, jobs)
        decoded, verified = verify_batches(files, {f.batch for f in fresh}, layouts, run_id, catalog,
                                           run_dir / "work" / "accepted", options.workers,
                                           drills.blind_checks(options.drill),
                                           done=lambda batch, n: events("verified", batch=batch, done=n,
                                                                        total=len(files)))
        crashpoints.reached("verify:read")
        record_verified(ledger, run_id, files, fresh, verified)
        timings["verify"] = time.perf_counter() - t
        # The 100% text check's share of it, as wall time: its CPU seconds over the processes that shared them.
        timings["verify_text"] = verified["text_cpu_seconds"] / max(1, min(options.workers, len(fresh)))

        t = time.perf_counter()
        ledger.transition(run_id, "INSPECTING")
        events("step", step="inserter")
        envelopes = insert_lots(files, decoded, drills.inserter_catalog(options.drill, catalog), run_id,
                                staging / "envelopes", drills.inventory(options.drill, catalog))
        timings["inserter"] = time.perf_counter() - t
        t = time.perf_counter()
        ctx = InspectionContext(run_id, staging, run_dir / "work" / "accepted", layouts, catalog)
        _write_mailing(ctx, options.drill, frozenset(p["sequence"] for p in ledger.pulled(run_id)))
        timings["mailing"] = time.perf_counter() - t
        events("step", step="inspection")
        inspection_config, _version = load_inspection(options.inspection_file)
        crashpoints.reached("inspect")
        run_stages(ledger, inspection_config, ctx, run_dir, timings, workers=options.workers, events=events)

        t = time.perf_counter()
        events("step", step="release")
        pulled = write_pulled(ledger, run_id, staging)
        write_control_files(staging, run_id, catalog, layouts)
        release_staging(staging, release, run_dir, bool(jobs), crashpoints.reached)
        timings["release"] = time.perf_counter() - t
        batch_info = list(ledger.batches(run_id).values())
        summary = run_summary(run_id, run_dir, ingested, [dataclasses.asdict(j) for j in jobs], released=True,
                           batches=batch_info) | {k: summary[k] for k in ("layouts_version", "catalog_version",
                                                                         "input_sha256")}
        summary["envelopes"] = envelopes
        summary["drill"] = drill
        note_pulled(summary, pulled)
        summary["postal_classes"] = postal_counts(release / "mailing")
        write_summary(run_dir, summary, timings, started)
        ledger.record_release(run_id, summary["print_files"] + summary["manifest_files"], summary["counts"], summary)
    except AwaitingInspection as waiting:
        note_waiting(summary, waiting)
        write_summary(run_dir, summary, timings, started)
    except Halt as halt:
        halt.details["drill"] = drill
        note_halt(ledger, run_id, run_dir, summary, halt)
        write_summary(run_dir, summary, timings, started)
    write_report(ledger, run_id, run_dir, summary, catalog)
    mirror(ledger, run_id, run_dir, drill=drill)
    return summary


def _write_mailing(ctx: InspectionContext, drill: str | None, pulled: frozenset[int]) -> None:
    """The mailing manifest per lot, from the inserter's envelope log and the source records (found
    through the context the inspection stages then use, so its index is built once); pieces a QA
    screening `pulled` are not mailed."""
    for index, path in enumerate(sorted((ctx.folder / "envelopes").glob("*.jsonl"))):
        rows = mailing_rows(path, ctx.record_line, pulled)
        write_mailing(ctx.folder / "mailing" / path.name, drills.misroute(drill, rows) if index == 0 else rows)
