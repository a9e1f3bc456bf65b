"""The `[challenge]` section of `inspection.toml`: how many challenge pieces each lot carries, the
fault classes they rotate through, and who they are addressed to (the issuer's own return address).

A lot without challenge pieces proves nothing about the checkers that night, so switching them off
(`per_lot = 0`) needs a written `off_reason`, which the run records and the report prints.
"""
from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from stmtprod.ingest.models import Text
from stmtprod.regions import Region

DEFAULT_CLASSES = ("text-altered", "wrong-barcode", "insert-bit", "sheet-swap", "geometry", "text-added",
                   "text-hidden")
"""The issue's five: a wrong amount, a wrong barcode, a wrong insert bit, a sheet from another piece, a thin bar."""


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Addressee(_Config):
    """A region's challenge addressee: the issuer's return address as a record's address fields."""

    name: Text
    lines: Annotated[list[Text], Field(min_length=1, max_length=4)]
    city: Text
    state: str = ""
    postcode: str = ""


class ChallengeConfig(_Config):
    per_lot: Annotated[int, Field(ge=0, le=20)] = 2
    classes: Annotated[tuple[str, ...], Field(min_length=1)] = DEFAULT_CLASSES
    off_reason: str = ""
    address: dict[Region, Addressee] = {}

    @model_validator(mode="after")
    def _coherent(self) -> "ChallengeConfig":
        from stmtprod.challenges.faults import CLASSES

        unknown = [c for c in self.classes if c not in CLASSES]
        if unknown:
            raise ValueError(f"unknown challenge class(es) {', '.join(unknown)}; known: {', '.join(CLASSES)}")
        if self.per_lot == 0 and not self.off_reason.strip():
            raise ValueError("per_lot = 0 switches challenge pieces off: say why in off_reason")
        return self
