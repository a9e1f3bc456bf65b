"""The card line: card carriers and the card-to-carrier match (issue #7).

Library: `run_cards(orders, personalisation, out, key=..., demo=...)`, `resume_cards(run_id, out, ...)`,
`verify_card_run(run_dir)` in `stmtprod.cards.line`; the click command `cards` in
`stmtprod.cli.cards`. Card numbers are read only by ingest, which replaces each with a keyed
token and its last five digits (`stmtprod.cards.keys`); nothing the line writes holds a card number.
"""
from __future__ import annotations


def __getattr__(name: str):
    if name in ("run_cards", "resume_cards", "verify_card_run"):
        from stmtprod.cards import line

        return getattr(line, name)
    raise AttributeError(name)
