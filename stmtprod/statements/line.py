"""The statement line: cycle extract in, statements out, as a product on the engine (`stmtprod.engine`).

Library entry point `build(options, events)`; `stmtprod.lines.resume` continues any run. The engine
owns the run's life; this module says how the extract is ingested and planned, how statements are
rendered and read back, and its steps after that: the simulated inserter, the mailing manifest and
the four inspection stages.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from stmtprod import drills
from stmtprod.catalog import load_catalog
from stmtprod.challenges.pieces import check_addressees
from stmtprod.challenges import lines as challenge_lines, step as challenge_step
from stmtprod.config import BuildOptions
from stmtprod.engine import life
from stmtprod.engine.batchsteps import claim_read_ahead, record_verified, unverified
from stmtprod.engine.executors import check_executor
from stmtprod.engine.points import Faults
from stmtprod.engine.product import Messages, Step
from stmtprod.engine.run import Events, Run, quiet
from stmtprod.engine.runfolder import check_batching, check_input_file, run_id_tag
from stmtprod.errors import Halt
from stmtprod.ingest.reader import IngestResult, ingest
from stmtprod.inserting.machine import insert_lots
from stmtprod.inspect.config import load_inspection
from stmtprod.inspect.context import InspectionContext
from stmtprod.inspect.stages import run_stages, start_stages
from stmtprod.jsonrows import Fields
from stmtprod.layout import load_layouts
from stmtprod.mailing import mailing_rows, postal_counts, write_mailing
from stmtprod.plan import BatchRef, plan_regions
from stmtprod.render.batch import BatchJob
from stmtprod.render.fonts import check_fonts
from stmtprod.verify import PrintFile, check_sequence, verify_batches, verify_file, verify_task

LINE = "statements"
PARALLEL_INGEST_BYTES = 4 * 1024 * 1024
"""An extract this big (about 2,000 records) or bigger is validated in `workers` processes; a smaller
one in this process, where forking and warming the workers would cost more than they save."""
MESSAGES = Messages(
    noun="records", correct="correct the extract upstream", then_resume="then resume the run",
    released="this cycle was already released as run {run_id}; use --force to make a new run with a new id",
    exists="run {run_id} for this cycle exists in state {state}; "
           "'stmtprod resume {run_id}' continues it, --force starts a new run")


class Statements:
    """The statement product for one build's options; configuration is checked before any work."""

    line = LINE
    ingest_prefix = ".ingest-"
    config_keys = ("layouts_dir", "catalog_file")
    messages = MESSAGES
    render = None
    """Batches render with the statement renderer (`stmtprod.render.batch`), the executors' default."""

    def __init__(self, options: BuildOptions):
        check_input_file(options.input, "input file", "--input")
        check_batching(options.batch_size, options.run_id)
        self.faults: Faults = drills.faults_for(options.drill)
        check_executor(options.executor, options.scheduler)
        self.options = options
        self.layouts = load_layouts(options.layouts_dir)
        check_fonts(self.layouts, options.layouts_dir)
        self.catalog, self.catalog_version = load_catalog(options.catalog_file)
        self.inspection = load_inspection(options.inspection_file)[0]
        self.challenge = self.inspection.challenge
        check_addressees(self.challenge, self.layouts, options.regions, str(options.inspection_file))
        self.layouts_version = self.layouts.version
        self.input_path, self.out, self.requested_run_id = options.input, options.out, options.run_id
        self.allow_empty, self.reject_threshold = options.allow_empty, options.reject_threshold
        self.executor, self.workers, self.scheduler = options.executor, options.workers, options.scheduler

    @classmethod
    def reopen(cls, record: dict, out: Path, workers: int | None = None, executor: str | None = None,
               scheduler: str | None = None) -> "Statements":
        """The product of a recorded run, to resume it (`workers`, `executor`: overrides)."""
        options = record["options"]
        built = BuildOptions(input=Path(options["input"]), out=out, regions=tuple(options["regions"]),
                             batch_size=options["batch_size"], reject_threshold=options["reject_threshold"],
                             layouts_dir=Path(options["layouts_dir"]), catalog_file=Path(options["catalog_file"]),
                             inspection_file=Path(options["inspection_file"]), workers=workers or options["workers"],
                             executor=options.get("executor", "local"), scheduler=options.get("scheduler"),
                             allow_empty=options.get("allow_empty", False))
        if executor:
            built = dataclasses.replace(built, executor=executor, scheduler=scheduler)
        return cls(built)

    def ingest(self, accepted: Path, quarantine: Path, events: Events) -> IngestResult:
        def progress(done: int, total: int, records: int) -> None:
            events("ingest", done=done, total=total, records=records)

        big = self.options.input.stat().st_size >= PARALLEL_INGEST_BYTES
        return ingest(self.options.input, self.layouts, self.options.regions, accepted, quarantine, self.catalog,
                      progress, workers=self.options.workers if big else 1)

    def make_run_id(self, ingested: IngestResult, salt: int = 0) -> str:
        """`YYYYMMDD-XXXXXX`: the cycle's end date and a hash of the input and everything that shapes output.

        `salt` > 0 gives the further runs of the same cycle that `--force` asks for.
        """
        tag = run_id_tag([ingested.input_sha256, self.layouts_version, self.catalog_version,
                          self.options.fingerprint()], salt)
        cycle = ingested.cycle_end.strftime("%Y%m%d") if ingested.cycle_end else "00000000"
        return f"{cycle}-{tag}"

    def record(self) -> dict:
        o = self.options
        return {"input": str(o.input.resolve()), "regions": list(o.regions), "batch_size": o.batch_size,
                "reject_threshold": o.reject_threshold, "layouts_dir": str(Path(o.layouts_dir).resolve()),
                "catalog_file": str(Path(o.catalog_file).resolve()),
                "inspection_file": str(Path(o.inspection_file).resolve()), "workers": o.workers,
                "executor": o.executor, "scheduler": o.scheduler, "drill": o.drill, "allow_empty": o.allow_empty}

    def identity(self, run: Run) -> dict:
        return {"layouts_version": self.layouts_version, "catalog_version": self.catalog_version,
                "input_sha256": run.ingested.input_sha256}

    def resume_detail(self) -> dict:
        return {}

    def plan(self, run: Run) -> list[BatchRef]:
        return plan_regions([(region, run.ingested.take_accepted(region), run.accepted_dir / f"{region}.jsonl")
                             for region in self.options.regions], self.catalog, run.ingested.insert_sets,
                            self.options.batch_size, run.run_dir / "work" / "batches", self.options.workers)

    def jobs(self, run: Run) -> list[BatchJob]:
        staging = run.staging
        return [BatchJob(name=b.name, region=b.region, run_id=run.run_id, batch_file=str(b.path),
                         layouts_dir=str(self.options.layouts_dir), catalog_file=str(self.options.catalog_file),
                         pdf_file=str(staging / "print" / f"{b.name}.pdf"),
                         manifest_file=str(staging / "manifest" / f"{b.name}.jsonl")) for b in run.batches]

    def steps(self) -> list[Step]:
        return [Step("verify", self._verify, state="VERIFYING"),
                Step("challenges", self._challenges),
                Step("inserter", self._insert, state="INSPECTING"),
                Step("mailing", self._mailing, event=False),
                Step("inspection", self._inspect, timed=False)]

    def _verify(self, run: Run) -> None:
        """Manifests against the plan, then every unproven sheet read back and checked against its source."""
        _reconcile(run.jobs, run.batches)
        run.files, fresh = unverified(run.ledger, run.run_id, run.jobs)
        blind = run.inject("checks-off", frozenset())
        decoded, verified = verify_batches(run.files, {f.batch for f in fresh}, self.layouts, run.run_id, self.catalog,
                                           run.accepted_dir, self.options.workers, blind,
                                           done=lambda batch, n: run.events("verified", batch=batch, done=n,
                                                                            total=len(run.files)),
                                           started=claim_read_ahead(run, fresh, lambda f: (f, blind)))
        if run.batch_pool is not None:
            run.batch_pool.close()
        run.data["decoded"] = decoded
        run.reached("verify:read")
        record_verified(run.ledger, run.run_id, run.files, fresh, verified)
        # The 100% text check's share of it, as wall time: its CPU seconds over the processes that shared them.
        run.timings["verify_text"] = verified["text_cpu_seconds"] / max(1, min(self.options.workers, len(fresh)))
        self._start_inspection(run)

    def read_ahead(self, run: Run, job: BatchJob) -> tuple | None:
        """A batch's read-back and check, queued as soon as it is rendered (`BatchPool`); `_verify`
        claims it under the same arguments, for files still those the ledger recorded rendered."""
        f = PrintFile(job.name, job.region, Path(job.pdf_file), Path(job.manifest_file))
        blind = run.inject("checks-off", frozenset())
        return (f, blind), verify_file, *verify_task(f, True, self.layouts, run.run_id, self.catalog,
                                                     run.accepted_dir, blind)

    def _start_inspection(self, run: Run) -> None:
        """Stages 1 and 2 started in the workers (`start_stages`) as soon as what they inspect is final:
        the print files, manifests and source records, once verified. Nothing the later steps write
        bears on their samples or on what they read (the challenge pieces have files of their own and
        are never sampled; only a recorded correction pulls pieces), so they inspect while the
        challenge pieces, the inserter and the mailing manifest are made here; `_inspect` decides."""
        ctx = run.data["context"] = InspectionContext(run.run_id, run.staging, run.accepted_dir, self.layouts,
                                                      self.catalog)
        run.data["stages"] = start_stages(run.ledger, self.inspection, ctx, self.options.workers)
        run.closing.append(run.data["stages"].stop)  # still open only when the run ends before `_inspect` is done

    def _challenges(self, run: Run) -> None:
        """The night's challenge pieces planted and each proven caught by its check (`stmtprod.challenges`)."""
        run.reached("challenges")  # stages 1 and 2 are at work in the workers from here on
        blind = run.inject("checks-off", frozenset())
        challenge_step.prove(run, self.challenge, challenge_lines.statements(run, self.challenge, self, blind), blind)

    def _insert(self, run: Run) -> None:
        """The inserter simulated over the verified files (stages 1 and 2 inspect meanwhile in the workers)."""
        run.data["envelopes"] = insert_lots(run.files, run.data["decoded"],
                                            run.inject("inserter-catalog", self.catalog), run.run_id,
                                            run.staging / "envelopes",
                                            run.inject("inserter-inventory", None))

    def _mailing(self, run: Run) -> None:
        """The mailing manifest per lot, from the inserter's envelope log and the source records (found
        through the context the inspection stages then use, so its index is built once); pieces a QA
        screening pulled are not mailed."""
        ctx = run.data["context"]
        pulled = frozenset(p["sequence"] for p in run.ledger.pulled(run.run_id))
        for index, path in enumerate(sorted((ctx.folder / "envelopes").glob("*.jsonl"))):
            rows = mailing_rows(path, ctx.record_line, pulled)
            write_mailing(ctx.folder / "mailing" / path.name, run.inject("mailing", rows, lot=index))

    def _inspect(self, run: Run) -> None:
        run.reached("inspect")
        run_stages(run.ledger, self.inspection, run.data["context"], run.run_dir, run.timings,
                   workers=self.options.workers, events=run.events, stage_pool=run.data["stages"])

    def released(self, run: Run, summary: dict) -> list[str]:
        summary["envelopes"] = run.data["envelopes"]
        summary["postal_classes"] = postal_counts(run.release / "mailing")
        return challenge_step.released(run, summary)


_SEQUENCE = Fields("sequence")


def _reconcile(jobs: list[BatchJob], batches: list[BatchRef]) -> None:
    """Manifests against the plan, before any sheet is read: every planned piece once, in sequence."""
    expected = 1
    for job, batch in zip(jobs, batches):
        with open(job.manifest_file, encoding="utf-8") as fh:
            rows = [_SEQUENCE(line) for line in fh]
        if len(rows) != batch.pieces:
            raise Halt("manifest does not hold every planned piece", step="verify", batch=job.name,
                       field="pieces", expected=batch.pieces, found=len(rows), action="re-render the batch")
        for row in rows:
            check_sequence(row["sequence"], expected, {"step": "verify", "batch": job.name, "piece": row["sequence"]})
            expected += 1


def build(options: BuildOptions, events: Events = quiet, force: bool = False) -> dict:
    """Run the line over one cycle extract; returns the run summary (state RELEASED or HALTED).

    Refuses a cycle whose run already exists (released: nothing to do; otherwise: resume it), unless
    `force`, which starts a new run with a new id.
    """
    return life.start(Statements(options), events, force)
