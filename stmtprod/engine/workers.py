"""The local process pool, with workers that die with their parent and leave signals to it.

If the line's process is killed (SIGKILL, OOM), orphaned workers would otherwise wait forever on
their queue, holding memory and the job's output pipes. On Linux each worker asks the kernel to send
it SIGKILL when its parent dies. Workers ignore SIGINT (Ctrl-C reaches the whole process group; the
parent decides, and stops them with `stop`) and take the default action on SIGTERM.
"""
from __future__ import annotations

import ctypes
import gc
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from concurrent.futures import ProcessPoolExecutor

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass


def start_worker() -> None:
    """A pool worker's first step: it dies with its parent and leaves signals to it (`_die_with_parent`),
    and what it inherited from the parent (modules, layouts, fonts: most of its objects) is frozen out
    of the garbage collector, which otherwise walked all of it again at each full collection while the
    worker made a batch's records: about a tenth of a verification's CPU, a few percent of rendering's.
    Freezing is one list splice, and nothing the worker makes afterwards is affected."""
    _die_with_parent()
    gc.freeze()


class GcPaused:
    """A task run with the cyclic garbage collector paused, its young objects collected once at the end.

    Rendering a batch builds one document whose pages, fonts and objects stay alive until it is saved:
    the collector's automatic passes walked them again and again (5-10% of a batch's render CPU, by
    `perf`). Rendering and reading make no reference cycles (tests: `..._is_freed_as_it_is_dropped`),
    so what a task drops is freed at once; the one collection at the end is for whatever cycle a
    library makes, and memory is still bounded by one batch. Picklable (a process pool or Dask sends
    it to its workers); a task called while the collector is already off is left as is."""

    def __init__(self, function: Callable):
        self.function = function

    def __call__(self, *args, **kwargs):
        if not gc.isenabled():
            return self.function(*args, **kwargs)
        gc.disable()
        try:
            return self.function(*args, **kwargs)
        finally:
            gc.enable()
            gc.collect(0)  # everything the task made is still in the youngest generation


@contextmanager
def held_frozen() -> Iterator[None]:
    """A run's life in the line's own process, with what the process held before it (modules, fonts,
    layouts, the catalog: nearly all its objects) frozen out of the garbage collector, as pool workers
    freeze theirs (`start_worker`), and thawed after. The collector's full passes during a run walked
    all of it again (about 0.35 s of the parent's serial time at 10,000 accounts, five passes, most
    while ingest, the challenge pieces and the drills' first import grew the heap), to find nothing;
    thawed, whatever it held becomes collectable again (a process that runs many lines, as the tests
    do, keeps no garbage)."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, initializer=start_worker)


@contextmanager
def stopping_pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    """`pool(workers)` for a block, shut down when it ends; stopped at once (`stop`) when a fault or a
    signal leaves the block, rather than waiting for the work still queued."""
    with pool(workers) as executor:
        try:
            yield executor
        except BaseException:
            stop(executor)
            raise


def stop(pool: ProcessPoolExecutor) -> None:
    """Stop a pool at once: pending work cancelled, running workers killed. Used when the line itself
    is stopping (a signal, a fault): every output is written atomically, so a killed worker leaves
    only a temporary file, which a resume removes."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):  # no public way to reach them
        process.kill()
    pool.shutdown(wait=True, cancel_futures=True)
