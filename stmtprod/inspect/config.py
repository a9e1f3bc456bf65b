"""Inspection configuration (`inspection.toml`): AQL, level and mode per stage, switching options, and
the challenge pieces that prove the 100% checks every run (`stmtprod.challenges`)."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

from stmtprod.challenges.config import ChallengeConfig
from stmtprod.sampling.plans import normalize_aql, normalize_level
from stmtprod.tomlconfig import load_model

STAGE_NAMES = {1: "composition", 2: "print", 3: "insertion", 4: "dispatch"}


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StageConfig(_Config):
    name: str
    aql: float
    level: str = "II"
    mode: Literal["auto", "manual"] = "auto"

    @field_validator("aql")
    @classmethod
    def _aql(cls, value: float) -> float:
        return normalize_aql(value)

    @field_validator("level")
    @classmethod
    def _level(cls, value: str) -> str:
        return normalize_level(value)


class SwitchingConfig(_Config):
    steady_production: bool = True
    approved_for_reduced: bool = True
    use_limit_numbers: bool = False
    limit_number: int | None = None


class InspectionConfig(_Config):
    switching: SwitchingConfig = SwitchingConfig()
    stage: dict[Literal[1, 2, 3, 4], StageConfig]
    challenge: ChallengeConfig = ChallengeConfig()

    @field_validator("stage", mode="before")
    @classmethod
    def _keys(cls, value: dict) -> dict:
        return {int(k): v for k, v in value.items()} if isinstance(value, dict) else value

    def for_stage(self, number: int) -> StageConfig:
        return self.stage.get(number) or StageConfig(name=STAGE_NAMES[number], aql=0.65)


def load_inspection(path: Path) -> tuple[InspectionConfig, str]:
    return load_model(path, InspectionConfig, "inspection configuration")
