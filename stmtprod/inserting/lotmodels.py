"""Which inserter model runs each lot: `inserters/lots.toml`, validated by pydantic like the models.

A lot (a statement region, or a card lot such as `CARDS-AU`) runs on one inserter, and which model
that is belongs in configuration, not code. Lots not listed use `default_model` (generic-csv when the
file is absent). A lot may also set its own `maximum_reprint_percent`, which overrides its model's.
The release writes each lot's control file in its model's format; reconcile and insert-sim then take
the model from the control file the lot was released with, so a later edit of this file cannot make
a results file be read in another format than the one its inserter was told.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field

from stmtprod.errors import ConfigError, UsageError
from stmtprod.inserting.models import DEFAULT_MODEL, InserterModel, default_inserters_dir, load_inserter
from stmtprod.tomlconfig import load_model

if TYPE_CHECKING:
    from stmtprod.inserting.runctx import RunFolder

LOTS_FILE = "lots.toml"
FOLDER = "inserter"  # control files: release/inserter/<lot>.<model>.<ext>
_MODEL_NAME = r"^[a-z0-9][a-z0-9-]{0,39}$"


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LotSetting(_Config):
    model: Annotated[str, Field(pattern=_MODEL_NAME)] | None = None
    maximum_reprint_percent: Annotated[float, Field(ge=0, le=100)] | None = None


class LotModels(_Config):
    default_model: Annotated[str, Field(pattern=_MODEL_NAME)] = DEFAULT_MODEL
    lots: dict[Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9-]{0,39}$")], LotSetting] = {}

    def model_name(self, lot: str) -> str:
        setting = self.lots.get(lot)
        return (setting.model if setting and setting.model else None) or self.default_model

    def limit(self, lot: str, model: InserterModel) -> float:
        """The lot's maximum reprint share (%): its own, else its model's."""
        setting = self.lots.get(lot)
        if setting and setting.maximum_reprint_percent is not None:
            return setting.maximum_reprint_percent
        return model.maximum_reprint_percent


def load_lot_models(folder: Path | None = None) -> LotModels:
    """`<inserters>/lots.toml`, every model it names loaded (a ConfigError names the file and key)."""
    path = Path(folder or default_inserters_dir()) / LOTS_FILE
    if not path.exists():
        return LotModels()
    config, _version = load_model(path, LotModels, "inserter lots file")
    names = {"default_model": config.default_model} | {f"lots.{lot}.model": s.model
                                                        for lot, s in config.lots.items() if s.model}
    for key, name in names.items():
        try:
            load_inserter(name, path.parent)
        except ConfigError as exc:
            raise ConfigError(f"model {name} cannot be used: {exc}", file=str(path), key=key) from None
    return config


def released_models(folder: Path, lot: str) -> list[str]:
    """The models a lot has control files for in `folder` (`release/`): what its inserter was told."""
    names = set()
    for path in (Path(folder) / FOLDER).glob(f"{lot}.*.*"):
        parts = path.name.split(".")
        if len(parts) == 3 and parts[0] == lot:
            names.add(parts[1])
    return sorted(names)


def lot_model(folder: Path, lot: str, lots: LotModels | None = None) -> InserterModel:
    """The model a released lot runs on: the one its control file was written for; when it has
    several (`stmtprod inserter control --model` added one), the configured one among them."""
    lots = lots or load_lot_models()
    released = released_models(folder, lot)
    configured = lots.model_name(lot)
    if len(released) == 1:
        return load_inserter(released[0])
    if released and configured not in released:
        raise UsageError(f"lot {lot} has control files for models {', '.join(released)} and inserters/lots.toml "
                         f"names {configured}: give --model")
    return load_inserter(configured)


def results_model(run: RunFolder, lots: list[str], model: str | None) -> InserterModel:
    """The model a results file for `lots` is read in: `model` if given, else the lots' own (one
    results file is in one model's format, so lots on different models need `--lot`)."""
    if model:
        return load_inserter(model)
    config = load_lot_models()
    chosen = {lot: lot_model(run.release, lot, config) for lot in lots}
    if len({m.name for m in chosen.values()}) > 1:
        raise UsageError("lots run on different inserter models ("
                         + ", ".join(f"{lot}: {m.name}" for lot, m in chosen.items())
                         + "): a results file is in one model's format; give --lot")
    return next(iter(chosen.values()))


def covered_lots(run: RunFolder, lots: list[str] | None) -> list[str]:
    """The lots a results file reports on: those given, else every lot of the run."""
    known = list(run.map.lots)
    for lot in lots or ():
        if lot not in known:
            raise UsageError(f"run {run.run_id} has no lot {lot} (lots: {', '.join(known)})")
    return list(dict.fromkeys(lots)) if lots else known
