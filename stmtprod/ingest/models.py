"""The cycle extract's schema (../shared/formats.md), as pydantic models.

Strict where money is concerned: amounts must arrive as decimal strings (a JSON number is refused,
since it may already have passed through a float), must use exactly the currency's minor unit, and
the balance must add up. A record that does not conform is rejected, never "fixed".
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from operator import attrgetter
from typing import Annotated, Literal

from pydantic import (BaseModel, ConfigDict, Field, GetCoreSchemaHandler, GetJsonSchemaHandler, ValidationError,
                      model_validator)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from stmtprod.regions import CURRENCY, MINOR_UNITS, Region

_MAX_TEXT = 120
# Checked by pydantic-core's own regex engine (no Python call per field): no control character (they
# would corrupt print streams and logs; refused rather than stripped silently) and not blank.
TEXT_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
TEXT_PATTERN_REASON = "contains control characters, or nothing but spaces"


ACCOUNT_ID_PATTERN = r"^[A-Z0-9][A-Z0-9-]{3,31}$"
PLAIN_DECIMAL_PATTERN = r"^-?[0-9]+(?:\.[0-9]+)?$"
_PLAIN_AMOUNT = re.compile(PLAIN_DECIMAL_PATTERN)


def _decimal_string(value: object) -> Decimal:
    """Any amount the plain pattern does not take, refused with the reason. Forms that `Decimal`
    would read but that are not how formats.md writes an amount ("+1.00", ".50", "1_000.00", digits of
    other scripts such as "١٢") are refused too: an upstream fault, never read as a number."""
    if not isinstance(value, str):
        raise ValueError("amount must be a decimal string, not " + type(value).__name__)
    text = value.strip()
    if text != value or not text:
        raise ValueError(f"amount {value!r} is not a plain decimal string")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"amount {value!r} is not a decimal number") from None
    if not amount.is_finite() or "e" in text.lower():
        raise ValueError(f"amount {value!r} is not a plain decimal number")
    if not _PLAIN_AMOUNT.fullmatch(text):
        raise ValueError(f"amount {value!r} is not a plain decimal string: ASCII digits, an optional leading "
                         f"minus and a decimal point with digits on both sides")
    return amount


class _MoneySchema:
    """An amount: a JSON string that matches `PLAIN_DECIMAL_PATTERN` becomes a `Decimal` inside
    pydantic-core (its regex, then the C constructor: no Python frame for the ~24 amounts of a
    record); any other input falls through to `_decimal_string`, which gives the reason it is
    refused. The union reports both misses; `schema_errors` keeps only the second."""

    def __get_pydantic_core_schema__(self, source: type, handler: GetCoreSchemaHandler) -> CoreSchema:
        plain = core_schema.chain_schema([core_schema.str_schema(pattern=PLAIN_DECIMAL_PATTERN, strict=True),
                                          core_schema.no_info_plain_validator_function(Decimal)])
        other = core_schema.no_info_plain_validator_function(_decimal_string)
        return core_schema.union_schema([(plain, _PLAIN), (other, _OTHER)], mode="left_to_right")

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {"type": "string", "pattern": PLAIN_DECIMAL_PATTERN}   # the form formats.md documents


_PLAIN, _OTHER = "plain decimal", "other amount"
Money = Annotated[Decimal, _MoneySchema()]

ISO_DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
STATEMENT_YEARS = range(2000, 2100)
LONGEST_SPAN = dt.timedelta(days=366)


class _IsoDateSchema:
    """A date as formats.md writes it, `YYYY-MM-DD` in a JSON string, and nothing else: pydantic alone
    also reads a number, or a string of digits, as a Unix timestamp (`1792627200000` would be a date,
    and a 13-digit number, perhaps a card number, would be kept in the run's files as written). The
    pattern is checked, then the date parsed, inside pydantic-core."""

    def __get_pydantic_core_schema__(self, source: type, handler: GetCoreSchemaHandler) -> CoreSchema:
        written = core_schema.custom_error_schema(core_schema.str_schema(pattern=ISO_DATE_PATTERN, strict=True),
                                                  custom_error_type="date_form",
                                                  custom_error_message="a date must be a string written YYYY-MM-DD")
        return core_schema.chain_schema([written, core_schema.date_schema()])

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {"type": "string", "format": "date", "pattern": ISO_DATE_PATTERN}


IsoDate = Annotated[dt.date, _IsoDateSchema()]


def schema_errors(exc: ValidationError) -> list[dict]:
    """The errors of `exc` as one validator per amount would give them: the plain pattern's miss on
    an amount dropped, and the union's label taken off the other's path."""
    errors = []
    for err in exc.errors():
        loc = err["loc"]
        if loc and loc[-1] == _PLAIN and err["type"] in ("string_type", "string_pattern_mismatch"):
            continue
        if loc and loc[-1] == _OTHER and err["type"] == "value_error":
            err = err | {"loc": loc[:-1]}
        errors.append(err)
    return errors


Text = Annotated[str, Field(max_length=_MAX_TEXT, pattern=TEXT_PATTERN)]
OptionalText = Annotated[str, Field(max_length=_MAX_TEXT)]


_TOTAL_FIELDS = ("previous_balance", "payments", "credits", "fees", "interest", "new_balance", "minimum_due")
_TOTALS = attrgetter(*_TOTAL_FIELDS)
_AMOUNT, _DATE = attrgetter("amount"), attrgetter("date")
_QUANTUM = {places: Decimal(1).scaleb(-places) for places in set(MINOR_UNITS.values())}
"""An amount with exactly the currency's places has the same quantum (exponent) as these."""


class RuleError(ValueError):
    """A cross-field rule broken; carries the field to name in the quarantine row."""

    def __init__(self, field: str, message: str, kind: str = "rule"):
        self.field, self.kind = field, kind
        super().__init__(message)


CACHE_STRINGS = "keys"
"""The strings pydantic-core caches while it parses a record's JSON (`cache_strings`): the keys, which
repeat in every record and transaction. The values hardly repeat; looking each one up costs more than
it saves (about 7% of a record's validation)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False, cache_strings=CACHE_STRINGS)


class Address(_Strict):
    lines: Annotated[list[Text], Field(min_length=1, max_length=4)]
    city: Text
    state: OptionalText = ""
    postcode: OptionalText = ""
    country: Region
    dpid: Annotated[str, Field(pattern=r"^[0-9]{8}$")] | None = None  # Australia Post DPID, AU only


class Transaction(_Strict):
    date: IsoDate
    description: Text
    amount: Money


class StatementRecord(_Strict):
    account_id: Annotated[str, Field(pattern=ACCOUNT_ID_PATTERN)]
    region: Region
    product: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
    language: Literal["en", "ja", "zh-Hant", "ms", "id"]
    delivery: Literal["paper", "paperless"]
    name: Text
    address: Address
    card_last5: Annotated[str, Field(pattern=r"^[0-9]{5}$")]
    period_start: IsoDate
    period_end: IsoDate
    due_date: IsoDate
    currency: Literal["AUD", "NZD", "JPY", "MYR", "IDR", "SGD", "HKD"]
    previous_balance: Money
    payments: Money
    credits: Money
    fees: Money
    interest: Money
    new_balance: Money
    minimum_due: Money
    transactions: Annotated[list[Transaction], Field(max_length=2000)] = []
    segments: list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]] = []
    points: Annotated[int, Field(ge=0, strict=True)] = 0

    @model_validator(mode="after")
    def _consistent(self) -> "StatementRecord":
        if self.address.country != self.region:
            raise RuleError("address.country", f"address.country {self.address.country} does not equal region {self.region}")
        if self.address.dpid is not None and self.region != "AU":
            raise RuleError("address.dpid", f"address.dpid is for Australian addresses only, not {self.region}")
        if self.currency != CURRENCY[self.region]:
            raise RuleError("currency", f"currency {self.currency} is not {CURRENCY[self.region]}, the currency of region {self.region}")
        if not self.period_start <= self.period_end <= self.due_date:
            raise RuleError("period_start", "dates out of order: need period_start <= period_end <= due_date")
        self._check_dates()
        places = MINOR_UNITS[self.currency]
        totals, charges = _TOTALS(self), list(map(_AMOUNT, self.transactions))
        same = _QUANTUM[places].same_quantum
        if not (all(map(same, totals)) and all(map(same, charges))):  # else every exponent is -places
            self._check_places(places)
        previous, payments, credits, fees, interest, new_balance, minimum_due = totals
        expected = previous + payments + credits + fees + interest + sum(charges, Decimal(0))  # as new_charges adds
        if expected != new_balance:
            raise RuleError("new_balance", f"new_balance {new_balance} does not equal the sum of its parts {expected}")
        if minimum_due < 0:
            raise RuleError("minimum_due", "minimum_due is negative")
        if minimum_due > max(new_balance, 0):
            raise RuleError("minimum_due", "minimum_due is more than the new balance (none is due on a credit balance)")
        return self

    def _check_dates(self) -> None:
        """Dates a statement of one cycle can carry (in order already): the cycle's end in `STATEMENT_YEARS`,
        the period and the time to pay each at most `LONGEST_SPAN` (so every date of a valid record, and of
        the challenge pieces made around the cycle's end, has four digits), and every transaction dated within
        the period or up to `LONGEST_SPAN` before it (posted late), never after it. A date like
        0001-01-01 is upstream damage, and would print as a year the market's format was not made for."""
        if self.period_end.year not in STATEMENT_YEARS:
            raise RuleError("period_end", f"period_end is outside the years {STATEMENT_YEARS.start}-"
                                          f"{STATEMENT_YEARS.stop - 1}")
        if self.period_end - self.period_start > LONGEST_SPAN:
            raise RuleError("period_end", f"the period is longer than {LONGEST_SPAN.days} days")
        if self.due_date - self.period_end > LONGEST_SPAN:
            raise RuleError("due_date", f"due_date is more than {LONGEST_SPAN.days} days after period_end")
        dates = list(map(_DATE, self.transactions))
        earliest, latest = self.period_start - LONGEST_SPAN, self.period_end
        if dates and not earliest <= min(dates) <= max(dates) <= latest:
            for i, date in enumerate(dates):
                if not earliest <= date <= latest:
                    raise RuleError(f"transactions.{i}.date",
                                    f"transactions.{i}.date is {'after the period' if date > latest else 'more than'}"
                                    + ("" if date > latest else f" {LONGEST_SPAN.days} days before the period"))

    def _check_places(self, places: int) -> None:
        """Every amount in the currency's minor unit (a whole amount may omit the places where there
        are none); names the first amount at fault."""
        exponents = {amount.as_tuple().exponent for amount in self._money()}
        if exponents != {-places} and (places or any(e < 0 for e in exponents)):
            for field, amount in self.amounts():
                exponent = amount.as_tuple().exponent
                if -exponent > places or (places and -exponent != places):
                    raise RuleError(field, f"{field} {amount} must have exactly {places} decimal places in "
                                           f"{self.currency}")

    def _money(self) -> list[Decimal]:
        return [*_TOTALS(self), *map(_AMOUNT, self.transactions)]

    def amounts(self):
        """Every money field with its dotted path, for precise error messages."""
        yield from zip(_TOTAL_FIELDS, _TOTALS(self))
        for i, t in enumerate(self.transactions):
            yield f"transactions.{i}.amount", t.amount

    @property
    def new_charges(self) -> Decimal:
        return sum(map(_AMOUNT, self.transactions), Decimal(0))   # added in order, as a loop would

    @property
    def spend(self) -> Decimal:
        """Purchases in the period (refunds excluded): what spend-based insert rules look at."""
        return sum((t.amount for t in self.transactions if t.amount > 0), Decimal(0))
