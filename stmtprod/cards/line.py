"""The card line end to end: ingest, plan, render, verify, match, inspect, release; resumable.

Organised like the statement line (`stmtprod.pipeline`) and sharing its ledger, lock, halt reports,
run folder shape and summary, so `stmtprod runs`, `show`, `qa` and `proof` see card runs too:

    out/<run_id>/
      run.json, summary.json, quarantine.jsonl, halt.json/halt.txt (when halted)
      inspection/stageK.json      each lot's plan, seed and sample
      work/accepted/<R>.jsonl     sanitized orders (token + last five digits; never a card number)
      work/batches/<R>-NNNN.jsonl the batch files rendering reads
      staging/ -> release/        print/<R>-NNNN.pdf, manifest/<R>-NNNN.jsonl, sealing/sealing.jsonl

Nothing is renamed from `staging/` to `release/` (released for sealing) unless every carrier's
barcode was read back and checked, the personalisation log matched the carriers slot by slot, and
the inspection lots were accepted. A halted run keeps `staging/` and has no `release/`.

The card number is read only by ingest, which tokenises it at once with the keyed HMAC
(`stmtprod.cards.keys`); no file this module writes, nor the ledger, ever holds it.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import time
from pathlib import Path
from typing import Callable

from stmtprod import crashpoints
from stmtprod.batchsteps import read_unverified, record_plan, record_verified, render_unproven
from stmtprod.cards.ingest import CardIngest, ingest_orders, read_spill
from stmtprod.cards.inspection import CardContext, run_card_stages
from stmtprod.cards.keys import CardKey, card_key
from stmtprod.cards.match import Carrier, match, read_log
from stmtprod.cards.plan import plan_carriers
from stmtprod.cards.render import CarrierJob, render_carrier_batch
from stmtprod.cards.texts import CarrierSet, load_carrier_set
from stmtprod.cards.verify import verify_carriers
from stmtprod.catalog import Catalog, load_catalog
from stmtprod.config import PROJECT_ROOT, default_catalog_file, default_inspection_file, default_layouts_dir
from stmtprod.errors import ConfigError, Halt, UsageError
from stmtprod.executors import check_executor
from stmtprod.envfaults import resumable
from stmtprod.fsutil import write_jsonl
from stmtprod.inspect.config import load_inspection
from stmtprod.inserting.control import write_control_files
from stmtprod.inspect.pulled import note_pulled, write_pulled
from stmtprod.inspect.stages import AwaitingInspection
from stmtprod.layout import LayoutSet, load_layouts
from stmtprod.ledger import Ledger
from stmtprod.lock import OutputLock
from stmtprod.plan import BatchRef
from stmtprod.regions import REGIONS
from stmtprod.render.fonts import check_fonts
from stmtprod.report import write_report
from stmtprod.runfolder import (check_input_file, check_not_empty, check_reject_share, check_run_id, choose_run_id,
                                clear_stale_ingests, ingest_into, mirror, note_halt, note_waiting, open_ledger,
                                place_new_run, prepare_out, refuse_empty, release_staging, reopen_staging,
                                replace_ingest, run_id_tag, run_summary, write_summary)
from stmtprod.verify import check_versions, load_run, read_all, run_print_files

Events = Callable[..., None]
LINE = "cards"
_INGEST_PREFIX = ".cards-ingest-"


def default_cards_dir() -> Path:
    import os

    return Path(os.environ.get("STMTPROD_CARD_LAYOUTS", PROJECT_ROOT / "layouts" / "cards"))


def _quiet(_event: str, **_data: object) -> None:
    """Default event sink: the library itself never prints."""


@dataclasses.dataclass(frozen=True)
class CardOptions:
    orders: Path
    personalisation: Path
    out: Path
    batch_size: int = 1000
    workers: int = 1
    production_date: dt.date = dataclasses.field(default_factory=lambda: dt.datetime.now(dt.timezone.utc).date())
    reject_threshold: float = 0.05
    layouts_dir: Path = dataclasses.field(default_factory=default_layouts_dir)
    cards_dir: Path = dataclasses.field(default_factory=default_cards_dir)
    catalog_file: Path = dataclasses.field(default_factory=default_catalog_file)
    inspection_file: Path = dataclasses.field(default_factory=default_inspection_file)
    run_id: str | None = None
    executor: str = "local"
    scheduler: str | None = None
    allow_empty: bool = False

    def fingerprint(self) -> str:
        return (f"line=cards;batch={self.batch_size};threshold={self.reject_threshold};"
                f"date={self.production_date.isoformat()}")

    def record(self, key: CardKey) -> dict:
        return {"line": LINE, "orders": str(self.orders.resolve()), "personalisation": str(self.personalisation.resolve()),
                "batch_size": self.batch_size,
                "reject_threshold": self.reject_threshold, "production_date": self.production_date.isoformat(),
                "layouts_dir": str(Path(self.layouts_dir).resolve()), "cards_dir": str(Path(self.cards_dir).resolve()),
                "catalog_file": str(Path(self.catalog_file).resolve()),
                "inspection_file": str(Path(self.inspection_file).resolve()), "workers": self.workers,
                "executor": self.executor, "scheduler": self.scheduler,
                "key": key.mode, "key_id": key.key_id, "allow_empty": self.allow_empty}


@dataclasses.dataclass
class _Config:
    layouts: LayoutSet
    catalog: Catalog
    catalog_version: str
    carriers: CarrierSet

    @property
    def layouts_version(self) -> str:
        """Region layouts and carrier texts together: a change to either shows."""
        return hashlib.sha256(f"{self.layouts.version}|cards={self.carriers.version}".encode()).hexdigest()[:16]


def _check(options: CardOptions) -> _Config:
    """Validate inputs and every configuration file before any work starts."""
    check_input_file(options.orders, "card order file", "--orders")
    check_input_file(options.personalisation, "personalisation log", "--personalisation")
    if options.batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    if options.run_id is not None:
        check_run_id(options.run_id, "--run-id")
    check_executor(options.executor, options.scheduler)
    layouts = load_layouts(options.layouts_dir)
    check_fonts(layouts, options.layouts_dir)
    catalog, catalog_version = load_catalog(options.catalog_file)
    carriers = load_carrier_set(options.cards_dir, layouts, catalog)
    load_inspection(options.inspection_file)
    return _Config(layouts, catalog, catalog_version, carriers)


def make_run_id(ingested: CardIngest, config: _Config, options: CardOptions, key: CardKey, salt: int = 0) -> str:
    """`YYYYMMDD-XXXXXX`: production date and a hash of the orders, the key id and the configuration."""
    tag = run_id_tag([ingested.input_sha256, key.key_id, config.layouts_version, config.catalog_version,
                      options.fingerprint()], salt)
    return f"{options.production_date.strftime('%Y%m%d')}-{tag}"


def _ingest_into(options: CardOptions, config: _Config, key: CardKey, folder: Path) -> tuple[Path, CardIngest]:
    return ingest_into(folder, _INGEST_PREFIX,
                       lambda accepted, quarantine: ingest_orders(options.orders, config.layouts, key, accepted,
                                                                  quarantine, config.carriers))


def run_cards(orders: Path, personalisation: Path, out: Path, *, key: bytes | None, demo: bool, workers: int = 1,
              events: Events = _quiet, batch_size: int = 1000, production_date: dt.date | None = None,
              reject_threshold: float = 0.05, layouts_dir: Path | None = None, cards_dir: Path | None = None,
              catalog_file: Path | None = None, inspection_file: Path | None = None, run_id: str | None = None,
              force: bool = False, executor: str | None = None, scheduler: str | None = None,
              allow_empty: bool = False) -> dict:
    """Run the card line over one order file and its personalisation log; returns the run summary.

    `key` is the tokenisation key (bytes, at least 16); `demo=True` uses the published demo key
    instead (samples and tests; the summary says `"key": "DEMO"`). Neither: ConfigError.
    `executor` ("local", the default, or "dask") and `scheduler` say where the carrier batches render
    (`stmtprod.executors`); a bad one is refused (ConfigError) before any work. They are recorded
    with the run, so a resume renders the same way unless told otherwise.
    State RELEASED (carriers released for sealing), HALTED or INSPECTING (a manual stage waits).
    """
    started = time.perf_counter()
    card = card_key(key, demo)
    fields = {k: v for k, v in {"batch_size": batch_size, "workers": workers, "production_date": production_date,
                                "reject_threshold": reject_threshold, "layouts_dir": layouts_dir,
                                "cards_dir": cards_dir, "catalog_file": catalog_file,
                                "inspection_file": inspection_file, "run_id": run_id, "executor": executor,
                                "scheduler": scheduler, "allow_empty": allow_empty}.items() if v is not None}
    options = CardOptions(orders=Path(orders), personalisation=Path(personalisation), out=Path(out), **fields)
    config = _check(options)
    out = prepare_out(out)
    with OutputLock(out):
        clear_stale_ingests(out, _INGEST_PREFIX)
        ledger = open_ledger(out)
        try:
            events("step", step="ingest")
            work, ingested = _ingest_into(options, config, card, out)
            refuse_empty(ingested, options.allow_empty, options.orders, work, "card orders")
            base_id = make_run_id(ingested, config, options, card)
            chosen = _choose_run_id(ledger, options, base_id, ingested, config, card, force, work)
            run_dir = out / chosen
            ledger.create_run(chosen, base_id, str(options.orders.resolve()), ingested.input_sha256,
                              config.layouts_version, config.catalog_version, options.record(card))
            with resumable(ledger, chosen, out):
                place_new_run(out, run_dir, work)
                return _continue(ledger, chosen, run_dir, options, config, card, ingested, options.personalisation,
                                 events, {"ingest": time.perf_counter() - started}, started)
        finally:
            ledger.close()


def _choose_run_id(ledger: Ledger, options: CardOptions, base_id: str, ingested: CardIngest, config: _Config,
                   key: CardKey, force: bool, work: Path) -> str:
    return choose_run_id(
        ledger, base_id, options.run_id, force, work,
        rerun_id=lambda salt: make_run_id(ingested, config, options, key, salt=salt),
        released="these card orders were already released as run {run_id}; "
                 "use --force to make a new run with a new id",
        exists="card run {run_id} for these orders exists in state {state}; "
               "resume it ('stmtprod cards --resume {run_id} --out ...'), or --force a new run")


def _latest_log(ledger: Ledger, run_id: str, recorded: str) -> Path:
    for event in reversed(ledger.history(run_id)):
        if event.get("personalisation"):
            return Path(event["personalisation"])
    return Path(recorded)


def resume_cards(run_id: str, out: Path, *, key: bytes | None = None, demo: bool = False,
                 personalisation: Path | None = None, workers: int | None = None, events: Events = _quiet,
                 executor: str | None = None, scheduler: str | None = None) -> dict:
    """Continue a crashed or halted card run, redoing only what is not already proven good.

    `personalisation` gives a new log (after cards were re-made); by default the last one used.
    The key must be the one the run was made with (a demo run resumes with the demo key).
    The run renders on the executor it was made with, unless `executor` (with `scheduler`) overrides it.
    """
    started = time.perf_counter()
    check_run_id(run_id)
    out = Path(out).resolve()
    if not (out / "ledger.sqlite").exists():
        raise UsageError(f"{out} has no ledger: nothing to resume")
    with OutputLock(out):
        ledger = open_ledger(out)
        try:
            run = ledger.run(run_id)
            if run is None:
                raise UsageError(f"run {run_id} is not in the ledger of {out}")
            recorded = run["options"]
            if recorded.get("line") != LINE:
                raise UsageError(f"run {run_id} is not a card run")
            if run["state"] == "RELEASED":
                return run["summary"] | {"resumed": False}
            if recorded["key"] == "DEMO" and key is None:
                demo = True
            card = card_key(key, demo)
            if card.key_id != recorded["key_id"]:
                raise ConfigError(f"the card key ({card.mode}, id {card.key_id}) is not the one run {run_id} was made "
                                  f"with ({recorded['key']}, id {recorded['key_id']})", key="card key")
            log = Path(personalisation) if personalisation else _latest_log(ledger, run_id, recorded["personalisation"])
            options = CardOptions(orders=Path(recorded["orders"]), personalisation=log, out=out,
                                  batch_size=recorded["batch_size"], workers=workers or recorded["workers"],
                                  production_date=dt.date.fromisoformat(recorded["production_date"]),
                                  reject_threshold=recorded["reject_threshold"],
                                  layouts_dir=Path(recorded["layouts_dir"]), cards_dir=Path(recorded["cards_dir"]),
                                  catalog_file=Path(recorded["catalog_file"]),
                                  inspection_file=Path(recorded["inspection_file"]),
                                  executor=recorded.get("executor", "local"), scheduler=recorded.get("scheduler"),
                                  allow_empty=recorded.get("allow_empty", False))
            if executor:
                options = dataclasses.replace(options, executor=executor, scheduler=scheduler)
            config = _check(options)
            run_dir = out / run_id
            with resumable(ledger, run_id, out):
                run_dir.mkdir(exist_ok=True)
                events("step", step="ingest")
                work, ingested = _ingest_into(options, config, card, run_dir)
                replace_ingest(run_dir, work)
                ledger.update_run(run_id, input_sha256=ingested.input_sha256,
                                  layouts_version=config.layouts_version, catalog_version=config.catalog_version)
                ledger.transition(run_id, "RESUMED", personalisation=str(log.resolve()))
                summary = _continue(ledger, run_id, run_dir, options, config, card, ingested, log, events,
                                    {"ingest": time.perf_counter() - started}, started)
            return summary | {"resumed": True}
        finally:
            ledger.close()


def _jobs(batches: list[BatchRef], run_id: str, run_dir: Path, options: CardOptions) -> list[CarrierJob]:
    staging = run_dir / "staging"
    return [CarrierJob(name=b.name, region=b.region, run_id=run_id, batch_file=str(b.path),
                       layouts_dir=str(options.layouts_dir), cards_dir=str(options.cards_dir),
                       catalog_file=str(options.catalog_file), pdf_file=str(staging / "print" / f"{b.name}.pdf"),
                       manifest_file=str(staging / "manifest" / f"{b.name}.jsonl")) for b in batches]


def _rows(path: str | Path) -> list[dict]:
    return [json.loads(x) for x in Path(path).read_text(encoding="utf-8").splitlines()]


def _continue(ledger: Ledger, run_id: str, run_dir: Path, options: CardOptions, config: _Config, key: CardKey,
              ingested: CardIngest, log_path: Path, events: Events, timings: dict, started: float) -> dict:
    """Everything after ingest. Safe to run again on a partly done run: proven batches are kept."""
    summary = run_summary(run_id, run_dir, ingested, [], released=False)
    summary.update(_identity(options, config, key, ingested, log_path))
    staging, release = reopen_staging(run_dir)
    try:
        check_reject_share(ingested, options.reject_threshold, "card orders",
                           "correct the orders upstream, then resume the card run")
        check_not_empty(ingested, options.allow_empty, "card orders", "correct the orders upstream")
        events("step", step="plan")
        t = time.perf_counter()
        accepted_dir = run_dir / "work" / "accepted"
        batches = plan_carriers(ingested.accepted, accepted_dir, config.catalog, config.carriers,
                                options.production_date, options.batch_size, run_dir / "work" / "batches")
        record_plan(ledger, run_id, batches, pieces=sum(b.pieces for b in batches))
        timings["plan"] = time.perf_counter() - t

        t = time.perf_counter()
        jobs = _jobs(batches, run_id, run_dir, options)
        render_unproven(ledger, run_id, jobs, batches, events, options, render=render_carrier_batch,
                        after_batch=lambda: crashpoints.reached("render:batch"))
        timings["render"] = time.perf_counter() - t

        t = time.perf_counter()
        ledger.transition(run_id, "VERIFYING")
        events("step", step="verify")
        for job, batch in zip(jobs, batches):
            found = len(_rows(job.manifest_file))
            if found != batch.pieces:
                raise Halt("manifest does not hold every planned carrier", step="verify", batch=job.name,
                           field="pieces", expected=batch.pieces, found=found, action="re-render the batch")
        files, fresh, decoded = read_unverified(ledger, run_id, jobs, config.layouts, options.workers)
        for f in files:
            if f.batch not in decoded:
                decoded[f.batch] = [[r["payload"]] for r in _rows(f.manifest)]
        verified = verify_carriers(files, decoded, run_id, config.catalog, config.carriers, accepted_dir,
                                   options.production_date)
        record_verified(ledger, run_id, files, fresh, verified)
        timings["verify"] = time.perf_counter() - t

        t = time.perf_counter()
        events("step", step="match")
        entries, log_sha = read_log(log_path)
        records = {r: read_spill(accepted_dir / f"{r}.jsonl") for r in REGIONS}
        carriers = []
        for f in files:
            for row in _rows(f.manifest):
                record = records[row["region"]][row["line"]]
                carriers.append(Carrier(row["sequence"], row["card_id"], row["last5"], record.embossed_name,
                                        row["token"], row["file"], row["page"]))
        carriers.sort(key=lambda c: c.sequence)
        summary["personalisation"].update(sha256=log_sha, slots=len(entries))
        sealing = match(carriers, entries)
        write_jsonl(staging / "sealing" / "sealing.jsonl", sealing)
        ledger.record_verification(run_id, True, len(sealing), None,
                                   {"match": {"personalisation": str(Path(log_path).resolve()), "sha256": log_sha,
                                              "slots": len(entries), "carriers": len(carriers)}})
        timings["match"] = time.perf_counter() - t

        ledger.transition(run_id, "INSPECTING")
        events("step", step="inspection")
        inspection_config, _version = load_inspection(options.inspection_file)
        ctx = CardContext(run_id, staging, accepted_dir, config.layouts, config.carriers, config.catalog,
                          options.production_date, entries)
        run_card_stages(ledger, inspection_config, ctx, run_dir, timings, events=events)

        t = time.perf_counter()
        events("step", step="release")
        pulled = write_pulled(ledger, run_id, staging)
        write_control_files(staging, run_id, config.catalog, config.layouts)
        release_staging(staging, release, run_dir, bool(jobs))
        timings["release"] = time.perf_counter() - t
        batch_info = list(ledger.batches(run_id).values())
        identity = {k: summary[k] for k in _IDENTITY_KEYS}
        summary = run_summary(run_id, run_dir, ingested, [dataclasses.asdict(j) for j in jobs], released=True,
                              batches=batch_info) | identity
        summary["sealing_file"] = str(release / "sealing" / "sealing.jsonl")
        summary["match"] = {"slots": len(sealing), "ok": True}
        note_pulled(summary, pulled)
        write_summary(run_dir, summary, timings, started)
        ledger.record_release(run_id, summary["print_files"] + summary["manifest_files"] + [summary["sealing_file"]],
                              summary["counts"], summary)
    except AwaitingInspection as waiting:
        note_waiting(summary, waiting)
        write_summary(run_dir, summary, timings, started)
    except Halt as halt:
        note_halt(ledger, run_id, run_dir, summary, halt, line=LINE)
        write_summary(run_dir, summary, timings, started)
    write_report(ledger, run_id, run_dir, summary, config.catalog)
    mirror(ledger, run_id, run_dir, config_keys=("layouts_dir", "cards_dir", "catalog_file"), line=LINE)
    return summary


_IDENTITY_KEYS = ("line", "key", "key_id", "production_date", "layouts_version", "catalog_version", "input_sha256",
                  "personalisation")


def _identity(options: CardOptions, config: _Config, key: CardKey, ingested: CardIngest, log_path: Path) -> dict:
    return {"line": LINE, "key": key.mode, "key_id": key.key_id, "production_date": options.production_date.isoformat(),
            "layouts_version": config.layouts_version, "catalog_version": config.catalog_version,
            "input_sha256": ingested.input_sha256,
            "personalisation": {"file": str(Path(log_path).resolve()), "sha256": None, "slots": None}}


def verify_card_run(run_dir: Path, workers: int = 1) -> dict:
    """Re-verify a finished card run's carriers (released, else staged) against manifests and orders.

    For `stmtprod verify RUN_DIR` on a card run. Refuses if the configuration changed since the run.
    """
    run = load_run(Path(run_dir))
    opts = run["options"]
    if opts.get("line") != LINE:
        raise UsageError(f"{run_dir} is not a card run")
    layouts = load_layouts(Path(opts["layouts_dir"]))
    catalog, catalog_version = load_catalog(Path(opts["catalog_file"]))
    carriers = load_carrier_set(Path(opts["cards_dir"]), layouts, catalog)
    config = _Config(layouts, catalog, catalog_version, carriers)
    check_versions(run, config.layouts_version, catalog_version)
    run_dir = Path(run_dir)
    folder, files = run_print_files(run_dir)
    decoded = read_all(files, layouts, workers)
    counts = verify_carriers(files, decoded, run["run_id"], catalog, carriers, run_dir / "work" / "accepted",
                             dt.date.fromisoformat(opts["production_date"]))
    return {"run_id": run["run_id"], "ok": True, "folder": str(folder), "files": len(files), **counts}
