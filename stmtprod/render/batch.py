"""Rendering one batch: its batch file in, one print file and one manifest out.

A batch is a pure function of its batch file, the layout and the catalog: no clock, no randomness,
`invariant=1` so ReportLab writes no timestamps or random ids. It can run in any process or on any
machine and be re-run to the same bytes.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from reportlab import rl_config
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from stmtprod.catalog import load_catalog
from stmtprod.fsutil import write_bytes, write_jsonl
from stmtprod.layout import load_layout
from stmtprod.plan import read_batch
from stmtprod.postal.piece import decide, manifest_entry
from stmtprod.render import pdfpages
from stmtprod.render.canvas_text import LayoutPainter
from stmtprod.render.statement import StatementPainter


@dataclass(frozen=True)
class BatchJob:
    """Everything a worker needs, as plain paths and strings so it pickles to any executor."""

    name: str
    region: str
    run_id: str
    batch_file: str
    layouts_dir: str
    catalog_file: str
    pdf_file: str
    manifest_file: str


@lru_cache(maxsize=None)
def _painter(layouts_dir: str, region: str, run_id: str) -> StatementPainter:
    return StatementPainter(load_layout(Path(layouts_dir) / f"{region}.toml"), run_id)


@lru_cache(maxsize=None)
def insert_titles(catalog_file: str) -> dict[str, dict[str, str]]:
    """Insert code -> language -> title, as the painters print them in the enclosures line."""
    catalog, _version = load_catalog(Path(catalog_file))
    return catalog.titles()


def open_canvas(buffer: io.BytesIO, painter: LayoutPainter, title: str) -> Canvas:
    """A canvas for one print file, with no timestamps or random ids (`invariant=1`): same input, same bytes.

    Streams are Flate-compressed without ReportLab's default ASCII85 layer (`rl_config.useA85`, a
    process-wide setting): print files are binary anyway, ASCII85 makes them a quarter larger, and
    decoding it was half the cost of reading every sheet's barcode back.
    """
    rl_config.useA85 = 0
    width, height = painter.layout.page.size_mm
    canvas = Canvas(buffer, pagesize=(width * mm, height * mm), invariant=1, pageCompression=1,
                    initialFontName=painter.initial_font)
    canvas.setTitle(title)
    canvas.setAuthor(painter.layout.issuer_name)
    canvas.setCreator("stmtprod")
    return canvas


def save_canvas(canvas: Canvas) -> None:
    """Finish a print file: its pages serialized by `pdfpages` (ReportLab's bytes, less Python), then saved."""
    pdfpages.prepare(canvas)
    try:
        canvas.save()
    finally:
        pdfpages.release(canvas)


def write_batch(job, pdf: bytes, rows: list[dict]) -> dict:
    """Write a rendered batch's print file and manifest atomically; returns its counts.

    `job`: a `BatchJob` or a card line's `CarrierJob` (name, region, pdf_file, manifest_file).
    """
    write_bytes(job.pdf_file, pdf)
    write_jsonl(job.manifest_file, rows)
    return {"batch": job.name, "region": job.region, "pieces": len(rows),
            "sheets": sum(r["sheets"] for r in rows), "bytes": len(pdf)}


def render_pdf(job: BatchJob) -> tuple[bytes, list[dict]]:
    """The batch's PDF bytes and its manifest rows, without touching the output folder."""
    painter = _painter(job.layouts_dir, job.region, job.run_id)
    titles = insert_titles(job.catalog_file)
    buffer = io.BytesIO()
    canvas = open_canvas(buffer, painter, f"stmtprod {job.run_id} {job.name}")
    rows, page = [], 1
    pdf_name = Path(job.pdf_file).name
    for piece in read_batch(Path(job.batch_file)):
        postal = manifest_entry(decide(piece.record))
        payloads = painter.draw(canvas, piece, titles, postal)
        rows.append({
            "sequence": piece.sequence, "account_id": piece.record.account_id, "region": piece.record.region,
            "line": piece.line, "sheets": len(payloads), "inserts": list(piece.inserts),
            "hoppers": list(piece.hoppers), "payloads": payloads, "file": pdf_name,
            "first_page": page, "last_page": page + len(payloads) - 1, "postal": postal,
        })
        page += len(payloads)
    save_canvas(canvas)
    return buffer.getvalue(), rows


def render_batch(job: BatchJob) -> dict:
    """Render and write the batch's print file and manifest atomically; returns its counts."""
    return write_batch(job, *render_pdf(job))
