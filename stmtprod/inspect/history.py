"""A lot's history in words: every sample drawn, finding, decision and correction, with who, when
and why, oldest first; the same lines in `qa status`, `stmtprod show` and the run report."""
from __future__ import annotations

import datetime as dt


def history_lines(events: list[dict]) -> list[str]:
    """One line per event of `Ledger.lot_events`, each finding on a line of its own below its decision."""
    lines = []
    for e in events:
        head = f"{e['at']} {e['run_id']} stage {e['stage']} lot {e['lot']}: "
        if e["event"] == "drawn":
            lines.append(head + f"sample of {len(e['sample'])} drawn ({e['plan']['severity']}, seed {e['seed']})")
        elif e["event"] == "decided":
            tag = f" [DRILL {e['drill']}]" if e.get("drill") else ("" if e.get("original") else " [re-inspection]")
            count = len(e["defects"])
            lines.append(head + f"{e['decision']} by {e['who']}{tag}, {count} finding{'' if count == 1 else 's'}")
            lines += [f"    piece {d['piece']} {d['kind']}: {d['evidence']}" for d in e["defects"]]
        else:
            pulled = f", pulled {', '.join(map(str, e['pulled']))}" if e.get("pulled") else ""
            lines.append(head + f"corrected ({e['action']}) by {e['who']}: {e['reason']}{pulled}")
    return lines


def moment(at: str) -> str:
    """A ledger timestamp to the second in UTC, `2026-12-01T10:22:33Z`: its T and Z break the run of digits
    that card-number masking would otherwise remove from a message (no more than 8 digits in a row)."""
    try:
        stamp = dt.datetime.fromisoformat(at)
    except (TypeError, ValueError):
        return str(at)
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(dt.timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
