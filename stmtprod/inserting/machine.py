"""The simulated inserter: stage 3 feeds it a whole lot, sheet by sheet, by barcode alone.

A real inserter knows nothing but the barcodes it reads off the sheets, in the order they arrive, so
this one gets nothing else: no manifest, no plan. It collates sheets 1..m of a piece into one
envelope, pulls one insert from each hopper the bitmap names, weighs the envelope and draws down the
insert inventory. Anything it cannot do exactly raises `Halt`: the line stops by itself.

Every `Halt` carries step="inserter", the batch and 1-based page of the sheet in hand, and `piece`,
`sheet`, `field`, `expected`, `found` and `action`. `piece` and `sheet` name the piece and sheet at
fault: for a missing sheet that is the missing one, not the sheet that revealed it.

A fault changes nothing, so after the operator's fix (say, `inventory["PLAT-UP"] += 5000`) the same
sheet can be fed again. Sequence gaps between envelopes are allowed (a lot may be a subset of the
run; contiguity is checked run-wide elsewhere), but a sequence must never repeat or go backwards.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from stmtprod import fsutil
from stmtprod.barcode import payload as pl
from stmtprod.catalog import Catalog
from stmtprod.errors import Halt
from stmtprod.fsutil import JsonlWriter, atomic_open

if TYPE_CHECKING:
    from stmtprod.verify import PrintFile


@dataclass
class _Envelope:
    first: pl.Payload  # sheet 1: every later sheet must agree with it
    batch: str
    first_page: int
    next_sheet: int = 1


class Inserter:
    """Consumes one lot's sheets in feed order; `inventory` (code -> pieces) carries to the next lot."""

    def __init__(self, catalog: Catalog, run_tag: str, inventory: dict[str, int] | None = None, rows=None):
        """`rows`: where envelope log rows go, any object with `append` (default a new list; a
        `fsutil.JsonlWriter` streams them to the log instead of holding the lot)."""
        self.catalog = catalog
        # A full run id is accepted too; a malformed tag would otherwise fault every sheet as foreign.
        self.run_tag = pl.run_tag(run_tag) if "-" in run_tag else run_tag
        if len(self.run_tag) != 6 or not set(self.run_tag) <= set(pl.ALPHABET):
            raise ValueError(f"run tag {run_tag!r} is not 6 chars of [0-9A-Z] nor a run id")
        self.inventory = dict(inventory if inventory is not None else {i.code: i.inventory for i in catalog.insert})
        self.rows = [] if rows is None else rows
        self._hoppers = {i.hopper: i for i in catalog.insert}
        self._open: _Envelope | None = None
        self._done: set[int] = set()
        self._last_seq = 0
        self._at: tuple[str, int] | None = None

    def _halt(self, reason: str, *, piece, sheet, field: str, expected, found, action: str) -> Halt:
        batch, page = self._at or (None, None)
        return Halt(reason, step="inserter", batch=batch, page=page, piece=piece, sheet=sheet,
                    field=field, expected=expected, found=found, action=action)

    def feed(self, payload_text: str, *, batch: str, page: int) -> None:
        """One sheet's decoded barcode; `batch` and `page` only locate it in the fault report."""
        self._at = (batch, page)
        here = f"page {page} of {batch}"
        try:
            p = pl.parse(payload_text)
        except pl.PayloadError as exc:
            raise self._halt(f"unreadable barcode at {here}: {exc}", piece=None, sheet=None, field="payload",
                             expected="a valid payload", found=str(payload_text)[:40],
                             action=f"pull the sheet at {here}, check print and reader, reprint its piece") from None
        seq = p.sequence
        if p.run_tag != self.run_tag:
            raise self._halt(f"sheet of another run: piece {seq} sheet {p.sheet} has run tag {p.run_tag}",
                             piece=seq, sheet=p.sheet, field="run_tag", expected=self.run_tag, found=p.run_tag,
                             action=f"remove the sheet of run {p.run_tag} at {here} and find how it got here")
        env = self._open
        if env is None:
            self._check_new(p, here)
            env = _Envelope(p, batch, page)
        else:
            self._check_next(env, p)
        if p.sheet < p.sheets:
            env.next_sheet = p.sheet + 1
            self._open = env
            return
        row = self._close(env)  # validates only; state changes below once nothing can fail
        for code in row["inserts"]:
            self.inventory[code] -= 1
        self.rows.append(row)
        self._done.add(seq)
        self._last_seq, self._open = seq, None

    def _check_new(self, p: pl.Payload, here: str) -> None:
        seq, last = p.sequence, self._last_seq
        common = dict(piece=seq, sheet=p.sheet, field="sequence", expected=f"> {last}", found=seq)
        if seq in self._done:
            raise self._halt(f"piece {seq} appears twice", **common,
                             action=f"pull the second copy of piece {seq} at {here} and find why it was printed twice")
        if seq < last:
            raise self._halt(f"sequence goes backwards: piece {seq} after piece {last}", **common,
                             action=f"put the sheets back in sequence order from {here} and resume")
        if p.sheet != 1:
            raise self._halt(f"piece {seq} is missing sheet 1: got sheet {p.sheet} of {p.sheets} first",
                             piece=seq, sheet=1, field="sheet", expected=1, found=p.sheet,
                             action=f"reprint piece {seq}")

    def _check_next(self, env: _Envelope, p: pl.Payload) -> None:
        first, want = env.first, env.next_sheet
        if p.sequence != first.sequence:
            raise self._halt(f"piece {first.sequence} is missing sheet {want} of {first.sheets}: "
                             f"got sheet {p.sheet} of piece {p.sequence}",
                             piece=first.sequence, sheet=want, field="sequence",
                             expected=f"piece {first.sequence} sheet {want}",
                             found=f"piece {p.sequence} sheet {p.sheet}", action=f"reprint piece {first.sequence}")
        if p.sheet != want:
            raise self._halt(f"piece {first.sequence}: sheet {p.sheet} arrived when sheet {want} was expected",
                             piece=first.sequence, sheet=want, field="sheet", expected=want, found=p.sheet,
                             action=f"reprint piece {first.sequence}")
        for name in ("region", "sheets", "hoppers"):
            a, b = getattr(first, name), getattr(p, name)
            if a != b:
                a, b = (sorted(a), sorted(b)) if name == "hoppers" else (a, b)
                raise self._halt(f"piece {first.sequence} sheet {p.sheet}: {name} {b} differs from sheet 1's {a}",
                                 piece=first.sequence, sheet=p.sheet, field=name, expected=a, found=b,
                                 action=f"reprint piece {first.sequence}")

    def _close(self, env: _Envelope) -> dict:
        """The envelope log row for a complete piece, or a Halt if it cannot be enclosed as printed."""
        p, limits = env.first, self.catalog.inserter
        seq, hoppers = p.sequence, sorted(p.hoppers)
        common = dict(piece=seq, sheet=p.sheets)
        for h in hoppers:
            if h not in self._hoppers:
                what = "holds no insert" if h <= limits.hoppers else f"does not exist ({limits.hoppers} hoppers)"
                raise self._halt(f"piece {seq} calls for hopper {h}, which {what}", **common, field="hoppers",
                                 expected=sorted(self._hoppers), found=hoppers,
                                 action=f"check the insert catalog used for this run, then reprint piece {seq}")
        if len(hoppers) > limits.max_per_envelope:
            raise self._halt(f"piece {seq} calls for {len(hoppers)} inserts, the inserter takes at most "
                             f"{limits.max_per_envelope}", **common, field="hoppers",
                             expected=f"<= {limits.max_per_envelope}", found=len(hoppers),
                             action=f"reprint piece {seq} with at most {limits.max_per_envelope} inserts")
        inserts = [self._hoppers[h] for h in hoppers]
        weight = limits.envelope_weight(p.sheets, (i.weight_g for i in inserts))
        if weight > limits.max_envelope_weight_g + 1e-9:
            raise self._halt(f"piece {seq} weighs {weight:.1f} g, over the {limits.max_envelope_weight_g} g limit",
                             **common, field="weight_g", expected=f"<= {limits.max_envelope_weight_g}",
                             found=round(weight, 1), action=f"reprint piece {seq} within the weight limit")
        for i in inserts:
            if self.inventory.get(i.code, 0) < 1:
                raise self._halt(f"hopper {i.hopper} ({i.code}) ran out of inserts at piece {seq}", **common,
                                 field="inventory", expected=">= 1", found=self.inventory.get(i.code, 0),
                                 action=f"replenish hopper {i.hopper} with {i.code} and resume")
        return {"sequence": seq, "region": p.region, "sheets": p.sheets, "hoppers": hoppers,
                "inserts": [i.code for i in inserts], "weight_g": round(weight, 1),
                "batch": env.batch, "first_page": env.first_page}

    def finish(self):
        """End of the lot: a piece still open lost its last sheets. Returns the envelope log rows (the
        sink given as `rows`, if any)."""
        env = self._open
        if env is not None:
            first, want = env.first, env.next_sheet
            raise self._halt(f"lot ended with piece {first.sequence} open: sheet {want} of {first.sheets} missing",
                             piece=first.sequence, sheet=want, field="sheet", expected=want, found="end of lot",
                             action=f"reprint piece {first.sequence}")
        return self.rows


def write_envelope_log(path: str | Path, rows) -> int:
    """The envelope log as JSON lines, written atomically; returns the row count."""
    return fsutil.write_jsonl(path, rows)


def insert_lots(files: list[PrintFile], decoded: dict[str, str], catalog: Catalog, run_id: str,
                folder: Path, inventory: dict[str, int] | None = None) -> dict:
    """Run each region's lot through the simulated inserter by its barcodes alone; one envelope log per lot.

    `decoded`: per print file, the barcode read from each sheet, one per line. Insert inventory is
    carried from lot to lot within the run.
    """
    counts = {}
    for region in dict.fromkeys(f.region for f in files):
        with atomic_open(folder / f"{region}.jsonl") as fh:
            machine = Inserter(catalog, run_id, inventory=inventory, rows=JsonlWriter(fh))
            for f in (f for f in files if f.region == region):
                for page, text in enumerate(decoded[f.batch].splitlines(), 1):
                    machine.feed(text, batch=f.batch, page=page)
            counts[region] = machine.finish().count
        inventory = machine.inventory
    return {"envelopes": counts, "inventory_left": inventory or {}}
