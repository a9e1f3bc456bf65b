"""The local workers a run renders its batches in, kept past the render step for each batch's next task.

Rendering and reading back used to run in two pools, one after the other: the render pool's workers
idled while its last batches finished, and the read-back pool was started afresh. Here a batch's
next task (its read-back) is queued in the same workers as soon as the batch is rendered and
recorded, behind the renders still waiting, so it fills the render step's tail; the step after
claims each result, or drops it and does the work itself (`claim`). Nothing is vouched for by a
result the claiming step has not checked was made from the files it would read now.
"""
from __future__ import annotations

from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Callable, Hashable

from stmtprod.engine.workers import pool as worker_pool
from stmtprod.engine.workers import stop as stop_workers


class BatchPool:
    """`workers` processes, started on the first `executor()` call and stopped by `close()`."""

    def __init__(self, workers: int):
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._ahead: dict[str, tuple[Hashable, Future]] = {}
        self._queued: list[Future] = []

    def executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = worker_pool(self.workers)
        return self._pool

    def ahead(self, name: str, key: Hashable, function: Callable, *args: Any) -> None:
        """Queue `function(*args)` as batch `name`'s next task, made under `key` (what the claiming
        step compares with its own arguments). Only in a pool already at work: a run that rendered
        its batches elsewhere (one batch, one worker, Dask) leaves its next step to do the work."""
        if self._pool is not None:
            future = self._pool.submit(function, *args)
            self._ahead[name] = (key, future)
            self._queued.append(future)

    @property
    def holds_work(self) -> bool:
        """Some next task was queued and not yet claimed."""
        return bool(self._ahead)

    def claim(self, name: str, key: Hashable) -> Callable[[], Any] | None:
        """A function that returns batch `name`'s queued result (or raises its error), when it was
        queued under `key`; otherwise None, and the queued task is dropped."""
        key_then, future = self._ahead.pop(name, (None, None))
        if future is None:
            return None
        if key_then != key:
            future.cancel()
            return None
        return future.result

    def close(self) -> None:
        """Stop the workers: at once when a queued task is still running or waiting (a halt or a signal
        came first), else after they finish. Safe to call again."""
        pool, self._pool = self._pool, None
        busy = any(not future.done() for future in self._queued)
        self._ahead.clear()
        self._queued.clear()
        if pool is None:
            return
        if busy:
            stop_workers(pool)
        else:
            pool.shutdown(wait=True)
