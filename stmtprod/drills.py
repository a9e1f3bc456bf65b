"""Fault drills: inject one real fault into a real run, to prove the line stops and to train operators.

`stmtprod build --drill KIND` runs the line as usual and injects the fault (`Drill`, the run's
fault-injection layer, acting only at the engine's named points, `stmtprod.engine.points`) where it
would happen in a print room: print files are edited after rendering (pages swapped, dropped, duplicated,
replaced, or over-printed with a different barcode), the plan is corrupted before rendering, or a
hopper is emptied. Each drill must halt the run with its own reason; a drill that does not halt is
itself a failure.
"""
from __future__ import annotations

import dataclasses
import io
import json
import random
import re
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable

from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from stdnum.iso7064 import mod_37_36

from stmtprod.barcode import symbol
from stmtprod.barcode.payload import ALPHABET, parse
from stmtprod.catalog import Catalog
from stmtprod.engine.points import NO_FAULTS, Faults
from stmtprod.errors import UsageError
from stmtprod.fsutil import atomic_open, write_bytes
from stmtprod.layout import Layout
from stmtprod.plan import BatchRef
from stmtprod.regions import MINOR_UNITS

DRILLS = {
    "wrong-region": "one sheet's barcode over-printed with another region",
    "sheets-swapped": "two sheets of a print file swapped",
    "sheet-missing": "one sheet dropped from a print file",
    "piece-duplicated": "one piece's sheets printed twice",
    "wrong-insert-bit": "one piece planned with an insert its record is not eligible for",
    "corrupted-payload": "one sheet's barcode over-printed with a bad check character",
    "insert-out-of-stock": "the hopper of an insert in use runs empty",
    "foreign-sheet": "one sheet's barcode over-printed with another run's",
    "amount-misprinted": "the first batch's balances printed one minor unit too high (stage 1 finds it)",
    "barcode-too-thin": "the first batch's barcodes drawn with 0.27 mm bars (stage 2 finds it)",
    "hopper-misloaded": "hoppers 1 and 2 loaded with each other's inserts (stage 3 finds it)",
    "wrong-tray": "the first lot's envelopes put in another country's tray (stage 4 finds it)",
    "torn-file": "a print file cut short, as a torn write leaves it",
    "bars-rich-black": "one sheet's barcode printed in rich black instead of 100% K",
    "wrong-dpid": "the first Australian piece with a DPID printed with another DPID in its postal barcode",
}
# Drills made by the campaign's fault classes (`stmtprod.faults`), on a sheet of the first piece with
# more than one sheet, with a fixed variant.
_FAULT_DRILLS = {"torn-file": ("truncated", 0), "bars-rich-black": ("ink", 3)}


def check(drill: str | None) -> None:
    if drill is not None and drill not in DRILLS:
        raise UsageError(f"unknown drill {drill!r}; known: {', '.join(sorted(DRILLS))}")


# Drills aimed at a sampling inspector switch off the 100% check that would otherwise stop them first,
# so they prove the inspector behind it still sees its defect (defence in depth).
BLIND = {"barcode-too-thin": frozenset({"contract"}), "amount-misprinted": frozenset({"text"})}


def blind_checks(drill: str | None) -> frozenset[str]:
    """The 100% checks a drill switches off (see BLIND)."""
    return BLIND.get(drill or "", frozenset())


def corrupt_plan(drill: str | None, batches: list[BatchRef]) -> None:
    """wrong-insert-bit: flip hopper 8 (never loaded by an eligible insert) on the first piece.
    amount-misprinted: raise every balance of the first batch by one minor unit, consistently, so
    only a comparison with the source record can tell."""
    if drill == "wrong-dpid":
        _wrong_dpid(batches)
        return
    if drill not in ("wrong-insert-bit", "amount-misprinted") or not batches:
        return
    path = batches[0].path
    pieces = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    if drill == "wrong-insert-bit":
        pieces[0]["hoppers"] = sorted(set(pieces[0]["hoppers"]) ^ {8})
    else:
        for piece in pieces:
            record = piece["record"]
            unit = Decimal(1).scaleb(-MINOR_UNITS[record["currency"]])
            for key in ("previous_balance", "new_balance"):
                record[key] = str(Decimal(record[key]) + unit)
    with atomic_open(path) as fh:
        fh.write("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pieces))


def _wrong_dpid(batches: list[BatchRef]) -> None:
    """wrong-dpid: the first Australian piece that has a DPID is rendered with the next DPID up (a
    valid DPID, so only a comparison with the source record can tell)."""
    for batch in batches:
        if batch.region != "AU":
            continue
        pieces = [json.loads(line) for line in batch.path.read_text(encoding="utf-8").splitlines()]
        for piece in pieces:
            address = piece["record"]["address"]
            if address.get("dpid"):
                address["dpid"] = f"{(int(address['dpid']) + 1) % 10 ** 8:08d}"
                with atomic_open(batch.path) as fh:
                    fh.write("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pieces))
                return


def layouts_for(drill: str | None, layouts_dir: Path, region: str, work: Path) -> Path:
    """barcode-too-thin: the first region renders from a copy of the layouts with thinner bars."""
    if drill != "barcode-too-thin":
        return layouts_dir
    folder = work / "drill-layouts"
    folder.mkdir(parents=True, exist_ok=True)
    for source in Path(layouts_dir).glob("*.toml"):
        text = source.read_text(encoding="utf-8")
        if source.stem == region:
            text = re.sub(r"narrow_bar_mm = [0-9.]+", "narrow_bar_mm = 0.27", text)
        (folder / source.name).write_text(text, encoding="utf-8")
    return folder


def inserter_catalog(drill: str | None, catalog: Catalog) -> Catalog:
    """hopper-misloaded: the machine's hoppers 1 and 2 hold each other's inserts."""
    if drill != "hopper-misloaded":
        return catalog
    swapped = [i.model_copy(update={"hopper": {1: 2, 2: 1}.get(i.hopper, i.hopper)}) for i in catalog.insert]
    return catalog.model_copy(update={"insert": swapped})


def misroute(drill: str | None, rows: Iterable[dict]) -> Iterable[dict]:
    """wrong-tray: every envelope of the lot goes into another country's tray."""
    if drill != "wrong-tray":
        return rows
    return [{**row, "tray": "NZ" if row["tray"] != "NZ" else "AU"} for row in rows]


def _overprint(page, layout: Layout, text: str) -> None:
    """Blank the barcode area and draw `text` as the sheet's barcode, as a misprint would."""
    width, height = layout.page.size_mm
    bc = layout.barcode
    spec = symbol.SymbolSpec(bc.narrow_bar_mm, bc.height_mm, bc.quiet_zone_modules)
    buffer = io.BytesIO()
    c = Canvas(buffer, pagesize=(width * mm, height * mm), invariant=1)
    c.setFillColorRGB(1, 1, 1)
    bottom = height - bc.y_mm - bc.height_mm
    c.rect((bc.x_mm - 1) * mm, (bottom - 1) * mm, 120 * mm, (bc.height_mm + 2) * mm, stroke=0, fill=1)
    symbol.draw(c, text, bc.x_mm, bottom, spec)
    c.save()
    from pypdf import PdfReader  # only a drill edits a file: the nightly job does not pay pypdf's import

    page.merge_page(PdfReader(buffer).pages[0])


def _multi_sheet_piece(manifest: Path) -> dict:
    rows = [json.loads(x) for x in manifest.read_text(encoding="utf-8").splitlines()]
    return next((r for r in rows if r["sheets"] > 1), rows[0])


def damage_print_file(drill: str | None, pdf: Path, manifest: Path, layout: Layout) -> None:
    """Edit one staged print file the way the drill's fault would have produced it."""
    if drill in _FAULT_DRILLS:
        from stmtprod import faults

        kind, variant = _FAULT_DRILLS[drill]
        faults.apply(kind, pdf, _multi_sheet_piece(manifest)["first_page"], random.Random(variant))
        return
    if drill not in {"wrong-region", "sheets-swapped", "sheet-missing", "piece-duplicated", "corrupted-payload",
                     "foreign-sheet"}:
        return
    from pypdf import PdfReader, PdfWriter  # only a drill edits a file: the nightly job does not pay its import

    writer = PdfWriter(clone_from=PdfReader(pdf))
    order = list(range(len(writer.pages)))
    row = _multi_sheet_piece(manifest)
    first = row["first_page"] - 1
    original = row["payloads"][0]
    if drill == "sheets-swapped":
        other = first + 1 if row["sheets"] > 1 else min(first + 1, len(order) - 1)
        order[first], order[other] = order[other], order[first]
    elif drill == "sheet-missing":
        del order[first]
    elif drill == "piece-duplicated":
        order[first:first] = order[first:row["last_page"]]
    else:
        _overprint(writer.pages[first], layout, _misprint(drill, original))
    result = PdfWriter()
    for index in order:
        result.add_page(writer.pages[index])
    buffer = io.BytesIO()
    result.write(buffer)
    write_bytes(pdf, buffer.getvalue())


def _misprint(drill: str, original: str) -> str:
    """The payload a faulty sheet carries instead of `original`."""
    body = original[:22]
    if drill == "corrupted-payload":
        return body + ALPHABET[(ALPHABET.index(original[22]) + 1) % 36]
    if drill == "wrong-region":
        body = body[0] + ("NZ" if parse(original).region != "NZ" else "AU") + body[3:]
    else:
        body = body[:3] + "".join(ALPHABET[(ALPHABET.index(ch) + 1) % 36] for ch in body[3:9]) + body[9:]
    return body + mod_37_36.calc_check_digit(body)


def inventory(drill: str | None, catalog) -> dict[str, int] | None:
    """insert-out-of-stock: every hopper holds a single insert, so the second envelope that wants one stops."""
    if drill != "insert-out-of-stock":
        return None
    return {i.code: 1 for i in catalog.insert}


class Drill(Faults):
    """One drill as the run's fault-injection layer: it acts at the engine's named points only."""

    def __init__(self, kind: str):
        check(kind)
        self.name = kind

    def at(self, point: str, value: Any, run: Any, **context: Any) -> Any:
        kind = self.name
        if point == "plan":
            corrupt_plan(kind, value)
        elif point == "jobs" and value:
            first = value[0].region
            folder = layouts_for(kind, Path(value[0].layouts_dir), first, run.run_dir / "work")
            value = [dataclasses.replace(j, layouts_dir=str(folder)) if j.region == first else j for j in value]
        elif point == "rendered" and value:
            job = value[0]
            damage_print_file(kind, Path(job.pdf_file), Path(job.manifest_file), run.product.layouts[job.region])
        elif point == "checks-off":
            value = value | blind_checks(kind)
        elif point == "inserter-catalog":
            value = inserter_catalog(kind, value)
        elif point == "inserter-inventory":
            value = inventory(kind, run.product.catalog)
        elif point == "mailing" and context.get("lot") == 0:
            value = misroute(kind, value)
        return value


def faults_for(drill: str | None) -> Faults:
    """The fault layer of a run: none in production, else the drill (an unknown drill is refused)."""
    return NO_FAULTS if drill is None else Drill(drill)
