"""Pieces a 100% screening pulled from a rejected lot: named in the release and counted in the summary.

They were printed, so they stay in the print files and manifests (whose bytes the barcode
verification proved); `pulled.jsonl` in the release tells the inserter to divert them, the mailing
manifest leaves them out, and the summary's `pulled` count (part of `produced`) says how many of the
produced pieces are not mailed.
"""
from __future__ import annotations

import json
from pathlib import Path

from stmtprod.fsutil import atomic_open
from stmtprod.engine.ledger import Ledger

_KEYS = ("sequence", "account_id", "region", "stage", "lot", "reason", "inspector", "at")


def write_pulled(ledger: Ledger, run_id: str, folder: Path) -> list[dict]:
    """`folder/pulled.jsonl` (only when a screening pulled pieces); returns its rows."""
    rows = [{k: p[k] for k in _KEYS} for p in ledger.pulled(run_id)]
    if rows:
        with atomic_open(folder / "pulled.jsonl") as fh:
            fh.write("".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows))
    return rows


def note_pulled(summary: dict, rows: list[dict]) -> None:
    """The summary's account of pulled pieces, when there are any: `counts.pulled` (of `produced`)
    and each piece with its reason."""
    if rows:
        summary["counts"]["pulled"] = len(rows)
        summary["pulled"] = rows
