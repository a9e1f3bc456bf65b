"""Executors: the same batches give the same bytes wherever they run (inline, local pool, Dask cluster)."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

import stmtprod.pipeline as pipeline
from stmtprod.config import BuildOptions
from stmtprod.errors import ConfigError
from stmtprod.executors import check_executor, run_batches
from stmtprod.render.batch import BatchJob

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples" / "cycle.jsonl"
REGIONS = ("AU", "JP")
RELEASED = ("print", "manifest", "envelopes", "mailing")


def _options(out: Path, workers: int, **more) -> BuildOptions:
    return BuildOptions(input=SAMPLES, out=out, workers=workers, regions=REGIONS, batch_size=30, **more)


def _route(mp: pytest.MonkeyPatch, wrap=lambda done: done, **how) -> None:
    """Make the line render through `run_batches(..., **how)` with `done` wrapped by `wrap`."""
    mp.setattr(pipeline, "run_batches", lambda jobs, done, **_ignored: run_batches(jobs, wrap(done), **how))


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
    monkeypatch.setattr("stmtprod.executors.render_batch", lambda job: {"batch": job.name, "sheets": 1})
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
        summary = pipeline.build(_options(tmp_path / "pool", workers=2))
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
    local = pipeline.build(_options(tmp_path / "local", workers=1))

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        remote = pipeline.build(_options(tmp_path / "dask", workers=2, executor="dask",
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
