"""An upper bound on the pieces of a run that could have left wrong, from the campaign's miss rates.

The campaign (`stmtprod drill campaign`, results in `campaign.json`) measured, per fault class, a 95%
upper confidence bound u on the share of such faults verification misses. For a run:
- each fault of a class that occurred was caught or escaped; with d caught (the run's own defect
  count of that class: its halts), the escapes expected are at most d * u / (1 - u);
- whatever faults occurred, no more than every sheet can carry one, so at most sheets * u escapes
  are expected in the worst case.
Both are per class and summed over classes; the README gives the method and the measured bounds.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from stmtprod.config import PROJECT_ROOT

# The halt fields that name a fault of each class (a halt counts once, in the first class naming it).
FIELD_CLASSES = {
    "ink": "ink", "contrast": "ink", "background": "strip-background", "quiet-zone": "strip-background",
    "position": "geometry", "bar-width": "geometry", "bar-height": "geometry", "page box": "page-box",
    "content": "wrapper", "file": "corrupted", "sheets": "page-count", "sheet": "drill-sheets-swapped",
    "sequence": "drill-piece-duplicated", "region": "drill-wrong-region", "payload": "drill-corrupted-payload",
    "run_tag": "drill-foreign-sheet", "barcode": "wrapper",
}


def default_campaign_file() -> Path:
    return Path(os.environ.get("STMTPROD_CAMPAIGN", PROJECT_ROOT / "campaign.json"))


def load_campaign(path: Path | None = None) -> dict | None:
    """The campaign's results, or None when there is no campaign file."""
    path = path or default_campaign_file()
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def escape_bound(campaign: dict | None, sheets: int, halts: list[dict]) -> dict | None:
    """Per class and in total: the campaign's bound u, the run's caught count d, and the two bounds on
    sheets that could have left wrong (d·u/(1-u), and sheets·u)."""
    if not campaign:
        return None
    caught: dict[str, int] = {}
    for halt in halts:
        kind = FIELD_CLASSES.get(str(halt.get("field")))
        if kind is None and str(halt.get("field", "")).startswith("wrong-"):
            kind = "text-altered"
        if kind:
            caught[kind] = caught.get(kind, 0) + 1
    rows = []
    for c in campaign["classes"]:
        u = c["miss_rate_upper_95"]
        d = caught.get(c["class"], 0)
        rows.append({"class": c["class"], "trials": c["trials"], "missed": c["missed"], "miss_rate_upper_95": u,
                     "caught_in_run": d, "escapes_upper_given_caught": d * u / (1 - u) if u < 1 else None,
                     "escapes_upper_worst_case": sheets * u})
    given = [r["escapes_upper_given_caught"] for r in rows]
    return {"campaign_seed": campaign.get("seed"), "trials_per_class": campaign.get("trials_per_class"),
            "sheets": sheets, "classes": rows,
            "total_upper_given_caught": None if None in given else sum(given),
            "total_upper_worst_case": sum(r["escapes_upper_worst_case"] for r in rows)}
