"""The fault each challenge class plants, and which 100% check must catch it.

Print-file classes reuse the campaign's faults (`stmtprod.faults`) and print-room damage
(`stmtprod.drills.damage_print_file`), applied to the challenge piece's own print file only;
`insert-bit` is planted in the plan (the piece is planned with a hopper its record is not eligible
for), as a wrong plan would make it. A challenge counts as caught only when the check meant for its
class stops it (`family` of the halt), so a blind check cannot hide behind another one.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from stmtprod import drills, faults
from stmtprod.layout import Layout

WRONG_HOPPER = 8
"""The hopper `insert-bit` flips: no insert an eligible record gets is loaded there."""


@dataclass(frozen=True)
class ChallengeClass:
    """A class of planted fault: what it does, how to plant it in a print file (None: planted in the
    plan), and the checks (families, see `family`) that may catch it."""

    what: str
    plant: Callable[[Path, Path, Layout, random.Random], str] | None
    caught_by: frozenset[str]


def _fault(kind: str, page: int = 0):
    def plant(pdf: Path, _manifest: Path, _layout: Layout, rng: random.Random) -> str:
        return faults.apply(kind, pdf, page, rng)
    return plant


def _text(pdf: Path, _manifest: Path, _layout: Layout, rng: random.Random) -> str:
    return faults.text_altered(pdf, rng.randrange(2), rng, unique=True)


def _damage(kind: str, what: str):
    def plant(pdf: Path, manifest: Path, layout: Layout, _rng: random.Random) -> str:
        drills.damage_print_file(kind, pdf, manifest, layout)
        return what
    return plant


_CONTRACT = frozenset({"contract", "unreadable"})
"""A bar fault is stopped by the print contract, or by the read itself when it leaves the bars unreadable."""
CLASSES = {
    "text-altered": ChallengeClass("a digit of a text the sheet shows once changed (a wrong amount, date or id)",
                                   _text, frozenset({"text"})),
    "text-added": ChallengeClass("a second copy of a line with one character changed, beside the right one",
                                 _fault("text-added", 1), frozenset({"text", "contract"})),
    "text-hidden": ChallengeClass("a line made not to print as it reads (white ink, off the page, covered, ...)",
                                  _fault("text-hidden", 1), frozenset({"text", "contract"})),
    "wrong-barcode": ChallengeClass("the first sheet's barcode over-printed with a bad check character",
                                    _damage("corrupted-payload", "barcode over-printed with a bad check character"),
                                    frozenset({"barcode"})),
    "insert-bit": ChallengeClass(f"planned with hopper {WRONG_HOPPER}, which its record is not eligible for",
                                 None, frozenset({"eligibility"})),
    "sheet-swap": ChallengeClass("its two sheets swapped (a sheet of another piece in its place)",
                                 _damage("sheets-swapped", "sheets 1 and 2 swapped"), frozenset({"barcode"})),
    "geometry": ChallengeClass("the bars drawn thinner, thicker, shorter or out of place", _fault("geometry"),
                               _CONTRACT),
    "ink": ChallengeClass("the bars printed in another ink", _fault("ink"), _CONTRACT),
    "strip-background": ChallengeClass("something printed under the barcode strip", _fault("strip-background"),
                                       _CONTRACT),
    "wrapper": ChallengeClass("a clip, transformation or transparency before the bars", _fault("wrapper"),
                              _CONTRACT),
    "page-box": ChallengeClass("a page box that cuts through the barcode", _fault("page-box"), _CONTRACT),
}


def family(halt: dict) -> str:
    """Which 100% check a verification halt comes from: file, contract, unreadable (no barcode reads),
    text, eligibility, source, postal or barcode."""
    reason = halt.get("reason", "")
    if reason.startswith("print file damaged"):
        return "file"
    if reason.startswith("print contract broken") or reason.startswith("the barcode written in the print file"):
        return "contract"
    if reason.startswith("no readable barcode"):
        return "unreadable"
    if reason.startswith(("printed text differs", "the sheet's text is not in a form")):
        return "text"
    if reason.startswith("insert bitmap differs"):
        return "eligibility"
    if reason.startswith(("piece has no matching source record", "region differs between", "sheet count differs")):
        return "source"
    if "postal" in reason or "postage" in reason:
        return "postal"
    return "barcode"
