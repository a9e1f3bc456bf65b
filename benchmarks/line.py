"""Benchmark of the whole statement line against a bare ReportLab ceiling, measured side by side.

    python benchmarks/line.py [--accounts 10000] [--workers 2] [--seed 7] [--out DIR] [--keep]

1. Generates N accounts with `stmtprod samples` (not timed as part of the line).
2. Runs `python -m stmtprod build ... --json` as a subprocess: wall time, CPU time of the process
   tree, and (with psutil) its RSS sampled every 50 ms: the parent's peak and the largest single
   worker's peak, overall and per step (steps located by the line's log lines and timings).
3. Reads the per-step `timings` from the run summary.
4. The ceiling, in the same run: bare ReportLab canvas code in `--workers` processes drawing the same
   number of A4 pages with about a statement page's content (60 strings in embedded DejaVu Sans, one
   barcode path of 70 bars), invariant=1, pageCompression=1, one PDF per batch-sized chunk of pages.
5. Prints one table, the ratios against the targets of issue #8, and PASS/FAIL per target. It also
   says how much CPU other processes took meanwhile (a busy machine skews every figure) and gives
   the line/ceiling ratio in sheets per CPU-second, which such load disturbs much less.

6. The CPU probe: after the line, in this one process, renders some of the run's batches again and
   verifies their print files as the line does, alternately, timing each with the process's CPU
   clock: render, the whole verification, the barcode read-back alone and the 100% text check, per
   sheet. Ratios of CPU times measured side by side in one process hardly move when other work
   shares the machine, unlike the line's wall times. Then the read-back's floor on the same files:
   the libraries' and the compiled scan's own parts, each timed alone (`readback_floor`).
7. The CPU budget that 0.8 of the ceiling leaves the line on its cores, beside what it spent.

`--json-out FILE` saves the results; `--rss-baseline FILE` (the saved results of another size)
checks that the peak memory is flat (within 20%). See benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import multiprocessing
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

try:
    import psutil
except ImportError:  # peak RSS then comes from getrusage: the largest process only
    psutil = None

ROOT = Path(__file__).resolve().parent.parent
STEPS = ("ingest", "plan", "render", "verify", "challenges", "inserter", "mailing", "stage1", "stage2", "stage3",
         "stage4", "release")
STAGE_NAMES = {"stage1": "stage1 composition", "stage2": "stage2 print", "stage3": "stage3 insertion",
               "stage4": "stage4 dispatch"}
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
NIGHT_BUDGET_S = 4 * 3600  # "well inside a night": half of an 8-hour night window
TARGET_CEILING_RATIO = 0.8
TARGET_STEP_SHARE = 0.10
TARGET_TEXT_SHARE = 0.25
TARGET_RSS_FLAT = 0.20
OTHERS_WARN_CORES = 0.2
STAGE_TARGET_ACCOUNTS = 100_000  # the inspection stages' samples are a tenth of a lot at 10,000 accounts


class CpuMeter:
    """How much CPU others took while we measured: machine busy time minus ours, in cores on average.

    Ours is this process and every descendant it has waited for (getrusage counts grandchildren too).
    Linux only (/proc/stat); None elsewhere.
    """

    def start(self) -> "CpuMeter":
        self.t0, self.busy0, self.own0 = time.perf_counter(), _machine_busy(), _own_cpu()
        return self

    def stop(self) -> dict:
        """`cpu`: CPU seconds we used; `others`: cores others used on average (None if unknown)."""
        busy, own = _machine_busy(), _own_cpu() - self.own0
        wall = time.perf_counter() - self.t0
        others = None
        if busy is not None and self.busy0 is not None and wall:
            others = max(0.0, (busy - self.busy0) - own) / wall
        return {"cpu": own, "others": others}


def _machine_busy() -> float | None:
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


# -- the line ---------------------------------------------------------------------------------------

class TreeSampler(threading.Thread):
    """Polls a process and its descendants every `interval` s; keeps the parent's and the largest child's peak
    RSS, and the CPU seconds the parent and its descendants have used so far (a descendant's last reading
    is kept after it ends, so what a worker used in its last `interval` before ending is not counted)."""

    def __init__(self, pid: int, interval: float = 0.05):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.parent_peak = self.child_peak = self.tree_peak = 0
        self.children_seen: set[int] = set()
        # (time.time(), parent RSS, largest child RSS, parent CPU-s, descendants' CPU-s)
        self.samples: list[tuple[float, int, int, float, float]] = []
        self._child_cpu: dict[int, float] = {}
        self._done = threading.Event()

    def run(self) -> None:
        try:
            proc = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self._done.is_set():
            try:
                parent = proc.memory_info().rss
                times = proc.cpu_times()
            except psutil.Error:
                return
            tree, largest = parent, 0
            try:
                children = proc.children(recursive=True)
            except psutil.Error:  # a worker ended while the tree was being walked: sample again
                self._done.wait(self.interval)
                continue
            for child in children:
                try:
                    rss = child.memory_info().rss
                    used = child.cpu_times()
                except psutil.Error:
                    continue
                self.children_seen.add(child.pid)
                self._child_cpu[child.pid] = used.user + used.system
                largest = max(largest, rss)
                tree += rss
            self.samples.append((time.time(), parent, largest, times.user + times.system,
                                 sum(self._child_cpu.values())))
            self.child_peak = max(self.child_peak, largest)
            self.parent_peak = max(self.parent_peak, parent)
            self.tree_peak = max(self.tree_peak, tree)
            self._done.wait(self.interval)

    def stop(self) -> None:
        self._done.set()
        self.join()


# Where each step starts: the line's log line, else the previous step's start plus its duration.
_STEP_LOG = {"ingest": "ingest |", "plan": "plan |", "render": "render: ", "verify": "verify |",
             "challenges": "challenges |", "inserter": "inserter |", "stage1": "inspection: stage 1 ",
             "stage2": "inspection: stage 2 ", "stage3": "inspection: stage 3 ", "stage4": "inspection: stage 4 ",
             "release": "release |"}
_LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \S+ (.*)$")


def step_peaks(samples: list[tuple[float, int, int, float, float]], log: Path, timings: dict,
               launched: float) -> dict:
    """Per step, from the sampled timeline: peak RSS of the parent and of the largest child, and the CPU
    seconds the parent and the workers used during it."""
    marks: dict[str, float] = {}
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        m = _LOG_LINE.match(line)
        if not m:
            continue
        for step, text in _STEP_LOG.items():
            if step not in marks and m.group(2).startswith(text):
                marks[step] = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
    starts, previous = [], None
    for step in STEPS:
        if step not in timings:
            continue
        start = marks.get(step)
        if start is None:
            start = previous[1] + timings[previous[0]] if previous else launched
        starts.append((step, start))
        previous = (step, start)
    peaks = {}
    for i, (step, start) in enumerate(starts):
        end = starts[i + 1][1] if i + 1 < len(starts) else float("inf")
        inside = [x for x in samples if start <= x[0] < end]
        if inside:
            before = [x for x in samples if x[0] < start]
            first = before[-1] if before else (0.0, 0, 0, 0.0, 0.0)
            peaks[step] = {"parent": max(x[1] for x in inside), "worker": max(x[2] for x in inside),
                           "parent_cpu": inside[-1][3] - first[3], "worker_cpu": inside[-1][4] - first[4]}
    return peaks


def generate(accounts: int, seed: int, path: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "stmtprod", "samples", "--accounts", str(accounts), "--seed", str(seed),
                    "--out", str(path)], check=True, cwd=ROOT)
    return time.perf_counter() - started


def run_line(extract: Path, out: Path, workers: int, extra: list[str]) -> dict:
    """Run the line as the nightly job does; returns its summary, wall time and peak memory."""
    log = out.parent / "build.log"
    command = [sys.executable, "-m", "stmtprod", "build", "--input", str(extract), "--out", str(out),
               "--workers", str(workers), "--json", *extra]
    meter = CpuMeter().start()
    started, launched = time.perf_counter(), time.time()
    with open(log, "wb") as err:
        proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=err)
        sampler = TreeSampler(proc.pid) if psutil else None
        if sampler:
            sampler.start()
        stdout, _ = proc.communicate()
        wall = time.perf_counter() - started
        if sampler:
            sampler.stop()
    lines = stdout.decode("utf-8").strip().splitlines()
    if not lines:
        sys.exit(f"stmtprod build printed nothing (exit {proc.returncode}); see {log}")
    summary = json.loads(lines[-1])
    if "error" in summary:
        sys.exit(f"stmtprod build failed (exit {proc.returncode}): {summary['error']}")
    if sampler:
        memory = {"parent": sampler.parent_peak, "worker": sampler.child_peak, "tree": sampler.tree_peak,
                  "processes": len(sampler.children_seen), "source": "psutil, 50 ms"}
    else:  # Linux reports ru_maxrss in KiB: the largest single descendant, parent included
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
        memory = {"parent": None, "worker": None, "tree": None, "largest": peak, "source": "getrusage"}
    used = meter.stop()
    if sampler:
        memory["steps"] = step_peaks(sampler.samples, log, summary.get("timings", {}), launched)
    return {"summary": summary, "wall": wall, "exit_code": proc.returncode, "memory": memory, "log": str(log),
            "others": used["others"], "cpu": used["cpu"]}


# -- the ceiling ------------------------------------------------------------------------------------

def _ceiling_chunk(task: tuple[int, int, str]) -> int:
    """Draw `pages` statement-like A4 pages into one PDF with nothing around ReportLab; returns its size."""
    first, pages, path = task
    from reportlab import rl_config
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen.canvas import Canvas

    if "BenchSans" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("BenchSans", str(FONT)))
    width, height = A4
    rl_config.useA85 = 0  # the line's stream settings: Flate without ASCII85
    c = Canvas(path, pagesize=A4, invariant=1, pageCompression=1)
    for page in range(first, first + pages):
        # header, address, summary: 24 strings of mixed sizes
        c.setFont("BenchSans", 14)
        c.drawString(15 * mm, height - 18 * mm, "Southern Cross Card Services")
        c.setFont("BenchSans", 8)
        for i in range(11):
            c.drawString(15 * mm, height - (24 + 3.4 * i) * mm, f"Account {page:08d}-{i} Street {i * 7 + page % 97}")
            c.drawRightString(width - 15 * mm, height - (24 + 3.4 * i) * mm, f"{(page * 31 + i) % 100000:,}.{i:02d}")
        c.setFont("BenchSans", 9.5)
        c.drawString(20 * mm, height - 60 * mm, f"MS CUSTOMER {page} SURNAME")
        c.drawRightString(width - 15 * mm, height - 135 * mm, f"AUD {page % 9999:,}.{page % 100:02d}")
        # transaction table: 12 rows of date, description, amount
        c.setFont("BenchSans", 8.5)
        for row in range(12):
            y = height - (158 + 5 * row) * mm
            c.drawString(15 * mm, y, f"{row + 1:02d}/11/2026")
            c.drawString(47 * mm, y, f"PURCHASE MERCHANT {(page * 13 + row) % 997} SYDNEY")
            c.drawRightString(width - 15 * mm, y, f"{(page + row * 17) % 5000:,}.{row:02d}")
        c.line(15 * mm, height - 150 * mm, width - 15 * mm, height - 150 * mm)
        # barcode-like path: 70 bars
        bars = c.beginPath()
        x = 15 * mm
        for bar in range(70):
            w = (1 + (page + bar) % 3) * 0.33 * mm
            bars.rect(x, 8 * mm, w, 10 * mm)
            x += w + 0.33 * mm * (1 + bar % 2)
        c.drawPath(bars, stroke=0, fill=1)
        c.setFont("BenchSans", 8)
        c.drawRightString(width - 15 * mm, 14 * mm, f"Page 1 of 1  {page}")
        c.showPage()
    c.save()
    return os.path.getsize(path)


def run_ceiling(sheets: int, per_pdf: int, workers: int, folder: Path) -> dict:
    """The same pages as PDFs of about `per_pdf` pages, as many per process (the ceiling has no stragglers)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = max(1, math.ceil(sheets / per_pdf))
    files = math.ceil(files / workers) * workers
    tasks, first = [], 0
    for n in range(files):
        pages = sheets // files + (1 if n < sheets % files else 0)
        tasks.append((first, pages, str(folder / f"ceiling-{n:04d}.pdf")))
        first += pages
    tasks = [t for t in tasks if t[1]]
    per_pdf = max(t[1] for t in tasks) if tasks else 0
    meter = CpuMeter().start()
    started = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        sizes = pool.map(_ceiling_chunk, tasks, chunksize=1)
    wall = time.perf_counter() - started
    used = meter.stop()
    return {"others": used["others"], "cpu": used["cpu"], "sheets": sheets, "files": len(tasks),
            "pages_per_pdf": per_pdf, "wall": wall,
            "sheets_per_s": sheets / wall if wall else 0.0, "bytes_per_sheet": sum(sizes) / sheets if sheets else 0}


# -- the CPU probe ----------------------------------------------------------------------------------

def cpu_probe(summary: dict, batches: int) -> dict | None:
    """Render up to `batches` of the run's batches again (one per region first) and verify their print
    files, alternately, in this process: CPU ms a sheet of render, verification, its barcode read-back
    (content and optical reads, the text decoding left out) and its text check (decoding the text and
    checking it). None when the run left nothing to probe."""
    from stmtprod import verify
    from stmtprod.engine.runstate import load_run
    from stmtprod.catalog import load_catalog
    from stmtprod.layout import load_layouts
    from stmtprod.render.batch import BatchJob, render_pdf

    run_dir = Path(summary["run_dir"])
    run = load_run(run_dir)
    try:
        _folder, files = verify.run_print_files(run_dir)
    except Exception:  # nothing rendered, or a run that halted before its files: no probe
        return None
    firsts = {}
    for f in files:
        firsts.setdefault(f.region, f)
    chosen = (list(firsts.values()) + [f for f in files if f not in firsts.values()])[:batches]
    layouts = load_layouts(Path(run["layouts_dir"]))
    catalog, _version = load_catalog(Path(run["catalog_file"]))
    accepted = run_dir / "work" / "accepted"
    render_pdf(BatchJob(chosen[0].batch, chosen[0].region, run["run_id"],
                        str(run_dir / "work" / "batches" / f"{chosen[0].batch}.jsonl"), run["layouts_dir"],
                        run["catalog_file"], "", ""))  # fonts and layouts loaded outside the timing
    cpu = {"render": 0.0, "verify": 0.0, "readback": 0.0, "text": 0.0}
    sheets = 0
    for f in chosen:
        job = BatchJob(f.batch, f.region, run["run_id"], str(run_dir / "work" / "batches" / f"{f.batch}.jsonl"),
                       run["layouts_dir"], run["catalog_file"], "", "")
        started = time.process_time()
        _pdf, rows = render_pdf(job)
        cpu["render"] += time.process_time() - started
        terms = verify.contract(layouts[f.region])
        started = time.process_time()
        verdict = verify.verify_file(f, terms, run["run_id"], catalog, accepted, layout=layouts[f.region])
        cpu["verify"] += time.process_time() - started
        if verdict.halt:
            return {"error": f"{f.batch}: {verdict.halt.get('reason')}"}
        cpu["text"] += verdict.text_seconds
        started = time.process_time()
        readback = verify.read_file(str(f.pdf), terms, verdict.sheets)
        cpu["readback"] += time.process_time() - started - readback.text_seconds  # the text decoding is the text check's
        sheets += verdict.sheets
    per_sheet = {k: v / sheets * 1000 for k, v in cpu.items()}
    floor = readback_floor(chosen, layouts)
    return {"batches": [f.batch for f in chosen], "sheets": sheets, "cpu_seconds": cpu, "ms_per_sheet": per_sheet,
            "floor_ms_per_sheet": floor}


def _best(function, times: int = 3) -> float:
    """The least CPU seconds of `times` calls: the part's own cost, as little disturbed as can be."""
    spent = []
    for _ in range(times):
        started = time.process_time()
        function()
        spent.append(time.process_time() - started)
    return min(spent)


def readback_floor(files: list, layouts) -> dict[str, float]:
    """The read-back's floor on these print files, CPU ms a sheet: each part that every read of every
    sheet needs, timed alone over the same pages, with no Python around it but one loop: qpdf opening
    the file and handing over each page's content stream, ISA-L inflating them, the compiled scan (its
    text decoding and proof left out, as the probe's read-back leaves it out), zxing-cpp decoding each
    row of bars, and pdfium's optical read of the first and last page. What the read-back spends
    beyond their sum is the Python that joins them; its share of render cannot go below this sum's."""
    import pikepdf
    from isal import isal_zlib
    from stmtprod import verify
    from stmtprod.barcode import _scan, content
    from stmtprod.barcode.reader import read_sheets

    spent = dict.fromkeys(("qpdf", "inflate", "scan", "zxing", "pdfium"), 0.0)
    sheets = 0
    for f in files:
        terms = verify.contract(layouts[f.region])
        scan_terms = content.scan_terms(terms)
        with pikepdf.open(f.pdf) as pdf:
            pages = list(pdf.pages)
            raws = [page.obj.Contents.read_raw_bytes() for page in pages]
            fonts, frames = content._Fonts(), content._Frames(terms)
            inputs = [(isal_zlib.decompress(raw), fonts.of_page(page.obj.get("/Resources")), frames.judge(page.obj)[2])
                      for raw, page in zip(raws, pages)]
        spent["qpdf"] += _best(lambda: [p.obj.Contents.read_raw_bytes() for p in pikepdf.open(f.pdf).pages])
        spent["inflate"] += _best(lambda: [isal_zlib.decompress(raw) for raw in raws])
        scan = _best(lambda: [_scan.page(data, scan_terms, fonts_, False, media) for data, fonts_, media in inputs])
        timed = [_scan.page(data, scan_terms, fonts_, True, media) for data, fonts_, media in inputs]
        timed_s = _best(lambda: [_scan.page(data, scan_terms, fonts_, True, media) for data, fonts_, media in inputs])
        text_share = sum(r[4] for r in timed) / timed_s if timed_s else 0.0
        spent["scan"] += scan * max(0.0, 1.0 - text_share)
        rows = [r[2] for r in timed if r[2] is not None]
        spent["zxing"] += _best(lambda: [content._decode(row) for row in rows])
        spent["pdfium"] += _best(lambda: read_sheets(str(f.pdf), [0, len(pages) - 1], terms))
        sheets += len(pages)
    per_sheet = {k: v / sheets * 1000 for k, v in spent.items()}
    per_sheet["sum"] = sum(per_sheet.values())
    return per_sheet


def _count_staged(summary: dict) -> None:
    """A run that did not release reports no sheets: count what it rendered into staging instead."""
    staging = Path(summary["run_dir"]) / "staging"
    pieces = sheets = 0
    for manifest in sorted((staging / "manifest").glob("*.jsonl")):
        for row in manifest.read_text(encoding="utf-8").splitlines():
            pieces, sheets = pieces + 1, sheets + json.loads(row)["sheets"]
    summary["counts"].update(produced=pieces, sheets=sheets)
    summary["print_files"] = [str(p) for p in sorted((staging / "print").glob("*.pdf"))]
    print(f"warning: the run ended {summary['state']}; counting the {pieces:,} pieces it rendered into staging",
          file=sys.stderr)


# -- report -----------------------------------------------------------------------------------------

def _rate(n: int, seconds: float | None) -> str:
    return f"{n / seconds:,.0f}" if seconds and seconds >= 0.01 else "-"


def _cpu(seconds: float | None) -> str:
    return f"{seconds:,.1f}" if seconds is not None else "-"


def _mib(n: int | None) -> str:
    return f"{n / 2**20:,.0f} MiB" if n else "-"


def report(args, line: dict, ceiling: dict, generated_s: float, baseline: dict | None,
           probe: dict | None = None) -> dict:
    s = line["summary"]
    t = s.get("timings", {})
    pieces, sheets = s["counts"]["produced"], s["counts"]["sheets"]
    render = t.get("render") or 0.0
    print_bytes = sum(os.path.getsize(p) for p in s.get("print_files", []) if os.path.exists(p))
    print()
    print(f"stmtprod line benchmark: {s['counts']['input']:,} accounts -> {pieces:,} statements, {sheets:,} sheets "
          f"in {len(s.get('print_files', []))} print files; --workers {args.workers}; run {s['run_id']} {s['state']}")
    print(f"(extract generated in {generated_s:.1f} s, not counted)")
    print()
    steps_rss = line["memory"].get("steps", {})
    header = (f"{'step':<22}{'seconds':>10}{'statements/s':>15}{'sheets/s':>12}{'of render':>11}"
              f"{'parent RSS':>12}{'worker RSS':>12}{'CPU-s parent':>14}{'workers':>9}")
    print(header)
    print("-" * len(header))
    for step in STEPS:
        if step not in t:
            continue
        share = f"{t[step] / render:.1%}" if render and step != "render" else ""
        rss = steps_rss.get(step, {})
        print(f"{STAGE_NAMES.get(step, step):<22}{t[step]:>10.2f}{_rate(pieces, t[step]):>15}"
              f"{_rate(sheets, t[step]):>12}{share:>11}{_mib(rss.get('parent')):>12}{_mib(rss.get('worker')):>12}"
              f"{_cpu(rss.get('parent_cpu')):>14}{_cpu(rss.get('worker_cpu')):>9}")
    if "verify_text" in t:  # part of verify, not a step of its own: CPU seconds over the processes sharing them
        share = f"{t['verify_text'] / render:.1%}" if render else ""
        print(f"{'  of which text check':<22}{t['verify_text']:>10.2f}{_rate(pieces, t['verify_text']):>15}"
              f"{_rate(sheets, t['verify_text']):>12}{share:>11}")
    print("-" * len(header))
    if "total" in t:
        print(f"{'line (in process)':<22}{t['total']:>10.2f}{_rate(pieces, t['total']):>15}"
              f"{_rate(sheets, t['total']):>12}")
    print(f"{'line (wall, process)':<22}{line['wall']:>10.2f}{_rate(pieces, line['wall']):>15}"
          f"{_rate(sheets, line['wall']):>12}")
    print(f"{'ceiling (bare RL)':<22}{ceiling['wall']:>10.2f}{'':>15}{ceiling['sheets_per_s']:>12,.0f}")
    print()
    if any("parent_cpu" in v for v in steps_rss.values()):
        print("CPU-s: CPU seconds used during the step by the line's process and by its worker processes (stages 1 "
              "and 2 run in the workers during the inserter and mailing steps); sampled every 50 ms")
    m = line["memory"]
    if m["source"] == "getrusage":
        print(f"peak RSS: largest process {_mib(m['largest'])} (install psutil to separate parent and workers)")
    else:
        print(f"peak RSS: parent {_mib(m['parent'])}, largest worker {_mib(m['worker'])}, "
              f"whole tree {_mib(m['tree'])} ({m['processes']} child processes seen; {m['source']})")
    cores = os.cpu_count() or 1
    if line["others"] is not None and ceiling["others"] is not None:
        print(f"other processes on this machine (and hypervisor steal) used on average {line['others']:.2f} cores "
              f"during the line, {ceiling['others']:.2f} during the ceiling (of {cores})")
        if max(line["others"], ceiling["others"]) > OTHERS_WARN_CORES:
            print("warning: the machine was not quiet; other work skews the figures and the ratio: measure again")
    print(f"bytes per sheet: line {print_bytes / sheets:,.0f}" if sheets else "bytes per sheet: -", end="")
    print(f", ceiling {ceiling['bytes_per_sheet']:,.0f} "
          f"({ceiling['files']} PDFs of up to {ceiling['pages_per_pdf']:,} pages)")
    print()

    checks = []
    line_rate = sheets / line["wall"] if line["wall"] else 0.0
    ratio = line_rate / ceiling["sheets_per_s"] if ceiling["sheets_per_s"] else 0.0
    checks.append((f"line / ceiling sheets/s = {line_rate:,.0f} / {ceiling['sheets_per_s']:,.0f} = {ratio:.2f} "
                   f"(target >= {TARGET_CEILING_RATIO})", ratio >= TARGET_CEILING_RATIO))
    if "render" in t and sheets:
        render_ratio = sheets / render / ceiling["sheets_per_s"]
        print(f"render step alone / ceiling sheets/s = {render_ratio:.2f}")
    if line.get("cpu") and ceiling.get("cpu") and sheets:
        line_eff, ceiling_eff = sheets / line["cpu"], sheets / ceiling["cpu"]
        print(f"sheets per CPU-second (less sensitive to other load): line {line_eff:,.0f} "
              f"({line['cpu']:,.0f} CPU-s), ceiling {ceiling_eff:,.0f} ({ceiling['cpu']:,.0f} CPU-s): "
              f"ratio {line_eff / ceiling_eff:.2f}")
    if line.get("cpu") and ceiling["sheets_per_s"] and sheets and steps_rss:
        # What 0.8 leaves the line: its wall at 0.8 of the ceiling's rate, on every core it may use.
        cores = min(args.workers, os.cpu_count() or 1)
        wall_budget = sheets / (ceiling["sheets_per_s"] * TARGET_CEILING_RATIO)
        used = {step: v.get("parent_cpu", 0.0) + v.get("worker_cpu", 0.0) for step, v in steps_rss.items()}
        drawn = used.get("render", 0.0) + used.get("verify", 0.0)
        print(f"CPU budget at {TARGET_CEILING_RATIO} of the ceiling: the line within {wall_budget:.1f} s, at most "
              f"{wall_budget * cores:,.1f} CPU-s on {cores} cores kept busy throughout; it used {line['cpu']:,.1f}: "
              f"render and verify {drawn:,.1f}, ingest {used.get('ingest', 0.0):,.1f}, start-up and the other steps "
              f"{line['cpu'] - drawn - used.get('ingest', 0.0):,.1f}")
    accounts = s["counts"]["input"]
    if "verify" in t and render:
        # Since read-ahead a batch's verification is queued in the render workers as soon as the batch
        # is rendered and starts while the last batches render: the verify step's wall is only what is
        # left after the last render, so the target is judged on CPU by the probe below.
        print(f"verify step after the last render / render (wall) = {t['verify'] / render:.1%} "
              "(verification starts during render: judged by CPU in the probe)")
    for step in ("stage1", "stage2", "stage3", "stage4"):
        if step in t and render:
            share = t[step] / render
            judged = accounts >= STAGE_TARGET_ACCOUNTS
            checks.append((f"{STAGE_NAMES.get(step, step)} / render (wall) = {share:.1%} (target < {TARGET_STEP_SHARE:.0%}"
                           + ("" if judged else f" at {STAGE_TARGET_ACCOUNTS:,} accounts: not judged at {accounts:,}")
                           + ")", (share < TARGET_STEP_SHARE) if judged else None))
        else:
            checks.append((f"{STAGE_NAMES.get(step, step)}: not measured (step missing from timings)", False))
    if probe and "ms_per_sheet" in probe:
        ms = probe["ms_per_sheet"]
        print(f"CPU probe ({probe['sheets']:,} sheets of {', '.join(probe['batches'])}, rendered and verified again "
              f"in one process): render {ms['render']:.3f} ms a sheet; verification {ms['verify']:.3f} "
              f"({ms['verify'] / ms['render']:.0%}), of which barcode read-back {ms['readback']:.3f} "
              f"({ms['readback'] / ms['render']:.0%}) and 100% text check {ms['text']:.3f} "
              f"({ms['text'] / ms['render']:.0%})")
        floor = probe.get("floor_ms_per_sheet")
        if floor:
            print(f"read-back floor (each part alone, no Python around it): qpdf {floor['qpdf']:.3f} + ISA-L inflate "
                  f"{floor['inflate']:.3f} + scan {floor['scan']:.3f} + zxing-cpp {floor['zxing']:.3f} + pdfium's first "
                  f"and last page {floor['pdfium']:.3f} = {floor['sum']:.3f} ms a sheet ({floor['sum'] / ms['render']:.0%} "
                  f"of render); the read-back's Python around them {ms['readback'] - floor['sum']:.3f}")
        checks.append((f"barcode verification, whole (read-back and every check) / render (CPU probe) = "
                       f"{ms['verify'] / ms['render']:.1%} (target < {TARGET_STEP_SHARE:.0%})",
                       ms["verify"] / ms["render"] < TARGET_STEP_SHARE))
        checks.append((f"barcode read-back / render (CPU probe) = {ms['readback'] / ms['render']:.1%} "
                       f"(target < {TARGET_STEP_SHARE:.0%})", ms["readback"] / ms["render"] < TARGET_STEP_SHARE))
        checks.append((f"100% text check / render (CPU probe) = {ms['text'] / ms['render']:.1%} "
                       f"(target < {TARGET_TEXT_SHARE:.0%}, issue #16)", ms["text"] / ms["render"] < TARGET_TEXT_SHARE))
    elif probe:
        checks.append((f"CPU probe failed: {probe['error']}", False))
    elif "verify_text" in t and render:
        # verify_text is CPU seconds over the workers, render is wall time: alike only on a quiet machine.
        share = t["verify_text"] / render
        quiet = line["others"] is not None and line["others"] <= OTHERS_WARN_CORES
        checks.append((f"100% text check / render = {share:.1%} (target < {TARGET_TEXT_SHARE:.0%}, issue #16; text CPU "
                       f"{t['verify_text'] * args.workers / max(1, sheets) * 1000:.2f} ms a sheet"
                       + ("" if quiet else "; machine not quiet: text is CPU time, render wall time, not comparable")
                       + ")", (share < TARGET_TEXT_SHARE) if quiet else None))
    per_account = line["wall"] / max(1, s["counts"]["input"])
    night = per_account * 100_000
    label = "measured" if s["counts"]["input"] >= 100_000 else "projected linearly from this run"
    checks.append((f"100,000 accounts end to end: {night / 60:,.1f} min "
                   f"({label}; budget {NIGHT_BUDGET_S / 3600:.0f} h)", night <= NIGHT_BUDGET_S))
    if baseline:
        for key in ("parent", "worker"):
            ours, theirs = m.get(key), baseline["memory"].get(key)
            if ours and theirs:
                drift = ours / theirs - 1
                checks.append((f"peak RSS {key} {_mib(ours)} vs {_mib(theirs)} at {baseline['accounts']:,} accounts: "
                               f"{drift:+.0%} (target within {TARGET_RSS_FLAT:.0%})", abs(drift) <= TARGET_RSS_FLAT))
    else:
        checks.append(("flat peak memory: not checked (give --rss-baseline FILE from a run of another size)", None))
    if s["state"] != "RELEASED":
        checks.append((f"run state {s['state']}: {s.get('halt') or s.get('waiting')}", False))
    print("targets (issues #8, #16, #18):")
    for text, ok in checks:
        print(f"  {'PASS' if ok else ('----' if ok is None else 'FAIL')}  {text}")
    return {"accounts": s["counts"]["input"], "workers": args.workers, "statements": pieces, "sheets": sheets,
            "timings": t, "wall": line["wall"], "memory": m, "ceiling": ceiling, "ratio": ratio,
            "bytes_per_sheet": print_bytes / sheets if sheets else None, "state": s["state"], "probe": probe,
            "checks": [{"check": text, "pass": ok} for text, ok in checks]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=10_000, help="accounts to generate (default 10,000)")
    parser.add_argument("--workers", type=int, default=2, help="line workers and ceiling processes (default 2)")
    parser.add_argument("--seed", type=int, default=7, help="sample generator seed (default 7)")
    parser.add_argument("--out", type=Path, help="working folder (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the extract, the run and the ceiling's PDFs")
    parser.add_argument("--json-out", type=Path, help="also write the results as JSON to this file")
    parser.add_argument("--rss-baseline", type=Path, help="results JSON of another size: check peak RSS is flat")
    parser.add_argument("--build-arg", action="append", default=[],
                        help="extra argument for 'stmtprod build' (repeatable), e.g. --build-arg=--batch-size=500")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target fails")
    parser.add_argument("--probe-batches", type=int, default=7,
                        help="batches the CPU probe renders and verifies again (default 7, one per region; 0: none)")
    args = parser.parse_args(argv)
    if not FONT.is_file():
        parser.error(f"{FONT} is missing (apt-get install fonts-dejavu-core)")
    if args.out:
        folder = args.out.resolve()
        if folder.exists() and any(folder.iterdir()):
            parser.error(f"{folder} is not empty")
        folder.mkdir(parents=True, exist_ok=True)
    else:
        folder = Path(tempfile.mkdtemp(prefix="stmtprod-bench-"))
    baseline = json.loads(args.rss_baseline.read_text()) if args.rss_baseline else None
    try:
        extract = folder / "cycle.jsonl"
        print(f"generating {args.accounts:,} accounts (seed {args.seed}) into {extract} ...", flush=True)
        generated_s = generate(args.accounts, args.seed, extract)
        print(f"running the line with --workers {args.workers} ...", flush=True)
        line = run_line(extract, folder / "out", args.workers, args.build_arg)
        s = line["summary"]
        if s["state"] != "RELEASED":
            _count_staged(s)
        sheets = s["counts"]["sheets"]
        files = len(s.get("print_files", []))
        per_pdf = math.ceil(sheets / files) if files else 1400
        print(f"running the ceiling: {sheets:,} pages in {args.workers} processes ...", flush=True)
        ceiling = run_ceiling(sheets, per_pdf, args.workers, folder / "ceiling")
        probe = None
        if args.probe_batches > 0 and s["state"] == "RELEASED":
            print(f"running the CPU probe on {args.probe_batches} batches ...", flush=True)
            probe = cpu_probe(s, args.probe_batches)
        results = report(args, line, ceiling, generated_s, baseline, probe)
        if args.json_out:
            args.json_out.write_text(json.dumps(results, indent=2))
        failed = any(c["pass"] is False for c in results["checks"])
        return 1 if failed and args.check else 0
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
