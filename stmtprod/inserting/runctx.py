"""A released run folder as the inserter loop sees it: id, ledger folder, configuration, pieces."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from stmtprod.catalog import Catalog, load_catalog
from stmtprod.engine.ledger import Ledger
from stmtprod.errors import EnvironmentFault, UsageError
from stmtprod.inserting.pieces import Piece, RunMap, pulled_sequences, run_pieces
from stmtprod.layout import LayoutSet, load_layouts
from stmtprod.engine.runstate import RunRecord


@dataclass
class RunFolder:
    run_dir: Path
    run_id: str
    options: dict

    @classmethod
    def open(cls, run_dir: Path) -> "RunFolder":
        """Refuses a folder that is not a released run (usage error, exit 2), or whose pulled list is not
        the ledger's (`check_pulled`, exit 7)."""
        run_dir = Path(run_dir).resolve()
        try:
            data = RunRecord.load(run_dir).data
        except FileNotFoundError:
            raise UsageError(f"{run_dir} is not a run folder (no run.json)") from None
        if not (run_dir / "release" / "manifest").is_dir():
            raise UsageError(f"run {data['run_id']} in {run_dir} is not released (no release/manifest/): "
                             "the inserter loop starts at release")
        run = cls(run_dir, data["run_id"], data.get("options") or {})
        run.check_pulled()
        return run

    @property
    def out(self) -> Path:
        return self.run_dir.parent

    @property
    def release(self) -> Path:
        return self.run_dir / "release"

    @cached_property
    def catalog(self) -> Catalog:
        return load_catalog(Path(self.options["catalog_file"]))[0]

    @cached_property
    def layouts(self) -> LayoutSet:
        return load_layouts(Path(self.options["layouts_dir"]))

    @cached_property
    def lots(self) -> dict[str, list[Piece]]:
        return run_pieces(self.release, self.run_dir / "work" / "accepted", self.catalog, self.layouts)

    @cached_property
    def map(self) -> RunMap:
        """The run's lots as ranges of sequences (what reconciliation needs, at any size)."""
        return RunMap.read(self.release)

    def check_pulled(self) -> None:
        """`release/pulled.jsonl`, which tells the inserter which pieces to divert, lists exactly the pieces
        the ledger records as pulled at inspection (it is written from them at release). A piece left off
        it would be inserted and mailed, and one added would be held back: either way the release was
        changed after it was made, so the inserter loop stops (exit 7) rather than trust it."""
        listed = pulled_sequences(self.release)
        ledger = Ledger(self.out)
        try:
            decided = {p["sequence"] for p in ledger.pulled(self.run_id)}
        finally:
            ledger.close()
        if listed != decided:
            missing, extra = sorted(decided - listed), sorted(listed - decided)
            raise EnvironmentFault(
                f"{self.release / 'pulled.jsonl'} does not list the pieces the ledger records as pulled at "
                f"inspection for run {self.run_id}"
                + (f"; not listed: {_some(missing)}" if missing else "")
                + (f"; listed but not pulled: {_some(extra)}" if extra else "")
                + ": the release was changed after it was made; restore it from the run's backup (the "
                  "ledger holds what QA decided) before the inserter loop goes on")


def _some(sequences: list[int]) -> str:
    return ", ".join(map(str, sequences[:5])) + (f" and {len(sequences) - 5} more" if len(sequences) > 5 else "")
