"""The escape-rate campaign: prove, by fault injection over a real run, how often each fault escapes.

One real run is built once (a generated extract, small print files so a trial is cheap); then, for
each fault class and trial, a copy of one of its print files is damaged (`stmtprod.faults`, or one of
the print-file drills) at a page drawn from a seeded generator and verified again by the very code
the line uses (`stmtprod.verify.verify_file`: content and optical read, the print contract, the text
check, the source records). A trial is caught when verification halts. Per class the campaign
reports trials, caught, missed and the one-sided 95% Clopper-Pearson upper bound on the miss rate:
the largest miss rate under which seeing so few misses would still have a 5% chance.

The run report turns these bounds into a bound on the pieces that could have left wrong: for each
class, the run's own count of exposed sheets times the class's miss-rate bound (see the README).
"""
from __future__ import annotations

import json
import math
import random
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from stmtprod import drills, faults
from stmtprod.catalog import load_catalog
from stmtprod.layout import load_layouts
from stmtprod.engine.runstate import load_run
from stmtprod.verify import PrintFile, contract, run_print_files, verify_file

CONFIDENCE = 0.95
BATCH_SIZE = 10  # small print files: a trial re-verifies one whole file
DRILL_CLASSES = {f"drill-{name}": name for name in ("wrong-region", "sheets-swapped", "sheet-missing",
                                                     "piece-duplicated", "corrupted-payload", "foreign-sheet")}
CLASSES = [*faults.CLASSES, *DRILL_CLASSES]


def binomial_cdf(x: int, n: int, p: float) -> float:
    """P(X <= x) for X ~ Binomial(n, p), summed exactly in log space (fine for x much smaller than n)."""
    if p <= 0:
        return 1.0
    if p >= 1:
        return 1.0 if x >= n else 0.0
    log_p, log_q = math.log(p), math.log1p(-p)
    total = 0.0
    for k in range(0, x + 1):
        log_term = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * log_p + (n - k) * log_q
        total += math.exp(log_term)
    return min(1.0, total)


def upper_bound(missed: int, trials: int, confidence: float = CONFIDENCE) -> float:
    """One-sided Clopper-Pearson upper confidence bound on a rate after `missed` of `trials`: the p at
    which P(X <= missed) = 1 - confidence, found by bisection (the CDF falls as p grows). It equals the
    Beta(confidence; missed + 1, trials - missed) quantile; for 0 misses, 1 - (1 - confidence)^(1/trials)."""
    if trials <= 0:
        return 1.0
    if missed >= trials:
        return 1.0
    alpha = 1 - confidence
    low, high = 0.0, 1.0
    for _ in range(200):
        mid = (low + high) / 2
        if binomial_cdf(missed, trials, mid) > alpha:
            low = mid
        else:
            high = mid
        if high - low < 1e-12:
            break
    return high


@dataclass
class ClassResult:
    """One fault class's trials."""

    name: str
    trials: int = 0
    caught: int = 0
    missed: int = 0
    misses: list | None = None

    def as_dict(self) -> dict:
        return {"class": self.name, "trials": self.trials, "caught": self.caught, "missed": self.missed,
                "miss_rate_upper_95": upper_bound(self.missed, self.trials), "misses": (self.misses or [])[:10]}


class Bench:
    """A released run whose print files are copied, damaged and verified again, one trial at a time."""

    def __init__(self, run_dir: Path):
        run = load_run(run_dir)
        self.run_id = run["run_id"]
        self.layouts = load_layouts(Path(run["layouts_dir"]))
        self.catalog, _ = load_catalog(Path(run["catalog_file"]))
        _folder, self.files = run_print_files(run_dir)
        self.accepted = run_dir / "work" / "accepted"
        self.pages = {f.batch: sum(json.loads(x)["sheets"] for x in f.manifest.read_text(encoding="utf-8").splitlines())
                      for f in self.files}
        # Files of one sheet are left out: swapping, dropping or duplicating sheets needs two.
        self.damageable = [f for f in self.files if self.pages[f.batch] > 1]

    def trial(self, kind: str, rng: random.Random, scratch: Path) -> tuple[bool, dict]:
        """Damage a copy of one print file with a fault of class `kind` and verify it; (caught, detail)."""
        f = rng.choice(self.damageable)
        page = rng.randrange(self.pages[f.batch])
        copy = scratch / f.pdf.name
        shutil.copyfile(f.pdf, copy)
        layout = self.layouts[f.region]
        if kind in DRILL_CLASSES:
            drills.damage_print_file(DRILL_CLASSES[kind], copy, f.manifest, layout)
            note = DRILL_CLASSES[kind]
        else:
            note = faults.apply(kind, copy, page, rng)
        verdict = verify_file(PrintFile(f.batch, f.region, copy, f.manifest), contract(layout), self.run_id,
                              self.catalog, self.accepted, layout=layout)
        detail = {"file": f.pdf.name, "page": page + 1, "fault": note}
        if verdict.halt:
            detail["halt"] = {k: verdict.halt.get(k) for k in ("reason", "page", "field")}
        return verdict.halt is not None, detail


def build_bench(folder: Path, accounts: int, seed: int) -> Path:
    """A released run of a generated extract, in small print files, to damage; returns its run folder."""
    from stmtprod.config import BuildOptions
    from stmtprod.generate import write_extract
    from stmtprod.statements.line import build

    extract = folder / "campaign.jsonl"
    write_extract(extract, accounts, seed=seed)
    summary = build(BuildOptions(input=extract, out=folder / "out", batch_size=BATCH_SIZE, workers=1))
    if summary["state"] != "RELEASED":
        raise RuntimeError(f"the campaign's clean run did not release: {summary.get('halt')}")
    return Path(summary["run_dir"])


def _run_class(kind: str, trials: int, seed: int, run_dir: Path, progress=None) -> dict:
    """All trials of one class against the run (in this process or a worker)."""
    bench = Bench(run_dir)
    result = ClassResult(kind, misses=[])
    with tempfile.TemporaryDirectory(prefix="stmtprod-trial-") as scratch:
        for i in range(trials):
            caught, detail = bench.trial(kind, random.Random(f"{seed}:{kind}:{i}"), Path(scratch))
            result.trials += 1
            if caught:
                result.caught += 1
            else:
                result.missed += 1
                result.misses.append(detail)
            if progress:
                progress(kind, i + 1, trials)
    return result.as_dict()


def run_campaign(trials: int, seed: int, classes: list[str] | None = None, run_dir: Path | None = None,
                 accounts: int = 120, progress=None, workers: int = 1) -> dict:
    """Run `trials` trials of each class (all by default) against a real run (built here unless
    `run_dir` is given), classes spread over `workers` processes; returns per class trials, caught,
    missed and the 95% upper bound. The same seed draws the same faults."""
    chosen = classes or CLASSES
    unknown = sorted(set(chosen) - set(CLASSES))
    if unknown:
        from stmtprod.errors import UsageError

        raise UsageError(f"unknown fault classes {unknown}; known: {', '.join(CLASSES)}")
    with tempfile.TemporaryDirectory(prefix="stmtprod-campaign-") as tmp:
        run = run_dir if run_dir is not None else build_bench(Path(tmp), accounts, seed)
        run_id = load_run(run)["run_id"]
        if workers > 1 and len(chosen) > 1:
            from stmtprod.engine.workers import pool as worker_pool

            with worker_pool(min(workers, len(chosen))) as pool:
                results = list(pool.map(_run_class, chosen, [trials] * len(chosen), [seed] * len(chosen),
                                        [run] * len(chosen)))
        else:
            results = [_run_class(kind, trials, seed, run, progress) for kind in chosen]
    return {"seed": seed, "trials_per_class": trials, "confidence": CONFIDENCE, "run_id": run_id,
            "classes": results}
