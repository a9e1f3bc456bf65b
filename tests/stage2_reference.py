"""Stage 2's postal pixels as they were before their quick paths, kept as the reference the quick ones
are held to (tests/test_stage2_quick.py): the box rendered through pypdfium2's bitmap helper, and
each bar's rows searched in its own columns."""
from __future__ import annotations

import numpy as np

from stmtprod.postal.measure import DPI, PT_PER_MM
from stmtprod.postal.read import DARK, Bar


def render_box(page, left: float, top: float, right: float, bottom: float) -> np.ndarray:
    width, height = page.get_size()
    crop = (left * PT_PER_MM, height - bottom * PT_PER_MM, width - right * PT_PER_MM, top * PT_PER_MM)
    bitmap = page.render(scale=DPI / 72, crop=tuple(max(0.0, c) for c in crop), grayscale=True)
    try:
        return np.array(bitmap.to_numpy()).reshape(bitmap.height, bitmap.width, -1)[:, :, 0]
    finally:
        bitmap.close()


def bars_in_image(image: np.ndarray, mm_per_px: float) -> list[Bar]:
    dark = image < DARK
    columns = np.concatenate(([0], dark.any(axis=0).astype(np.int8), [0]))
    edges = np.diff(columns)
    starts, ends = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
    height = image.shape[0]
    bars = []
    for s, e in zip(starts.tolist(), ends.tolist()):
        rows = np.nonzero(dark[:, s:e].any(axis=1))[0]
        bars.append(Bar(s * mm_per_px, (height - rows[-1] - 1) * mm_per_px, e * mm_per_px,
                        (height - rows[0]) * mm_per_px))
    return bars
