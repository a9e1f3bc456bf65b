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
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from stmtprod.barcode import content, symbol
from stmtprod.barcode.payload import PayloadError, build, parse, run_tag
from stmtprod.barcode.reader import read_sheets
from stmtprod.cardnumbers import redact
from stmtprod.catalog import Catalog, hoppers_of, select_inserts
from stmtprod.errors import Halt
from stmtprod.inspect.composition import check_piece
from stmtprod.layout import Layout, LayoutSet
from stmtprod.plan import SPILL_ROWS, spill_line, spill_offsets
from stmtprod.postal import verify as postal_verify
from stmtprod.postal.read import PageLetters as postal_letters
from stmtprod.render.statement import sheet_count
from stmtprod.engine.wayout import SOURCES_MISSING
from stmtprod.engine.workers import GcPaused, stopping_pool
from stmtprod.fsutil import not_regular

DPI = 200
_STRIP_MARGIN_MM = 2.0


@dataclass(frozen=True)
class PrintFile:
    """One batch's print file and manifest, as verification sees them."""

    batch: str
    region: str
    pdf: Path
    manifest: Path


_ROW_FIELDS = {"sequence": int, "line": int, "sheets": int, "first_page": int, "last_page": int, "region": str,
               "account_id": str, "file": str, "payloads": list, "hoppers": list, "inserts": list}
"""What every manifest row holds for verification, the inserter and mailing, and of which type."""


def manifest_rows(f: PrintFile, fields: dict[str, type] | None = None, payloads: bool = True) -> list[dict]:
    """The rows of a print file's manifest: each a JSON object holding `_ROW_FIELDS` (and `fields`) of their
    types, every payload well formed (unless `payloads` is False: a proof shows a bad one as a mismatch);
    else a Halt naming the manifest, its line and the field. A manifest changed after rendering (a bad
    disk, a transfer, an edit) halts like its print file would."""
    kind = not_regular(f.manifest)
    if kind is not None:
        raise _manifest_halt(f, None, "file", "a regular file", f"it is {kind}")
    rows = []
    with open(f.manifest, encoding="utf-8", errors="replace") as fh:
        for number, text in enumerate(fh, 1):
            rows.append(_manifest_row(f, number, text, {**_ROW_FIELDS, **(fields or {})}, payloads))
    return rows


def _manifest_row(f: PrintFile, number: int, text: str, fields: dict[str, type], payloads: bool = True) -> dict:
    try:
        row = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _manifest_halt(f, number, "row", "one JSON object a line", f"not JSON ({exc.msg}, column {exc.colno})")
    if not isinstance(row, dict):
        raise _manifest_halt(f, number, "row", "one JSON object a line", f"a JSON {type(row).__name__}")
    for name, kind in fields.items():
        value = row.get(name)
        if type(value) is not kind:
            raise _manifest_halt(f, number, name, f"a {kind.__name__}",
                                 "missing" if name not in row else f"a {type(value).__name__}")
    for payload in row["payloads"] if payloads else ():
        try:
            parse(payload)
        except PayloadError as exc:
            raise _manifest_halt(f, number, "payloads", "well-formed payloads (check character included)",
                                 redact(str(exc)))
    return row


def _manifest_halt(f: PrintFile, line: int | None, name: str, expected: str, found: str) -> Halt:
    return Halt("manifest damaged", step="verify", batch=f.batch, file=str(f.manifest), line=line, field=name,
                expected=expected, found=found,
                action="the manifest was changed after rendering (a bad disk, the transfer, an edit): render the "
                       "batch again (the resume does) and verify again")


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


def contract(layout: Layout) -> content.Contract:
    """The print contract of a layout's sheets: where the camera looks and how the bars must print."""
    return content.Contract.of(layout, barcode_strip(layout))


@dataclass(frozen=True)
class Readback:
    """What was read from one print file: the barcode texts and the text lines (None: not plain) per
    page; the first page (1-based) whose written barcode differs from the printed one, with both; the
    first page that breaks the print contract, (page, field, reason, found); or the damage that
    stopped the read, (page, detail)."""

    pages: list[list[str]]
    lines: list[list[str] | None] = field(default_factory=list)
    disagreement: tuple[int, list[str], list[str]] | None = None
    breach: tuple[int, str, str, object] | None = None
    damage: tuple[int | None, str] | None = None
    text_seconds: float = 0.0

    def halt(self, batch: str, pdf: str = "") -> Halt | None:
        """The halt for a damaged file or a written barcode that differs from the printed one, if any."""
        if self.damage is not None:
            page, detail = self.damage
            return Halt("print file damaged", step="verify", batch=batch, page=page, field="file",
                        expected=f"{Path(pdf).name}: a whole, readable PDF", found=detail,
                        action="restore the file from the run folder (or re-render the batch) and verify again")
        if self.disagreement is None:
            return None
        page, written, printed = self.disagreement
        return Halt("the barcode written in the print file differs from the one that prints", step="verify",
                    batch=batch, page=page, field="barcode", expected=written, found=printed,
                    action="the file renders differently than it reads: re-render the batch and check the RIP")

    def contract_halt(self, batch: str, at: dict | None = None) -> Halt | None:
        """The halt for the first sheet that breaks the print contract, if any."""
        if self.breach is None:
            return None
        page, name, reason, found = self.breach
        return Halt(f"print contract broken: {reason}", step="verify", batch=batch, page=page, **(at or {}),
                    field=name, expected="100% K bars where the layout puts them, clear strip and page boxes, no annotation",
                    found=found, action="the inserter camera may misread this sheet: fix the file's "
                                        "imposition or colour, re-render the batch and verify again")


def _in_workers(function, args: list[tuple], workers: int):
    """`function(*a)` for each of `args`, in order, here or in a pool of processes (pdfium is not
    thread-safe). A generator: close it to stop early; the pool is shut down then."""
    if workers <= 1 or len(args) <= 1:
        yield from (function(*a) for a in args)
        return
    with stopping_pool(min(workers, len(args))) as pool:
        yield from pool.map(function, *zip(*args))


def _each_file(function, files: list[PrintFile], task: Callable[[PrintFile], tuple], workers: int,
               started: dict[str, Callable[[], object]] | None):
    """`function(*task(f))` for each of `files`, in order: for a file in `started` the result of the
    run already under way elsewhere (its function returns it), for the others a run in `workers`
    processes (`_in_workers`). A generator: close it to stop early."""
    started = started or {}
    rest = _in_workers(function, [task(f) for f in files if f.batch not in started], workers)
    try:
        for f in files:
            yield started[f.batch]() if f.batch in started else next(rest)
    finally:
        rest.close()


def read_file(pdf: str, terms: content.Contract, expected_pages: int | None = None,
              visit: Callable[[int, bytes], None] | None = None) -> Readback:
    """Every page's barcode texts from the content; pages it cannot vouch for, and the first and last
    page, read optically too, with the contract measured on their pixels (runs in a worker process).
    A damaged file is reported, never raised. `visit(index, content)` sees each page's content.

    Runs with the cyclic garbage collector paused and collects once at the end (`GcPaused`), as
    `verify_file`, which calls it, does: the card line and `read_all` read files through it alone."""
    return GcPaused(_read_file)(pdf, terms, expected_pages, visit)


def _read_file(pdf: str, terms: content.Contract, expected_pages: int | None,
               visit: Callable[[int, bytes], None] | None) -> Readback:
    timing: dict = {}
    try:
        reads = content.read_file(pdf, terms, expected_pages, timing, visit)
        pages: list = [r.barcodes for r in reads]
        optical = sorted({i for i, texts in enumerate(pages) if texts is None} | ({0, len(pages) - 1} if pages else set()))
        seen = read_sheets(pdf, optical, terms) if optical else []
    except content.Damaged as damaged:  # page None: nothing of the file reads, from its first page on
        return Readback([], damage=(damaged.page or 1, damaged.detail))
    except Exception as exc:  # a reader that trips on a hostile file must halt the line, not crash it
        return Readback([], damage=(1, f"the file could not be read: {type(exc).__name__}: {exc}"[:300]))
    breaches = {i: r.breach for i, r in enumerate(reads) if r.breach}
    disagreement = None
    for index, printed in zip(optical, seen):
        written = pages[index]
        if written is not None and written != printed.texts and disagreement is None:
            disagreement = (index + 1, written, printed.texts)
        pages[index] = printed.texts
        if printed.breach and index not in breaches:
            breaches[index] = printed.breach
    first = min(breaches, default=None)
    breach = None if first is None else (first + 1, *breaches[first])
    return Readback(pages, [r.lines for r in reads], disagreement, breach, text_seconds=timing.get("text", 0.0))


def read_all(files: list[PrintFile], layouts: LayoutSet, workers: int,
             started: dict[str, Callable[[], Readback]] | None = None) -> dict[str, list[list[str]]]:
    """Read every sheet of every print file, in parallel processes (pdfium is not thread-safe).

    Halts when a file is damaged, its written barcode differs from the one that prints, or a sheet
    breaks the print contract. `started`: files whose `read_task` already runs elsewhere (a function
    returns its `Readback`).
    """
    read = list(_each_file(read_file, files, lambda f: read_task(f, layouts), workers, started))
    for f, r in zip(files, read):
        halt = r.halt(f.batch, str(f.pdf)) or r.contract_halt(f.batch)
        if halt:
            raise halt
    return {f.batch: r.pages for f, r in zip(files, read)}


def read_task(f: PrintFile, layouts: LayoutSet) -> tuple:
    """The arguments of `read_file` for one print file, plain and picklable."""
    return (str(f.pdf), contract(layouts[f.region]))


def require_spill(spill: Path, batch: str) -> None:
    """A region's accepted records (the run's own copy of its source records) are there to check the
    pieces against; a missing spill halts naming it, rather than blaming every piece of the print file."""
    if not spill.is_file():
        raise Halt(SOURCES_MISSING, step="verify", batch=batch, field="file",
                   expected=str(spill), found=None,
                   action="restore the run folder's work/accepted/ from its backup (the print files are not at "
                          "fault), then verify again")


def source_records(spill: Path, lines: set[int]) -> dict[int, object]:
    """The source records of the given input lines, read back from a region's spill by their offsets
    (`_spill_index`), so a batch does not scan the whole spill. Memory stays at one batch's records
    and the index (16 bytes a record) whatever the size of the run. Records are trusted views
    (`ingest.trusted`): ingest validated them; what they say is checked against every sheet here."""
    found: dict[int, object] = {}
    if not lines or not spill.exists():
        return found
    numbers, offsets = _spill_index(spill)
    at = np.searchsorted(numbers, sorted(lines))
    with open(spill, "rb") as fh:
        for line, i in zip(sorted(lines), at.tolist()):
            if i < len(numbers) and numbers[i] == line:
                fh.seek(int(offsets[i]))
                raw = fh.readline()
                if spill_line(raw) == line:
                    found[line] = SPILL_ROWS.decode(raw, spill).record
    return found


_SPILL_INDEX: dict[tuple[str, int, int], tuple[np.ndarray, np.ndarray]] = {}


def _spill_index(spill: Path) -> tuple[np.ndarray, np.ndarray]:
    """A spill's input line numbers (sorted) and the offsets of their rows, read once per worker process
    and kept while the file is unchanged (size and modification time)."""
    stat = spill.stat()
    key = (str(spill), stat.st_size, stat.st_mtime_ns)
    index = _SPILL_INDEX.get(key)
    if index is None:
        if len(_SPILL_INDEX) >= 16:
            _SPILL_INDEX.clear()
        by_line = spill_offsets(spill)
        numbers = np.fromiter(by_line, dtype=np.int64, count=len(by_line))
        order = np.argsort(numbers, kind="stable")
        index = _SPILL_INDEX[key] = (numbers[order], np.fromiter(by_line.values(), dtype=np.int64,
                                                                   count=len(by_line))[order])
    return index


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
                   action="find what altered the print file (a drill, an edit, the transfer); the resume renders "
                          "the batch again and re-verifies it")
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


def check_row_place(row: dict, f: PrintFile, page: int, at: dict) -> None:
    """The manifest row names the print file, region and pages its piece is found at (`page`: its first):
    proofs, inspection and the inserter find the piece's sheets by them."""
    for name, expected in (("file", f.pdf.name), ("region", f.region), ("first_page", page),
                           ("last_page", page + row["sheets"] - 1)):
        if row[name] != expected:
            raise Halt("manifest row does not say where its piece is", **at, field=name, expected=expected,
                       found=row[name], action="the manifest was altered: re-render the batch")


def check_row_inserts(row: dict, first, chosen, at: dict) -> None:
    """The manifest row's hoppers are its payload's bitmap and its inserts the ones the rules choose afresh
    (`chosen`): the inserter's control file and the envelope weights are made from the row."""
    if row["hoppers"] != sorted(first.hoppers):
        raise Halt("manifest row disagrees with its own payload", **at, field="hoppers",
                   expected=sorted(first.hoppers), found=row["hoppers"],
                   action="the manifest was altered: re-render the batch")
    codes = [i.code for i in chosen]
    if sorted(map(str, row["inserts"])) != sorted(codes) or len(row["inserts"]) != len(codes):
        raise Halt("manifest inserts differ from the eligibility rules applied afresh", **at, field="inserts",
                   expected=codes, found=row["inserts"], action="the manifest was altered: re-render the batch")


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
    text_seconds: float = 0.0


def verify_file(f: PrintFile, terms: content.Contract | None, run_id: str, catalog: Catalog,
                accepted_dir: Path, blind: frozenset[str] = frozenset(), layout: Layout | None = None) -> FileVerdict:
    """Read one print file (unless `terms` is None: then the manifest's payloads stand for what was read
    before) and check every sheet and piece of it; runs in a worker process. Sequences must run on
    from the file's first piece; the caller checks that they follow on from the previous file.

    With `layout`, every sheet's text read from the file is checked against its source record (`_check_text`).
    `blind` names checks a drill switches off ("contract", "text") to prove the sampling inspector behind them.

    Runs with the cyclic garbage collector paused, its cycles collected once at the end (`GcPaused`):
    its automatic passes over a file's pages, records and texts took about 4% of verification (500
    passes over a 10,000-account run, to collect about 470 objects in all)."""
    return GcPaused(_verify_file)(f, terms, run_id, catalog, accepted_dir, blind, layout)


def _verify_file(f: PrintFile, terms: content.Contract | None, run_id: str, catalog: Catalog, accepted_dir: Path,
                 blind: frozenset[str], layout: Layout | None) -> FileVerdict:
    try:
        rows = manifest_rows(f)
    except Halt as halt:
        return FileVerdict(f.batch, [], halt=halt.as_dict())
    readback, texts, postal_read = None, None, None
    if terms is None:
        pages = [[p] for row in rows for p in row["payloads"]]
    else:
        postal_read = postal_letters([row["first_page"] - 1 for row in rows])
        readback = read_file(str(f.pdf), terms, sum(row["sheets"] for row in rows), postal_read)
        halt = readback.halt(f.batch, str(f.pdf))
        if halt:
            return FileVerdict(f.batch, [], halt=halt.as_dict())
        pages = readback.pages
    try:
        firsts = _check_pages(f, rows, pages, run_tag(run_id))
        if readback is not None and readback.breach is not None and "contract" not in blind:
            raise readback.contract_halt(f.batch, _piece_at(rows, readback.breach[0]))
        spill = accepted_dir / f"{f.region}.jsonl"
        require_spill(spill, f.batch)
        sources = source_records(spill, {row["line"] for row in rows})
        sheets = 0
        text_seconds = readback.text_seconds if readback is not None else 0.0
        texts = readback.lines if readback is not None and layout and "text" not in blind else None
        for expected, (row, first) in enumerate(zip(rows, firsts), rows[0]["sequence"] if rows else 1):
            at = {"step": "verify", "batch": f.batch, "piece": row["sequence"]}
            check_sequence(row["sequence"], expected, at)
            inserts = _check_source(row, f.region, sources.get(row["line"]), catalog, at, first)
            if texts is not None:
                started = time.process_time()
                _check_text(row, layout, sources[row["line"]], inserts, texts, at)
                text_seconds += time.process_time() - started
            sheets += row["sheets"]
        if readback is not None:
            postal_verify.check_file(str(f.pdf), rows, sources, f.batch, postal_read)
    except Halt as halt:
        return FileVerdict(f.batch, pages, halt=halt.as_dict())
    return FileVerdict(f.batch, pages, rows[0]["sequence"] if rows else None, len(rows), sheets, None, text_seconds)


def _piece_at(rows: list[dict], page: int) -> dict:
    """The piece and sheet printed on a page (1-based) of a print file, by its manifest."""
    for row in rows:
        if row["first_page"] <= page <= row["last_page"]:
            return {"piece": row["sequence"], "sheet": page - row["first_page"] + 1}
    return {}


def _check_pages(f: PrintFile, rows: list[dict], pages: list[list[str]], tag: str) -> list:
    """Each page holds the one barcode the manifest lists for it, and the file no more or fewer pages.
    Returns each piece's first payload, parsed (in the order of `rows`; None for a row without one)."""
    expected = [(k, row, n, payload) for k, row in enumerate(rows) for n, payload in enumerate(row["payloads"], 1)]
    here = {"step": "verify", "batch": f.batch}
    seen: set[str] = set()
    firsts = [None] * len(rows)
    for page, (found, (k, row, n, payload)) in enumerate(zip(pages, expected), 1):
        at = {**here, "page": page, "piece": row["sequence"], "sheet": n}
        later = () if found == [payload] else pages[page:]  # the rest of the file tells a fault apart
        parsed = check_barcode(found, payload, at, seen, later)
        check_own_payload(parsed, row["sequence"], n, row["sheets"], tag, at)
        seen.add(payload)
        if n == 1:
            check_row_place(row, f, page, at)
            firsts[k] = parsed
    check_page_total(pages, len(expected), here)
    return firsts


def verify_batches(files: list[PrintFile], to_read: set[str], layouts: LayoutSet, run_id: str, catalog: Catalog,
                   accepted_dir: Path, workers: int, blind: frozenset[str] = frozenset(),
                   done: Callable[[str, int], None] | None = None,
                   started: dict[str, Callable[[], FileVerdict]] | None = None) -> tuple[dict[str, str], dict]:
    """Verify every print file, reading those named in `to_read`, in parallel worker processes.

    Returns, per file, the payload read from each page, one per line (compact: the inserter needs
    every sheet's barcode of the run), and the counts; raises the Halt of the first file, in sequence
    order, that has one, or of the first break in sequences between files. `done(batch, k)` is told
    as the k-th file is verified, for progress. `started`: files whose `verify_file`, under the same
    arguments and over the same files, already runs elsewhere (a function returns its verdict).
    """
    verdicts = _each_file(verify_file, files,
                          lambda f: verify_task(f, f.batch in to_read, layouts, run_id, catalog, accepted_dir, blind),
                          workers, started)
    try:
        return combine_verdicts(verdicts, done)
    finally:
        verdicts.close()


def verify_task(f: PrintFile, read: bool, layouts: LayoutSet, run_id: str, catalog: Catalog, accepted_dir: Path,
                blind: frozenset[str] = frozenset()) -> tuple:
    """The arguments of `verify_file` for one print file (`read`: read it back, not only its manifest),
    plain and picklable, for any executor: a run may verify each file as soon as it is final, while
    the next renders, then hand the verdicts in file order to `combine_verdicts`."""
    return (f, contract(layouts[f.region]) if read else None, run_id, catalog, accepted_dir, blind, layouts[f.region])


def combine_verdicts(verdicts, done: Callable[[str, int], None] | None = None) -> tuple[dict[str, str], dict]:
    """Every file's `FileVerdict`, in sequence order: the first halt raised, sequences checked to run on
    from file to file; returns the payloads read per file and the counts (see `verify_batches`)."""
    pages: dict[str, str] = {}
    next_sequence, pieces, sheets, text_seconds = 1, 0, 0, 0.0
    for count, v in enumerate(verdicts, 1):
        if done is not None:
            done(v.batch, count)
        if v.halt:
            details = dict(v.halt)
            raise Halt(details.pop("reason"), **details)
        if v.pieces:
            check_sequence(v.first_sequence, next_sequence, {"step": "verify", "batch": v.batch,
                                                             "piece": v.first_sequence})
        next_sequence += v.pieces
        pieces += v.pieces
        sheets += v.sheets
        text_seconds += v.text_seconds
        pages[v.batch] = "\n".join(texts[0] for texts in v.pages)  # verified: one barcode a page
    return pages, {"pieces": pieces, "sheets": sheets, "text_cpu_seconds": round(text_seconds, 3)}


def _check_source(row: dict, region: str, record, catalog: Catalog, at: dict, first=None) -> None:
    """The piece against its source record, recomputed from scratch. `first`: the piece's first payload
    (`row["payloads"][0]`) parsed already."""
    if record is None or record.account_id != row["account_id"]:
        raise Halt("piece has no matching source record in its region", **at, field="account_id",
                   expected=row["account_id"], found=record.account_id if record else None,
                   action="the manifest does not belong to this run's input: re-render the run")
    first = parse(row["payloads"][0]) if first is None else first
    if not first.region == region == record.region == record.address.country:
        raise Halt("region differs between barcode, batch and address country", **at, field="region",
                   expected=f"{record.region}/{record.address.country}", found=f"{first.region} in batch {region}",
                   action="correct the plan or layout and re-render")
    chosen = select_inserts(catalog, record)
    hoppers = hoppers_of(chosen)
    if first.hoppers != hoppers:
        raise Halt("insert bitmap differs from the eligibility rules applied afresh", **at, field="hoppers",
                   expected=sorted(hoppers), found=sorted(first.hoppers),
                   action="check the catalog version used by the run; re-plan and re-render")
    if row["sheets"] != sheet_count(len(record.transactions)) or first.sheets != row["sheets"]:
        raise Halt("sheet count differs from the statement's pagination", **at, field="sheets",
                   expected=sheet_count(len(record.transactions)), found=row["sheets"], action="re-render the batch")
    check_row_inserts(row, first, chosen, at)
    return [(i.code, {"en": i.title, **i.titles}) for i in chosen]


def _check_text(row: dict, layout: Layout, record, inserts: list[tuple[str, dict[str, str]]],
                texts: list[list[str] | None], at: dict) -> None:
    """Every sheet's text read back out of the file against what the source record implies, formatted
    by the composition inspector's own expectations (`stmtprod.inspect.expect`): name, address, dates,
    every amount and total, page markers, the enclosures line. `texts` are the file's pages' lines as the
    content read decoded them, None for a page whose text it could not prove prints as it reads."""
    pages = texts[row["first_page"] - 1:row["last_page"]]
    unproven = next((n for n, lines in enumerate(pages) if lines is None), None)
    if unproven is not None:
        raise Halt("the sheet's text is not in a form that can be proven to print as it reads", **at,
                   page=row["first_page"] + unproven, field="text",
                   expected="plain text in a dark ink, on the page, at least "
                            f"{content.TEXT_MIN_PT:g} pt, with nothing painted over it and no other operator",
                   found="text hidden, too small, off the page, covered, or drawn by other operators",
                   action="pull the batch; find what changed the print file after rendering; re-render it")
    defects = check_piece(row["sequence"], layout, record, row, ["\n".join(lines) for lines in pages], inserts)
    if defects:
        first = defects[0]
        page = row["first_page"] + first.get("sheet", 1) - 1
        raise Halt(f"printed text differs from the source record ({first['kind']})", **at, page=page,
                   field=first["kind"], expected="the source record's text, formatted for the market",
                   found=first["evidence"], action="pull the batch; re-render it and verify again")


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
    for f in files:
        check_files(f)
    files.sort(key=first_sequence)
    return folder, files


def check_files(f: PrintFile) -> None:
    """A Halt when the print file is missing or either file is not a regular file (a link to /dev/zero
    reads for ever, a folder fails naming nothing): every reader of a run's files checks here first."""
    if not f.pdf.exists():
        raise Halt("print file missing", step="verify", batch=f.batch, field="file", expected=str(f.pdf),
                   found=None, action="restore the print file from the run folder or re-render")
    for path, what in ((f.pdf, "print file"), (f.manifest, "manifest")):
        check_regular(path, what, f.batch)


def check_regular(path: Path, what: str, batch: str) -> None:
    """A Halt naming `path` (a batch's print file or manifest) when it is there but not a regular file."""
    kind = not_regular(path)
    if kind is not None:
        raise Halt(f"{what} is not a regular file", step="verify", batch=batch, file=str(path), field="file",
                   expected="a regular file", found=f"it is {kind}",
                   action=f"put the {what} back (restore it, or render the batch again: the resume does) "
                          "and verify again")


def first_row(f: PrintFile) -> dict | None:
    """The manifest's first row, checked as `manifest_rows` checks it (None for an empty manifest)."""
    with open(f.manifest, encoding="utf-8", errors="replace") as fh:
        text = fh.readline()
    return _manifest_row(f, 1, text, _ROW_FIELDS) if text else None


def first_sequence(f: PrintFile) -> int:
    """The sequence of the manifest's first piece (0 for an empty manifest)."""
    return (first_row(f) or {"sequence": 0})["sequence"]


def verify_statement_run(run: dict, run_dir: Path, workers: int = 1,
                         events: Callable[..., None] | None = None) -> dict:
    """Re-verify a finished statement run's print files (released, else staged) against its manifests and records.

    Uses the layouts and catalog the run recorded, and refuses if they changed since. `events`
    hears a `step` and a `verified` event per print file, for progress.
    """
    from stmtprod.catalog import load_catalog
    from stmtprod.layout import load_layouts

    layouts = load_layouts(Path(run["layouts_dir"]))
    catalog, catalog_version = load_catalog(Path(run["catalog_file"]))
    check_versions(run, layouts.version, catalog_version)
    folder, files = run_print_files(run_dir)
    if events is not None:
        events("step", step="verify")
    _pages, counts = verify_batches(files, {f.batch for f in files}, layouts, run["run_id"], catalog,
                                    run_dir / "work" / "accepted", workers,
                                    done=None if events is None else
                                    lambda batch, n: events("verified", batch=batch, done=n, total=len(files)))
    return {"run_id": run["run_id"], "ok": True, "folder": str(folder), "files": len(files), **counts}
