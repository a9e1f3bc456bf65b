"""Where the batches run: a local process pool, or a Dask distributed cluster.

A batch is a pure function of its batch file, the layouts and the catalog (`render_batch(job)` writes
one print file and one manifest atomically and returns its counts), so it can run in any process on
any machine and give the same bytes. The card line's carrier batches (`stmtprod.cards.render.CarrierJob`,
`render_carrier_batch`) are the same kind of job, so both lines (`stmtprod build` and `stmtprod cards`)
take ``--executor`` and ``--scheduler``. `run_batches` hands each job to an executor and calls
`done(job, result)` in the calling process, once per batch, as each completes; the caller (the line)
records the batch in the ledger there. Nothing about the output depends on which executor ran it.

Executors
---------
``local`` (default)
    ``workers`` <= 1 (or a single batch): inline, in this process. Otherwise a process pool of
    ``workers`` processes (`stmtprod.engine.workers.pool`, whose workers die with their parent).

``dask``
    A Dask distributed cluster (https://distributed.dask.org). ``scheduler="tcp://HOST:8786"``
    connects to an existing scheduler; ``scheduler=None`` starts a throw-away ``LocalCluster`` of
    ``workers`` single-threaded worker processes on this machine (tests, one-box use). Needs the
    ``dask[distributed]`` extra: ``pip install 'stmtprod[dask]'``.

Running on several hosts
------------------------
1. **One shared filesystem.** Workers read the batch files and layouts and write the print files
   and manifests at the paths in each job (`BatchJob`, `CarrierJob`), which are absolute paths under
   the run folder (``--out``) as the controller sees them. The run folder, the layouts (and for cards
   the carrier texts, ``layouts/cards``) and the insert catalog must therefore be on a filesystem
   every worker mounts **at the same path** as the controller (NFS or SMB, e.g. ``/srv/stmtprod``
   everywhere). The controller checks that each file a worker reports is
   visible to it, and stops with a configuration error (exit 3) if not.
2. **The same software everywhere.** Every worker host runs the same stmtprod version and Python
   (install it the same way, ``scripts/setup.sh``) and has the same fonts at the same paths
   (the font packages ``scripts/setup.sh`` installs): a batch's bytes
   depend on the font files.
3. **Start the scheduler** on one host (port 8786 for workers and clients; 8787 is its dashboard)::

       dask scheduler --port 8786

4. **Start workers** on every rendering host, one single-threaded process per core::

       dask worker tcp://SCHEDULER-HOST:8786 --nworkers 4 --nthreads 1

   One thread per worker process is required: ReportLab and pdfium are not thread-safe. Run these
   under systemd (or similar) so they come back after a reboot. Adding or removing worker hosts
   while a run is going is safe: the scheduler re-runs a lost batch elsewhere, and a batch re-run
   writes the same bytes.
5. **Run the line** against the scheduler::

       stmtprod build --input ... --out /srv/stmtprod/out --executor dask --scheduler tcp://SCHEDULER-HOST:8786
       stmtprod cards --orders ... --personalisation ... --out /srv/stmtprod/out --executor dask --scheduler ...

A hung executor does not hold the night: when no batch finishes for `STALL_TIMEOUT_S` seconds (a
scheduler that stops answering, a worker stuck on a dead mount), the line stops with an environment
fault (exit 7), the run INTERRUPTED and resumable, the batches already rendered kept.

Firewall: workers and the controller must reach the scheduler on 8786, and the scheduler and the
controller must reach each worker on its (random by default; ``--worker-port`` fixes it) port.
"""
from __future__ import annotations

import dataclasses
import os
import socket
import time
from concurrent.futures import FIRST_COMPLETED, wait
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, TypeVar

from stmtprod.errors import ConfigError, EnvironmentFault
from stmtprod.render.batch import render_batch
from stmtprod.engine.workers import GcPaused
from stmtprod.engine.workers import pool as worker_pool
from stmtprod.engine.workers import stop as stop_workers

if TYPE_CHECKING:
    from distributed import Client, LocalCluster

    from stmtprod.engine.batchpool import BatchPool

EXECUTORS = ("local", "dask")
CONNECT_TIMEOUT_S = float(os.environ.get("STMTPROD_DASK_TIMEOUT", "10"))
"""How long to try to reach a scheduler, and for it to answer, before giving up with a configuration
error (exit 3); `STMTPROD_DASK_TIMEOUT` (seconds) changes it."""
WORKERS_TIMEOUT_S = 60
"""How long to wait for a reachable scheduler to have at least one worker."""
STALL_TIMEOUT_S = float(os.environ.get("STMTPROD_STALL_TIMEOUT", "900"))
"""How long the line waits for the next batch to finish (in a pool or on a cluster) before it stops
with exit 7, the run resumable; `STMTPROD_STALL_TIMEOUT` (seconds) changes it. A batch of 1,000
statements renders in seconds, so this is only ever reached by a hang."""
VISIBLE_TIMEOUT_S = 10.0
"""How long to wait for a file a remote worker wrote to become visible here (NFS attribute caches)."""

Job = TypeVar("Job")
"""A frozen dataclass of plain strings with at least name, pdf_file and manifest_file (`BatchJob`, `CarrierJob`)."""
Done = Callable[[Job, dict], None]
_NO_DASK = ("--executor dask needs Dask distributed, which is not installed: "
            "pip install 'stmtprod[dask]' (or 'dask[distributed]')")


def run_batches(jobs: list[Job], done: Done, *, executor: str = "local", workers: int = 1,
                scheduler: str | None = None, render: Callable[[Job], dict] | None = None,
                pool: "BatchPool | None" = None) -> None:
    """Render every job on `executor`; call `done(job, result)` here, once per job, as each completes.

    `workers` is the size of the local pool, or of the throw-away `LocalCluster` for ``dask`` without a
    `scheduler`; with a scheduler the cluster's own workers are used, however many there are.
    `result` is `render`'s dict (batch, region, pieces, sheets, bytes); `render` is `render_batch` for
    statements, the card line passes its carrier renderer (any picklable function of one job).
    `pool`: the run's `BatchPool`, which the local executor renders in (and leaves running, for the
    tasks `done` queues there) instead of a pool of its own.
    The first failing batch's exception propagates (after the batches still running are stopped or
    have finished); `done` has then been called for exactly the batches that completed before it.
    """
    render = GcPaused(render or render_batch)
    if executor == "local":
        if scheduler:
            raise ConfigError("--scheduler is only used with --executor dask")
        _run_local(jobs, done, workers, render, pool)
    elif executor == "dask":
        _run_dask(jobs, done, workers, scheduler, render)
    else:
        raise ConfigError(f"unknown executor {executor!r}; choose one of {', '.join(EXECUTORS)}")


def check_executor(executor: str, scheduler: str | None = None) -> None:
    """Fail before any work starts on an unknown executor, a missing Dask, or a scheduler nobody answers at.

    Cheap (an import and one TCP connect); meant for the line's configuration check, so a wrong
    `--scheduler` stops the job with exit 3 before ingest rather than leaving a run half done.
    """
    if executor not in EXECUTORS:
        raise ConfigError(f"unknown executor {executor!r}; choose one of {', '.join(EXECUTORS)}")
    if executor == "local":
        if scheduler:
            raise ConfigError("--scheduler is only used with --executor dask")
        return
    try:
        import distributed  # noqa: F401
    except ImportError as exc:
        raise ConfigError(_NO_DASK) from exc
    if scheduler is not None:
        _probe(scheduler)


def _run_local(jobs: list[Job], done: Done, workers: int, render: Callable[[Job], dict],
               batch_pool: "BatchPool | None" = None) -> None:
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            done(job, render(job))
        return
    if batch_pool is not None:  # on a fault `_render_in` stops its workers; the run closes the pool
        _render_in(batch_pool.executor(), jobs, done, render)
        return
    with worker_pool(min(workers, len(jobs))) as pool:
        _render_in(pool, jobs, done, render)


def _render_in(pool, jobs: list[Job], done: Done, render: Callable[[Job], dict]) -> None:
    futures = {pool.submit(render, job): job for job in jobs}
    try:
        for future in _as_finished(futures, lambda fs, t: wait(fs, t, FIRST_COMPLETED)[0], "the local pool"):
            done(futures[future], future.result())
    except BaseException:
        stop_workers(pool)
        raise


PATH_SUFFIXES = ("_file", "_dir")
"""A job field whose name ends so holds a path (`BatchJob`, `CarrierJob`: batch_file, layouts_dir, ...)."""


def _absolute(job: Job) -> Job:
    """The job with every path absolute, so a worker whose working directory differs finds the same files.

    Generic over job dataclasses: every field named ``*_file`` or ``*_dir`` is a path.
    """
    return dataclasses.replace(job, **{f.name: os.path.abspath(getattr(job, f.name))
                                       for f in dataclasses.fields(job) if f.name.endswith(PATH_SUFFIXES)})


def _connect(workers: int, scheduler: str | None) -> tuple["Client", "LocalCluster | None"]:
    """A `distributed.Client` and the `LocalCluster` it owns (None when connected to a scheduler)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise ConfigError(_NO_DASK) from exc
    if scheduler is None:
        cluster = LocalCluster(n_workers=max(1, workers), threads_per_worker=1, processes=True,
                               dashboard_address=None)
        try:
            return Client(cluster, set_as_default=False), cluster
        except BaseException:
            cluster.close()
            raise
    _probe(scheduler)
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except Exception as exc:  # refused, timed out, malformed address, or something else answering the port
        raise ConfigError(f"cannot reach the Dask scheduler at {scheduler} within {CONNECT_TIMEOUT_S} s "
                          f"({type(exc).__name__}: {exc}); is 'dask scheduler' running there and the port open?",
                          key="--scheduler") from exc
    try:
        client.wait_for_workers(1, timeout=WORKERS_TIMEOUT_S)
    except (OSError, TimeoutError) as exc:
        client.close()
        raise ConfigError(f"the Dask scheduler at {scheduler} has no workers after {WORKERS_TIMEOUT_S} s; "
                          f"start some with 'dask worker {scheduler} --nworkers N --nthreads 1'",
                          key="--scheduler") from exc
    return client, None


def _probe(scheduler: str) -> None:
    """Ask the scheduler who it is, over the address's own protocol (tcp, tls, ws, wss, ucx, inproc...),
    within CONNECT_TIMEOUT_S all told: a malformed address, an unknown or unavailable protocol, a host
    that refuses, one that accepts but never answers, or something that is not a Dask scheduler is a
    configuration error (exit 3) before any work. TLS uses Dask's own configuration (README)."""
    import asyncio

    from distributed.comm import connect
    from distributed.security import Security

    async def identity() -> dict:
        comm = await connect(scheduler, timeout=CONNECT_TIMEOUT_S, **Security().get_connection_args("client"))
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    where = f"the Dask scheduler at {scheduler!r}"
    _refused_fast(scheduler, where)
    try:
        answer = asyncio.run(asyncio.wait_for(identity(), CONNECT_TIMEOUT_S))
    except (asyncio.TimeoutError, TimeoutError):
        raise ConfigError(f"{where} did not answer within {CONNECT_TIMEOUT_S} s; is it a 'dask scheduler' (and "
                          "not something else listening on that port)?", key="--scheduler") from None
    except (ValueError, TypeError, ImportError, KeyError) as exc:
        raise ConfigError(f"{scheduler!r} is not a usable scheduler address ({type(exc).__name__}: {exc}); give "
                          "tcp://HOST:8786, or tls://HOST:8786 with Dask's TLS settings", key="--scheduler") from None
    except (OSError, Exception) as exc:  # noqa: BLE001 (refused, reset, TLS handshake, protocol errors)
        raise ConfigError(f"cannot reach {where} ({type(exc).__name__}: {exc}); is 'dask scheduler' running there "
                          "and the port open?", key="--scheduler") from None
    if not isinstance(answer, dict) or answer.get("type") != "Scheduler":
        found = answer.get("type") if isinstance(answer, dict) else type(answer).__name__
        raise ConfigError(f"{where} answered as {found!r}, not as a Dask scheduler", key="--scheduler")


def _refused_fast(scheduler: str, where: str) -> None:
    """A host:port address whose port refuses a plain TCP connection fails at once, not after the
    Dask connector's retries."""
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, location = parse_address(scheduler)
        host, port = parse_host_port(location, 8786)
    except ValueError:
        return  # the connector gives the precise reason
    if scheme not in ("tcp", "tls", "ws", "wss"):
        return
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise ConfigError(f"cannot reach {where} ({exc}); is 'dask scheduler' running there and the port open?",
                          key="--scheduler") from None


def _visible(job: Job) -> None:
    """The files a remote worker says it wrote are here too, or the filesystem is not shared."""
    deadline = time.monotonic() + VISIBLE_TIMEOUT_S
    paths = (Path(job.pdf_file), Path(job.manifest_file))
    while not all(p.is_file() for p in paths):
        if time.monotonic() > deadline:
            missing = ", ".join(str(p) for p in paths if not p.is_file())
            raise ConfigError(f"batch {job.name} was rendered by a Dask worker but {missing} is not visible here: "
                              "the run folder must be on a filesystem shared by every worker, at the same path")
        time.sleep(0.2)


def _run_dask(jobs: list[Job], done: Done, workers: int, scheduler: str | None,
              render: Callable[[Job], dict]) -> None:
    if not jobs:
        return
    client, cluster = _connect(workers, scheduler)
    try:
        futures = client.map(render, [_absolute(j) for j in jobs], pure=False)
        owner = {f.key: job for f, job in zip(futures, jobs, strict=True)}
        try:
            for future in _as_finished(futures, _dask_first, f"the Dask cluster at {scheduler or 'a LocalCluster'}"):
                result = future.result()
                job = owner[future.key]
                _visible(job)
                done(job, result)
        except BaseException:
            client.cancel(futures)
            raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _dask_first(futures: list, timeout: float) -> set:
    """The finished ones of `futures` as soon as one is, or none after `timeout` seconds."""
    from distributed import wait as dask_wait

    try:
        with futures[0].client.as_current():  # wait looks for the current client
            return set(dask_wait(futures, timeout=timeout, return_when="FIRST_COMPLETED").done)
    except TimeoutError:
        return set()


def _as_finished(futures: Iterable, first: Callable[[list, float], set], where: str) -> Iterator:
    """`futures` as they finish (in submission order among those finishing together); an
    EnvironmentFault when none finishes for `STALL_TIMEOUT_S` seconds."""
    pending = list(futures)
    total = len(pending)
    while pending:
        finished = first(pending, STALL_TIMEOUT_S)
        if not finished:
            raise EnvironmentFault(f"no batch finished in {STALL_TIMEOUT_S:g} s on {where} ({len(pending)} of {total} "
                                   "still rendering): the workers hang; check them, then resume the run "
                                   "(the batches already rendered are kept; STMTPROD_STALL_TIMEOUT sets the wait)")
        yield from (f for f in pending if f in finished)
        pending = [f for f in pending if f not in finished]
