"""The insert catalog (`inserts/catalog.toml`) and the eligibility rules that choose inserts.

`select_inserts` is the one place the rules live. The planner uses it to fill each envelope; the
verifier applies it afresh to the source record to prove the barcode's hopper bitmap is right.
"""
from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Iterable, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from stmtprod.errors import ConfigError
from stmtprod.ingest.models import StatementRecord
from stmtprod.regions import Region
from stmtprod.tomlconfig import load_model


def _money(value: object) -> Decimal:
    if not isinstance(value, str):
        raise ValueError("thresholds are decimal strings, e.g. \"2000.00\"")
    return Decimal(value)


Threshold = dict[str, Annotated[Decimal, BeforeValidator(_money)]]


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Inserter(_Config):
    hoppers: Annotated[int, Field(ge=1, le=8)] = 8
    max_per_envelope: Annotated[int, Field(ge=0, le=8)] = 3
    max_envelope_weight_g: Annotated[float, Field(gt=0)] = 60.0
    envelope_weight_g: Annotated[float, Field(ge=0)] = 6.0
    sheet_weight_g: Annotated[float, Field(gt=0)] = 5.0

    def envelope_weight(self, sheets: int, insert_weights: Iterable[float]) -> float:
        """What the inserter weighs: one envelope, its sheets and its inserts (ingest, inserter and control files agree)."""
        return self.envelope_weight_g + sheets * self.sheet_weight_g + sum(insert_weights)


Language = Literal["ja", "zh-Hant", "ms", "id"]


class Insert(_Config):
    code: Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9-]{1,15}$")]
    title: str  # English
    titles: dict[Language, Annotated[str, Field(min_length=1)]] = {}  # in the other languages statements use
    hopper: Annotated[int, Field(ge=1, le=8)]
    weight_g: Annotated[float, Field(gt=0, le=50)]
    regions: Annotated[list[Region], Field(min_length=1)]
    products: list[str] = []
    segments_any: list[str] = []
    min_new_balance: Threshold = {}
    min_spend: Threshold = {}
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    priority: int = 100
    inventory: Annotated[int, Field(ge=0)]
    artwork: str | None = None

    def eligible(self, record: StatementRecord) -> bool:
        if record.region not in self.regions:
            return False
        if self.products and record.product not in self.products:
            return False
        if self.segments_any and not set(self.segments_any) & set(record.segments):
            return False
        if self.valid_from and record.period_end < self.valid_from:
            return False
        if self.valid_to and record.period_end > self.valid_to:
            return False
        for threshold, value in ((self.min_new_balance, "new_balance"), (self.min_spend, "spend")):
            if threshold and (record.currency not in threshold or getattr(record, value) < threshold[record.currency]):
                return False  # (the record's spend is added up only for an insert with a spend threshold)
        return True


class Catalog(_Config):
    inserter: Inserter = Inserter()
    insert: list[Insert]

    @model_validator(mode="after")
    def _hoppers(self) -> "Catalog":
        seen: dict[int, str] = {}
        for item in self.insert:
            if item.hopper > self.inserter.hoppers:
                raise ValueError(f"insert {item.code}: hopper {item.hopper} beyond the inserter's {self.inserter.hoppers}")
            if item.hopper in seen:
                raise ValueError(f"inserts {seen[item.hopper]} and {item.code} share hopper {item.hopper}")
            seen[item.hopper] = item.code
        codes = [i.code for i in self.insert]
        if len(set(codes)) != len(codes):
            raise ValueError("insert codes must be unique")
        return self

    def titles(self) -> dict[str, dict[str, str]]:
        """Insert code -> language -> title ("en" always), as statements and carriers print them."""
        return {i.code: {"en": i.title, **i.titles} for i in self.insert}

    def by_hopper(self, hopper: int) -> Insert:
        return next(i for i in self.insert if i.hopper == hopper)


def select_inserts(catalog: Catalog, record: StatementRecord) -> tuple[Insert, ...]:
    """The envelope's inserts: eligible ones by priority (then code), at most the inserter's limit."""
    eligible = sorted((i for i in catalog.insert if i.eligible(record)), key=lambda i: (i.priority, i.code))
    return tuple(eligible[: catalog.inserter.max_per_envelope])


def hoppers_of(inserts: tuple[Insert, ...]) -> frozenset[int]:
    return frozenset(i.hopper for i in inserts)


def load_catalog(path: Path) -> tuple[Catalog, str]:
    """The catalog and its version (a hash of the file), which the run records.

    Artwork files (read into proofs) must lie inside the catalog's folder, symbolic links resolved,
    or inside a folder listed in STMTPROD_ARTWORK_PATH: a catalog must not make the line read
    arbitrary files."""
    catalog, version = load_model(path, Catalog, "insert catalog")
    allowed = [Path(path).parent.resolve(),
               *(Path(p).resolve() for p in os.environ.get("STMTPROD_ARTWORK_PATH", "").split(os.pathsep) if p)]
    for index, item in enumerate(catalog.insert):
        if item.artwork is not None and not any((Path(path).parent / item.artwork).resolve().is_relative_to(folder)
                                                for folder in allowed):
            raise ConfigError(f"artwork {item.artwork!r} of insert {item.code} is outside the catalog's folder; move "
                              "it beside the catalog, or list its folder in STMTPROD_ARTWORK_PATH to allow it",
                              file=str(path), key=f"insert.{index}.artwork")
    return catalog, version
