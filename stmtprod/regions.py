"""The seven markets and the facts about them that are not a matter of layout."""
from __future__ import annotations

from typing import Literal

Region = Literal["AU", "NZ", "JP", "MY", "ID", "SG", "HK"]
REGIONS: tuple[str, ...] = ("AU", "NZ", "JP", "MY", "ID", "SG", "HK")
LANGUAGES: tuple[str, ...] = ("en", "ja", "zh-Hant", "ms", "id")
CURRENCY = {"AU": "AUD", "NZ": "NZD", "JP": "JPY", "MY": "MYR", "ID": "IDR", "SG": "SGD", "HK": "HKD"}
MINOR_UNITS = {"AUD": 2, "NZD": 2, "JPY": 0, "MYR": 2, "IDR": 0, "SGD": 2, "HKD": 2}


def parse_regions(text: str | None) -> tuple[str, ...]:
    """`JP,AU` -> ('AU', 'JP') in the line's fixed region order; raises ValueError on unknown codes."""
    if not text:
        return REGIONS
    wanted = {r.strip().upper() for r in text.split(",") if r.strip()}
    unknown = sorted(wanted - set(REGIONS))
    if unknown:
        raise ValueError(f"unknown region(s) {', '.join(unknown)}; known: {' '.join(REGIONS)}")
    return tuple(r for r in REGIONS if r in wanted)
