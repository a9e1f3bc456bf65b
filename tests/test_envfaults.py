"""Faults of the machine end in one clear line, a documented exit code and a resumable run.

Every test drives the real `stmtprod` command in a subprocess: a real full filesystem (a tiny tmpfs
when this runs as root and may mount, else a real file size limit, RLIMIT_FSIZE, which fails writes
with EFBIG), a real read-only folder, real damaged ledgers, real signals, a real silent TCP server
posing as a Dask scheduler. Each asserts the exit code the README gives, that stderr holds one
`stmtprod:` line and no traceback, that the ledger does not claim a step that is not running, and
that the run then resumes to byte-identical release files.
"""
from __future__ import annotations

import json
import os
import re
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner

from stmtprod import errors
from stmtprod.generate import write_extract
from stmtprod.cli import main
from stmtprod.engine.ledger import Ledger
from stmtprod.render.fonts import find_font

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "stmtprod"]
CARD_ORDERS = ROOT / "samples" / "cards.jsonl"
CARD_LOG = ROOT / "samples" / "personalisation.jsonl"
CARD_ARGS = ["--demo-key", "--date", "2026-11-23", "--batch-size", "10", "--workers", "2"]
BUILD_ARGS = ["--batch-size", "10", "--workers", "2"]
ENV = {"STMTPROD_CARD_KEY": "", "STMTPROD_DEMO": ""}


def _run(*args: str, env: dict | None = None, timeout: float = 300, inproc: bool = False,
         **kw) -> subprocess.CompletedProcess:
    """The real `stmtprod` command: in a subprocess, or (`inproc`, for faults found before any work,
    which need no signal or worker) through click's runner in this process, which is much quicker."""
    if inproc:
        res = CliRunner().invoke(main, [str(a) for a in args], env={k: v or None for k, v in {**ENV, **(env or {})}.items()})
        if res.exception is not None and not isinstance(res.exception, SystemExit):
            raise res.exception
        return subprocess.CompletedProcess(args, res.exit_code, res.stdout, res.stderr)
    full = {k: v for k, v in {**os.environ, **ENV, **(env or {})}.items() if v != ""}
    return subprocess.run(CLI + [str(a) for a in args], capture_output=True, text=True, env=full, timeout=timeout,
                          preexec_fn=_interruptible(kw.pop("preexec_fn", None)), **kw)


def _interruptible(then=None):
    """SIGINT as at an operator's terminal: a suite started in the background (`nohup`, `cmd &`) has it
    ignored, and the command would inherit that and never see the Ctrl-C these tests send."""
    def preexec() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        if then is not None:
            then()
    return preexec


def _build(extract: Path, out: Path, *extra: str, **kw) -> subprocess.CompletedProcess:
    return _run("build", "--input", extract, "--out", out, *BUILD_ARGS, "--json", *extra, **kw)


def _cards(out: Path, *extra: str, **kw) -> subprocess.CompletedProcess:
    return _run("cards", "--orders", CARD_ORDERS, "--personalisation", CARD_LOG, "--out", out, *CARD_ARGS, "--json",
                *extra, **kw)


def _fails_cleanly(proc: subprocess.CompletedProcess, code: int, *needles: str) -> str:
    """The process ended with `code`, one `stmtprod:` line on stderr holding every needle, no traceback."""
    assert proc.returncode == code, (proc.returncode, proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    lines = [line for line in proc.stderr.splitlines() if line.startswith("stmtprod:")]
    assert len(lines) == 1, proc.stderr[-3000:]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def _released(run_dir: Path) -> dict[str, bytes]:
    release = run_dir / "release"
    return {str(p.relative_to(release)): p.read_bytes() for p in sorted(release.rglob("*")) if p.is_file()}


def _states(out: Path) -> dict[str, str]:
    ledger = Ledger(out)
    try:
        return {r["run_id"]: r["state"] for r in ledger.runs()}
    finally:
        ledger.close()


def _summary(proc: subprocess.CompletedProcess) -> dict:
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def extract(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("extract") / "cycle.jsonl"
    write_extract(path, 120, seed=11, bad=2)
    return path


@pytest.fixture(scope="module")
def reference(extract, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("reference")
    proc = _build(extract, out)
    assert proc.returncode == 0, proc.stderr
    summary = _summary(proc)
    return {"out": out, "summary": summary, "run_id": summary["run_id"], "files": _released(Path(summary["run_dir"]))}


@pytest.fixture(scope="module")
def card_reference(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("card-reference")
    proc = _cards(out)
    assert proc.returncode == 0, proc.stderr
    summary = _summary(proc)
    return {"out": out, "summary": summary, "run_id": summary["run_id"], "files": _released(Path(summary["run_dir"]))}


# -- a real full disk and a real read-only folder ---------------------------------------------------------

def _can_mount() -> bool:
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    probe = Path(f"/tmp/stmtprod-mount-probe-{os.getpid()}")
    probe.mkdir(exist_ok=True)
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)], capture_output=True).returncode == 0
    if ok:
        subprocess.run(["umount", str(probe)], check=True)
    probe.rmdir()
    return ok


MOUNT = _can_mount() and not os.environ.get("STMTPROD_TEST_NO_MOUNT")  # set it to try the fallback as root


@contextmanager
def tmpfs(path: Path, size: str):
    """A real filesystem of `size` at `path` (root only), unmounted afterwards."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _remount(path: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(path)], check=True)


def _limit_file_size(limit: int):
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


@contextmanager
def full_disk(tmp_path: Path, size_kib: int):
    """(out folder, kwargs that make a subprocess hit the full disk, a function that frees space).

    As root: a tmpfs of `size_kib` (ENOSPC), grown afterwards. Otherwise: RLIMIT_FSIZE (EFBIG)."""
    if MOUNT:
        with tmpfs(tmp_path / "disk", f"{size_kib}k") as out:
            yield out, {}, lambda: _remount(out, "size=64m")
    else:
        yield tmp_path / "disk", {"preexec_fn": _limit_file_size(size_kib * 1024 // 4)}, lambda: None


def _no_workers_left(out: Path) -> None:
    """No process of ours still runs with this output folder on its command line (render workers)."""
    deadline = time.monotonic() + 10
    while True:
        left = [p for p in psutil.process_iter(["cmdline"]) if str(out) in " ".join(p.info["cmdline"] or [])]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert not left, [p.info["cmdline"] for p in left]


@pytest.mark.parametrize("line, size_kib", [("statements", 1024), ("cards", 640)])
def test_full_disk_stops_with_exit_7_and_the_run_resumes(line, size_kib, extract, request, tmp_path):
    ref = request.getfixturevalue("reference" if line == "statements" else "card_reference")
    with full_disk(tmp_path, size_kib) as (out, how, grow):
        proc = _build(extract, out, **how) if line == "statements" else _cards(out, **how)
        message = _fails_cleanly(proc, errors.EXIT_ENVIRONMENT, str(out), "resume")
        assert re.search("No space left on device|File too large|disk I/O error|database or disk is full", message), message
        if MOUNT:
            assert _states(out) == {ref["run_id"]: "INTERRUPTED"}
        else:  # a per-file limit can stop the ledger's own log from growing: then `runs` calls the run stopped
            listed = json.loads(_run("runs", "--out", out, "--json", inproc=True).stdout)["runs"]
            assert [(r["run_id"], r["state"] == "INTERRUPTED" or r["stopped"]) for r in listed] == [(ref["run_id"], True)]
        grow()
        resumed = _run("resume", ref["run_id"], "--out", out, "--json")
        assert resumed.returncode == 0, resumed.stderr
        assert _released(out / ref["run_id"]) == ref["files"]
        assert _states(out) == {ref["run_id"]: "RELEASED"}


@contextmanager
def read_only(path: Path):
    """`path` made read-only for real: a read-only remount of a tmpfs as root, else mode 0555."""
    if MOUNT:
        with tmpfs(path, "64m"):
            yield lambda: _remount(path, "ro"), lambda: _remount(path, "rw")
    else:
        if os.geteuid() == 0:
            pytest.skip("root ignores file modes and may not mount here")
        path.mkdir(parents=True, exist_ok=True)
        yield lambda: path.chmod(0o555), lambda: path.chmod(0o755)
        path.chmod(0o755)


@pytest.mark.parametrize("line", ["statements", "cards"])
def test_a_read_only_output_folder_is_exit_7_naming_it(line, extract, tmp_path):
    out = tmp_path / "ro"
    with read_only(out) as (lock_down, _open_up):
        lock_down()
        proc = _build(extract, out, inproc=True) if line == "statements" else _cards(out, inproc=True)
        _fails_cleanly(proc, errors.EXIT_ENVIRONMENT, str(out))
        assert not any(out.iterdir())


def test_a_folder_made_read_only_after_a_run_refuses_every_command_cleanly(extract, reference, tmp_path):
    out = tmp_path / "ro"
    with read_only(out) as (lock_down, open_up):
        interrupted = _build(extract, out, env={"STMTPROD_CRASH_AT": "render:batch:2", "STMTPROD_CRASH_SIGNAL": "TERM"})
        assert interrupted.returncode == errors.EXIT_SIGTERM, interrupted.stderr
        lock_down()
        for proc in (_run("resume", reference["run_id"], "--out", out, inproc=True),
                     _build(extract, out, "--force", inproc=True),
                     _run("qa", "status", "--out", out, inproc=True)):
            _fails_cleanly(proc, errors.EXIT_ENVIRONMENT, str(out))
        open_up()
        assert _states(out) == {reference["run_id"]: "INTERRUPTED"}
        assert _run("resume", reference["run_id"], "--out", out).returncode == 0
        assert _released(out / reference["run_id"]) == reference["files"]


@pytest.mark.parametrize("line", ["statements", "cards"])
def test_out_under_a_regular_file_is_a_usage_error_naming_it(line, extract, tmp_path):
    (tmp_path / "afile").write_text("not a folder")
    for out in (tmp_path / "afile" / "out", tmp_path / "afile" / "deeper" / "out"):
        proc = _build(extract, out, inproc=True) if line == "statements" else _cards(out, inproc=True)
        _fails_cleanly(proc, errors.EXIT_USAGE, str(tmp_path / "afile"), "regular file")
    assert (tmp_path / "afile").read_text() == "not a folder"


# -- the ledger: damaged, truncated, emptied, deleted -----------------------------------------------------

def _damage(out: Path, how: str) -> None:
    ledger = out / "ledger.sqlite"
    if how == "garbage":
        ledger.write_bytes(os.urandom(8192))
    elif how == "truncated":
        ledger.write_bytes(ledger.read_bytes()[: ledger.stat().st_size // 3])
    elif how == "zero-bytes":
        ledger.write_bytes(b"")
    elif how == "deleted":
        ledger.unlink()
    elif how == "header-only":
        ledger.write_bytes(ledger.read_bytes()[:100])


@pytest.mark.parametrize("how", ["garbage", "truncated", "zero-bytes", "deleted", "header-only"])
def test_a_damaged_or_lost_ledger_never_re_releases_a_cycle(how, extract, reference, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(reference["out"], out)
    run_dir = out / reference["run_id"]
    _damage(out, how)
    for proc in (_build(extract, out, inproc=True), _build(extract, out, "--force", inproc=True),
                 _build(extract, out, "--run-id", reference["run_id"], inproc=True)):
        _fails_cleanly(proc, errors.EXIT_ENVIRONMENT, "ledger.sqlite")
    resumed = _run("resume", reference["run_id"], "--out", out, inproc=True)
    _fails_cleanly(resumed, errors.EXIT_ENVIRONMENT, "ledger")   # a deleted one too: the folders it lost are named
    assert how != "deleted" or reference["run_id"] in resumed.stderr
    if how != "deleted":  # an emptied ledger lists nothing: `runs` and `show` name the folders it does not know
        reads = [_run("runs", "--out", out, inproc=True), _run("show", reference["run_id"], "--out", out, inproc=True)]
        for proc in reads + ([_run("qa", "status", "--out", out, inproc=True)] if how != "zero-bytes" else []):
            _fails_cleanly(proc, errors.EXIT_ENVIRONMENT, "ledger.sqlite")
    assert _released(run_dir) == reference["files"]
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith("ledger.sqlite")) == \
        sorted(p.name for p in reference["out"].iterdir() if not p.name.startswith("ledger.sqlite"))


def test_a_damaged_write_ahead_log_is_refused_not_rebuilt(extract, reference, tmp_path):
    out = tmp_path / "out"
    killed = _build(extract, out, env={"STMTPROD_CRASH_AT": "release:after"})
    assert killed.returncode == -signal.SIGKILL
    wal = out / "ledger.sqlite-wal"
    assert wal.exists() and wal.stat().st_size > 0  # the killed line left its last transactions there
    wal.write_bytes(os.urandom(wal.stat().st_size))
    for proc in (_build(extract, out, inproc=True), _run("resume", reference["run_id"], "--out", out, inproc=True)):
        assert proc.returncode in (errors.EXIT_ENVIRONMENT, errors.EXIT_USAGE), proc.stderr
        _fails_cleanly(proc, proc.returncode, "ledger")
    assert (out / reference["run_id"]).is_dir()


def test_a_lost_card_ledger_never_re_releases_the_cards(card_reference, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(card_reference["out"], out)
    (out / "ledger.sqlite").unlink()
    for proc in (_cards(out, inproc=True), _cards(out, "--force", inproc=True)):
        _fails_cleanly(proc, errors.EXIT_ENVIRONMENT, "ledger.sqlite", card_reference["run_id"])
    assert _released(out / card_reference["run_id"]) == card_reference["files"]


# -- the lock file and run ids ----------------------------------------------------------------------------

@pytest.mark.parametrize("line", ["statements", "cards"])
def test_the_lock_file_is_never_followed_through_a_symbolic_link(line, extract, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / ".stmtprod.engine.lock").symlink_to(victim)
    proc = _build(extract, out, inproc=True) if line == "statements" else _cards(out, inproc=True)
    _fails_cleanly(proc, errors.EXIT_ENVIRONMENT, ".stmtprod.engine.lock", "symbolic link")
    assert victim.read_text() == "precious\n"


BAD_RUN_IDS = ["20261120-ABCDEF\n", "２０２６１１２０-ABCDEF", "٢٠٢٦١١٢٠-ABCDEF", "20261120-ABCDE\u0662",
               "../20261120-ABCDEF", "20261120-ABCDEF/..", "20261120-abcdef", "20261120-ABCDEFG", ""]


@pytest.mark.parametrize("bad", BAD_RUN_IDS, ids=ascii)
def test_run_ids_are_validated_in_full_before_any_work(bad, extract, tmp_path):
    out = tmp_path / "out"
    for proc in (_build(extract, out, "--run-id", bad, inproc=True), _cards(out, "--run-id", bad, inproc=True),
                 _run("resume", bad, "--out", out, inproc=True), _run("show", bad, "--out", out, inproc=True),
                 _run("cards", "--resume", bad, "--out", out, "--demo-key", inproc=True)):
        _fails_cleanly(proc, errors.EXIT_USAGE, "run id")
        assert not out.exists()


# -- configuration that points outside its folders, fonts that are not fonts --------------------------------

def _layouts(tmp_path: Path, regular: str) -> Path:
    folder = tmp_path / "layouts"
    shutil.copytree(ROOT / "layouts", folder)
    text = (folder / "AU.toml").read_text(encoding="utf-8")
    (folder / "AU.toml").write_text(re.sub(r'(?m)^regular = ".*"$', f"regular = {json.dumps(regular)}", text),
                                    encoding="utf-8")
    return folder


def _font_fault(kind: str, fonts: Path) -> str:
    real = find_font("DejaVuSans.ttf")
    if kind == "not-a-font":
        (fonts / "Fake.ttf").write_bytes(b"%PDF-1.4 this is no font\n" * 40)
        return "Fake.ttf"
    if kind == "truncated":
        (fonts / "Cut.ttf").write_bytes(real.read_bytes()[:4096])
        return "Cut.ttf"
    if kind == "pipe":
        os.mkfifo(fonts / "Pipe.ttf")
        return "Pipe.ttf"
    if kind == "dangling-link":
        (fonts / "Gone.ttf").symlink_to(fonts / "nowhere.ttf")
        return "Gone.ttf"
    if kind == "folder":
        (fonts / "Dir.ttf").mkdir()
        return str(fonts / "Dir.ttf")
    if kind == "missing":
        return "NoSuchFont.ttf"
    if kind == "outside-absolute":
        return "/etc/passwd"
    if kind == "outside-relative":
        return "../" * 30 + "etc/passwd"
    raise AssertionError(kind)


FONT_FAULTS = ["not-a-font", "truncated", "pipe", "dangling-link", "folder", "missing", "outside-absolute",
               "outside-relative"]


@pytest.mark.parametrize("line", ["statements", "cards"])
@pytest.mark.parametrize("kind", FONT_FAULTS)
def test_a_layout_font_that_is_missing_or_not_a_font_is_exit_3_naming_file_and_key(kind, line, extract, tmp_path):
    fonts = tmp_path / "fonts"
    fonts.mkdir()
    layouts = _layouts(tmp_path, _font_fault(kind, fonts))
    env = {"STMTPROD_FONT_PATH": str(fonts)}
    out = tmp_path / "out"
    if line == "statements":
        proc = _build(extract, out, "--layouts", layouts, env=env, inproc=True)
    else:
        proc = _cards(out, "--layouts", layouts, "--card-layouts", ROOT / "layouts" / "cards", env=env, inproc=True)
    _fails_cleanly(proc, errors.EXIT_CONFIG, str(layouts / "AU.toml"), "fonts.regular")
    assert not out.exists()


@pytest.mark.parametrize("region, key, line", [("JP", "fallback", 'fallback = ["Fake.ttf"]'),
                                               ("HK", "latin_bold", 'latin_bold = "Fake.ttf"'),
                                               ("HK", "bold", 'bold = "Fake.ttf"')])
def test_every_face_of_a_stack_is_checked(region, key, line, extract, tmp_path):
    fonts = tmp_path / "fonts"
    fonts.mkdir()
    _font_fault("not-a-font", fonts)
    layouts = tmp_path / "layouts"
    shutil.copytree(ROOT / "layouts", layouts)
    path = layouts / f"{region}.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(re.sub(rf"(?m)^{key} = .*$", line, text), encoding="utf-8")
    proc = _build(extract, tmp_path / "out", "--layouts", layouts, env={"STMTPROD_FONT_PATH": str(fonts)}, inproc=True)
    _fails_cleanly(proc, errors.EXIT_CONFIG, str(path), f"fonts.{key}", "Fake.ttf")


def test_a_font_outside_the_font_folders_is_used_only_when_its_folder_is_listed(extract, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    real = find_font("DejaVuSans.ttf")
    shutil.copy(real, mine / "House.ttf")
    layouts = _layouts(tmp_path, str(mine / "House.ttf"))
    refused = _build(extract, tmp_path / "a", "--layouts", layouts, "--regions", "AU", inproc=True)
    _fails_cleanly(refused, errors.EXIT_CONFIG, "fonts.regular", "STMTPROD_FONT_PATH")
    allowed = _build(extract, tmp_path / "b", "--layouts", layouts, "--regions", "AU",
                     env={"STMTPROD_FONT_PATH": str(mine)})
    assert allowed.returncode == 0, allowed.stderr


@pytest.mark.parametrize("artwork", ["../" * 30 + "etc/passwd", "/etc/passwd", "link.pdf"])
def test_artwork_outside_the_catalog_folder_is_refused_unless_allowed(artwork, extract, tmp_path):
    folder = tmp_path / "inserts"
    shutil.copytree(ROOT / "inserts", folder)
    (folder / "link.pdf").symlink_to("/etc/passwd")
    catalog = folder / "catalog.toml"
    text = catalog.read_text(encoding="utf-8")
    catalog.write_text(text.replace('artwork = "TRVL26.pdf"', f"artwork = {json.dumps(artwork)}"), encoding="utf-8")
    refused = _build(extract, tmp_path / "a", "--catalog", catalog, "--regions", "NZ", inproc=True)
    _fails_cleanly(refused, errors.EXIT_CONFIG, str(catalog), "artwork", "STMTPROD_ARTWORK_PATH")
    assert not (tmp_path / "a").exists()
    if artwork == "/etc/passwd":  # one real build shows the allowance works; the rest only need refusing
        allowed = _build(extract, tmp_path / "b", "--catalog", catalog, "--regions", "NZ",
                         env={"STMTPROD_ARTWORK_PATH": "/etc"})
        assert allowed.returncode == 0, allowed.stderr


# -- signals -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("point, name, code", [("render:batch:2", "TERM", errors.EXIT_SIGTERM),
                                               ("render:batch:2", "INT", errors.EXIT_SIGINT),
                                               ("challenges", "TERM", errors.EXIT_SIGTERM),
                                               ("release:after", "TERM", errors.EXIT_SIGTERM)])
def test_a_signal_stops_workers_and_the_run_resumes_to_identical_files(point, name, code, extract, reference,
                                                                       tmp_path):
    out = tmp_path / "out"
    proc = _build(extract, out, env={"STMTPROD_CRASH_AT": point, "STMTPROD_CRASH_SIGNAL": name})
    _fails_cleanly(proc, code, f"SIG{name}", f"stmtprod resume {reference['run_id']}")
    _no_workers_left(out)
    assert _states(out) == {reference["run_id"]: "INTERRUPTED"}
    resumed = _run("resume", reference["run_id"], "--out", out, "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert _summary(resumed)["counts"] == reference["summary"]["counts"]
    assert _released(out / reference["run_id"]) == reference["files"]
    assert not list((out / reference["run_id"]).rglob(".*.tmp"))


def test_a_run_killed_outright_is_listed_as_stopped_not_as_running(extract, reference, tmp_path):
    """SIGKILL leaves no chance to mark the run: `runs` and `show` then say no line is running it."""
    out = tmp_path / "out"
    run_id = reference["run_id"]
    killed = _build(extract, out, env={"STMTPROD_CRASH_AT": "render:batch:2"})
    assert killed.returncode == -signal.SIGKILL
    assert _states(out) == {run_id: "RENDERING"}
    listed = _run("runs", "--out", out, "--json", inproc=True)
    assert json.loads(listed.stdout)["runs"][0]["stopped"] is True
    assert "stopped: no line is running it" in _run("runs", "--out", out, inproc=True).stdout
    assert json.loads(_run("show", run_id, "--out", out, "--json", inproc=True).stdout)["stopped"] is True
    assert "stopped: no line is running it" in _run("show", run_id, "--out", out, inproc=True).stdout
    from stmtprod.engine.lock import OutputLock

    with OutputLock(out):  # while a line holds the folder the run is not called stopped
        assert json.loads(_run("runs", "--out", out, "--json", inproc=True).stdout)["runs"][0]["stopped"] is False
        assert json.loads(_run("show", run_id, "--out", out, "--json", inproc=True).stdout)["stopped"] is False


def test_ctrl_c_to_the_whole_process_group_is_exit_130_and_resumable(extract, reference, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen(CLI + ["build", "--input", str(extract), "--out", str(out), *BUILD_ARGS],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=_interruptible())
    staged = out / reference["run_id"] / "staging" / "print"
    deadline = time.monotonic() + 120
    while not (staged.is_dir() and any(staged.glob("*.pdf"))) and time.monotonic() < deadline:
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal does: the line and its workers
    stdout, stderr = proc.communicate(timeout=120)
    _fails_cleanly(subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr), errors.EXIT_SIGINT,
                   "SIGINT")
    _no_workers_left(out)
    assert _states(out) == {reference["run_id"]: "INTERRUPTED"}
    resumed = _run("resume", reference["run_id"], "--out", out)
    assert resumed.returncode == 0, resumed.stderr
    assert _released(out / reference["run_id"]) == reference["files"]


def test_sigterm_during_a_card_run_is_exit_143_and_resumable(card_reference, tmp_path):
    out = tmp_path / "out"
    proc = _cards(out, env={"STMTPROD_CRASH_AT": "render:batch:2", "STMTPROD_CRASH_SIGNAL": "TERM"})
    _fails_cleanly(proc, errors.EXIT_SIGTERM, "SIGTERM", card_reference["run_id"])
    _no_workers_left(out)
    assert _states(out) == {card_reference["run_id"]: "INTERRUPTED"}
    resumed = _run("resume", card_reference["run_id"], "--out", out)  # a demo run resumes with the demo key
    assert resumed.returncode == 0, resumed.stderr
    assert _released(out / card_reference["run_id"]) == card_reference["files"]


# -- Dask schedulers that are not there, not Dask, or never answer -------------------------------------------

@contextmanager
def silent_server():
    """A TCP server that accepts every connection and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held, stop = [], threading.Event()

    def serve():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        server.close()


pytestmark_dask = pytest.mark.skipif(not __import__("importlib").util.find_spec("distributed"),
                                     reason="needs dask[distributed]")


@pytestmark_dask
@pytest.mark.parametrize("line", ["statements", "cards"])
def test_a_scheduler_that_accepts_but_never_answers_is_exit_3_before_any_work(line, extract, tmp_path):
    out = tmp_path / "out"
    with silent_server() as port:
        for scheme in ("tcp", "ws"):
            args = ["--executor", "dask", "--scheduler", f"{scheme}://127.0.0.1:{port}"]
            started = time.monotonic()
            proc = (_build(extract, out, *args, env={"STMTPROD_DASK_TIMEOUT": "2"}, inproc=True) if line == "statements"
                    else _cards(out, *args, env={"STMTPROD_DASK_TIMEOUT": "2"}, inproc=True))
            assert time.monotonic() - started < 45
            _fails_cleanly(proc, errors.EXIT_CONFIG, "--scheduler", "did not answer")
            assert not out.exists()


@pytestmark_dask
@pytest.mark.parametrize("address", ["http://127.0.0.1:8786", "inproc://127.0.0.1/1/1", "ucx://127.0.0.1:8786",
                                     "ws://127.0.0.1:1", "tls://127.0.0.1:1", "tcp://127.0.0.1", "8786"])
def test_every_scheduler_address_is_probed_before_any_work(address, extract, tmp_path):
    out = tmp_path / "out"
    proc = _build(extract, out, "--executor", "dask", "--scheduler", address, env={"STMTPROD_DASK_TIMEOUT": "2"},
                  inproc=True)
    _fails_cleanly(proc, errors.EXIT_CONFIG, "--scheduler")
    assert not out.exists()


@pytestmark_dask
def test_a_silent_scheduler_on_resume_releases_the_lock_and_leaves_the_run_as_it_was(extract, reference, tmp_path):
    out = tmp_path / "out"
    proc = _build(extract, out, env={"STMTPROD_CRASH_AT": "render:batch:2", "STMTPROD_CRASH_SIGNAL": "TERM"})
    assert proc.returncode == errors.EXIT_SIGTERM, proc.stderr
    with silent_server() as port:
        proc = _run("resume", reference["run_id"], "--out", out, "--executor", "dask", "--scheduler",
                    f"tcp://127.0.0.1:{port}", env={"STMTPROD_DASK_TIMEOUT": "2"}, timeout=60)
    _fails_cleanly(proc, errors.EXIT_CONFIG, "did not answer")
    from stmtprod.engine.lock import OutputLock

    with OutputLock(out):  # free again
        pass
    assert _states(out) == {reference["run_id"]: "INTERRUPTED"}
    assert _run("resume", reference["run_id"], "--out", out).returncode == 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytestmark_dask
@pytest.mark.skipif(not shutil.which("openssl"), reason="needs openssl to make a test certificate")
def test_dask_over_tls_as_the_readme_says(extract, reference, tmp_path):
    """A real TLS scheduler and worker, started as the README says; the line renders on them when
    Dask's TLS configuration is given, and is refused before any work when it is not."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "2", "-subj", "/CN=stmtprod-test"], check=True, capture_output=True)
    tls = ["--tls-ca-file", str(cert), "--tls-cert", str(cert), "--tls-key", str(key)]
    port = _free_port()
    address = f"tls://127.0.0.1:{port}"
    dask = str(Path(sys.executable).parent / "dask")
    procs = [subprocess.Popen([dask, "scheduler", "--protocol", "tls", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard", *tls], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        procs.append(subprocess.Popen([dask, "worker", address, "--nworkers", "1", "--nthreads", "1",
                                       "--no-dashboard", *tls], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        args = ["--regions", "NZ", "--executor", "dask", "--scheduler", address]
        refused = _build(extract, tmp_path / "plain", *args, env={"STMTPROD_DASK_TIMEOUT": "5"})
        _fails_cleanly(refused, errors.EXIT_CONFIG, "--scheduler", "TLS")
        assert not (tmp_path / "plain").exists()
        env = {"DASK_DISTRIBUTED__COMM__TLS__CA_FILE": str(cert), "DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT": str(cert),
               "DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY": str(key), "DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION": "True"}
        built = _build(extract, tmp_path / "tls", *args, env=env)
        assert built.returncode == 0, built.stderr
        assert _summary(built)["regions"] == {"NZ": reference["summary"]["regions"]["NZ"]}
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


# -- the README -----------------------------------------------------------------------------------------------

def test_the_readme_exit_code_table_covers_every_code():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("### Exit codes"):]
    table = table[: table.index("\n\n", table.index("| code"))]
    documented = {int(m) for m in re.findall(r"(?m)^\| (\d+) \|", table)}
    defined = {v for k, v in vars(errors).items() if k.startswith("EXIT_")}
    assert documented == defined
