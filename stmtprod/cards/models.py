"""The card line's input schemas (../shared/formats.md, "Card orders" and "Card personalisation log").

`CardOrder` is what upstream sends, PAN included. It exists only while one input line is being
validated: ingest turns it at once into a `CardRecord`, which holds a keyed token and the last five
digits instead of the number, and only `CardRecord`s are ever written anywhere.

Every error message here is written so that it never repeats the value it refuses: pydantic's own
error objects carry the input, so callers use only the message text and the field path.
"""
from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from stdnum import luhn

from stmtprod.cardnumbers import card_number_field, order_card_number, reason as card_number_reason
from stmtprod.ingest.models import Address, RuleError, Text
from stmtprod.regions import Region

PAN_LENGTH = 15
MAX_SLOT = 9_999_999     # the largest carrier sequence a barcode holds
EMBOSS_MAX = 26          # ISO/IEC 7813 track 1 name field
_EMBOSS = re.compile(r"^[A-Z0-9][A-Z0-9 .'/-]*$")
_EXPIRY = re.compile(r"^([0-9]{4})-([0-9]{2})$")
_DIGITS_RUN = re.compile(r"[0-9][0-9 \-]{10,}[0-9]")

Slug = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
CardId = Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9-]{3,31}$")]
Last5 = Annotated[str, Field(pattern=r"^[0-9]{5}$")]
Token = Annotated[str, Field(pattern=r"^tok_[0-9a-f]{16}$")]


def _pan(value: object) -> str:
    """A 15-digit string passing Luhn. Messages never quote the value."""
    if not isinstance(value, str):
        raise ValueError(f"card number must be a string of {PAN_LENGTH} digits, not {type(value).__name__}")
    if len(value) != PAN_LENGTH or not value.isascii() or not value.isdigit():
        raise ValueError(f"card number must be exactly {PAN_LENGTH} digits (no spaces or separators)")
    if not luhn.is_valid(value):
        raise ValueError("card number fails the Luhn check")
    return value


def _expiry(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("expiry must be a string YYYY-MM")
    m = _EXPIRY.fullmatch(value)
    if not m:
        raise ValueError("expiry is not YYYY-MM")   # the value is not quoted: it may be anything, a card number too
    year, month = int(m.group(1)), int(m.group(2))
    if not 1 <= month <= 12:
        raise ValueError(f"expiry {value!r}: month {month:02d} is not 01-12")
    if not 2000 <= year <= 2099:
        raise ValueError(f"expiry {value!r}: year {year} is out of range")
    return value


def _embossed(value: str) -> str:
    if not _EMBOSS.fullmatch(value):
        raise ValueError("embossed name may hold only A-Z, 0-9, space and . ' / - (uppercase, as embossed)")
    if value != value.strip() or "  " in value:
        raise ValueError("embossed name has leading, trailing or double spaces")
    return value


Pan = Annotated[str, BeforeValidator(_pan), Field(repr=False)]   # never in a repr, log line or traceback
Expiry = Annotated[str, BeforeValidator(_expiry)]
Embossed = Annotated[str, Field(min_length=2, max_length=EMBOSS_MAX), AfterValidator(_embossed)]


def digit_runs(text: str, min_digits: int = 12) -> list[str]:
    """Runs of `min_digits` or more digits (spaces and dashes between them allowed), separators removed."""
    return [re.sub(r"[ \-]", "", m.group(0)) for m in _DIGITS_RUN.finditer(text)
            if len(re.sub(r"[ \-]", "", m.group(0))) >= min_digits]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class CardOrder(_Strict):
    """One line of the card order file, PAN included. Never stored, logged or printed as such."""

    card_id: CardId
    region: Region
    product: Slug
    language: Literal["en", "ja", "zh-Hant", "ms", "id"]
    pan: Pan
    expiry: Expiry
    embossed_name: Embossed
    name: Text
    address: Address
    reason: Literal["new", "renewal", "replacement"]
    segments: list[Slug] = []

    @model_validator(mode="after")
    def _consistent(self) -> "CardOrder":
        if self.address.country != self.region:
            raise RuleError("address.country", f"address.country {self.address.country} does not equal region {self.region}")
        found = order_card_number(self)
        if found:
            raise RuleError(found, card_number_reason(found), "card-number")
        texts = [("card_id", self.card_id), ("name", self.name), ("embossed_name", self.embossed_name),
                 ("address.city", self.address.city), ("address.state", self.address.state),
                 ("address.postcode", self.address.postcode)]
        texts += [(f"address.lines.{i}", t) for i, t in enumerate(self.address.lines)]
        for field, text in texts:   # stage 1 refuses a carrier with 13 digits in a row, Luhn or not
            if digit_runs(text):
                raise RuleError(field, f"{field} holds a long run of digits (a card number?): refused unprinted")
        return self

    def record(self, token: str) -> "CardRecord":
        """The sanitized record: token and last five digits instead of the number; no expiry."""
        data = self.model_dump(exclude={"pan", "expiry"})
        return CardRecord(**data, token=token, last5=self.pan[-5:])


class CardRecord(_Strict):
    """An accepted card order as the line keeps it: what the carrier needs, never the card number."""

    card_id: CardId
    region: Region
    product: Slug
    language: Literal["en", "ja", "zh-Hant", "ms", "id"]
    token: Token
    last5: Last5
    embossed_name: Embossed
    name: Text
    address: Address
    reason: Literal["new", "renewal", "replacement"]
    segments: list[Slug] = []


class CardSpillRow(BaseModel):
    """An accepted order as spilled by ingest: its input line number and the sanitized record."""

    line: int
    record: CardRecord


class CarrierPiece(BaseModel):
    """One carrier as planned: its place in the run, its welcome-kit inserts and the record."""

    model_config = ConfigDict(frozen=True)
    sequence: int
    line: int
    inserts: tuple[str, ...]
    hoppers: tuple[int, ...]
    record: CardRecord


def _no_card_number(value: str) -> str:
    if card_number_field([("", value)]):
        raise ValueError("holds what reads as a card number")
    return value


class PersonalisationEntry(_Strict):
    """One card made, as the personalisation machine reports it (production order).

    Only values that pass here are ever quoted in a halt: no card number, and a slot no larger than
    a run's carrier sequences."""

    card_id: Annotated[str, Field(min_length=1, max_length=32), AfterValidator(_no_card_number)]
    pan_last5: Last5
    embossed_name: Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_no_card_number)]
    slot: Annotated[int, Field(ge=1, le=MAX_SLOT, strict=True)]
