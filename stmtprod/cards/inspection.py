"""Sampling inspection of the card run, with the statement line's plans, seeds, ledger and QA CLI.

A lot is one region's carriers in one run, named `CARDS-<REGION>` so that its switching state
(normal, tightened, reduced) is its own stream, apart from the same region's statements. Plans
(ANSI/ASQ Z1.4 by lot size, AQL and level from `inspection.toml`), seeded samples, decisions and
switching go through the same functions and ledger tables as statement runs, so `stmtprod qa record`,
`qa status` and `stmtprod proof RUN --stage K` work on card runs. Stages:

1. **composition**: each sampled carrier's text, extracted from the print file, against its
   sanitized order: address block, greeting, embossed name, masked number, activation hotline of
   the product, enclosures; and no run of 12 or more digits anywhere on the sheet.
2. **print**: each sampled sheet rasterised whole (not just the barcode strip) and decoded: exactly one symbol, the
   manifest's payload, sitting in the bottom margin where the inserter camera looks.
3. **insertion (card match)**: each sampled carrier against the card that the personalisation log
   puts in its slot (card id, last five digits, embossed name) and its inserts against the
   welcome-kit eligibility applied afresh.

Stage 4 (dispatch) belongs to mailing and is not run for card carriers yet.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from stmtprod.barcode.reader import read_page_barcodes
from stmtprod.cardnumbers import redact
from stmtprod.cards.eligibility import select_card_inserts
from stmtprod.cards.ingest import read_spill
from stmtprod.cards.models import CardRecord, PersonalisationEntry, digit_runs
from stmtprod.cards.render import lot_name
from stmtprod.cards.texts import CarrierSet
from stmtprod.catalog import Catalog, hoppers_of
from stmtprod.errors import Halt
from stmtprod.inspect.config import InspectionConfig
from stmtprod.inspect.stages import halt_for, inspect_lots
from stmtprod.layout import LayoutSet
from stmtprod.engine.ledger import Ledger

CARD_STAGES = (1, 2, 3)
PRINT_DPI = 200        # the whole sheet, not just the strip the 100% read-back looks at
CARD_NUMBER_MIN = 13   # card numbers have 13 to 19 digits; company registration numbers 12 at most
_WS = re.compile(r"\s+")


def squash(text: str) -> str:
    return _WS.sub("", text)


@dataclass
class CardContext:
    run_id: str
    folder: Path                      # staging/ or release/
    accepted_dir: Path
    layouts: LayoutSet
    carriers: CarrierSet
    catalog: Catalog
    production_date: dt.date
    log: list[PersonalisationEntry] = field(default_factory=list)
    _manifest: dict[int, dict] = field(default_factory=dict, init=False)
    _records: dict[str, dict[int, CardRecord]] = field(default_factory=dict, init=False)
    _readers: dict[str, object] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        for path in sorted((self.folder / "manifest").glob("*.jsonl")):
            for line in path.read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                self._manifest[row["sequence"]] = row

    def lots(self) -> dict[str, list[int]]:
        lots: dict[str, list[int]] = {}
        for seq, row in sorted(self._manifest.items()):
            lots.setdefault(lot_name(row["region"]), []).append(seq)
        return lots

    def piece(self, sequence: int) -> dict:
        return self._manifest[sequence]

    def record(self, sequence: int) -> CardRecord:
        row = self._manifest[sequence]
        if row["region"] not in self._records:
            self._records[row["region"]] = read_spill(self.accepted_dir / f"{row['region']}.jsonl")
        return self._records[row["region"]][row["line"]]

    def page_text(self, sequence: int) -> str:
        from pypdf import PdfReader

        row = self._manifest[sequence]
        if row["file"] not in self._readers:
            self._readers[row["file"]] = PdfReader(self.folder / "print" / row["file"])
        return self._readers[row["file"]].pages[row["page"] - 1].extract_text() or ""


def _address_block(ctx: CardContext, record: CardRecord) -> list[str]:
    """The window's lines, computed here from the layout's rules (not by the renderer's function)."""
    rules, addr = ctx.layouts[record.region].address, record.address
    postcode = rules.postcode_prefix + addr.postcode if addr.postcode else ""
    if rules.order == "postcode_first":
        return ([postcode] if postcode else []) + [addr.state + addr.city + addr.lines[0], *addr.lines[1:],
                                                   record.name + " 様"]
    return [record.name, *addr.lines, " ".join(p for p in (addr.city, addr.state, postcode) if p)]


def inspect_composition(ctx: CardContext, sample: list[int]) -> list[dict]:
    defects = []
    for seq in sample:
        record, row = ctx.record(seq), ctx.piece(seq)
        texts = ctx.carriers[record.region]
        langs = [texts.text[record.language]] if record.language != "en" and record.language in texts.text else []
        langs.append(texts.text["en"])
        page = ctx.page_text(seq)
        flat = squash(page)
        expected = [("address", line) for line in _address_block(ctx, record)]
        expected += [("embossed-name", record.embossed_name)]
        expected += [("masked-number", t.card_ending.format(last5=record.last5)) for t in langs]
        expected += [("greeting", t.greeting.format(name=record.name)) for t in langs]
        expected += [("hotline", t.hotline.format(hotline=texts.hotline_for(record.product))) for t in langs]
        expected += [("activation", t.activation_title) for t in langs]
        expected += [("enclosures", code) for code in row["inserts"]]
        for kind, text in expected:
            if squash(text) not in flat:
                defects.append({"piece": seq, "kind": kind, "evidence": f"{text!r} is not on the carrier"})
                break
        else:
            if digit_runs(page, CARD_NUMBER_MIN):
                defects.append({"piece": seq, "kind": "card-number-shape",
                                "evidence": f"a run of {CARD_NUMBER_MIN} or more digits (a card number's shape) "
                                            "is printed on the carrier"})
    return defects


def inspect_print(ctx: CardContext, sample: list[int]) -> list[dict]:
    defects = []
    by_file: dict[str, list[int]] = {}
    for seq in sample:
        by_file.setdefault(ctx.piece(seq)["file"], []).append(seq)
    for name, seqs in sorted(by_file.items()):
        found = read_page_barcodes(ctx.folder / "print" / name, page_indexes=[ctx.piece(s)["page"] - 1 for s in seqs],
                                   dpi=PRINT_DPI)
        for seq, texts in zip(seqs, found):
            want = ctx.piece(seq)["payload"]
            if texts != [want]:
                defects.append({"piece": seq, "kind": "barcode",
                                "evidence": f"whole sheet read at {PRINT_DPI} dpi gives {texts}, manifest says {want}"})
    return defects


def inspect_match(ctx: CardContext, sample: list[int]) -> list[dict]:
    defects = []
    by_slot = {e.slot: e for e in ctx.log}
    for seq in sample:
        record, row = ctx.record(seq), ctx.piece(seq)
        entry = by_slot.get(seq)
        if entry is None:
            defects.append({"piece": seq, "kind": "no-card", "evidence": f"no card in slot {seq}"})
            continue
        for kind, want, got in (("card-id", record.card_id, entry.card_id), ("last5", record.last5, entry.pan_last5),
                                ("embossed-name", record.embossed_name, entry.embossed_name)):
            if want != got:
                defects.append({"piece": seq, "kind": kind,
                                "evidence": redact(f"slot {seq}: card {got}, carrier {want}")})
                break
        else:
            kit = ctx.carriers[record.region].welcome_kit
            hoppers = sorted(hoppers_of(select_card_inserts(ctx.catalog, record, kit, ctx.production_date)))
            if hoppers != row["hoppers"]:
                defects.append({"piece": seq, "kind": "inserts",
                                "evidence": f"hoppers {row['hoppers']}, eligibility says {hoppers}"})
    return defects


INSPECTORS = {1: inspect_composition, 2: inspect_print, 3: inspect_match}


def _halt_for(stage: int, result: dict) -> Halt:
    return halt_for(stage, result, noun="carriers", then="resume the card run")


def run_card_stages(ledger: Ledger, config: InspectionConfig, ctx: CardContext, run_dir: Path,
                    timings: dict | None = None, events: Callable[..., None] | None = None) -> list[dict]:
    """Inspect every lot at the card stages in order; raises Halt (rejected) or AwaitingInspection (manual).
    `events("stage", ...)` is told as each stage starts, for progress."""
    lots = ctx.lots()

    def submit(stage: int, automatic: list[tuple[str, list[int]]]) -> list[Callable[[], list[dict]]]:
        if events is not None:
            events("stage", stage=stage, name=INSPECTORS[stage].__name__.removeprefix("inspect_"), lots=len(lots),
                   of=len(CARD_STAGES),
                   sampled=sum(len(sample) for _lot, sample in automatic))
        return [lambda sample=sample: INSPECTORS[stage](ctx, sample) for _lot, sample in automatic]

    return inspect_lots(ledger, config, ctx.run_id, lots, run_dir, CARD_STAGES,
                        lambda stage, _lot, sample: INSPECTORS[stage](ctx, sample), timings, lot_of=lot_name,
                        halt=_halt_for, submit=submit)
