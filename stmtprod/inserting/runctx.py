"""A released run folder as the inserter loop sees it: id, ledger folder, configuration, pieces."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from stmtprod.catalog import Catalog, load_catalog
from stmtprod.errors import UsageError
from stmtprod.inserting.pieces import Piece, RunMap, run_pieces
from stmtprod.layout import LayoutSet, load_layouts
from stmtprod.engine.runstate import RunRecord


@dataclass
class RunFolder:
    run_dir: Path
    run_id: str
    options: dict

    @classmethod
    def open(cls, run_dir: Path) -> "RunFolder":
        """Refuses a folder that is not a released run (usage error, exit 2)."""
        run_dir = Path(run_dir).resolve()
        try:
            data = RunRecord.load(run_dir).data
        except FileNotFoundError:
            raise UsageError(f"{run_dir} is not a run folder (no run.json)") from None
        if not (run_dir / "release" / "manifest").is_dir():
            raise UsageError(f"run {data['run_id']} in {run_dir} is not released (no release/manifest/): "
                             "the inserter loop starts at release")
        return cls(run_dir, data["run_id"], data.get("options") or {})

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
