"""The QA journal: every inspection decision and correction of a run, written twice, to the ledger and
to a hash-chained file in the run folder, `qa-journal.jsonl`, so that a decision changed, added or
lost in one of them is seen before the run goes on.

Each line is one entry: the lot event as `Ledger.lot_events` gives it (run, stage, lot, `decided` or
`corrected`, decision, who, reason, when, the findings or the correction), its number `seq`, `prev`
(the hash of the entry before it) and `hash`, the SHA-256 of the entry's canonical JSON without
`hash`. The first entry, `opened`, is written when the run is made. The ledger's event carries its
entry's hash (`journal`). `check` compares the two whenever a run resumes, releases, is verified or
shown, and before `qa record` or `qa correct` writes: a broken chain, a decision one holds and the
other does not, or one they tell differently stops the command (EnvironmentFault, exit 7) naming the
run, stage and lot. Which of the two is right is for a person to say, from a backup; stmtprod never
guesses. The journal is written last inside the ledger's transaction, atomically (temporary file,
fsync, rename), so a journal that cannot be written leaves the ledger as it was.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

from stmtprod.errors import EnvironmentFault
from stmtprod.fsutil import atomic_open

JOURNAL_FILE = "qa-journal.jsonl"
DECISIONS = ("decided", "corrected")
_FIRST = "0" * 64
_CHAIN = ("seq", "prev", "hash")
_ADVICE = ("restore the ledger (ledger.sqlite with its -wal) or the run's qa-journal.jsonl from a backup so that "
           "they agree; stmtprod never guesses which one is right, and nothing goes on until they agree")


def _canonical(entry: dict) -> bytes:
    return json.dumps(entry, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str).encode()


def _hash(entry: dict) -> str:
    return hashlib.sha256(_canonical({k: v for k, v in entry.items() if k != "hash"})).hexdigest()


def body(run_id: str, stage: int, lot: str, event: str, decision: str | None, who: str | None, reason: str | None,
         details: dict, at: str) -> dict:
    """A lot event as the journal keeps it, and as `Ledger.lot_events` reads it back (JSON types)."""
    return json.loads(_canonical({"run_id": run_id, "stage": stage, "lot": lot, "event": event, "decision": decision,
                                  "who": who, "reason": reason, "at": at, **details}))


def _fault(run_dir: Path, what: str) -> EnvironmentFault:
    return EnvironmentFault(f"{run_dir / JOURNAL_FILE}: {what}; {_ADVICE}")


def read(run_dir: Path) -> list[dict] | None:
    """The run's journal entries, their chain checked (an EnvironmentFault names the first broken one);
    None when the run has no journal."""
    path = Path(run_dir) / JOURNAL_FILE
    try:
        lines = path.read_bytes().splitlines()
    except FileNotFoundError:
        return None
    entries, prev = [], _FIRST
    for number, line in enumerate(lines, start=1):
        try:
            entry = json.loads(line)
            intact = (isinstance(entry, dict) and entry.get("seq") == number and entry.get("prev") == prev
                      and entry.get("hash") == _hash(entry))
        except ValueError:
            intact = False
        if not intact:
            raise _fault(run_dir, f"entry {number} of the QA journal was altered or damaged (its hash or its link "
                                  "to the entry before does not hold)")
        entries.append(entry)
        prev = entry["hash"]
    return entries


def chain(run_dir: Path, bodies: list[dict]) -> list[dict]:
    """`bodies` as the journal's next entries, chained after those it holds (read and checked first)."""
    entries = read(run_dir) or []
    prev, new = (entries[-1]["hash"] if entries else _FIRST), []
    for number, item in enumerate(bodies, start=len(entries) + 1):
        entry = {**item, "seq": number, "prev": prev}
        prev = entry["hash"] = _hash(entry)
        new.append(entry)
    return new


def append(run_dir: Path, entries: list[dict]) -> None:
    """Write the journal again with `entries` after those it holds: atomically, fsynced."""
    path = Path(run_dir) / JOURNAL_FILE
    held = path.read_bytes() if path.exists() else b""
    with atomic_open(path, "wb") as fh:
        fh.write(held)
        for entry in entries:
            fh.write(_canonical(entry) + b"\n")


def open_journal(run_dir: Path, run_id: str) -> None:
    """A new run's journal, its first entry `opened`: from then on every decision of the run is in it."""
    stamp = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")
    append(run_dir, chain(run_dir, [{"run_id": run_id, "event": "opened", "at": stamp}]))


def _said(entry: dict) -> str:
    """A decision in words, for a message (no timestamp or seed: card-number masking would eat them)."""
    found = f", {len(entry['defects'])} finding(s)" if entry.get("defects") is not None else ""
    return f"{entry['event']} {entry.get('decision')} by {entry.get('who')}{found}"


def _fields(entry: dict) -> dict:
    return {k: v for k, v in entry.items() if k not in (*_CHAIN, "journal")}


def differences(ledger, run_id: str, run_dir: Path) -> list[str]:
    """Where the ledger's decisions for the run and its journal disagree, in words (empty: they agree).

    A run made before journals existed has none, and its decisions are taken as they are; so are a
    run's decisions older than its journal's first entry."""
    entries = read(run_dir)
    events = [e for e in ledger.lot_events(run_id) if e["event"] in DECISIONS]
    if entries is None:
        return [f"the QA journal is missing, but {len(events)} decision(s) in the ledger were written to it"] \
            if any(e.get("journal") for e in events) else []
    since = entries[0]["at"] if entries else ""
    journaled = {e["hash"]: e for e in entries if e["event"] in DECISIONS}
    problems, seen = [], set()
    for event in events:
        where = f"run {run_id} stage {event['stage']} lot {event['lot']}"
        entry = journaled.get(event.get("journal"))
        if entry is None:
            if event.get("journal") is None and event["at"] < since:
                continue
            problems.append(f"{where}: the ledger has a decision the journal does not ({_said(event)})")
            continue
        seen.add(entry["hash"])
        if _fields(entry) != _fields(event):
            changed = sorted(k for k in {*_fields(entry), *_fields(event)} if entry.get(k) != event.get(k))
            problems.append(f"{where}: the ledger says {_said(event)}, journal entry {entry['seq']} {_said(entry)} "
                            f"(differing: {', '.join(changed)})")
    problems += [f"run {run_id} stage {e['stage']} lot {e['lot']}: journal entry {e['seq']} ({_said(e)}) is not in "
                 "the ledger (a ledger restored from an older copy?)" for h, e in journaled.items() if h not in seen]
    return problems + _current(ledger, run_id, entries, since)


def _current(ledger, run_id: str, entries: list[dict], since: str) -> list[str]:
    """Each lot's decision as the ledger holds it against the lot's last journal entry."""
    last = {(e["stage"], e["lot"]): e for e in entries if e["event"] in DECISIONS}
    problems = []
    for row in ledger.stages(run_id):
        if row["decision"] is None:  # a sample drawn and waiting: no decision
            continue
        entry = last.get((row["stage"], row["lot"]))
        where = f"run {run_id} stage {row['stage']} lot {row['lot']}"
        if entry is None:
            if row["at"] >= since:
                problems.append(f"{where}: the ledger's decision ({row['decision']} by {row['inspector']}) is not in "
                                "the journal")
        elif (row["decision"], row["inspector"]) != (entry["decision"], entry["who"]) or (
                entry["event"] == "decided" and row["defects"] != entry["defects"]):
            problems.append(f"{where}: the ledger's decision is {row['decision']} by {row['inspector']} with "
                            f"{len(row['defects'] or [])} finding(s), journal entry {entry['seq']} {_said(entry)}")
    return problems


def check(ledger, run_id: str, run_dir: Path) -> None:
    """Refuse (EnvironmentFault, exit 7) when the ledger's decisions for the run and its journal disagree."""
    problems = differences(ledger, run_id, run_dir)
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise _fault(run_dir, "the QA journal and the ledger differ: " + "; ".join(problems[:3]) + more)
