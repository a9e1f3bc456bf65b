"""Stage 2's quick paths held to the code they stand in for (tests/stage2_reference.py), on the real
first sheets of a build and on the same pixels damaged: the postal box's pixels, and the bars found
in them, equal to the last bit."""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pytest

from stmtprod.catalog import load_catalog
from stmtprod.inspect.context import InspectionContext
from stmtprod.layout import load_layouts
from stmtprod.postal import measure as postal_measure
from stmtprod.postal.geometry import geometry_for
from stmtprod.postal.read import bars_in_image
from tests import stage2_reference

ROOT = Path(__file__).resolve().parent.parent


def _postal_box(layout, symbology: str) -> tuple[float, float, float, float]:
    """The box stage 2 renders for a postal barcode (`postal.measure.inspect_sheet`)."""
    geo = geometry_for(symbology, layout.postal.point_size)
    place, tol = layout.postal_placement(symbology), layout.postal.tolerance_mm
    return (place.x - geo.clear_side - tol, place.top - geo.clear_top_bottom - tol,
            place.x + place.length + geo.clear_side + tol, place.top + place.height + geo.clear_top_bottom + tol)


@pytest.fixture(scope="module")
def rasters(sample_run) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """(reference, quick) renderings of the postal box of the first sheets that carry a postal barcode
    in the session's build of the bundled samples ("postal"), and of boxes the page's edges cut off
    ("edges")."""
    run_dir = Path(sample_run["run_dir"])
    ctx = InspectionContext(run_dir.name, run_dir / "release", run_dir / "work" / "accepted",
                            load_layouts(ROOT / "layouts"), load_catalog(ROOT / "inserts" / "catalog.toml")[0])
    out: dict[str, list] = {"postal": [], "edges": []}
    for sequences in ctx.lots().values():
        for seq in sequences[:8]:
            piece = ctx.piece(seq)
            layout = ctx.layouts[piece["region"]]
            if not (piece.get("postal") or {}).get("bars") or layout.postal is None:
                continue
            pdf = pdfium.PdfDocument(str(ctx.pdf(seq)))
            page = pdf[piece["first_page"] - 1]
            box = _postal_box(layout, piece["postal"]["symbology"])
            width_mm, height_mm = (v * 25.4 / 72 for v in page.get_size())
            for kind, (left, top, right, bottom) in (("postal", box), ("edges", (-3.0, -2.0, 40.0, 30.0)),
                                                     ("edges", (width_mm - 50, height_mm - 20, width_mm + 4,
                                                                height_mm + 1.5))):
                out[kind].append((stage2_reference.render_box(page, left, top, right, bottom),
                                  postal_measure.render_box(page, left, top, right, bottom)))
            page.close()
            pdf.close()
    return out


def test_the_postal_box_is_rendered_to_the_references_pixels(rasters):
    assert len(rasters["postal"]) >= 6
    for reference, quick in rasters["postal"] + rasters["edges"]:
        assert quick.dtype == reference.dtype and np.array_equal(quick, reference)


def test_postal_bars_in_a_raster_are_the_references(rasters):
    rnd = random.Random(7)
    boxes = [reference for reference, _quick in rasters["postal"]]
    assert all((image < 128).any() for image in boxes)
    for image in boxes:
        variants = [image, image[:, ::-1].copy(), image[::-1].copy(), np.zeros((3, 5), dtype=np.uint8),
                    np.full((4, 9), 255, dtype=np.uint8)]
        for _ in range(6):
            damaged = image.copy()
            for _mark in range(rnd.randrange(1, 6)):  # marks across bars, between them, at the edges
                top, left = rnd.randrange(image.shape[0]), rnd.randrange(image.shape[1])
                damaged[top:top + rnd.randrange(1, 30), left:left + rnd.randrange(1, 30)] = rnd.choice((0, 90, 255))
            variants.append(damaged)
        for variant in variants:
            quick = bars_in_image(variant, postal_measure.MM_PER_PX)
            assert quick == stage2_reference.bars_in_image(variant, postal_measure.MM_PER_PX)
    assert sum(len(bars_in_image(image, postal_measure.MM_PER_PX)) for image in boxes) > 6 * 37
