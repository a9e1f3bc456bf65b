"""A run's life, written once for every product: lock, ledger, ingest hand-over, run id, the steps,
release, halt, waiting, summary, report, and resume.

`start(product)` makes a new run; `resume(run_id, out, reopen)` continues one. Between ingest and
release the run goes through plan, render (only batches not already proven), the product's steps,
and release, each a `Step`; a batch's render and read-back are recorded in the ledger with the
hashes of what they proved, so a resumed run redoes only what is not proven good and its output is
byte-identical to a run that never stopped. Nothing reaches `release/` unless every step passed;
a halt leaves `release/` absent.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Callable

from stmtprod.engine.batchpool import BatchPool
from stmtprod.engine.batchsteps import record_plan, render_unproven
from stmtprod.engine import journal
from stmtprod.engine.envfaults import resumable
from stmtprod.engine.ledger import Ledger
from stmtprod.engine.lock import OutputLock
from stmtprod.engine.product import Product, Step
from stmtprod.engine.report import write_report
from stmtprod.engine.run import Events, Run, quiet
from stmtprod.engine.runfolder import (check_not_empty, check_reject_share, check_run_id, choose_run_id,
                                       clear_stale_ingests, ingest_into, mirror, note_halt, note_waiting, open_ledger,
                                       place_new_run, prepare_out, refuse_card_numbers, refuse_empty, release_staging,
                                       reopen_staging, replace_ingest, require_ledger, run_summary, write_summary)
from stmtprod.engine.workers import held_frozen
from stmtprod.errors import AwaitingInspection, Halt, UsageError
from stmtprod.inserting.complete import settled
from stmtprod.inserting.control import write_control_files
from stmtprod.inspect.pulled import note_pulled, write_pulled


def start(product: Product, events: Events = quiet, force: bool = False) -> dict:
    """Make a new run of `product` over its input; returns the run summary (RELEASED, HALTED or waiting).

    Refuses an input whose run already exists (released: nothing to do; otherwise: resume it),
    unless `force`, which starts a new run with a new id.
    """
    started = time.perf_counter()
    refuse_card_numbers(product.record(), product.out)
    out = prepare_out(product.out)
    with OutputLock(out), held_frozen():
        clear_stale_ingests(out, product.ingest_prefix)
        ledger = open_ledger(out)
        try:
            events("step", step="ingest")
            work, ingested = _ingest(product, out, events)
            refuse_empty(ingested, product.allow_empty, product.input_path, work, product.messages.noun)
            base_id = product.make_run_id(ingested)
            run_id = choose_run_id(ledger, base_id, product.requested_run_id, force, work,
                                   rerun_id=lambda salt: product.make_run_id(ingested, salt),
                                   released=product.messages.released, exists=product.messages.exists)
            run_dir = out / run_id
            ledger.create_run(run_id, base_id, str(product.input_path.resolve()), ingested.input_sha256,
                              product.layouts_version, product.catalog_version, product.record())
            with resumable(ledger, run_id, out):
                place_new_run(out, run_dir, work)
                journal.open_journal(run_dir, run_id)
                run = Run(ledger, run_id, run_dir, product, ingested, events,
                          {"ingest": time.perf_counter() - started}, started, product.faults)
                return _continue(run)
        finally:
            ledger.close()


def resume(run_id: str, out: Path, reopen: Callable[[dict, Ledger], Product], events: Events = quiet,
           line: str | None = None) -> dict:
    """Continue a crashed, halted or waiting run, redoing only what is not already proven good.

    `reopen(run, ledger)` rebuilds the product from the run's ledger record (and refuses what it cannot
    resume). `line`: refuse a run of another line. A released run is returned as it is.
    """
    started = time.perf_counter()
    check_run_id(run_id)
    out = Path(out).resolve()
    require_ledger(out)
    with OutputLock(out), held_frozen():
        ledger = open_ledger(out)
        try:
            record = ledger.run(run_id)
            if record is None:
                raise UsageError(f"run {run_id} is not in the ledger of {out}")
            if line is not None and record["options"].get("line", "statements") != line:
                raise UsageError(f"run {run_id} is not a {line[:-1] if line.endswith('s') else line} run")
            journal.check(ledger, run_id, out / run_id)
            if settled(record["state"]):  # RELEASED or COMPLETE: its files are out; nothing to redo
                return record["summary"] | {"resumed": False}
            product = reopen(record, ledger)
            run_dir = out / run_id
            with resumable(ledger, run_id, out):
                run_dir.mkdir(exist_ok=True)
                events("step", step="ingest")
                work, ingested = _ingest(product, run_dir, events)
                replace_ingest(run_dir, work)
                ledger.update_run(run_id, input_sha256=ingested.input_sha256,
                                  layouts_version=product.layouts_version, catalog_version=product.catalog_version)
                ledger.transition(run_id, "RESUMED", **product.resume_detail())
                run = Run(ledger, run_id, run_dir, product, ingested, events,
                          {"ingest": time.perf_counter() - started}, started, product.faults)
                summary = _continue(run)
            return summary | {"resumed": True}
        finally:
            ledger.close()


def _ingest(product: Product, folder: Path, events: Events):
    return ingest_into(folder, product.ingest_prefix,
                       lambda accepted, quarantine: product.ingest(accepted, quarantine, events))


def _plan(run: Run) -> None:
    run.batches = run.inject("plan", run.product.plan(run))
    record_plan(run.ledger, run.run_id, run.batches, pieces=sum(b.pieces for b in run.batches))


def _render(run: Run) -> None:
    run.jobs = run.inject("jobs", run.product.jobs(run))
    pool = run.batch_pool = _batch_pool(run)

    def rendered(job) -> None:
        run.reached("render:batch")
        ahead = run.product.read_ahead(run, job) if pool is not None else None
        if ahead is not None:
            pool.ahead(job.name, *ahead)

    todo = render_unproven(run.ledger, run.run_id, run.jobs, run.batches, run.events, run.product,
                           render=run.product.render, after_batch=rendered, pool=pool)
    if pool is not None and not pool.holds_work:
        pool.close()
    run.inject("rendered", todo)


def _batch_pool(run: Run) -> BatchPool | None:
    """The run's local render workers, kept for the batches' next tasks and stopped when the run ends."""
    product = run.product
    if product.executor != "local" or product.workers <= 1:
        return None
    pool = BatchPool(product.workers)
    run.closing.append(pool.close)
    return pool


STEPS_BEFORE = (Step("plan", _plan), Step("render", _render, event=False))
"""The engine's own steps before the product's: plan, then render what is not proven."""


def steps(product: Product) -> list[Step]:
    """Every step of a run of `product`, in order, release last (see `_release`)."""
    return [*STEPS_BEFORE, *product.steps()]


def _continue(run: Run) -> dict:
    """Everything after ingest. Safe to run again on a partly done run: proven batches are kept."""
    product, ledger = run.product, run.ledger
    identity = product.identity(run)
    run.summary = summary = run_summary(run.run_id, run.run_dir, run.ingested, [], released=False)
    summary.update(identity, drill=run.drill)
    kept = [*identity, "drill"]
    reopen_staging(run.run_dir)
    words = product.messages
    try:
        check_reject_share(run.ingested, product.reject_threshold, words.noun, f"{words.correct}, {words.then_resume}")
        check_not_empty(run.ingested, product.allow_empty, words.noun, words.correct)
        for step in steps(product):
            started = time.perf_counter()
            if step.state:
                ledger.transition(run.run_id, step.state)
            if step.event:
                run.events("step", step=step.name)
            step.do(run)
            if step.timed:
                run.timings[step.name] = time.perf_counter() - started
        summary = _release(run, {k: summary[k] for k in kept})
    except AwaitingInspection as waiting:
        note_waiting(summary, waiting)
        write_summary(run.run_dir, summary, run.timings, run.started)
    except Halt as halt:
        halt.details["drill"] = summary["drill"]
        note_halt(ledger, run.run_id, run.run_dir, summary, halt, line=product.line)
        write_summary(run.run_dir, summary, run.timings, run.started)
    finally:
        while run.closing:
            run.closing.pop()()
    write_report(ledger, run.run_id, run.run_dir, summary, product.catalog)
    mirror(ledger, run.run_id, run.run_dir, config_keys=product.config_keys, line=product.line, drill=summary["drill"])
    return summary


def _release(run: Run, kept: dict) -> dict:
    """Once the ledger's QA decisions are found to agree with the run's QA journal: pulled pieces and
    inserter control files written, `staging/` renamed to `release/`, the run recorded RELEASED with its
    summary (`kept`: the keys that identify the run, as the steps left them)."""
    journal.check(run.ledger, run.run_id, run.run_dir)
    started = time.perf_counter()
    run.events("step", step="release")
    pulled = write_pulled(run.ledger, run.run_id, run.staging)
    write_control_files(run.staging, run.run_id, run.product.catalog, run.product.layouts,
                        workers=run.product.workers)
    release_staging(run.staging, run.release, run.run_dir, bool(run.jobs), run.reached)
    run.timings["release"] = time.perf_counter() - started
    summary = run_summary(run.run_id, run.run_dir, run.ingested, [dataclasses.asdict(j) for j in run.jobs],
                          released=True, batches=list(run.ledger.batches(run.run_id).values())) | kept
    extra_files = run.product.released(run, summary)
    note_pulled(summary, pulled)
    write_summary(run.run_dir, summary, run.timings, run.started)
    run.ledger.record_release(run.run_id, summary["print_files"] + summary["manifest_files"] + extra_files,
                              summary["counts"], summary)
    return summary
