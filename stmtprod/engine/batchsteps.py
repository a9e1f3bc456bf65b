"""The incremental batch steps both lines share: plan recorded, then only unproven batches rendered and read.

A resumed run keeps every batch whose files are still the ones the ledger proved good
(`files_proven`), so its output is byte-identical to a run that never stopped.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

from stmtprod.engine.batchpool import BatchPool
from stmtprod.engine.executors import run_batches
from stmtprod.fsutil import sha256_file
from stmtprod.jsonrows import Fields
from stmtprod.layout import LayoutSet
from stmtprod.engine.ledger import Ledger, files_proven
from stmtprod.plan import BatchRef
from stmtprod.verify import PrintFile, read_all, read_task


def record_plan(ledger: Ledger, run_id: str, batches: list[BatchRef], pieces: int) -> None:
    """The planned batches, with the hash of each batch file, and the run's move to PLANNED."""
    ledger.plan_batches(run_id, [{"batch": b.name, "region": b.region, "pieces": b.pieces,
                                  "batch_sha256": sha256_file(b.path)} for b in batches])
    ledger.transition(run_id, "PLANNED", pieces=pieces, batches=len(batches))


def jobs_to_render(ledger: Ledger, run_id: str, jobs: Sequence, batches: list[BatchRef],
                   events: Callable[..., None]) -> list:
    """The jobs whose print file and manifest are not already proven rendered; reports them as a `render` event."""
    known = ledger.batches(run_id)
    todo = [j for j in jobs if not files_proven(known[j.name], j.pdf_file, j.manifest_file, "rendered_at")]
    events("render", pieces=sum(b.pieces for b in batches if b.name in {j.name for j in todo}),
           batches=len(todo), kept=len(jobs) - len(todo), total_pieces=sum(b.pieces for b in batches))
    return todo


_PIECE = Fields("sequence", "account_id", "region", "line", "sheets", "inserts")
"""What the ledger keeps of a manifest row (`Ledger.batch_rendered`)."""


def record_rendered(ledger: Ledger, run_id: str, job, result: dict, events: Callable[..., None]) -> None:
    """A batch just rendered: its sheets, the hashes of its files and its manifest rows, then a `batch` event."""
    rows = [_PIECE(x) for x in Path(job.manifest_file).read_text(encoding="utf-8").splitlines()]
    ledger.batch_rendered(run_id, job.name, result["sheets"], sha256_file(job.pdf_file),
                          sha256_file(job.manifest_file), rows)
    events("batch", **result)


def unverified(ledger: Ledger, run_id: str, jobs: Sequence) -> tuple[list[PrintFile], list[PrintFile]]:
    """Every job's print file, and those not already proven verified."""
    files = [PrintFile(j.name, j.region, Path(j.pdf_file), Path(j.manifest_file)) for j in jobs]
    known = ledger.batches(run_id)
    fresh = [f for f, j in zip(files, jobs)
             if not files_proven(known[j.name], j.pdf_file, j.manifest_file, "verified_at")]
    return files, fresh


def claim_read_ahead(run, fresh: list[PrintFile], key: Callable[[PrintFile], Any]) -> dict[str, Callable[[], Any]]:
    """The results queued in the run's `BatchPool` for `fresh` files (`read_ahead`), by batch, each
    claimed under `key(file)` and only while the file and its manifest are still, byte for byte, those
    the ledger recorded rendered before the task was queued: a file changed since (a print room's
    fault, a drill) is left to the step to read afresh."""
    pool = run.batch_pool
    if pool is None or not pool.holds_work:
        return {}
    known = run.ledger.batches(run.run_id)
    claimed = {}
    for f in fresh:
        result = pool.claim(f.batch, key(f))
        if result is not None and files_proven(known[f.batch], str(f.pdf), str(f.manifest), "rendered_at"):
            claimed[f.batch] = result
    return claimed


def render_unproven(ledger: Ledger, run_id: str, jobs: Sequence, batches: list[BatchRef],
                    events: Callable[..., None], options, render: Callable | None = None,
                    after_batch: Callable[[Any], None] | None = None, pool: BatchPool | None = None) -> list:
    """The render step of both lines: the run moves to RENDERING; the jobs not already proven rendered
    run on the executor `options` names (`executor`, `workers`, `scheduler`), in `pool` when given
    and local, and each is recorded in the ledger as it completes, then `after_batch(job)`. `render`
    is the line's batch renderer (None: statements). Returns the jobs rendered."""
    ledger.transition(run_id, "RENDERING")
    todo = jobs_to_render(ledger, run_id, jobs, batches, events)

    def rendered(job, result: dict) -> None:
        record_rendered(ledger, run_id, job, result, events)
        if after_batch is not None:
            after_batch(job)

    run_batches(todo, rendered, executor=options.executor, workers=options.workers, scheduler=options.scheduler,
                render=render, pool=pool)
    return todo


def read_unverified(run, layouts: LayoutSet, workers: int
                    ) -> tuple[list[PrintFile], list[PrintFile], dict[str, list[list[str]]]]:
    """Every job's print file, those not already proven verified, and the barcodes read from the latter
    (read ahead in the render workers where the product queued `read_task`: see `claim_read_ahead`)."""
    files, fresh = unverified(run.ledger, run.run_id, run.jobs)
    started = claim_read_ahead(run, fresh, lambda f: read_task(f, layouts))
    return files, fresh, read_all(fresh, layouts, workers, started)


def record_verified(ledger: Ledger, run_id: str, files: list[PrintFile], fresh: list[PrintFile],
                    verified: dict) -> None:
    """The freshly read batches as verified, and the run's verification with what was read and what kept."""
    ledger.batches_verified(run_id, [f.batch for f in fresh])
    ledger.record_verification(run_id, True, verified["pieces"], verified["sheets"],
                               {"read": len(fresh), "kept": len(files) - len(fresh)})
