"""Region layouts: `layouts/<REGION>.toml`, validated by pydantic.

Everything a market decides (page, fonts, money and date conventions, address order, labels in its
languages, where the envelope window and the barcode sit) lives in the TOML, so a market change is a
reviewed configuration change, not a code change. Coordinates are in millimetres from the page's
top-left corner, as print specifications and envelope makers measure them.
"""
from __future__ import annotations

import hashlib
import re
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from stmtprod.errors import ConfigError
from stmtprod.regions import CURRENCY, MINOR_UNITS, REGIONS, Region
from stmtprod.tomlconfig import load_model

POSTAL_SYMBOLOGY = {"AU": "auspost", "JP": "japanpost"}  # the markets whose post reads its own barcode
PAGE_SIZES_MM = {"A4": (210.0, 297.0), "LETTER": (215.9, 279.4)}
LABEL_KEYS = (
    "statement_title", "account", "card", "period", "statement_date", "due_date", "summary",
    "previous_balance", "payments", "credits", "new_charges", "fees", "interest", "new_balance",
    "minimum_due", "points", "transactions", "date", "description", "amount", "brought_forward",
    "carried_forward", "total_new_charges", "page", "no_transactions", "enclosures",
)

Mm = Annotated[float, Field(ge=0, le=400)]


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Box(_Config):
    x_mm: Mm
    y_mm: Mm
    width_mm: Annotated[float, Field(gt=0, le=400)]
    height_mm: Annotated[float, Field(gt=0, le=400)]

    def contains(self, other: "Box") -> bool:
        return (self.x_mm <= other.x_mm and self.y_mm <= other.y_mm
                and other.x_mm + other.width_mm <= self.x_mm + self.width_mm
                and other.y_mm + other.height_mm <= self.y_mm + self.height_mm)


class Page(_Config):
    size: Literal["A4", "LETTER"] = "A4"
    margin_mm: Annotated[float, Field(ge=5, le=40)] = 15

    @property
    def size_mm(self) -> tuple[float, float]:
        return PAGE_SIZES_MM[self.size]


class Fonts(_Config):
    """TrueType files, found under the system font folders; every one is embedded as a subset.

    `regular` and `bold` set the market's script (`subfont_index` picks the face in a .ttc file,
    `bold_subfont_index` the bold one's, default the same); `fallback` faces draw characters those
    lack; `latin_regular` / `latin_bold`, when given, set Latin text, digits and amounts instead (a
    CJK font's own Latin glyphs may be typewriter-like). Bold falls back to the regular faces.
    `bold_scale` sizes the bold face against the rest, for a face whose glyphs are small in their em."""

    regular: str
    bold: str
    subfont_index: Annotated[int, Field(ge=0)] = 0
    bold_subfont_index: Annotated[int, Field(ge=0)] | None = None
    bold_scale: Annotated[float, Field(ge=0.5, le=2)] = 1.0
    fallback: Annotated[tuple[str, ...], Field(max_length=4)] = ()
    latin_regular: str | None = None
    latin_bold: str | None = None

    @model_validator(mode="after")
    def _latin_pair(self) -> "Fonts":
        if (self.latin_regular is None) != (self.latin_bold is None):
            raise ValueError("latin_regular and latin_bold go together")
        return self


class Currency(_Config):
    code: Literal["AUD", "NZD", "JPY", "MYR", "IDR", "SGD", "HKD"]
    symbol: str
    minor_units: Literal[0, 2]
    group_separator: Literal[",", ".", " ", ""] = ","
    decimal_separator: Literal[".", ","] = "."
    symbol_space: bool = False


class AddressRules(_Config):
    order: Literal["western", "postcode_first"] = "western"
    postcode_prefix: str = ""
    postcode_pattern: str
    postcode_required: bool = True

    @field_validator("postcode_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return value


class BarcodePlacement(_Config):
    """Code 128 geometry. Defaults suit inserter cameras: 0.33 mm (13 mil) narrow bars, 10 mm tall,
    quiet zones of 10 modules (ISO/IEC 15417 minimum)."""

    x_mm: Mm
    y_mm: Mm
    narrow_bar_mm: Annotated[float, Field(ge=0.25, le=1.0)] = 0.33
    height_mm: Annotated[float, Field(ge=6, le=30)] = 10
    quiet_zone_modules: Annotated[int, Field(ge=10, le=40)] = 10


class PostalPlacement(_Config):
    """The postal operator's barcode in the envelope window (stmtprod.postal): which symbology, the
    Japan Post point size (8-11.5) and how far the insert may shift in the envelope in any direction."""

    symbology: Literal["auspost", "japanpost"]
    point_size: Annotated[float, Field(ge=8, le=11.5)] = 10.0
    tolerance_mm: Annotated[float, Field(ge=0, le=10)] = 2.0


class Labels(_Config):
    model_config = ConfigDict(extra="forbid", frozen=True)
    statement_title: str
    account: str
    card: str
    period: str
    statement_date: str
    due_date: str
    summary: str
    previous_balance: str
    payments: str
    credits: str
    new_charges: str
    fees: str
    interest: str
    new_balance: str
    minimum_due: str
    points: str
    transactions: str
    date: str
    description: str
    amount: str
    brought_forward: str
    carried_forward: str
    total_new_charges: str
    page: str
    no_transactions: str
    enclosures: str

    @field_validator("page")
    @classmethod
    def _page_fields(cls, value: str) -> str:
        if "{n}" not in value or "{m}" not in value:
            raise ValueError("must contain {n} and {m}")
        return value


class Layout(_Config):
    region: Region
    country_name: str
    issuer_name: str
    hotline: str
    return_address: Annotated[list[str], Field(min_length=1, max_length=4)]
    page: Page = Page()
    fonts: Fonts
    currency: Currency
    date_format: str
    address: AddressRules
    window: Box
    barcode: BarcodePlacement
    labels: dict[Literal["en", "ja", "zh-Hant", "ms", "id"], Labels]
    footer: Annotated[list[str], Field(min_length=1, max_length=4)]
    postal: PostalPlacement | None = None

    @field_validator("date_format")
    @classmethod
    def _date_format(cls, value: str) -> str:
        import datetime as dt

        try:
            value.format(year=2026, month=1, day=2, date=dt.date(2026, 1, 2))
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"bad placeholder {exc}; use {{year}}, {{month:02d}}, {{day:02d}}") from None
        return value

    @model_validator(mode="after")
    def _coherent(self) -> "Layout":
        if "en" not in self.labels:
            raise ValueError("labels.en is required: every statement carries English labels")
        if self.currency.code != CURRENCY[self.region]:
            raise ValueError(f"currency.code {self.currency.code} is not {CURRENCY[self.region]}")
        if self.currency.minor_units != MINOR_UNITS[self.currency.code]:
            raise ValueError(f"currency.minor_units must be {MINOR_UNITS[self.currency.code]} for {self.currency.code}")
        width, height = self.page.size_mm
        if self.window.x_mm + self.window.width_mm > width or self.window.y_mm + self.window.height_mm > height:
            raise ValueError("window lies outside the page")
        wanted = POSTAL_SYMBOLOGY.get(self.region)
        if (self.postal.symbology if self.postal else None) != wanted:
            raise ValueError(f"region {self.region} needs " + (f"[postal] symbology = \"{wanted}\"" if wanted
                                                               else "no [postal] section"))
        if self.postal is not None:
            self.postal_placement(self.postal.symbology)  # the window must hold it, clear zones and all
        return self

    def postal_placement(self, symbology: str):
        """Where the postal barcode goes in the window (stmtprod.postal.geometry.Placement)."""
        from stmtprod.postal.geometry import place

        return place(self.window, symbology, self.postal.point_size, self.postal.tolerance_mm)

    @cached_property
    def postcode_re(self) -> re.Pattern:
        return re.compile(self.address.postcode_pattern)


class LayoutSet:
    """All region layouts loaded from one folder, with a version hash the ledger records."""

    def __init__(self, layouts: dict[str, Layout], version: str):
        self.layouts = layouts
        self.version = version

    def __getitem__(self, region: str) -> Layout:
        return self.layouts[region]


def load_layout(path: Path) -> Layout:
    layout, _version = load_model(path, Layout, "layout file")
    if layout.region != path.stem:
        raise ConfigError(f"region {layout.region} does not match the file name", file=str(path), key="region")
    return layout


def load_layouts(folder: Path, regions: tuple[str, ...] = REGIONS) -> LayoutSet:
    """Load and validate every region's layout; the version hashes all of them, so a change shows."""
    digest = hashlib.sha256()
    layouts = {}
    for region in regions:
        path = Path(folder) / f"{region}.toml"
        layouts[region] = load_layout(path)
        digest.update(region.encode() + b"\0" + path.read_bytes() + b"\0")
    return LayoutSet(layouts, digest.hexdigest()[:16])
