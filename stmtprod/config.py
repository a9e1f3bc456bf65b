"""Where configuration lives and the options of a build."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from stmtprod.regions import REGIONS

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def default_layouts_dir() -> Path:
    return Path(os.environ.get("STMTPROD_LAYOUTS", PROJECT_ROOT / "layouts"))


def default_inspection_file() -> Path:
    return Path(os.environ.get("STMTPROD_INSPECTION", PROJECT_ROOT / "inspection.toml"))


def default_catalog_file() -> Path:
    return Path(os.environ.get("STMTPROD_CATALOG", PROJECT_ROOT / "inserts" / "catalog.toml"))


@dataclass(frozen=True)
class BuildOptions:
    input: Path
    out: Path
    regions: tuple[str, ...] = REGIONS
    batch_size: int = 1000
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    run_id: str | None = None
    reject_threshold: float = 0.05
    layouts_dir: Path = field(default_factory=default_layouts_dir)
    catalog_file: Path = field(default_factory=default_catalog_file)
    inspection_file: Path = field(default_factory=default_inspection_file)
    drill: str | None = None
    executor: str = "local"
    scheduler: str | None = None
    allow_empty: bool = False   # an empty cycle (no record, or none accepted) is released, not refused

    def fingerprint(self) -> str:
        """What, besides the input and configuration files, changes the output bytes; a drill also
        changes the run id, so a drill never stands in the way of the production run of its cycle."""
        text = f"regions={','.join(self.regions)};batch={self.batch_size};threshold={self.reject_threshold}"
        return text + (f";drill={self.drill}" if self.drill else "")
