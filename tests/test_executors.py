"""Executors: the same batches give the same bytes wherever they run (inline, local pool, Dask cluster)."""
from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import stmtprod.engine.batchsteps as batchsteps
import stmtprod.statements.line as statements
from stmtprod.cards import samples as card_samples
from stmtprod.cli.cards import cards as cards_command
from stmtprod.cards.line import run_cards
from stmtprod.cli import main
from stmtprod.config import BuildOptions
import stmtprod.engine.executors as executors
from stmtprod.errors import ConfigError, EnvironmentFault
from stmtprod.engine.executors import check_executor, run_batches
from stmtprod.engine.ledger import Ledger
from stmtprod.lines import resume as statements_resume
from stmtprod.render.batch import BatchJob, render_batch

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples" / "cycle.jsonl"
REGIONS = ("AU", "JP")
RELEASED = ("print", "manifest", "envelopes", "mailing")
CARD_ORDERS = ROOT / "samples" / "cards.jsonl"
CARD_LOG = ROOT / "samples" / "personalisation.jsonl"
CARD_FAULTS = ROOT / "samples" / "cards-faults"
CARD_DATE = dt.date(2026, 11, 23)
NOBODY = "tcp://127.0.0.1:1"
"""A scheduler address nothing answers at."""
NO_KEY = {"STMTPROD_CARD_KEY": None, "STMTPROD_DEMO": None}


def _options(out: Path, workers: int, **more) -> BuildOptions:
    return BuildOptions(input=SAMPLES, out=out, workers=workers, regions=REGIONS, batch_size=30, **more)


def _route(mp: pytest.MonkeyPatch, wrap=lambda done: done, **how) -> None:
    """Make the line render through `run_batches(..., **how)` with `done` wrapped by `wrap`."""
    mp.setattr(batchsteps, "run_batches", lambda jobs, done, **_ignored: run_batches(jobs, wrap(done), **how))


def _released(summary: dict) -> dict[str, bytes]:
    assert summary["state"] == "RELEASED", summary.get("halt") or summary.get("waiting")
    release = Path(summary["run_dir"]) / "release"
    files = {}
    for folder in RELEASED:
        for path in sorted((release / folder).glob("*")) if (release / folder).is_dir() else []:
            files[f"{folder}/{path.name}"] = path.read_bytes()
    return files


def test_local_run_batches_calls_done_once_per_job_in_the_parent(tmp_path, monkeypatch):
    jobs = [BatchJob(f"AU-{n:04d}", "AU", "20261120-ABCDEF", "b", "l", "c", str(tmp_path / f"{n}.pdf"), "m")
            for n in range(1, 6)]
    monkeypatch.setattr("stmtprod.engine.executors.render_batch", lambda job: {"batch": job.name, "sheets": 1})
    calls = []
    run_batches(jobs, lambda job, result: calls.append((job, result)), executor="local", workers=1)
    assert [job for job, _ in calls] == jobs
    assert all(result["batch"] == job.name for job, result in calls)


def test_local_pool_tells_the_line_about_every_batch_once(tmp_path):
    """Two pool processes really render; `done` runs in the parent, once per batch."""
    seen: dict[str, int] = {}
    parent = os.getpid()

    def once(done):
        def record(job, result):
            assert os.getpid() == parent
            seen[job.name] = seen.get(job.name, 0) + 1
            done(job, result)
        return record

    with pytest.MonkeyPatch.context() as mp:
        _route(mp, wrap=once, executor="local", workers=2)
        summary = statements.build(_options(tmp_path / "pool", workers=2))
    assert summary["state"] == "RELEASED"
    assert len(seen) == len(summary["print_files"]) > 2
    assert set(seen.values()) == {1}


def test_unknown_executor_and_unreachable_scheduler_are_configuration_errors():
    job = BatchJob("AU-0001", "AU", "20261120-ABCDEF", "b", "l", "c", "p", "m")
    with pytest.raises(ConfigError, match="unknown executor"):
        run_batches([job], lambda *_: None, executor="spark")
    with pytest.raises(ConfigError, match="cannot reach the Dask scheduler"):
        run_batches([job], lambda *_: None, executor="dask", scheduler="tcp://127.0.0.1:1")
    with pytest.raises(ConfigError, match="cannot reach the Dask scheduler"):
        check_executor("dask", "tcp://127.0.0.1:1")
    with pytest.raises(ConfigError, match="only used with --executor dask"):
        check_executor("local", "tcp://127.0.0.1:8786")
    check_executor("local")
    if importlib.util.find_spec("distributed"):
        check_executor("dask")  # no scheduler: a LocalCluster on this machine


def test_dask_run_releases_the_same_bytes_as_a_local_run(tmp_path):
    distributed = pytest.importorskip("distributed")
    local = statements.build(_options(tmp_path / "local", workers=1))

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        remote = statements.build(_options(tmp_path / "dask", workers=2, executor="dask",
                                         scheduler=cluster.scheduler_address))
        with distributed.Client(cluster.scheduler_address, set_as_default=False) as client:
            executed = client.run(lambda dask_worker: dask_worker.state.executed_count)

    # Both cluster workers rendered batches; none was rendered in this process.
    assert len(executed) == 2 and all(n > 0 for n in executed.values()), executed
    assert sum(executed.values()) == len(remote["print_files"])
    assert remote["run_id"] == local["run_id"]
    ours, theirs = _released(local), _released(remote)
    assert {name.split("/")[0] for name in ours} >= {"print", "manifest", "envelopes"}
    assert sorted(theirs) == sorted(ours)
    for name, data in ours.items():
        assert theirs[name] == data, f"{name} differs between the local and the dask run"


# --- the card line -------------------------------------------------------------------------------


def _card_release(summary: dict) -> dict[str, bytes]:
    """Every released file of a card run (print, manifest, sealing), by path under release/."""
    assert summary["state"] == "RELEASED", summary.get("halt") or summary.get("waiting")
    release = Path(summary["run_dir"]) / "release"
    return {str(p.relative_to(release)): p.read_bytes() for p in sorted(release.rglob("*")) if p.is_file()}


def _card_options(out: Path, run_id: str) -> dict:
    ledger = Ledger(out)
    try:
        return ledger.run(run_id)["options"]
    finally:
        ledger.close()


def test_dask_card_run_releases_the_same_bytes_as_a_local_run_and_resumes_on_its_scheduler(tmp_path):
    distributed = pytest.importorskip("distributed")
    local = run_cards(CARD_ORDERS, CARD_LOG, tmp_path / "local", key=None, demo=True, workers=1,
                      production_date=CARD_DATE)

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        remote = run_cards(CARD_ORDERS, CARD_LOG, tmp_path / "dask", key=None, demo=True, workers=2,
                           production_date=CARD_DATE, executor="dask", scheduler=address)
        with distributed.Client(address, set_as_default=False) as client:
            executed = client.run(lambda dask_worker: dask_worker.state.executed_count)
        # A run that halts at the card-to-carrier match, after its carriers rendered on the cluster.
        halted = run_cards(CARD_ORDERS, CARD_FAULTS / "swapped.jsonl", tmp_path / "halted", key=None, demo=True,
                           workers=2, production_date=CARD_DATE, executor="dask", scheduler=address)

    # Both cluster workers rendered carriers; none was rendered in this process.
    assert len(executed) == 2 and all(n > 0 for n in executed.values()), executed
    assert sum(executed.values()) == len(remote["print_files"]) > 2
    assert remote["run_id"] == local["run_id"]
    ours, theirs = _card_release(local), _card_release(remote)
    assert {name.split("/")[0] for name in ours} == {"print", "manifest", "sealing", "inserter", "challenge"}
    assert sorted(theirs) == sorted(ours)
    for name, data in ours.items():
        assert theirs[name] == data, f"{name} differs between the local and the dask card run"

    # The executor is recorded with the run, and a resume uses it: the cluster is gone, so exit 3 ...
    assert halted["state"] == "HALTED"
    out, run_id = tmp_path / "halted", halted["run_id"]
    recorded = _card_options(out, run_id)
    assert (recorded["executor"], recorded["scheduler"]) == ("dask", address)
    assert (_card_options(tmp_path / "local", local["run_id"])["executor"]) == "local"
    res = CliRunner().invoke(main, ["resume", run_id, "--out", str(out), "--json"], env=NO_KEY)
    assert res.exit_code == 3, res.output
    assert "cannot reach the Dask scheduler" in res.stderr
    # ... and overriding it resumes locally, keeping the carriers the cluster rendered, to the same bytes.
    res = CliRunner().invoke(cards_command, ["--resume", run_id, "--out", str(out), "--personalisation",
                                             str(CARD_LOG), "--executor", "local", "--json"], env=NO_KEY)
    assert res.exit_code == 0, res.output
    resumed = json.loads(res.stdout.strip().splitlines()[-1])
    assert resumed["resumed"] is True and resumed["run_id"] == local["run_id"]
    assert _card_release(resumed) == ours


def test_card_run_with_an_unreachable_scheduler_stops_before_any_work(tmp_path):
    orders = [json.loads(line) for line in CARD_ORDERS.read_text(encoding="utf-8").splitlines()]
    nz = [o for i, o in enumerate(orders, 1) if o.get("region") == "NZ" and i not in card_samples.BAD_LINES]
    (tmp_path / "orders.jsonl").write_text("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in nz), "utf-8")
    log = [{"card_id": o["card_id"], "pan_last5": o["pan"][-5:], "embossed_name": o["embossed_name"], "slot": i}
           for i, o in enumerate(nz, 1)]
    (tmp_path / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log), "utf-8")
    args = ["--orders", str(tmp_path / "orders.jsonl"), "--personalisation", str(tmp_path / "log.jsonl"),
            "--demo-key", "--workers", "1", "--date", CARD_DATE.isoformat(), "--json"]

    res = CliRunner().invoke(cards_command, args + ["--out", str(tmp_path / "out"), "--executor", "dask",
                                                    "--scheduler", NOBODY], env=NO_KEY)
    assert res.exit_code == 3, res.output
    assert "Dask" in res.stderr and json.loads(res.stdout.strip().splitlines()[-1])["exit_code"] == 3
    assert not (tmp_path / "out").exists()  # no ledger, no run folder: nothing was done
    res = CliRunner().invoke(cards_command, args + ["--out", str(tmp_path / "out"), "--scheduler", NOBODY],
                             env=NO_KEY)
    assert res.exit_code == 3 and "only used with --executor dask" in res.stderr
    assert not (tmp_path / "out").exists()

    # `stmtprod resume` of a card run passes --executor/--scheduler to the card line, which refuses them first.
    (tmp_path / "short.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log[:-1]), "utf-8")
    halted = run_cards(tmp_path / "orders.jsonl", tmp_path / "short.jsonl", tmp_path / "out", key=None, demo=True,
                       workers=1, production_date=CARD_DATE)
    assert halted["state"] == "HALTED"
    ledger = Ledger(tmp_path / "out")
    before = ledger.history(halted["run_id"])
    ledger.close()
    res = CliRunner().invoke(main, ["resume", halted["run_id"], "--out", str(tmp_path / "out"), "--executor", "dask",
                                    "--scheduler", NOBODY], env=NO_KEY)
    assert res.exit_code == 3, res.output
    assert "Dask" in res.stderr
    ledger = Ledger(tmp_path / "out")
    assert ledger.history(halted["run_id"]) == before  # not even marked RESUMED
    assert ledger.run(halted["run_id"])["state"] == "HALTED"
    ledger.close()


def _second_batch_hangs(job: BatchJob) -> dict:
    """Renders every batch but the second, on which the worker hangs as on a dead mount."""
    if job.name.endswith("-0002"):
        time.sleep(3600)
    return render_batch(job)


def test_a_hung_worker_stops_the_line_with_exit_7_and_the_run_resumes_to_the_same_bytes(tmp_path, monkeypatch):
    """No batch finishing for STALL_TIMEOUT_S ends the night's wait: an environment fault naming the
    executor, the run INTERRUPTED with the other batches kept, its workers gone; resume releases the
    bytes of a run that never hung."""
    import psutil

    reference = _released(statements.build(_options(tmp_path / "reference", workers=1)))
    monkeypatch.setattr(executors, "STALL_TIMEOUT_S", 3)
    _route(monkeypatch, executor="local", workers=2, render=_second_batch_hangs)
    out = tmp_path / "hung"
    before = {c.pid for c in psutil.Process().children(recursive=True)}
    started = time.monotonic()
    with pytest.raises(EnvironmentFault, match="no batch finished in 3 s on the local pool"):
        statements.build(_options(out, workers=2))
    assert time.monotonic() - started < 60
    assert not [c for c in psutil.Process().children(recursive=True) if c.pid not in before and c.is_running()
                and c.status() != psutil.STATUS_ZOMBIE]
    ledger = Ledger(out)
    try:
        (run,) = ledger.runs()
        rendered = [b for b in ledger.batches(run["run_id"]).values() if b["rendered_at"]]
    finally:
        ledger.close()
    assert run["state"] == "INTERRUPTED" and rendered and not any(b["batch"].endswith("-0002") for b in rendered)
    monkeypatch.undo()
    resumed = statements_resume(run["run_id"], out)
    assert _released(resumed) == reference


@pytest.mark.skipif(importlib.util.find_spec("distributed") is None, reason="needs dask[distributed]")
def test_a_hung_dask_worker_stops_the_wait_with_exit_7(tmp_path, monkeypatch):
    jobs = [BatchJob(f"AU-{n:04d}", "AU", "20261120-ABCDEF", "b", "l", "c", str(tmp_path / f"{n}.pdf"),
                     str(tmp_path / f"{n}.jsonl")) for n in (1, 2)]
    monkeypatch.setattr(executors, "STALL_TIMEOUT_S", 3)
    with pytest.raises(EnvironmentFault, match="no batch finished in 3 s on the Dask cluster"):
        run_batches(jobs, lambda job, result: None, executor="dask", workers=1, render=_sleep_forever)


def _sleep_forever(job: BatchJob) -> dict:
    time.sleep(3600)
    return {}


def test_pool_workers_start_with_what_they_inherited_frozen_out_of_the_collector():
    """`workers.start_worker`: a worker's inherited objects are out of the garbage collector's walks."""
    import gc

    from stmtprod.engine.workers import pool

    with pool(1) as workers:
        frozen = workers.submit(gc.get_freeze_count).result()
    assert frozen > 1000  # the parent's modules and their objects, at least
    assert gc.get_freeze_count() == 0  # the parent itself is left as it was


def test_a_fault_in_a_stopping_pool_stops_its_workers_at_once():
    """`workers.stopping_pool` (plan, verify's reads, the inserter's control files): a fault or a signal
    leaving the block kills the work still running and queued instead of waiting for it, and raises;
    a block that ends normally waits for its work."""
    import time

    from stmtprod.engine.workers import stopping_pool

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        with stopping_pool(2) as pool:
            running = [pool.submit(time.sleep, 60) for _ in range(4)]
            time.sleep(0.5)
            raise KeyboardInterrupt
    assert time.monotonic() - started < 20
    assert all(future.done() for future in running)
    with stopping_pool(2) as pool:
        finished = [pool.submit(time.sleep, 0.2) for _ in range(3)]
    assert all(future.done() and future.exception() is None for future in finished)


class _Cycle:
    """An object in a reference cycle: only the cyclic collector frees it."""

    def __init__(self):
        self.me = self


def _task_making_cycles(seen: list, fail: bool = False):
    import gc
    import weakref

    seen.append(gc.isenabled())
    refs = [weakref.ref(_Cycle()) for _ in range(1000)]
    if fail:
        raise ValueError("the task failed")
    return refs


def test_gc_paused_task_collects_its_cycles_once_at_the_end():
    """A batch runs with the collector off (it only walked the batch's live document again and again),
    and the cycles it made are gone when it returns; a failing task turns the collector back on too."""
    import gc
    import pickle

    from stmtprod.engine.workers import GcPaused

    assert gc.isenabled()
    task = pickle.loads(pickle.dumps(GcPaused(_task_making_cycles)))  # as a pool sends it
    seen: list = []
    refs = task(seen)
    assert seen == [False] and gc.isenabled()
    assert all(ref() is None for ref in refs)
    with pytest.raises(ValueError):
        task(seen, fail=True)
    assert seen == [False, False] and gc.isenabled()
    gc.disable()
    try:
        task(seen)
        assert seen[-1] is False and not gc.isenabled()  # left off by whoever turned it off
    finally:
        gc.enable()
