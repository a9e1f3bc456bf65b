"""Automatic inspections of a stage's lots, in worker processes where the stage reads print files.

Stages 1 (composition) and 2 (print) spend their time in pdfium and in checking each sampled piece,
independently of every other piece. With more than one worker, `StagePool.submit` cuts each lot's
sample into `PrintJob`s (consecutive sampled pieces of one print file, with their manifest rows,
layouts and source record lines, built here in the parent) and hands them to a process pool
(pdfium is not thread-safe). A lot's defects are its jobs' defects concatenated in job order, which
is sample order: exactly the list `composition.inspect` / `printing.inspect` return in one process,
since those run the very same jobs one after the other.

All lots of a stage are submitted at once, so the workers stay busy while the caller takes the
decisions lot by lot, in order, and stops at the first rejection (the later lots' results are then
never read, and their queued jobs are cancelled). The next stage's jobs are queued behind them
(`start_early`), so the workers go on with stage 2 while stage 1 is decided; stage 2 then takes a
lot's early jobs only when its sample is the one it would submit (otherwise it submits afresh). Other stages, and every stage with one worker,
inspect a lot in this process when its result is asked for, as the serial line always did.

Each worker keeps its last few print files open, so the jobs of one file that land on the same
worker do not each pay for opening it and walking its page tree.
"""
from __future__ import annotations

import importlib
import math
from concurrent.futures import ProcessPoolExecutor
from typing import Callable

from stmtprod.engine.workers import pool as worker_pool
from stmtprod.engine.workers import stop as stop_workers
from stmtprod.inspect.context import InspectionContext, OpenPrints, PrintJob

PARALLEL_STAGES = {1: "composition", 2: "printing"}
JOBS_PER_WORKER = 4   # jobs are cut so that each worker gets about this many a stage, for balance
MIN_JOB = 8           # ... but no job is cut smaller than this many pieces
KEEP_OPEN = 3         # print files a worker keeps open

_prints: OpenPrints | None = None  # a worker process's open print files

_INSPECTORS = {1: "composition", 2: "printing", 3: "insertion", 4: "dispatch"}


def inspector(stage: int):
    """The statement line's automatic inspector of `stage` (its module's `inspect`)."""
    return importlib.import_module(f"stmtprod.inspect.{_INSPECTORS[stage]}").inspect


def _run_job(stage: int, job: PrintJob) -> list[dict]:
    """The defects of one job, in a worker process."""
    global _prints
    if _prints is None:
        _prints = OpenPrints(keep=KEEP_OPEN)
    module = importlib.import_module(f"stmtprod.inspect.{PARALLEL_STAGES[stage]}")
    return module.inspect_job(job, _prints)


def job_size(pieces: int, workers: int) -> int:
    """The most pieces a job holds when a stage's lots sample `pieces` pieces in all."""
    return max(MIN_JOB, math.ceil(pieces / (workers * JOBS_PER_WORKER)))


class StagePool:
    """Starts the automatic inspections of a stage's lots; a process pool is created on first need
    and shut down by `close()` (or at the end of a `with` block)."""

    def __init__(self, ctx: InspectionContext, workers: int = 1,
                 inspect: Callable[[int, str, list[int]], list[dict]] | None = None):
        """`inspect(stage, lot, sample)` inspects a lot in this process (default: the stage's inspector)."""
        self.ctx, self.workers = ctx, max(1, int(workers or 1))
        self.inspect = inspect or (lambda stage, lot, sample: inspector(stage)(ctx, lot, sample))
        self._pool: ProcessPoolExecutor | None = None
        self._early: dict[tuple[int, str], tuple[list[int], Callable[[], list[dict]]]] = {}

    def submit(self, stage: int, lots: list[tuple[str, list[int]]]) -> list[Callable[[], list[dict]]]:
        """For each (lot, sample), in order, a function that returns the lot's defects."""
        total = sum(len(sample) for _lot, sample in lots)
        if self.workers <= 1 or stage not in PARALLEL_STAGES or total < 2 * MIN_JOB:
            return [lambda lot=lot, sample=sample: self.inspect(stage, lot, sample) for lot, sample in lots]
        most = job_size(total, self.workers)
        started = [self._early.pop((stage, lot), (None, None)) for lot, _sample in lots]
        return [defects if early == sample else self._start(stage, sample, most)
                for (_lot, sample), (early, defects) in zip(lots, started)]

    def start_early(self, stage: int, lots: list[tuple[str, list[int]]]) -> None:
        """Queue a later stage's jobs now, behind those already submitted (see `submit`)."""
        total = sum(len(sample) for _lot, sample in lots)
        if self.workers <= 1 or stage not in PARALLEL_STAGES or total < 2 * MIN_JOB:
            return
        most = job_size(total, self.workers)
        for lot, sample in lots:
            if self._early.get((stage, lot), (None,))[0] != sample:
                self._early[(stage, lot)] = (list(sample), self._start(stage, sample, most))

    def _start(self, stage: int, sample: list[int], most: int) -> Callable[[], list[dict]]:
        """Submit one lot's jobs. An error (an unreadable manifest, say) is raised when the lot's defects
        are asked for, as the serial line would raise it when it came to the lot."""
        try:
            futures = [self._executor().submit(_run_job, stage, job) for job in self.ctx.print_jobs(sample, most)]
        except Exception as exc:  # noqa: BLE001
            def fail(exc=exc):
                raise exc
            return fail
        return lambda: [d for f in futures for d in f.result()]

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            for name in PARALLEL_STAGES.values():  # imported once here, not in every worker
                importlib.import_module(f"stmtprod.inspect.{name}")
            self._pool = worker_pool(self.workers)
        return self._pool

    def close(self) -> None:
        """Shut the pool down once its jobs are done (those never asked for are cancelled)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def stop(self) -> None:
        """Stop the pool at once, running jobs killed: for a run that will not read their results (a halt,
        a signal, a fault before or during the inspection). The jobs only read files."""
        if self._pool is not None:
            stop_workers(self._pool)
            self._pool = None

    def __enter__(self) -> StagePool:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:
            self.close()
        else:
            self.stop()
