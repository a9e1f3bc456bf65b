"""The card-to-carrier match: the personalisation log against the carriers, slot by slot.

The personalisation machine reports, in production order, one line per card it made. Slot k must
hold the card of carrier k (carrier sequence k of the run): same card id, same last five digits of
the card number, same embossed name. The first discrepancy in production order halts the card run,
naming the slot, the card and the carrier:

- **missing card**: carrier k's card is nowhere in the log;
- **extra card**: slot k holds a card no carrier was printed for (or a card already made);
- **order differs**: slot k holds a card that belongs to another carrier (two cards swapped, or
  made out of order);
- **last five digits differ** / **embossed name differs**: the right card id, the wrong card.

Then the log's slot numbers must run 1..n in file order. A malformed log line halts too (it is the
machine's own report; guessing around it would defeat the check). No message here ever quotes a
log line verbatim, only validated fields (no card number in them, `PersonalisationEntry`), masked
by `redact` all the same.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from stmtprod.cardnumbers import redact
from stmtprod.cards.models import PersonalisationEntry
from stmtprod.errors import Halt, UsageError
from stmtprod.ingest.lines import BOM

ACTION = ("pull the cards of this run from the sealing line; re-make or re-sequence the cards so the "
          "personalisation log matches the carriers, then resume the card run with the new log")


@dataclass(frozen=True)
class Carrier:
    sequence: int
    card_id: str
    last5: str
    embossed_name: str
    token: str
    file: str
    page: int


def read_log(path: Path) -> tuple[list[PersonalisationEntry], str]:
    """The log's entries in file order and its SHA-256; a malformed line halts with its line number."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise UsageError(f"personalisation log {path} does not exist") from None
    entries = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if number == 1 and line.startswith(BOM):   # as the order file and the extract: the digest still covers it
            line = line[len(BOM):]
        if not line.strip():
            continue
        try:
            entries.append(PersonalisationEntry.model_validate_json(line))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = redact(".".join(str(p) for p in err["loc"]) or "(line)")   # a key may be a card number
            message = err["msg"].removeprefix("Value error, ")
            raise Halt(f"personalisation log line {number} is malformed: {where}: {message}", step="match",
                       line=number, field=where, action="have the personalisation system re-send its log") from None
    return entries, hashlib.sha256(raw).hexdigest()


def _halt(reason: str, field: str, slot: int, card: str | None, carrier: int | None, expected: object,
          found: object, **more: object) -> Halt:
    """The halt, its texts masked: log values passed validation, but a halt is read by many."""
    def shown(value: object) -> object:
        return redact(value) if isinstance(value, str) else value

    return Halt(redact(reason), step="match", slot=slot, card=shown(card), carrier=carrier, field=field,
                expected=shown(expected), found=shown(found), action=ACTION, **more)


def match(carriers: list[Carrier], entries: list[PersonalisationEntry]) -> list[dict]:
    """Check the log against the carriers (in sequence order); returns the sealing list or raises Halt."""
    by_card = {c.card_id: c for c in carriers}
    logged = {}
    for i, e in enumerate(entries):
        logged.setdefault(e.card_id, i)
    seen: set[str] = set()
    sealing = []
    for i in range(max(len(carriers), len(entries))):
        slot = i + 1
        want = carriers[i] if i < len(carriers) else None
        got = entries[i] if i < len(entries) else None
        if got is None:
            raise _halt(f"missing card: carrier {want.sequence} (card {want.card_id}) has no card in the "
                        f"personalisation log, which ends at slot {len(entries)}", "card_id", slot, want.card_id,
                        want.sequence, want.card_id, None)
        if got.card_id in seen:
            raise _halt(f"extra card: slot {got.slot} holds card {got.card_id} a second time", "card_id", got.slot,
                        got.card_id, want.sequence if want else None, want.card_id if want else None, got.card_id)
        if want is None:
            raise _halt(f"extra card: slot {got.slot} holds card {got.card_id} but the run has only "
                        f"{len(carriers)} carriers", "card_id", got.slot, got.card_id, None, None, got.card_id)
        if got.card_id != want.card_id:
            if want.card_id not in logged:
                raise _halt(f"missing card: carrier {want.sequence} (card {want.card_id}) has no card in the "
                            f"personalisation log; slot {got.slot} holds card {got.card_id} instead",
                            "card_id", got.slot, want.card_id, want.sequence, want.card_id, got.card_id)
            if got.card_id not in by_card:
                raise _halt(f"extra card: slot {got.slot} holds card {got.card_id}, for which no carrier was "
                            f"printed; carrier {want.sequence} expects card {want.card_id}", "card_id", got.slot,
                            got.card_id, want.sequence, want.card_id, got.card_id)
            other = by_card[got.card_id]
            raise _halt(f"order differs from the carriers: slot {got.slot} holds card {got.card_id} (carrier "
                        f"{other.sequence}) where carrier {want.sequence} expects card {want.card_id}", "order",
                        got.slot, got.card_id, want.sequence, want.card_id, got.card_id,
                        carrier_of_card=other.sequence)
        if got.pan_last5 != want.last5:
            raise _halt(f"last five digits differ: slot {got.slot} card {got.card_id} ends {got.pan_last5}, "
                        f"carrier {want.sequence} shows {want.last5}", "pan_last5", got.slot, got.card_id,
                        want.sequence, want.last5, got.pan_last5)
        if got.embossed_name != want.embossed_name:
            raise _halt(f"embossed name differs: slot {got.slot} card {got.card_id} is embossed "
                        f"{got.embossed_name!r}, carrier {want.sequence} is for {want.embossed_name!r}",
                        "embossed_name", got.slot, got.card_id, want.sequence, want.embossed_name, got.embossed_name)
        if got.slot != slot:
            raise _halt(f"slot numbers out of order: line {slot} of the log says slot {got.slot}", "slot", got.slot,
                        got.card_id, want.sequence, slot, got.slot)
        seen.add(got.card_id)
        sealing.append({"slot": slot, "sequence": want.sequence, "card_id": want.card_id, "token": want.token,
                        "last5": want.last5, "file": want.file, "page": want.page})
    return sealing


def carriers_from_manifests(manifests: list[Path], embossed: dict[int, str]) -> list[Carrier]:
    rows = []
    for path in manifests:
        rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    rows.sort(key=lambda r: r["sequence"])
    return [Carrier(r["sequence"], r["card_id"], r["last5"], embossed[r["sequence"]], r["token"], r["file"], r["page"])
            for r in rows]
