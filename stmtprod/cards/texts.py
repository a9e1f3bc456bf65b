"""Carrier texts per market: `layouts/cards/<REGION>.toml`, validated by pydantic.

The region's statement layout (`layouts/<REGION>.toml`) still decides page, fonts, envelope window,
barcode placement and return address; this file adds what only a card carrier says: its own
regulatory footer (the statement's asks for payment by the due date), the welcome letter (per
reason: new, renewal, replacement), the activation steps, the hotline per product, the labels, where
the card is attached, and which catalog inserts make up the welcome kit. Texts come in English plus
the market's languages; a carrier prints English and the record's language when the file has it,
like the statement labels.

Checked against the region layout and the catalog at load time: the attach area lies on the page,
clear of the envelope window and the barcode; every character can be printed with the market's
font; every welcome-kit insert exists and serves the region. An error names the file and the key.
"""
from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from stmtprod.catalog import Catalog
from stmtprod.errors import ConfigError
from stmtprod.layout import Box, Layout, LayoutSet
from stmtprod.tomlconfig import config_error
from stmtprod.regions import REGIONS, Region
from stmtprod.render import fitting
from stmtprod.render.fonts import coverage

Language = Literal["en", "ja", "zh-Hant", "ms", "id"]
Reason = Literal["new", "renewal", "replacement"]
Line = Annotated[str, Field(min_length=1, max_length=400)]


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_PLACEHOLDERS = {"greeting": "name", "card_ending": "last5", "hotline": "hotline"}


def _needs(value: str, *fields: str) -> str:
    for name in fields:
        if "{" + name + "}" not in value:
            raise ValueError(f"must contain {{{name}}}")
    return value


class CarrierText(_Config):
    """Everything a carrier says in one language."""

    title: Line
    greeting: Line                       # {name}
    intro: dict[Reason, Line]            # one opening paragraph per reason for the card
    body: Annotated[list[Line], Field(max_length=4)] = []
    card_ending: Line                    # {last5}
    name_on_card: Line
    attach_here: Line
    activation_title: Line
    activation_steps: Annotated[list[Line], Field(min_length=1, max_length=6)]
    hotline: Line                        # {hotline}
    enclosures: Line
    reference: Line

    @field_validator("greeting", "card_ending", "hotline")
    @classmethod
    def _placeholder(cls, value: str, info: ValidationInfo) -> str:
        return _needs(value, _PLACEHOLDERS[info.field_name])

    @field_validator("intro")
    @classmethod
    def _reasons(cls, value: dict) -> dict:
        missing = {"new", "renewal", "replacement"} - set(value)
        if missing:
            raise ValueError(f"needs a paragraph for every reason; missing {', '.join(sorted(missing))}")
        return value

    def strings(self) -> list[tuple[str, str]]:
        """(key path, text) of every string, for the font coverage check."""
        out = []
        for name, value in self:
            if isinstance(value, str):
                out.append((name, value))
            elif isinstance(value, list):
                out += [(f"{name}.{i}", v) for i, v in enumerate(value)]
            elif isinstance(value, dict):
                out += [(f"{name}.{k}", v) for k, v in value.items()]
        return out


class CarrierTexts(_Config):
    region: Region
    welcome_kit: list[Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9-]{1,15}$")]] = []
    hotline: dict[str, Annotated[str, Field(min_length=1, max_length=60)]]
    attach_area: Box
    # The carrier's regulatory footer: the statement's (layouts/<REGION>.toml) speaks of payments due.
    footer: Annotated[list[Line], Field(min_length=1, max_length=3)]
    text: dict[Language, CarrierText]

    @model_validator(mode="after")
    def _coherent(self) -> "CarrierTexts":
        if "en" not in self.text:
            raise ValueError("text.en is required: every carrier carries English")
        if "default" not in self.hotline:
            raise ValueError("hotline.default is required (products without their own number use it)")
        return self

    def hotline_for(self, product: str) -> str:
        return self.hotline.get(product, self.hotline["default"])

    def languages(self, language: str) -> list[CarrierText]:
        """The record's language first when the file has it, then English."""
        local = self.text.get(language) if language != "en" else None
        return [local, self.text["en"]] if local is not None else [self.text["en"]]


class CarrierSet:
    """Every region's carrier texts from one folder, with a version hash for the run record."""

    def __init__(self, texts: dict[str, CarrierTexts], version: str, folder: Path):
        self.texts, self.version, self.folder = texts, version, folder

    def __getitem__(self, region: str) -> CarrierTexts:
        return self.texts[region]


def _overlaps(a: Box, b: Box) -> bool:
    return not (a.x_mm + a.width_mm <= b.x_mm or b.x_mm + b.width_mm <= a.x_mm
                or a.y_mm + a.height_mm <= b.y_mm or b.y_mm + b.height_mm <= a.y_mm)


def check_against(texts: CarrierTexts, layout: Layout, catalog: Catalog, path: Path) -> None:
    """What only the region layout and the catalog can tell: geometry, glyphs, welcome-kit inserts."""
    width, height = layout.page.size_mm
    area = texts.attach_area
    if area.x_mm + area.width_mm > width or area.y_mm + area.height_mm > height:
        raise ConfigError("attach area lies outside the page", file=str(path), key="attach_area")
    if _overlaps(area, layout.window):
        raise ConfigError("attach area overlaps the envelope window", file=str(path), key="attach_area")
    if area.y_mm + area.height_mm >= layout.barcode.y_mm:
        raise ConfigError("attach area reaches into the barcode strip", file=str(path), key="attach_area")
    if area.width_mm < 86 or area.height_mm < 54.5:
        raise ConfigError("attach area is smaller than an ID-1 card (85.6 x 54.0 mm)", file=str(path),
                          key="attach_area")
    covered = coverage(layout.fonts)
    strings = [(f"hotline.{k}", v) for k, v in texts.hotline.items()]
    strings += [(f"footer.{i}", v) for i, v in enumerate(texts.footer)]
    for language, block in texts.text.items():
        strings += [(f"text.{language}.{k}", v) for k, v in block.strings()]
    for key, value in strings:
        for ch in value:
            if ord(ch) not in covered and not ch.isspace():
                raise ConfigError(f"character {ch!r} (U+{ord(ch):04X}) cannot be printed with the {layout.region} "
                                  "layout's font", file=str(path), key=key)
    known = {i.code: i for i in catalog.insert}
    for i, code in enumerate(texts.welcome_kit):
        if code not in known:
            raise ConfigError(f"insert {code} is not in the catalog", file=str(path), key=f"welcome_kit.{i}")
        if texts.region not in known[code].regions:
            raise ConfigError(f"insert {code} does not serve region {texts.region}", file=str(path),
                              key=f"welcome_kit.{i}")


def load_carrier_texts(path: Path) -> CarrierTexts:
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("carrier text file is missing", file=str(path)) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not valid TOML: {exc}", file=str(path)) from None
    try:
        texts = CarrierTexts.model_validate(data)
    except ValidationError as exc:
        raise config_error(exc, Path(path)) from None
    if texts.region != Path(path).stem:
        raise ConfigError(f"region {texts.region} does not match the file name", file=str(path), key="region")
    return texts


def load_carrier_set(folder: Path, layouts: LayoutSet, catalog: Catalog,
                     regions: tuple[str, ...] = REGIONS) -> CarrierSet:
    digest = hashlib.sha256()
    texts = {}
    for region in regions:
        path = Path(folder) / f"{region}.toml"
        texts[region] = load_carrier_texts(path)
        check_against(texts[region], layouts[region], catalog, path)
        digest.update(region.encode() + b"\0" + path.read_bytes() + b"\0")
    return CarrierSet(texts, digest.hexdigest()[:16], Path(folder))


def bilingual(texts: list[CarrierText], key: str) -> str:
    return " / ".join(getattr(t, key) for t in texts)


def beside_window(layout: Layout) -> float:
    """Where the embossed name block starts: right of the window, at 118 mm or more."""
    return max(118.0, layout.window.x_mm + layout.window.width_mm + 6)


REFERENCE_BOX = fitting.Fit(8, fitting.MIN_FONT, 80)  # "Reference: C-AU-000001" at the top right


def record_boxes(layout: Layout, texts: CarrierTexts, language: str, card_id: str,
                 embossed: str) -> list[tuple[str, str, fitting.Fit]]:
    """(field, text, box) of the carrier's lines that print order values outside the window, as the
    painter prints them (`stmtprod.render.fitting`): the reference and the embossed name twice."""
    langs = texts.languages(language)
    right = layout.page.size_mm[0] - layout.page.margin_mm
    x = beside_window(layout)
    return [("card_id", f"{bilingual(langs, 'reference')}: {card_id}", REFERENCE_BOX),
            ("embossed_name", embossed, fitting.Fit(fitting.EMBOSSED_SIZE, fitting.EMBOSSED_MIN, right - x, bold=True)),
            ("embossed_name", f"{bilingual(langs, 'name_on_card')}: {embossed}",
             fitting.Fit(8, fitting.MIN_FONT, texts.attach_area.width_mm))]
