"""Ingest alone: seconds and peak memory for an extract with duplicates and rejects.

    python benchmarks/ingest.py [--accounts 100000] [--copies 2] [--bad 100000] [--seed 7]

Generates `--accounts` accounts with `stmtprod samples` (not timed), writes an extract holding every
line `--copies` times (identical duplicates: the worst case for duplicate detection, since every
account id repeats) followed by `--bad` lines that fail validation, and runs ingest on it in a fresh
process (`python -c`), so the peak RSS reported is ingest's own (the child's `getrusage`). Shows the
counts, seconds, records/s and peak RSS; run it at two sizes to see how memory grows per record and
per reject.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_CHILD = """
import resource, sys
from pathlib import Path
from stmtprod.catalog import load_catalog
from stmtprod.config import default_catalog_file, default_layouts_dir
from stmtprod.ingest.reader import ingest
from stmtprod.layout import load_layouts
from stmtprod.regions import REGIONS
folder = Path(sys.argv[2])
catalog, _ = load_catalog(default_catalog_file())
r = ingest(Path(sys.argv[1]), load_layouts(default_layouts_dir()), REGIONS, folder / "accepted",
           folder / "quarantine.jsonl", catalog)
print(r.input, r.accepted_count, r.quarantined, sum(r.suppressed.values()),
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--copies", type=int, default=2)
    parser.add_argument("--bad", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="stmtprod-ingest-") as tmp:
        folder = Path(tmp)
        sample = folder / "sample.jsonl"
        subprocess.run([sys.executable, "-m", "stmtprod", "samples", "--accounts", str(args.accounts),
                        "--seed", str(args.seed), "--out", str(sample)], check=True, stdout=subprocess.DEVNULL)
        extract = folder / "extract.jsonl"
        data = sample.read_bytes()
        with open(extract, "wb") as fh:
            for _ in range(args.copies):
                fh.write(data)
            for i in range(args.bad):
                fh.write(b'{"account_id":"BAD%010d","region":"AU"}\n' % i)
        del data
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", _CHILD, str(extract), str(folder)], check=True,
                              capture_output=True, text=True)
        seconds = time.perf_counter() - started
    lines, accepted, quarantined, suppressed, peak_kib = map(int, done.stdout.split())
    peak_mib = peak_kib / 1024
    print(f"lines {lines:,} = accepted {accepted:,} + quarantined {quarantined:,} + suppressed {suppressed:,}")
    print(f"ingest {seconds:.1f} s, {lines / seconds:,.0f} lines/s, peak RSS {peak_mib:,.0f} MiB")


if __name__ == "__main__":
    main()
