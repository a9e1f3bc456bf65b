"""Each line's kit for the challenge step (`step.Kit`): how it writes, renders and verifies a challenge
piece, with the renderer and the verification its real pieces went through.

Statements: a two-sheet statement, verified by `verify.verify_file` (content and optical read, the
print contract, the 100% text check, the source record) with the run's checks. Cards: a carrier,
read by `verify.read_all` and checked by `cards.verify.verify_carriers`; the card line has no 100%
text check (its text is stage 1's), and a carrier is one sheet, so `text-altered` and `sheet-swap`
are not planted there.
"""
from __future__ import annotations

from pathlib import Path

from stmtprod.challenges import pieces
from stmtprod.challenges.config import ChallengeConfig
from stmtprod.challenges.faults import CLASSES
from stmtprod.challenges.step import Kit
from stmtprod.engine.run import Run
from stmtprod.errors import Halt
from stmtprod.fsutil import atomic_open
from stmtprod.inserting.pieces import window_name
from stmtprod.render.batch import BatchJob, render_batch
from stmtprod.verify import PrintFile, contract, read_all, verify_file

CARD_CLASSES = tuple(c for c in CLASSES if c not in ("text-altered", "text-added", "text-hidden", "sheet-swap"))


def statements(run: Run, config: ChallengeConfig, product, blind: frozenset[str]) -> Kit:
    """The statement line's kit; `product` is its `Statements` (layouts, catalog, options)."""
    layouts, catalog, options = product.layouts, product.catalog, product.options

    def write(challenge: pieces.Challenge, batch: Path) -> tuple[str, str]:
        record = pieces.statement_record(challenge, layouts[challenge.region], config, run.ingested.cycle_end)
        spill = pieces.write_batch(challenge, record, catalog, batch)
        return spill, window_name(layouts, challenge.region, record.model_dump(mode="json"))

    def render(challenge: pieces.Challenge, batch: Path, pdf: Path, manifest: Path) -> None:
        render_batch(BatchJob(name=challenge.name, region=challenge.region, run_id=run.run_id, batch_file=str(batch),
                              layouts_dir=str(options.layouts_dir), catalog_file=str(options.catalog_file),
                              pdf_file=str(pdf), manifest_file=str(manifest)))

    def verify(challenge: pieces.Challenge, pdf: Path, manifest: Path, accepted: Path) -> dict | None:
        layout = layouts[challenge.region]
        return verify_file(PrintFile(challenge.name, challenge.region, pdf, manifest), contract(layout), run.run_id,
                           catalog, accepted, blind, layout).halt

    return Kit(tuple(CLASSES), layouts, write, render, verify)


def cards(run: Run, config: ChallengeConfig, product) -> Kit:
    """The card line's kit; `product` is its `Cards` (layouts, catalog, carrier texts, options). The card
    modules are imported here, so that the statement line does not import them."""
    from stmtprod.cards.eligibility import select_card_inserts
    from stmtprod.cards.models import CardSpillRow, CarrierPiece
    from stmtprod.cards.render import CarrierJob, render_carrier_batch
    from stmtprod.cards.verify import verify_carriers

    layouts, catalog, options, carriers = product.layouts, product.catalog, product.options, product.config.carriers

    def write(challenge: pieces.Challenge, batch: Path) -> tuple[str, str]:
        record = pieces.card_record(challenge, layouts[challenge.region], config)
        inserts = select_card_inserts(catalog, record, carriers[challenge.region].welcome_kit, options.production_date)
        piece = CarrierPiece(sequence=challenge.sequence, line=challenge.number, inserts=tuple(i.code for i in inserts),
                             hoppers=tuple(pieces.planned_hoppers(challenge, inserts)), record=record)
        with atomic_open(batch) as fh:
            fh.write(piece.model_dump_json() + "\n")
        spill = CardSpillRow(line=challenge.number, record=record).model_dump_json() + "\n"
        return spill, window_name(layouts, challenge.region, record.model_dump(mode="json"))

    def render(challenge: pieces.Challenge, batch: Path, pdf: Path, manifest: Path) -> None:
        render_carrier_batch(CarrierJob(name=challenge.name, region=challenge.region, run_id=run.run_id,
                                        batch_file=str(batch), layouts_dir=str(options.layouts_dir),
                                        cards_dir=str(options.cards_dir), catalog_file=str(options.catalog_file),
                                        pdf_file=str(pdf), manifest_file=str(manifest)))

    def verify(challenge: pieces.Challenge, pdf: Path, manifest: Path, accepted: Path) -> dict | None:
        file = PrintFile(challenge.name, challenge.region, pdf, manifest)
        try:
            decoded = read_all([file], layouts, 1)
            verify_carriers([file], decoded, run.run_id, catalog, carriers, accepted, options.production_date,
                            first_sequence=challenge.sequence)
        except Halt as halt:
            return halt.as_dict()
        return None

    return Kit(CARD_CLASSES, layouts, write, render, verify)
