"""Benchmark: `stmtprod reconcile` of one results file for a run of N pieces (seconds, peak memory).

    python benchmarks/reconcile.py --pieces 100000 [--pieces 10000 ...]

The run folder is synthesised (manifest rows, accepted records, ledger pieces) instead of rendered,
so only the inserter loop is measured: the control file is written, then a results file with 1%
DAMAGED and 0.1% missing pieces is reconciled, each in a fresh process whose peak RSS is reported.
Both stream the manifests and the results file, so the peak should not grow with the run: the last
line compares the largest run's peaks with the smallest's (the target is within 20%).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN_ID = "20261120-BENCH1"


def synthesise(out: Path, pieces: int) -> Path:
    from stmtprod.engine.ledger import Ledger

    run_dir = out / RUN_ID
    (run_dir / "release" / "manifest").mkdir(parents=True)
    (run_dir / "work" / "accepted").mkdir(parents=True)
    options = {"catalog_file": str(ROOT / "inserts" / "catalog.toml"), "layouts_dir": str(ROOT / "layouts")}
    (run_dir / "run.json").write_text(json.dumps({"run_id": RUN_ID, "options": options}), "utf-8")
    with open(run_dir / "release" / "manifest" / "AU-0001.jsonl", "w", encoding="utf-8") as m, \
            open(run_dir / "work" / "accepted" / "AU.jsonl", "w", encoding="utf-8") as a:
        for seq in range(1, pieces + 1):
            m.write(json.dumps({"sequence": seq, "region": "AU", "line": seq, "sheets": 2, "hoppers": [1],
                                "inserts": ["WELCOME"], "payloads": ["x", "y"]}) + "\n")
            a.write(json.dumps({"line": seq, "record": {"name": f"Customer {seq}", "address": {
                "lines": ["1 Martin Place"], "city": "Sydney", "state": "NSW", "postcode": "2000"}}}) + "\n")
    ledger = Ledger(out)
    ledger.create_run(RUN_ID, RUN_ID, "bench", "0", "0", "0", options)
    with ledger.transaction() as db:
        db.executemany("INSERT INTO pieces VALUES (?,?,?,?,?,?,?,?)",
                       [(RUN_ID, s, f"A{s}", "AU", "AU-0001", s, 2, "[]") for s in range(1, pieces + 1)])
    ledger.close()
    return run_dir


def results(path: Path, pieces: int) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("run_id,sequence,status,bin,timestamp,note\n")
        for seq in range(1, pieces + 1):
            if seq % 1000 == 7:
                continue
            status = "DAMAGED" if seq % 100 == 3 else "OK"
            fh.write(f"{RUN_ID},{seq},{status},,2026-11-21T02:14:07+11:00,\n")


_WRAP = ("import resource, runpy, sys\n"
         "sys.argv = ['stmtprod'] + sys.argv[1:]\n"
         "code = 0\n"
         "try:\n    runpy.run_module('stmtprod', run_name='__main__')\n"
         "except SystemExit as exc:\n    code = exc.code or 0\n"
         "print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, code, file=sys.stderr)\n")


def measure(args: list[str]) -> tuple[float, float, int]:
    """Seconds, the process's own peak RSS in MB, and its exit code."""
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _WRAP, *args], capture_output=True, text=True)
    seconds = time.perf_counter() - t
    peak, code = proc.stderr.strip().splitlines()[-1].split()[1:]
    return seconds, int(peak) / 1024, int(code)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pieces", type=int, action="append")
    args = parser.parse_args()
    print(f"{'pieces':>8} {'control s':>10} {'peak MB':>8} {'reconcile s':>12} {'peak MB':>8} exit")
    peaks = {}
    for n in sorted(args.pieces or [10000, 100000]):
        with tempfile.TemporaryDirectory() as tmp:
            run_dir = synthesise(Path(tmp), n)
            c_s, c_peak, _ = measure(["inserter", "control", str(run_dir)])
            results(Path(tmp) / "r.csv", n)
            r_s, r_peak, code = measure(["reconcile", str(run_dir), "--results", str(Path(tmp) / "r.csv")])
            peaks[n] = (c_peak, r_peak)
            print(f"{n:>8} {c_s:>10.2f} {c_peak:>8.0f} {r_s:>12.2f} {r_peak:>8.0f} {code}")
    if len(peaks) > 1:
        small, large = peaks[min(peaks)], peaks[max(peaks)]
        print(f"peak growth {min(peaks)} -> {max(peaks)} pieces: control {100 * (large[0] / small[0] - 1):+.0f}%, "
              f"reconcile {100 * (large[1] / small[1] - 1):+.0f}%")


if __name__ == "__main__":
    main()
