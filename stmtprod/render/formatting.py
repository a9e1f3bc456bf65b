"""Market conventions for what is printed: money, dates, addresses, bilingual labels.

Pure functions of a layout and a value, shared by the renderer and by the composition inspector
(which must know what the page should say without trusting what the renderer did).
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import lru_cache

from stmtprod.ingest.models import Address
from stmtprod.layout import Labels, Layout


def money(layout: Layout, amount: Decimal) -> str:
    """`-¥120,000`, `RM1,234.56`, `Rp1.234.567`: the minor unit, grouping and symbol of the market."""
    return money_in(money_style(layout.currency), amount)


def money_in(style: tuple[Decimal, str, dict[int, str] | None], amount: Decimal) -> str:
    """`money` in a currency's `money_style`, for a caller that formats many amounts in one currency
    (a hash of the currency model costs a third of formatting an amount)."""
    quantum, prefix, separators = style
    digits = format(abs(amount.quantize(quantum)), ",f")  # grouped by threes, "." before the fraction
    return ("-" if amount < 0 else "") + prefix + (digits.translate(separators) if separators else digits)


@lru_cache(maxsize=64)  # a Currency is frozen, so hashable
def money_style(currency) -> tuple[Decimal, str, dict[int, str] | None]:
    """(quantum, symbol and its space, the market's separators for "," and "." or None for those two):
    worked out once per currency, since every amount on every statement goes through `money`."""
    plain = currency.group_separator == "," and currency.decimal_separator == "."
    return (Decimal(1).scaleb(-currency.minor_units), currency.symbol + (" " if currency.symbol_space else ""),
            None if plain else str.maketrans({",": currency.group_separator, ".": currency.decimal_separator}))


def number(layout: Layout, value: int) -> str:
    """A count (reward points) grouped as the market groups amounts: `47.063` in Indonesia, `47,063`."""
    return f"{value:,}".replace(",", layout.currency.group_separator)


def date(layout: Layout, value: dt.date) -> str:
    return layout.date_format.format(year=value.year, month=value.month, day=value.day, date=value)


def address_fields(layout: Layout, name: str, address: Address) -> list[tuple[str, str]]:
    """The address block as printed in the envelope window, in the market's order, each line with the
    record field it comes from (for the fitting check at ingest)."""
    postcode = f"{layout.address.postcode_prefix}{address.postcode}" if address.postcode else ""
    streets = [(f"address.lines.{i}", line) for i, line in enumerate(address.lines)]
    if layout.address.order == "postcode_first":
        head = [("address.postcode", postcode)] if postcode else []
        first = ("address.lines.0", address.state + address.city + address.lines[0])
        return [*head, first, *streets[1:], ("name", f"{name} 様")]
    locality = " ".join(p for p in (address.city, address.state, postcode) if p)
    return [("name", name), *streets, ("address.city", locality)]


def address_lines(layout: Layout, name: str, address: Address) -> list[str]:
    """The address block as printed in the envelope window, in the market's order."""
    return [line for _field, line in address_fields(layout, name, address)]


class LabelSet:
    """Labels in English, plus the record's language where the layout has it: `新残高 / New balance`."""

    def __init__(self, layout: Layout, language: str):
        self.language = language
        self.en: Labels = layout.labels["en"]
        self.local: Labels | None = layout.labels.get(language) if language != "en" else None
        self._texts: dict[str, str] = {}

    def __call__(self, key: str) -> str:
        try:
            return self._texts[key]
        except KeyError:
            english = getattr(self.en, key)
            text = self._texts[key] = f"{getattr(self.local, key)} / {english}" if self.local else english
            return text

    def lines(self, key: str) -> list[str]:
        """A label as a block of its own: the record's language above the English, or English alone."""
        english = getattr(self.en, key)
        return [getattr(self.local, key), english] if self.local else [english]

    def page(self, n: int, m: int) -> str:
        english = self.en.page.format(n=n, m=m)
        return f"{self.local.page.format(n=n, m=m)}  {english}" if self.local else english
