"""Verification of every sheet: barcodes read back from the print files themselves.

Nothing here trusts the code that drew the bars. Every sheet's barcode is read out of the file's
content stream (`barcode/content.py`: qpdf decodes the page, zxing-cpp decodes the bars). Sheets
whose content is not a plain barcode, and the first and last sheet of every file, are also read
optically (`barcode/reader.py`: rasterised by pdfium, decoded by zxing-cpp) as the inserter camera
would see them; the optical read is what counts, and a file whose written barcode differs from its
printed one halts. Each payload is checked against the manifest and against a recomputation from the
source record (region and country, the insert rules applied afresh, the number of sheets). Sequences
must run 1..N across the whole run with no gap or duplicate. The first mismatch raises `Halt` naming
batch, piece, sheet, field, expected and found. Stage 2 reads a further sample optically at 600 dpi.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from stmtprod.barcode import content, symbol
from stmtprod.barcode.payload import PayloadError, build, parse
from stmtprod.barcode.reader import read_page_barcodes
from stmtprod.catalog import Catalog, hoppers_of, select_inserts
from stmtprod.errors import Halt
from stmtprod.layout import Layout, LayoutSet
from stmtprod.plan import SpillRow, spill_line
from stmtprod.render.statement import sheet_count
from stmtprod.workers import pool as worker_pool

DPI = 200
_STRIP_MARGIN_MM = 2.0


@dataclass(frozen=True)
class PrintFile:
    """One batch's print file and manifest, as verification sees them."""

    batch: str
    region: str
    pdf: Path
    manifest: Path


def barcode_strip(layout: Layout) -> tuple[float, float, float, float]:
    """Where the camera looks: the symbol's box plus a margin, in mm from the page's bottom-left."""
    bc = layout.barcode
    width_mm, height_mm = layout.page.size_mm
    spec = symbol.SymbolSpec(bc.narrow_bar_mm, bc.height_mm, bc.quiet_zone_modules)
    longest = spec.width_mm(build("AU", "00000000-ZZZZZZ", 9999999, 99, 99, set(range(1, 9))))
    x = max(0.0, bc.x_mm - _STRIP_MARGIN_MM)
    bottom = max(0.0, height_mm - bc.y_mm - bc.height_mm - _STRIP_MARGIN_MM)
    return (x, bottom, min(width_mm - x, longest + 2 * _STRIP_MARGIN_MM + 10),
            min(height_mm - bottom, bc.height_mm + 2 * _STRIP_MARGIN_MM))


@dataclass(frozen=True)
class Readback:
    """What was read from one print file: the texts per page, and the first page (1-based) whose written
    barcode differs from the printed one, with both."""

    pages: list[list[str]]
    disagreement: tuple[int, list[str], list[str]] | None = None

    def halt(self, batch: str) -> Halt | None:
        """The halt for a written barcode that differs from the printed one, if any."""
        if self.disagreement is None:
            return None
        page, written, printed = self.disagreement
        return Halt("the barcode written in the print file differs from the one that prints", step="verify",
                    batch=batch, page=page, field="barcode", expected=written, found=printed,
                    action="the file renders differently than it reads: re-render the batch and check the RIP")


def _in_workers(function, args: list[tuple], workers: int):
    """`function(*a)` for each of `args`, in order, here or in a pool of processes (pdfium is not
    thread-safe). A generator: close it to stop early; the pool is shut down then."""
    if workers <= 1 or len(args) <= 1:
        yield from (function(*a) for a in args)
        return
    with worker_pool(min(workers, len(args))) as pool:
        yield from pool.map(function, *zip(*args))


def read_file(pdf: str, strip: tuple[float, float, float, float]) -> Readback:
    """Every page's barcode texts from the content; pages it cannot vouch for, and the first and last
    page, read optically too (runs in a worker process)."""
    pages = content.read_file(pdf, strip)
    optical = sorted({i for i, texts in enumerate(pages) if texts is None} | ({0, len(pages) - 1} if pages else set()))
    seen = read_page_barcodes(pdf, page_indexes=optical, dpi=DPI, region_mm=strip) if optical else []
    disagreement = None
    for index, printed in zip(optical, seen):
        written = pages[index]
        if written is not None and written != printed and disagreement is None:
            disagreement = (index + 1, written, printed)
        pages[index] = printed
    return Readback(pages, disagreement)


def read_all(files: list[PrintFile], layouts: LayoutSet, workers: int) -> dict[str, list[list[str]]]:
    """Read every sheet of every print file, in parallel processes (pdfium is not thread-safe).

    Halts when a file's written barcode differs from the one that prints.
    """
    read = list(_in_workers(read_file, [(str(f.pdf), barcode_strip(layouts[f.region])) for f in files], workers))
    for f, r in zip(files, read):
        halt = r.halt(f.batch)
        if halt:
            raise halt
    return {f.batch: r.pages for f, r in zip(files, read)}


def source_records(spill: Path, lines: set[int]) -> dict[int, object]:
    """The source records of the given input lines, read back from a region's spill in one pass.

    Memory stays at one batch's records whatever the size of the run.
    """
    found: dict[int, object] = {}
    if not lines or not spill.exists():
        return found
    with open(spill, "rb") as fh:
        for raw in fh:
            line = spill_line(raw)
            if line in lines:
                found[line] = SpillRow.model_validate_json(raw).record
                if len(found) == len(lines):
                    break
    return found


def mismatch(expected: str, found: str, seen: set[str], later: list[list[str]]) -> tuple[str, str]:
    """(field, reason) for a sheet whose barcode is not the one the manifest expects there.

    `seen` holds the sheets read so far in the run and `later` the rest of this print file, which
    tells a duplicate from a swap from a missing sheet.
    """
    want, got = parse(expected), parse(found)
    if got.run_tag != want.run_tag:
        return "run_tag", "a sheet from another run"
    if got.region != want.region:
        return "region", "a sheet of the wrong region"
    if found in seen:
        return "sequence", f"duplicate sheet: piece {got.sequence} sheet {got.sheet} was already read"
    if any(expected in texts for texts in later):
        return "sheet", (f"sheets out of order: piece {want.sequence} sheet {want.sheet} comes after "
                         f"piece {got.sequence} sheet {got.sheet}")
    if (got.sequence, got.sheet) > (want.sequence, want.sheet):
        return "sheet", f"sheet missing: piece {want.sequence} sheet {want.sheet} of {want.sheets} is not there"
    for name in ("sheets", "hoppers"):
        if getattr(want, name) != getattr(got, name):
            return name, f"barcode {name} differ from the manifest"
    return "payload", "barcode differs from the manifest"


def check_barcode(found: list[str], payload: str, at: dict, seen: set[str], later: list[list[str]],
                  noun: str = "sheet"):
    """The one barcode read on a page, parsed, or a Halt: none or several, malformed, or not `payload`.

    `noun` names the page in the messages ("sheet", or "carrier" for the card line).
    """
    if len(found) != 1:
        raise Halt(f"no readable barcode on the {noun}" if not found else f"more than one barcode on the {noun}",
                   **at, field="barcode", expected=payload, found=found or None,
                   action=f"inspect the {noun}; re-render the batch")
    text = found[0]
    try:
        parsed = parse(text)
    except PayloadError as exc:
        raise Halt(f"malformed barcode payload: {exc}", **at, field="payload", expected=payload,
                   found=text, action="re-render the batch; check the printer and the file") from None
    if text != payload:
        field, reason = mismatch(payload, text, seen, later)
        raise Halt(reason, **at, field=field, expected=payload, found=text,
                   action="pull the batch from the printer queue, re-render it and re-verify")
    return parsed


def check_own_payload(parsed, sequence: int, sheet: int, sheets: int, tag: str, at: dict,
                      noun: str = "piece", unit: str = "sheet") -> None:
    """The manifest row agrees with the payload it lists for this sheet, and that payload is this run's."""
    if (parsed.sequence, parsed.sheet, parsed.sheets) != (sequence, sheet, sheets):
        raise Halt("manifest row disagrees with its own payload", **at, field="sequence",
                   expected=f"{noun} {sequence} sheet {sheet} of {sheets}",
                   found=f"piece {parsed.sequence} sheet {parsed.sheet} of {parsed.sheets}",
                   action="the manifest was altered: re-render the batch")
    if parsed.run_tag != tag:
        raise Halt(f"a {unit} from another run", **at, field="run_tag", expected=tag, found=parsed.run_tag,
                   action="remove foreign sheets; re-render the batch")


def check_sequence(sequence: int, expected: int, at: dict, noun: str = "piece") -> None:
    """Pieces run 1..N across the whole run: no gap, no duplicate."""
    if sequence != expected:
        raise Halt(f"{noun} sequence has a gap or a duplicate", **at, field="sequence", expected=expected,
                   found=sequence, action="re-plan and re-render the run")


def check_page_total(pages: list[list[str]], expected: int, here: dict) -> None:
    """Halt when the print file holds more or fewer sheets than its manifest describes."""
    if len(pages) != expected:
        extra = len(pages) > expected
        raise Halt(f"{'extra sheets' if extra else 'sheets missing'} at the end of the print file", **here,
                   page=min(len(pages), expected) + 1, field="sheets", expected=expected,
                   found=len(pages), action="re-render the batch and check the file transfer")


@dataclass(frozen=True)
class FileVerdict:
    """One print file verified: the texts read per page (for the inserter), what it holds, or its halt."""

    batch: str
    pages: list[list[str]]
    first_sequence: int | None = None
    pieces: int = 0
    sheets: int = 0
    halt: dict | None = None


def verify_file(f: PrintFile, strip: tuple[float, float, float, float] | None, run_id: str, catalog: Catalog,
                accepted_dir: Path) -> FileVerdict:
    """Read one print file (unless `strip` is None: then the manifest's payloads stand for what was read
    before) and check every sheet and piece of it; runs in a worker process. Sequences must run on
    from the file's first piece; the caller checks that they follow on from the previous file."""
    rows = [json.loads(line) for line in f.manifest.read_text(encoding="utf-8").splitlines()]
    if strip is None:
        pages = [[p] for row in rows for p in row["payloads"]]
    else:
        readback = read_file(str(f.pdf), strip)
        halt = readback.halt(f.batch)
        if halt:
            return FileVerdict(f.batch, [], halt=halt.as_dict())
        pages = readback.pages
    try:
        _check_pages(f, rows, pages, run_id[-6:])
        sources = source_records(accepted_dir / f"{f.region}.jsonl", {row["line"] for row in rows})
        sheets = 0
        for expected, row in enumerate(rows, rows[0]["sequence"] if rows else 1):
            at = {"step": "verify", "batch": f.batch, "piece": row["sequence"]}
            check_sequence(row["sequence"], expected, at)
            _check_source(row, f.region, sources.get(row["line"]), catalog, at)
            sheets += row["sheets"]
    except Halt as halt:
        return FileVerdict(f.batch, pages, halt=halt.as_dict())
    return FileVerdict(f.batch, pages, rows[0]["sequence"] if rows else None, len(rows), sheets)


def _check_pages(f: PrintFile, rows: list[dict], pages: list[list[str]], tag: str) -> None:
    """Each page holds the one barcode the manifest lists for it, and the file no more or fewer pages."""
    expected = [(row, n, payload) for row in rows for n, payload in enumerate(row["payloads"], 1)]
    here = {"step": "verify", "batch": f.batch}
    seen: set[str] = set()
    for page, (found, (row, n, payload)) in enumerate(zip(pages, expected), 1):
        at = {**here, "page": page, "piece": row["sequence"], "sheet": n}
        parsed = check_barcode(found, payload, at, seen, pages[page:])
        check_own_payload(parsed, row["sequence"], n, row["sheets"], tag, at)
        seen.add(payload)
    check_page_total(pages, len(expected), here)


def verify_batches(files: list[PrintFile], to_read: set[str], layouts: LayoutSet, run_id: str, catalog: Catalog,
                   accepted_dir: Path, workers: int) -> tuple[dict[str, str], dict]:
    """Verify every print file, reading those named in `to_read`, in parallel worker processes.

    Returns, per file, the payload read from each page, one per line (compact: the inserter needs
    every sheet's barcode of the run), and the counts; raises the Halt of the first file, in sequence
    order, that has one, or of the first break in sequences between files.
    """
    args = [(f, barcode_strip(layouts[f.region]) if f.batch in to_read else None, run_id, catalog, accepted_dir)
            for f in files]
    verdicts = _in_workers(verify_file, args, workers)
    try:
        return _combine(verdicts)
    finally:
        verdicts.close()


def _combine(verdicts) -> tuple[dict[str, str], dict]:
    pages: dict[str, str] = {}
    next_sequence, pieces, sheets = 1, 0, 0
    for v in verdicts:
        if v.halt:
            details = dict(v.halt)
            raise Halt(details.pop("reason"), **details)
        if v.pieces:
            check_sequence(v.first_sequence, next_sequence, {"step": "verify", "batch": v.batch,
                                                             "piece": v.first_sequence})
        next_sequence += v.pieces
        pieces += v.pieces
        sheets += v.sheets
        pages[v.batch] = "\n".join(texts[0] for texts in v.pages)  # verified: one barcode a page
    return pages, {"pieces": pieces, "sheets": sheets}


def _check_source(row: dict, region: str, record, catalog: Catalog, at: dict) -> None:
    """The piece against its source record, recomputed from scratch."""
    if record is None or record.account_id != row["account_id"]:
        raise Halt("piece has no matching source record in its region", **at, field="account_id",
                   expected=row["account_id"], found=record.account_id if record else None,
                   action="the manifest does not belong to this run's input: re-render the run")
    first = parse(row["payloads"][0])
    if not first.region == region == record.region == record.address.country:
        raise Halt("region differs between barcode, batch and address country", **at, field="region",
                   expected=f"{record.region}/{record.address.country}", found=f"{first.region} in batch {region}",
                   action="correct the plan or layout and re-render")
    hoppers = hoppers_of(select_inserts(catalog, record))
    if first.hoppers != hoppers:
        raise Halt("insert bitmap differs from the eligibility rules applied afresh", **at, field="hoppers",
                   expected=sorted(hoppers), found=sorted(first.hoppers),
                   action="check the catalog version used by the run; re-plan and re-render")
    if row["sheets"] != sheet_count(len(record.transactions)) or first.sheets != row["sheets"]:
        raise Halt("sheet count differs from the statement's pagination", **at, field="sheets",
                   expected=sheet_count(len(record.transactions)), found=row["sheets"], action="re-render the batch")


def load_run(run_dir: Path) -> dict:
    """A run folder's `run.json` record, or a UsageError that says the folder is not a run."""
    from stmtprod.errors import UsageError
    from stmtprod.runstate import RunRecord

    try:
        return RunRecord.load(run_dir).data
    except FileNotFoundError:
        raise UsageError(f"{run_dir} is not a run folder (no run.json)") from None


def check_versions(run: dict, layouts_version: str, catalog_version: str) -> None:
    """Refuse to verify with layouts or a catalog other than the ones the run was made with."""
    from stmtprod.errors import ConfigError

    for name, now, then in (("layouts", layouts_version, run["layouts_version"]),
                            ("catalog", catalog_version, run["catalog_version"])):
        if now != then:
            raise ConfigError(f"{name} changed since run {run['run_id']} (version {then}, now {now}); "
                              "restore the configuration the run used")


def run_print_files(run_dir: Path) -> tuple[Path, list[PrintFile]]:
    """The run's print files (released, else staged) in sequence order; Halt if a manifest's PDF is missing."""
    from stmtprod.errors import UsageError

    folder = run_dir / "release" if (run_dir / "release").exists() else run_dir / "staging"
    manifests = sorted((folder / "manifest").glob("*.jsonl"))
    if not manifests:
        raise UsageError(f"no manifests under {folder}")
    files = [PrintFile(m.stem, m.stem[:2], folder / "print" / f"{m.stem}.pdf", m) for m in manifests]
    files.sort(key=lambda f: json.loads(f.manifest.open(encoding="utf-8").readline())["sequence"])
    for f in files:
        if not f.pdf.exists():
            raise Halt("print file missing", step="verify", batch=f.batch, field="file", expected=str(f.pdf),
                       found=None, action="restore the print file from the run folder or re-render")
    return folder, files


def verify_run(run_dir: Path, workers: int = 1) -> dict:
    """Re-verify a finished run's print files (released, else staged) against its manifests and records.

    Uses the layouts and catalog the run recorded, and refuses if they changed since.
    """
    from stmtprod.catalog import load_catalog
    from stmtprod.layout import load_layouts

    run = load_run(run_dir)
    if run.get("line") == "cards":
        from stmtprod.cards.line import verify_card_run

        return verify_card_run(run_dir, workers)
    layouts = load_layouts(Path(run["layouts_dir"]))
    catalog, catalog_version = load_catalog(Path(run["catalog_file"]))
    check_versions(run, layouts.version, catalog_version)
    folder, files = run_print_files(run_dir)
    _pages, counts = verify_batches(files, {f.batch for f in files}, layouts, run["run_id"], catalog,
                                    run_dir / "work" / "accepted", workers)
    return {"run_id": run["run_id"], "ok": True, "folder": str(folder), "files": len(files), **counts}
