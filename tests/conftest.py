"""Shared fixtures: real builds of the bundled samples, made once per test session."""
from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path
from typing import Callable

import pytest

from stmtprod.config import BuildOptions
from stmtprod.statements.line import build

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples" / "cycle.jsonl"


# `.ci/run` runs the files on two processes (pytest-xdist, `-n 2 --dist loadfile`), each file whole on
# one process, in the order collected: the slowest files start first, so that the last to start is a
# short one and neither process waits idle at the end (longest first).
SLOWEST_FIRST = ("test_envfaults.py", "test_resume.py", "test_wayout.py", "test_records.py", "test_cards.py",
                 "test_escape.py", "test_verify.py", "test_generate.py", "test_executors.py", "test_postal.py",
                 "test_card_numbers.py", "test_proof.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """`--dist loadfile` hands out the files in the collected order: xdist would otherwise sort them by
    their number of tests, and a slow file of few tests (test_resume) would start last."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    config.option.loadscopereorder = False
    return LoadFileScheduling(config, log)


class Snapshot:
    """A real run made once, then put back byte for byte at the same path for each test that changes it.

    The run folder records absolute paths (ledger, run.json, halt texts), so a copy elsewhere would not
    be the same run; restoring in place keeps every recorded path true. `make(out)` builds into `out`
    and returns the summary; `restore()` returns a fresh copy of it with the folder as it was."""

    def __init__(self, base: Path, make: Callable[[Path], dict]):
        self.out = base / "out"
        self.summary = make(self.out)
        self._pristine = base / "pristine"
        shutil.copytree(self.out, self._pristine, symlinks=True)

    def restore(self) -> dict:
        shutil.rmtree(self.out)
        shutil.copytree(self._pristine, self.out, symlinks=True)
        return copy.deepcopy(self.summary)


def volume(small: int, full: int) -> int:
    """Sizes for volume tests: the small one in CI (STMTPROD_VOLUME=small), the full one otherwise."""
    return small if os.environ.get("STMTPROD_VOLUME", "full") == "small" else full


def challenge_config(folder: Path, per_lot: int = 0, classes: list[str] | None = None) -> Path:
    """A copy of inspection.toml in `folder` with `per_lot` challenge pieces (issue 16) of `classes`;
    0 switches them off, for tests of what the real pieces alone do."""
    text = (ROOT / "inspection.toml").read_text(encoding="utf-8")
    assert "per_lot = 2\n" in text
    text = text.replace("per_lot = 2\n", f"per_lot = {per_lot}\n" + ('off_reason = "a test of the real pieces alone"\n'
                                                                  if per_lot == 0 else ""))
    if classes is not None:
        text = text.replace('classes = ["text-altered", "wrong-barcode", "insert-bit", "sheet-swap", "geometry", '
                            '"text-added", "text-hidden"]',
                            f"classes = {json.dumps(classes)}")
    path = Path(folder) / "inspection.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("sample-run")
    return build(BuildOptions(input=SAMPLES, out=out, workers=2))


@pytest.fixture(scope="session")
def sample_records() -> dict[str, dict]:
    return read_sample_records()


def read_sample_records() -> dict[str, dict]:
    """The bundled extract's readable records by account id, read independently of stmtprod."""
    records = {}
    for line in SAMPLES.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and "account_id" in rec:
            records[rec["account_id"]] = rec
    return records


def manifest_rows(summary: dict) -> list[dict]:
    rows = []
    for path in summary["manifest_files"]:
        rows += [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]
    return rows


def rendering_garbage() -> list[str]:
    """The classes of ReportLab's and stmtprod's objects one collection finds unreachable (other
    threads' garbage, such as an event loop a Dask test left running, is not rendering's)."""
    import gc

    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        return sorted({f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.garbage
                       if type(o).__module__.startswith(("reportlab", "stmtprod"))})
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
