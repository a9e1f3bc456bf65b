"""What a statement should say, computed by the inspectors on their own.

Deliberately shares no code with `stmtprod.render.formatting`: the composition inspector compares the
printed text with these expectations, so a formatting bug in the renderer cannot be hidden by the same
bug here. Only the layout's configuration (currency, date format, address rules, labels) is common,
since that is the market's specification both sides must meet.

Text comparisons go through `squash` (all whitespace removed): PDF text extraction may split a line
at a space or join two words, and neither is a defect of what was printed.
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal, getcontext
from functools import lru_cache
from itertools import repeat

from stmtprod.ingest.models import StatementRecord
from stmtprod.layout import Currency, Layout

ELLIPSIS = "…"
_WS = re.compile(r"\s+")
_TOKEN = re.compile(r"\{(year|month|day|date)(?::([^}]*))?\}")
JP_HONORIFIC = "様"


def squash(text: str) -> str:
    """The text without any whitespace: the form every comparison uses. (`str.split()` splits at
    exactly the characters `str.isspace` and the regex `\\s` call whitespace, and is quicker.)"""
    return "".join(text.split())


def normalise(text: str) -> str:
    """Runs of whitespace (line breaks included) collapsed to one space, for evidence messages."""
    return _WS.sub(" ", text).strip()


def money(currency: Currency, amount: Decimal) -> str:
    """The market's money text: `-¥120,000`, `Rp1.234.567`, `HK$12,345.60`, `-$0.50`."""
    return money_format(currency)(amount)


def money_exact(currency: Currency, amount: Decimal) -> str:
    """`money` worked in integer minor units: an amount with more places than the currency's minor
    unit is rounded half-up, which never happens to a validated record. The reference `money_format`
    is held to."""
    scale = 10 ** currency.minor_units
    units = int((abs(amount) * scale).to_integral_value(rounding=ROUND_HALF_UP))
    whole, fraction = divmod(units, scale)
    text = f"{whole:,}".replace(",", currency.group_separator)  # groups of three digits
    if currency.minor_units:
        text += currency.decimal_separator + str(fraction).rjust(currency.minor_units, "0")
    sign = "-" if amount < 0 and units else ""
    return sign + currency.symbol + (" " if currency.symbol_space else "") + text


@lru_cache(maxsize=64)  # Currency is frozen, so hashable
def money_format(currency: Currency):
    """`money` for one currency as a function, its parts worked out once (every amount of the night goes
    through it). An amount with exactly the currency's places, as every amount of a validated record
    has, is grouped by Decimal's own fixed-point formatting (in C); any other goes to `money_exact`."""
    places = currency.minor_units
    prefix = currency.symbol + (" " if currency.symbol_space else "")
    table = str.maketrans({",": currency.group_separator, ".": currency.decimal_separator})
    plain = currency.group_separator == "," and currency.decimal_separator == "."

    def format_money(amount: Decimal) -> str:
        text = format(abs(amount), ",f")  # digits, "," every three, "." before the fraction: ASCII only
        exact = text[-places - 1:-places] == "." if places else "." not in text and text[-1:].isdigit()
        if not exact:  # other places (rounded half-up), or not a finite number
            return money_exact(currency, amount)
        return ("-" if amount < 0 else "") + prefix + (text if plain else text.translate(table))

    return format_money


@lru_cache(maxsize=64)
def money_list_format(currency: Currency):
    """`money` of a list of amounts (a statement's transactions) as one function, in a few operations for
    the whole list: the amounts formatted by Decimal's grouping and joined, one match proving each
    formatted exactly as `money_format` formats it (the currency's places, at most 18 whole digits, which
    `abs` leaves as they are, no negative zero), then the symbol and signs put in by replacement. A list
    the match does not prove goes amount by amount through `money_format`."""
    single = money_format(currency)
    places = currency.minor_units
    prefix = currency.symbol + (" " if currency.symbol_space else "")
    table = str.maketrans({",": currency.group_separator, ".": currency.decimal_separator})
    plain = currency.group_separator == "," and currency.decimal_separator == "."
    fraction = rf"\.[0-9]{{{places}}}" if places else ""
    zero = "0\\." + "0" * places if places else "0"
    item = rf"(?:-(?!{zero}(?:\n|\Z)))?(?:[1-9][0-9]{{0,2}}(?:,[0-9]{{3}}){{0,5}}|0){fraction}"
    exact = re.compile(rf"{item}(?:\n{item})*")
    digits = 18 + places  # the most an amount the match proves has: `abs` keeps them all from this precision

    def format_list(amounts) -> list[str]:
        text = "\n".join(map(format, amounts, repeat(",f")))  # digits, "," every three, "." before the fraction
        if not text or exact.fullmatch(text) is None or getcontext().prec < digits:
            return list(map(single, amounts))
        if not plain:
            text = text.translate(table)
        text = ("\n" + text).replace("\n", "\n" + prefix).replace("\n" + prefix + "-", "\n-" + prefix)
        return text[1:].split("\n")

    return format_list


def count(currency: Currency, value: int) -> str:
    """A count (reward points) with the market's digit grouping: `47.063` where amounts read `Rp1.234`."""
    text = str(value)
    groups = [text[max(0, i - 3):i] for i in range(len(text), 0, -3)][::-1]
    return currency.group_separator.join(groups)


@lru_cache(maxsize=4096)  # a cycle's statements share a few dozen dates
def date(date_format: str, value: dt.date) -> str:
    """The layout's date format filled in by token substitution (`{day:02d}`, `{month}`, `{year}`,
    `{date:%d %b %Y}`), without going through `str.format`."""

    def fill(match: re.Match) -> str:
        name, spec = match.group(1), match.group(2) or ""
        if name == "date":
            return value.strftime(spec) if spec else value.isoformat()
        number = {"year": value.year, "month": value.month, "day": value.day}[name]
        width = re.fullmatch(r"0?(\d*)d?", spec)
        if width is None:
            raise ValueError(f"unsupported date format spec {spec!r} in {date_format!r}")
        return str(number).rjust(int(width.group(1) or 0), "0")

    return _TOKEN.sub(fill, date_format).replace("{{", "{").replace("}}", "}")


def address_block(layout: Layout, record: StatementRecord) -> list[str]:
    """The lines the envelope window must show, in the market's order.

    western: name, street lines, then "city state postcode"; postcode_first (Japan): the prefixed
    postcode, state+city+first street line, further street lines, then the name with the honorific.
    """
    rules, addr = layout.address, record.address
    postcode = rules.postcode_prefix + addr.postcode if addr.postcode else ""
    if rules.order == "postcode_first":
        lines = [postcode] if postcode else []
        lines.append(addr.state + addr.city + addr.lines[0])
        lines += list(addr.lines[1:])
        lines.append(record.name + " " + JP_HONORIFIC)
        return lines
    return [record.name, *addr.lines, " ".join(p for p in (addr.city, addr.state, postcode) if p)]


def _local(layout: Layout, language: str):
    """The layout's labels in the record's language, or None when that is English or the layout lacks it."""
    return layout.labels.get(language) if language != "en" else None


def label(layout: Layout, language: str, key: str) -> str:
    """A printed label: the English one, preceded by the record's language when the layout has it."""
    english = getattr(layout.labels["en"], key)
    local = _local(layout, language)
    return f"{getattr(local, key)} / {english}" if local is not None else english


def page_marker(layout: Layout, n: int, m: int, language: str = "en") -> str:
    """The "Page n of m" every sheet carries: the English one, preceded by the record's language's form
    when the layout has it (given `language`)."""
    english = layout.labels["en"].page.replace("{n}", str(n)).replace("{m}", str(m))
    local = _local(layout, language)
    if local is None:
        return english
    return local.page.replace("{n}", str(n)).replace("{m}", str(m)) + " " + english


def description_matches(expected: str, printed: str) -> bool:
    """The printed description is the record's, whole: the fitting policy never cuts one (a description
    that would not fit the column at the smallest size is quarantined at ingest)."""
    return squash(printed) == squash(expected)


def enclosures(layout: Layout, language: str, inserts: list[tuple[str, dict[str, str]]]) -> str | None:
    """The enclosures text sheet 1 must show for the piece's inserts, (code, titles by language) in the
    order the eligibility rules give them, each title in the record's language when the catalog has it;
    None when the piece has no insert (nothing is printed). The text may break between items."""
    if not inserts:
        return None
    names = ", ".join(f"{code} {titles.get(language) or titles.get('en', '')}".strip() for code, titles in inserts)
    return f"{label(layout, language, 'enclosures')}: {names}"


def fixed_text(layout: Layout) -> list[str]:
    """The layout's own text every sheet carries: the issuer, the return address (where undeliverable
    mail goes: its lines one block, in order, since one line may also be part of the issuer's name),
    the regulatory footer and the hotline."""
    return [layout.issuer_name, "\n".join(layout.return_address), *layout.footer, layout.hotline]


def shortened_in(want: str, flat: str) -> str:
    """The longest form of `want` (squashed) cut short to fit and ending in an ellipsis, keeping at least
    half of it, that the squashed `flat` text holds; "" when there is none."""
    if ELLIPSIS not in flat:
        return ""
    for k in range(len(want) - 1, max(1, len(want) // 2) - 1, -1):
        if want[:k] + ELLIPSIS in flat:
            return want[:k] + ELLIPSIS
    return ""


def titles(layout: Layout, language: str) -> list[str]:
    """The statement's title every sheet carries: in the record's language when the layout has it,
    and in English."""
    local = _local(layout, language)
    english = layout.labels["en"].statement_title
    return [local.statement_title, english] if local is not None else [english]
