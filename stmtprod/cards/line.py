"""The card line end to end: ingest, plan, render, verify, match, inspect, release; resumable.

Organised like the statement line (`stmtprod.statements.line`) and sharing its ledger, lock, halt reports,
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
from pathlib import Path

from stmtprod.cards.ingest import CardIngest, ingest_orders, ingest_records, read_spill
from stmtprod.cards.inspection import CardContext, run_card_stages
from stmtprod.cards.keys import CardKey, card_key, resolve_key
from stmtprod.cards.match import Carrier, match, read_log
from stmtprod.cards.plan import plan_carriers
from stmtprod.cards.render import CarrierJob, render_carrier_batch
from stmtprod.cards.texts import CarrierSet, load_carrier_set
from stmtprod.cards.verify import verify_carriers
from stmtprod.catalog import Catalog, load_catalog
from stmtprod.challenges import lines as challenge_lines, step as challenge_step
from stmtprod.challenges.config import ChallengeConfig
from stmtprod.challenges.pieces import check_addressees
from stmtprod.config import PROJECT_ROOT, default_catalog_file, default_inspection_file, default_layouts_dir
from stmtprod.engine import life
from stmtprod.engine.batchsteps import read_unverified, record_verified
from stmtprod.engine.executors import check_executor
from stmtprod.engine.ledger import Ledger
from stmtprod.engine.points import NO_FAULTS
from stmtprod.engine.product import Messages, Step
from stmtprod.engine.run import Events, Run, quiet
from stmtprod.engine.runfolder import check_batching, check_input_file, run_id_tag
from stmtprod.engine.runstate import load_run
from stmtprod.errors import ConfigError, Halt, UsageError
from stmtprod.fsutil import write_jsonl
from stmtprod.inspect.config import InspectionConfig, load_inspection
from stmtprod.layout import LayoutSet, load_layouts
from stmtprod.plan import BatchRef
from stmtprod.regions import REGIONS
from stmtprod.render.fonts import check_fonts
from stmtprod.verify import PrintFile, check_versions, read_all, read_file, read_task, run_print_files

LINE = "cards"


def default_cards_dir() -> Path:
    import os

    return Path(os.environ.get("STMTPROD_CARD_LAYOUTS", PROJECT_ROOT / "layouts" / "cards"))


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
    inspection: InspectionConfig | None = None
    """The stages and challenge pieces of a line that runs (None: `verify_card_run` re-checks files only)."""

    @property
    def challenge(self) -> ChallengeConfig:
        return self.inspection.challenge if self.inspection is not None else ChallengeConfig()

    @property
    def layouts_version(self) -> str:
        """Region layouts and carrier texts together: a change to either shows."""
        return hashlib.sha256(f"{self.layouts.version}|cards={self.carriers.version}".encode()).hexdigest()[:16]


MESSAGES = Messages(
    noun="card orders", correct="correct the orders upstream", then_resume="then resume the card run",
    released="these card orders were already released as run {run_id}; use --force to make a new run with a new id",
    exists="card run {run_id} for these orders exists in state {state}; "
           "resume it ('stmtprod cards --resume {run_id} --out ...'), or --force a new run")


def _load_config(options: CardOptions) -> _Config:
    layouts = load_layouts(options.layouts_dir)
    check_fonts(layouts, options.layouts_dir)
    catalog, catalog_version = load_catalog(options.catalog_file)
    carriers = load_carrier_set(options.cards_dir, layouts, catalog)
    inspection = load_inspection(options.inspection_file)[0]
    check_addressees(inspection.challenge, layouts, REGIONS, str(options.inspection_file))
    return _Config(layouts, catalog, catalog_version, carriers, inspection)


class Cards:
    """The card product for one run's options and key; configuration is checked before any work."""

    line = LINE
    ingest_prefix = ".cards-ingest-"
    config_keys = ("layouts_dir", "cards_dir", "catalog_file")
    messages = MESSAGES
    render = staticmethod(render_carrier_batch)
    faults = NO_FAULTS

    def __init__(self, options: CardOptions, key: CardKey):
        check_input_file(options.orders, "card order file", "--orders")
        check_input_file(options.personalisation, "personalisation log", "--personalisation")
        check_batching(options.batch_size, options.run_id)
        check_executor(options.executor, options.scheduler)
        self.options, self.key = options, key
        self.config = _load_config(options)
        self.layouts, self.catalog = self.config.layouts, self.config.catalog
        self.layouts_version, self.catalog_version = self.config.layouts_version, self.config.catalog_version
        self.input_path, self.out, self.requested_run_id = options.orders, options.out, options.run_id
        self.allow_empty, self.reject_threshold = options.allow_empty, options.reject_threshold
        self.executor, self.workers, self.scheduler = options.executor, options.workers, options.scheduler

    def ingest(self, accepted: Path, quarantine: Path, events: Events) -> CardIngest:
        def progress(done: int, total: int, orders: int) -> None:
            events("ingest", done=done, total=total, records=orders)

        return ingest_orders(self.options.orders, self.layouts, self.key, accepted, quarantine, self.config.carriers,
                             progress, self.options.production_date)

    def make_run_id(self, ingested: CardIngest, salt: int = 0) -> str:
        """`YYYYMMDD-XXXXXX`: production date and a hash of the orders, the key id and the configuration."""
        tag = run_id_tag([ingested.input_sha256, self.key.key_id, self.layouts_version, self.catalog_version,
                          self.options.fingerprint()], salt)
        return f"{self.options.production_date.strftime('%Y%m%d')}-{tag}"

    def record(self) -> dict:
        return self.options.record(self.key)

    def identity(self, run: Run) -> dict:
        return {"line": LINE, "key": self.key.mode, "key_id": self.key.key_id,
                "production_date": self.options.production_date.isoformat(),
                "layouts_version": self.layouts_version, "catalog_version": self.catalog_version,
                "input_sha256": run.ingested.input_sha256,
                "personalisation": {"file": str(Path(self.options.personalisation).resolve()), "sha256": None,
                                    "slots": None}}

    def resume_detail(self) -> dict:
        return {"personalisation": str(Path(self.options.personalisation).resolve())}

    def plan(self, run: Run) -> list[BatchRef]:
        return plan_carriers(run.ingested.accepted, run.accepted_dir, self.catalog, self.config.carriers,
                             self.options.production_date, self.options.batch_size, run.run_dir / "work" / "batches")

    def jobs(self, run: Run) -> list[CarrierJob]:
        staging, o = run.staging, self.options
        return [CarrierJob(name=b.name, region=b.region, run_id=run.run_id, batch_file=str(b.path),
                           layouts_dir=str(o.layouts_dir), cards_dir=str(o.cards_dir),
                           catalog_file=str(o.catalog_file), pdf_file=str(staging / "print" / f"{b.name}.pdf"),
                           manifest_file=str(staging / "manifest" / f"{b.name}.jsonl")) for b in run.batches]

    def steps(self) -> list[Step]:
        return [Step("verify", self._verify, state="VERIFYING"),
                Step("challenges", self._challenges),
                Step("match", self._match),
                Step("inspection", self._inspect, state="INSPECTING", timed=False)]

    def read_ahead(self, run: Run, job: CarrierJob) -> tuple:
        """A batch's read-back, queued as soon as it is rendered (`BatchPool`); `_verify` claims it
        (`read_unverified`) for files still those the ledger recorded rendered."""
        f = PrintFile(job.name, job.region, Path(job.pdf_file), Path(job.manifest_file))
        task = read_task(f, self.layouts)
        return task, read_file, *task

    def _verify(self, run: Run) -> None:
        """Every planned carrier in its manifest, then every unproven carrier read back and checked."""
        for job, batch in zip(run.jobs, run.batches):
            found = len(_rows(job.manifest_file))
            if found != batch.pieces:
                raise Halt("manifest does not hold every planned carrier", step="verify", batch=job.name,
                           field="pieces", expected=batch.pieces, found=found, action="re-render the batch")
        run.files, fresh, decoded = read_unverified(run, self.layouts, self.options.workers)
        if run.batch_pool is not None:
            run.batch_pool.close()
        for f in run.files:
            if f.batch not in decoded:
                decoded[f.batch] = [[r["payload"]] for r in _rows(f.manifest)]
        verified = verify_carriers(run.files, decoded, run.run_id, self.catalog, self.config.carriers,
                                   run.accepted_dir, self.options.production_date)
        record_verified(run.ledger, run.run_id, run.files, fresh, verified)

    def _challenges(self, run: Run) -> None:
        """The night's challenge carriers planted and each proven caught by its check (`stmtprod.challenges`)."""
        challenge_step.prove(run, self.config.challenge, challenge_lines.cards(run, self.config.challenge, self))

    def _match(self, run: Run) -> None:
        """The personalisation log against the carriers, slot by slot; the sealing list."""
        log_path = self.options.personalisation
        entries, log_sha = read_log(log_path)
        records = {r: read_spill(run.accepted_dir / f"{r}.jsonl") for r in REGIONS}
        carriers = []
        for f in run.files:
            for row in _rows(f.manifest):
                record = records[row["region"]][row["line"]]
                carriers.append(Carrier(row["sequence"], row["card_id"], row["last5"], record.embossed_name,
                                        row["token"], row["file"], row["page"]))
        carriers.sort(key=lambda c: c.sequence)
        run.summary["personalisation"].update(sha256=log_sha, slots=len(entries))
        sealing = match(carriers, entries)
        write_jsonl(run.staging / "sealing" / "sealing.jsonl", sealing)
        run.ledger.record_verification(run.run_id, True, len(sealing), None,
                                       {"match": {"personalisation": str(Path(log_path).resolve()),
                                                  "sha256": log_sha, "slots": len(entries),
                                                  "carriers": len(carriers)}})
        run.data["entries"], run.data["sealed"] = entries, len(sealing)

    def _inspect(self, run: Run) -> None:
        ctx = CardContext(run.run_id, run.staging, run.accepted_dir, self.layouts, self.config.carriers,
                          self.catalog, self.options.production_date, run.data["entries"])
        run_card_stages(run.ledger, self.config.inspection, ctx, run.run_dir, run.timings, events=run.events)

    def released(self, run: Run, summary: dict) -> list[str]:
        summary["sealing_file"] = str(run.release / "sealing" / "sealing.jsonl")
        summary["match"] = {"slots": run.data["sealed"], "ok": True}
        return [summary["sealing_file"], *challenge_step.released(run, summary)]


def run_cards(orders: Path, personalisation: Path, out: Path, *, key: bytes | None, demo: bool, workers: int = 1,
              events: Events = quiet, batch_size: int = 1000, production_date: dt.date | None = None,
              reject_threshold: float = 0.05, layouts_dir: Path | None = None, cards_dir: Path | None = None,
              catalog_file: Path | None = None, inspection_file: Path | None = None, run_id: str | None = None,
              force: bool = False, executor: str | None = None, scheduler: str | None = None,
              allow_empty: bool = False) -> dict:
    """Run the card line over one order file and its personalisation log; returns the run summary.

    `key` is the tokenisation key (bytes, at least 16); `demo=True` uses the published demo key
    instead (samples and tests; the summary says `"key": "DEMO"`). Neither: ConfigError.
    `executor` ("local", the default, or "dask") and `scheduler` say where the carrier batches render
    (`stmtprod.engine.executors`); a bad one is refused (ConfigError) before any work. They are recorded
    with the run, so a resume renders the same way unless told otherwise.
    State RELEASED (carriers released for sealing), HALTED or INSPECTING (a manual stage waits).
    """
    card = card_key(key, demo)
    fields = {k: v for k, v in {"batch_size": batch_size, "workers": workers, "production_date": production_date,
                                "reject_threshold": reject_threshold, "layouts_dir": layouts_dir,
                                "cards_dir": cards_dir, "catalog_file": catalog_file,
                                "inspection_file": inspection_file, "run_id": run_id, "executor": executor,
                                "scheduler": scheduler, "allow_empty": allow_empty}.items() if v is not None}
    options = CardOptions(orders=Path(orders), personalisation=Path(personalisation), out=Path(out), **fields)
    return life.start(Cards(options, card), events, force)


def _latest_log(ledger: Ledger, run_id: str, recorded: str) -> Path:
    for event in reversed(ledger.history(run_id)):
        if event.get("personalisation"):
            return Path(event["personalisation"])
    return Path(recorded)


def _recorded_key(run: dict, key: bytes | None, demo: bool) -> CardKey:
    """The key a run was made with (a demo run resumes with the demo key); another key is refused."""
    recorded = run["options"]
    card = card_key(key, demo or (recorded["key"] == "DEMO" and key is None))
    if card.key_id != recorded["key_id"]:
        raise ConfigError(f"the card key ({card.mode}, id {card.key_id}) is not the one run {run['run_id']} was made "
                          f"with ({recorded['key']}, id {recorded['key_id']})", key="card key")
    return card


def _recorded_options(recorded: dict, out: Path, log: Path, workers: int | None) -> CardOptions:
    return CardOptions(orders=Path(recorded["orders"]), personalisation=log, out=out,
                       batch_size=recorded["batch_size"], workers=workers or recorded["workers"],
                       production_date=dt.date.fromisoformat(recorded["production_date"]),
                       reject_threshold=recorded["reject_threshold"],
                       layouts_dir=Path(recorded["layouts_dir"]), cards_dir=Path(recorded["cards_dir"]),
                       catalog_file=Path(recorded["catalog_file"]),
                       inspection_file=Path(recorded["inspection_file"]),
                       executor=recorded.get("executor", "local"), scheduler=recorded.get("scheduler"),
                       allow_empty=recorded.get("allow_empty", False))


class CardReprint(Cards):
    """A reprint child's carriers (`stmtprod.inserting.reprint`): its input is the parent's sanitized
    records of the pieces to print again (never a card number), and its log those cards' entries."""

    def ingest(self, accepted: Path, quarantine: Path, events: Events) -> CardIngest:
        return ingest_records(self.options.orders, accepted, quarantine)

    def record(self) -> dict:
        return {**super().record(), "reprint": True}


def reprint_product(root: dict, child: str, records: Path, out: Path, workers: int | None,
                    ledger: Ledger) -> CardReprint:
    """The product of reprint child `child` of card run `root`: the sanitized `records` as input, and
    the root's personalisation log entries for those cards, in the same order, slots from 1, as its log
    (written beside the records)."""
    recorded = root["options"]
    key, demo = resolve_key()
    card = _recorded_key(root, key, demo)
    entries = {e.card_id: e for e in read_log(_latest_log(ledger, root["run_id"], recorded["personalisation"]))[0]}
    log = records.with_suffix(".personalisation.jsonl")
    with open(records, encoding="utf-8") as fh:
        wanted = [json.loads(line)["card_id"] for line in fh if line.strip()]
    missing = [c for c in wanted if c not in entries]
    if missing:
        raise UsageError(f"the personalisation log of run {root['run_id']} has no entry for cards {', '.join(missing)}")
    write_jsonl(log, (entries[c].model_dump(mode="json") | {"slot": slot} for slot, c in enumerate(wanted, 1)))
    options = dataclasses.replace(_recorded_options(recorded, out, log, workers), orders=records, run_id=child)
    return CardReprint(options, card)


def resume_cards(run_id: str, out: Path, *, key: bytes | None = None, demo: bool = False,
                 personalisation: Path | None = None, workers: int | None = None, events: Events = quiet,
                 executor: str | None = None, scheduler: str | None = None) -> dict:
    """Continue a crashed or halted card run, redoing only what is not already proven good.

    `personalisation` gives a new log (after cards were re-made); by default the last one used.
    The key must be the one the run was made with (a demo run resumes with the demo key).
    The run renders on the executor it was made with, unless `executor` (with `scheduler`) overrides it.
    """
    out = Path(out).resolve()

    def reopen(run: dict, ledger: Ledger) -> Cards:
        recorded = run["options"]
        card = _recorded_key(run, key, demo)
        log = Path(personalisation) if personalisation else _latest_log(ledger, run_id, recorded["personalisation"])
        options = _recorded_options(recorded, out, log, workers)
        if executor:
            options = dataclasses.replace(options, executor=executor, scheduler=scheduler)
        return (CardReprint if recorded.get("reprint") else Cards)(options, card)

    return life.resume(run_id, out, reopen, events, line=LINE)


def resume_any_key(run_id: str, out: Path, **kwargs) -> dict:
    """`resume_cards` with the key the environment gives (`stmtprod.cards.keys.resolve_key`)."""
    key, demo = resolve_key()
    return resume_cards(run_id, out, key=key, demo=demo, **kwargs)


def _rows(path: str | Path) -> list[dict]:
    return [json.loads(x) for x in Path(path).read_text(encoding="utf-8").splitlines()]


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
