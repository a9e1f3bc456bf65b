"""Inserter models: `inserters/<model>.toml`, validated by pydantic like the layouts.

A model says how its control file and its results file are laid out (delimited with a header, or
fixed-length records), one entry per field, and how its status codes map to stmtprod's statuses.
A new inserter is a new TOML file, not new code.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from stmtprod.config import PROJECT_ROOT
from stmtprod.errors import ConfigError
from stmtprod.tomlconfig import load_model

STATUSES = ("OK", "DIVERTED", "DAMAGED", "ATTENTION", "PULLED")
MISSING = "MISSING"
DEFAULT_MODEL = "generic-csv"

# What a control field can carry, per piece.
CONTROL_VALUES = ("run_id", "lot", "sequence", "sheets", "bins", "divert", "postage_class", "weight_g", "name")
# What a results field can carry; run_id, sequence and status are required.
RESULT_VALUES = ("run_id", "sequence", "status", "bin", "timestamp", "note")
_REQUIRED_RESULTS = ("run_id", "sequence", "status")

FieldType = Literal["text", "int", "decimal", "flags", "timestamp"]


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSpec(_Config):
    """One column (delimited) or one span of characters (fixed); `value` says what it carries
    (default: its `name`)."""

    name: Annotated[str, Field(min_length=1, max_length=40)]
    type: FieldType = "text"
    width: Annotated[int, Field(ge=1, le=200)] | None = None
    value: str | None = None

    @property
    def carries(self) -> str:
        return self.value or self.name


class RecordFormat(_Config):
    format: Literal["delimited", "fixed"]
    delimiter: Annotated[str, Field(min_length=1, max_length=1)] = ","
    header: bool = True
    encoding: Literal["utf-8", "ascii", "latin-1"] = "utf-8"
    extension: Annotated[str, Field(pattern=r"^[a-z0-9]{1,8}$")] = "csv"
    fields: Annotated[list[FieldSpec], Field(min_length=1)]

    @model_validator(mode="after")
    def _fixed_needs_widths(self) -> "RecordFormat":
        if self.format == "fixed":
            for i, f in enumerate(self.fields):
                if f.width is None:
                    raise ValueError(f"fields.{i} ({f.name}): a fixed-length record needs a width for every field")
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise ValueError(f"field names repeat: {names}")
        return self

    @property
    def record_length(self) -> int:
        return sum(f.width or 0 for f in self.fields)


class InserterModel(_Config):
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]
    description: str = ""
    maximum_reprint_percent: Annotated[float, Field(ge=0, le=100)]
    attention_reprints: bool = False
    missing_status: Literal["OK", "DIVERTED", "DAMAGED", "ATTENTION", "PULLED"] | None = None
    divert_bin: Annotated[int, Field(ge=1, le=99)] = 2
    outsort_bins: Annotated[int, Field(ge=1, le=99)] | None = None  # bins 1..N; default: up to the divert bin
    control: RecordFormat
    results: RecordFormat
    statuses: dict[str, Literal["OK", "DIVERTED", "DAMAGED", "ATTENTION", "PULLED"]]

    @model_validator(mode="after")
    def _fields_carry_known_values(self) -> "InserterModel":
        for part, known in (("control", CONTROL_VALUES), ("results", RESULT_VALUES)):
            for i, f in enumerate(getattr(self, part).fields):
                if f.carries not in known:
                    raise ValueError(f"{part}.fields.{i}: {f.carries!r} is not one of {', '.join(known)}")
        carried = [f.carries for f in self.results.fields]
        for need in _REQUIRED_RESULTS:
            if need not in carried:
                raise ValueError(f"results.fields: no field carries {need!r}")
        if len(set(carried)) != len(carried):
            raise ValueError("results.fields: a value is carried by two fields")
        if not self.statuses:
            raise ValueError("statuses: map at least one status code")
        if self.divert_bin > self.bins:
            raise ValueError(f"divert_bin {self.divert_bin} is not one of the outsort_bins (1 to {self.bins})")
        return self

    @property
    def bins(self) -> int:
        """The highest outsort bin; a results file naming any other bin is refused."""
        return self.outsort_bins or self.divert_bin

    def status_of(self, code: str) -> str | None:
        return self.statuses.get(code)


def default_inserters_dir() -> Path:
    return Path(os.environ.get("STMTPROD_INSERTERS", PROJECT_ROOT / "inserters"))


def load_inserter(model: str | Path | None = None, folder: Path | None = None) -> InserterModel:
    """A model by name (`inserters/<name>.toml`) or by path; the default is `generic-csv`."""
    model = model or DEFAULT_MODEL
    path = Path(model) if str(model).endswith(".toml") else Path(folder or default_inserters_dir()) / f"{model}.toml"
    if not str(model).endswith(".toml") and not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,39}", str(model)):
        raise ConfigError(f"inserter model {model!r} is not a model name ([a-z0-9-])")
    if str(model) == "lots":
        raise ConfigError("'lots' is the lots file (which model runs each lot), not an inserter model",
                          file=str(path))
    loaded, _version = load_model(path, InserterModel, "inserter model file")
    if loaded.name != path.stem:
        raise ConfigError(f"name {loaded.name} does not match the file name", file=str(path), key="name")
    return loaded
