"""Finding and registering the layouts' TrueType fonts with ReportLab.

Only TrueType outlines are used: ReportLab embeds them as subsets, so print files carry their own
glyphs (the built-in CID fonts are not embedded and print wrongly elsewhere).
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import reportlab
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from stmtprod.errors import ConfigError
from stmtprod.layout import Fonts

FONT_DIRS = [
    *filter(None, os.environ.get("STMTPROD_FONT_PATH", "").split(os.pathsep)),
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    str(Path(reportlab.__file__).parent / "fonts"),
]


@lru_cache(maxsize=None)
def find_font(filename: str) -> Path:
    """The first file of that name under the font folders; a clear config error when absent."""
    if os.path.isabs(filename) and os.path.exists(filename):
        return Path(filename)
    for folder in FONT_DIRS:
        for root, _dirs, files in os.walk(folder):
            if filename in files:
                return Path(root) / filename
    raise ConfigError(
        f"font file {filename} not found under {', '.join(FONT_DIRS)}; install the font packages "
        "listed in the README (scripts/setup.sh does it)", key="fonts")


def register(fonts: Fonts) -> tuple[str, str]:
    """Register regular and bold faces once per process; returns their ReportLab names."""
    names = []
    for filename in (fonts.regular, fonts.bold):
        name = f"{Path(filename).stem}-{fonts.subfont_index}"
        if name not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(name, str(find_font(filename)), subfontIndex=fonts.subfont_index))
        names.append(name)
    return names[0], names[1]


@lru_cache(maxsize=None)
def coverage(fonts: Fonts) -> frozenset[int]:
    """Code points the regular face can draw: text outside it would print as empty boxes."""
    regular, bold = register(fonts)
    return (frozenset(pdfmetrics.getFont(regular).face.charToGlyph)
            & frozenset(pdfmetrics.getFont(bold).face.charToGlyph))
