"""Welcome-kit inserts for a card carrier: the catalog's own rules, applied to a card order.

The catalog (`inserts/catalog.toml`) is shared with the statement line; `stmtprod.catalog.select_inserts`
judges statements. A card order has no balance, spend or statement period, so this module applies
the same `Insert` fields that make sense for a card:

- `regions`, `products`, `segments_any` exactly as for statements;
- the date window (`valid_from`, `valid_to`) against the run's production date;
- an insert with a balance or spend threshold is never eligible (a new card has neither);
- the order's reason counts as a segment: reason "new" adds `new_member` (so the catalog's
  WELCOME guide goes to new members), "renewal" adds `renewal`, "replacement" adds `replacement`;
- only inserts listed in the region's `welcome_kit` (layouts/cards/<REGION>.toml) are candidates:
  promotional leaflets meant for statements stay out of card envelopes unless the market says so.

Then, as for statements: by priority (then code), at most the inserter's limit per envelope.
The verifier calls this afresh on the sanitized record to prove each carrier's hopper bitmap.
"""
from __future__ import annotations

import datetime as dt

from stmtprod.catalog import Catalog, Insert
from stmtprod.cards.models import CardRecord

REASON_SEGMENTS = {"new": "new_member", "renewal": "renewal", "replacement": "replacement"}


def segments_of(record: CardRecord) -> set[str]:
    return set(record.segments) | {REASON_SEGMENTS[record.reason]}


def card_eligible(insert: Insert, record: CardRecord, production_date: dt.date) -> bool:
    if record.region not in insert.regions:
        return False
    if insert.products and record.product not in insert.products:
        return False
    if insert.segments_any and not set(insert.segments_any) & segments_of(record):
        return False
    if insert.valid_from and production_date < insert.valid_from:
        return False
    if insert.valid_to and production_date > insert.valid_to:
        return False
    if insert.min_new_balance or insert.min_spend:
        return False
    return True


def select_card_inserts(catalog: Catalog, record: CardRecord, welcome_kit: list[str],
                        production_date: dt.date) -> tuple[Insert, ...]:
    """The carrier envelope's inserts: eligible welcome-kit inserts by priority, up to the limit."""
    allowed = set(welcome_kit)
    eligible = sorted((i for i in catalog.insert if i.code in allowed and card_eligible(i, record, production_date)),
                      key=lambda i: (i.priority, i.code))
    return tuple(eligible[: catalog.inserter.max_per_envelope])
