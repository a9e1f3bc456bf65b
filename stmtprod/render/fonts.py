"""Finding and registering the layouts' TrueType fonts with ReportLab, and the face stacks that use them.

Only TrueType outlines are used: ReportLab embeds them as subsets, so print files carry their own
glyphs (the built-in CID fonts are not embedded and print wrongly elsewhere).

A layout's regular and bold styles are each a `FaceStack`: the faces tried in order for each
character. Hong Kong, for example, sets Latin text, digits and amounts in DejaVu Sans and Chinese in
AR PL UMing HK (whose own Latin glyphs are typewriter-like), and its bold in DejaVu Sans Bold and cwTeX
Q Hei Bold, falling back to the regular Chinese face for the rare characters the bold one lacks. A
string is written as runs of one face each inside a single text object, so text extraction still reads
the string back as it was meant.
"""
from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

import reportlab
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from stmtprod.engine.workers import GcPaused
from stmtprod.errors import ConfigError
from stmtprod.layout import Fonts, LayoutSet

# What a layout's Latin face sets: Latin letters with their accents, spacing modifiers, Latin Extended
# Additional, general punctuation and currency signs. Everything else goes to the market's own faces.
LATIN = "\u0000-\u036f\u1e00-\u1eff\u2000-\u206f\u20a0-\u20cf"
_LATIN_RUNS = re.compile(f"[{LATIN}]+|[^{LATIN}]+")
_LATIN_RE = re.compile(f"[{LATIN}]")

SYSTEM_FONT_DIRS = ["/usr/share/fonts", "/usr/local/share/fonts", str(Path(reportlab.__file__).parent / "fonts")]


def font_dirs() -> tuple[str, ...]:
    """The folders fonts are found in: those listed in STMTPROD_FONT_PATH first, then the system's."""
    return (*filter(None, os.environ.get("STMTPROD_FONT_PATH", "").split(os.pathsep)), *SYSTEM_FONT_DIRS)


def find_font(filename: str) -> Path:
    """The font file a layout names: a bare file name, found under the font folders, or an absolute
    path inside one of them. A font anywhere else is refused unless its folder is listed in
    STMTPROD_FONT_PATH: a layout must not make the line read (and embed) arbitrary files."""
    return _find_font(filename, font_dirs())



@lru_cache(maxsize=None)
def _find_font(filename: str, folders: tuple[str, ...]) -> Path:
    if filename and os.path.basename(filename) == filename and filename not in (".", ".."):
        for folder in folders:
            for root, _dirs, files in os.walk(folder):
                if filename in files:
                    return Path(root) / filename
        raise ConfigError(f"font file {filename} not found under {', '.join(folders)}; install the font packages "
                          "listed in the README (scripts/setup.sh does it)")
    path = os.path.normpath(filename)
    if not (os.path.isabs(path) and any(os.path.commonpath([path, os.path.abspath(d)]) == os.path.abspath(d)
                                        for d in folders)):
        raise ConfigError(f"font {filename!r} is outside the font folders ({', '.join(folders)}); name a file in "
                          "them, or list its folder in STMTPROD_FONT_PATH to allow it")
    if not os.path.lexists(path):
        raise ConfigError(f"font file {filename} does not exist")
    return Path(path)


def _faces(fonts: Fonts) -> list[tuple[str, str, int]]:
    """(key, file name, subfont index) of every face a layout names."""
    bold_index = fonts.subfont_index if fonts.bold_subfont_index is None else fonts.bold_subfont_index
    faces = [("regular", fonts.regular, fonts.subfont_index), ("bold", fonts.bold, bold_index)]
    faces += [(f"fallback.{i}", f, 0) for i, f in enumerate(fonts.fallback)]
    faces += [(key, getattr(fonts, key), 0) for key in ("latin_regular", "latin_bold") if getattr(fonts, key)]
    return faces


def check_fonts(layouts: LayoutSet, folder: Path) -> None:
    """Every face of every layout found, a regular file and usable TrueType (registered here, once per
    process): a font that is missing, unreadable or not a font is a configuration error (exit 3)
    naming the layout file and key, found before any work rather than in a render worker."""
    for region, layout in layouts.layouts.items():
        where = {"file": str(Path(folder) / f"{region}.toml")}
        for key, filename, index in _faces(layout.fonts):
            try:
                path = find_font(filename)
            except ConfigError as exc:
                raise ConfigError(str(exc), **where, key=f"fonts.{key}") from None
            if not path.is_file():
                raise ConfigError(f"font {path} is not a regular file (a dangling link, a folder or a pipe)",
                                  **where, key=f"fonts.{key}")
            try:
                _face(filename, index)
            except Exception as exc:  # noqa: BLE001 (ReportLab raises TTFError, struct.error, OSError, ...)
                raise ConfigError(f"font {path} cannot be used ({type(exc).__name__}: {exc}); reinstall it, or "
                                  "name a TrueType font file", **where, key=f"fonts.{key}") from None


def _face(filename: str, index: int) -> str:
    """Register one TrueType face once per process; returns its ReportLab name."""
    name = f"{Path(filename).stem}-{index}"
    if name not in pdfmetrics.getRegisteredFontNames():
        # Loading makes the face's tables, which live as long as the process: the collector paused.
        pdfmetrics.registerFont(GcPaused(TTFont)(name, str(find_font(filename)), subfontIndex=index))
    return name


class FaceStack:
    """Faces tried in order for each character: the first that has its glyph (a Latin face only for
    Latin characters) draws it. A stack of one face is that face, under that face's name."""

    def __init__(self, latin: str | None, faces: list[str], scales: dict[str, float] | None = None):
        self.latin = latin
        self.faces = list(dict.fromkeys(faces))
        self.primary = self.faces[0]
        # A face's size relative to the nominal one: ideographs drawn small in their em box match the rest.
        self.scales = {face: scale for face, scale in (scales or {}).items() if scale != 1}
        self.name = "+".join(f"{n}*{self.scales[n]:g}" if n in self.scales else n
                             for n in ([latin] if latin else []) + self.faces)
        self.single = latin is None and len(self.faces) == 1 and not self.scales
        self._fonts = {n: pdfmetrics.getFont(n) for n in ([latin] if latin else []) + self.faces}
        self._glyphs = {n: f.face.charToGlyph for n, f in self._fonts.items()}
        self._chars = {n: frozenset(map(chr, g)) for n, g in self._glyphs.items()} if not self.single else {}
        self._memo: dict[str, str] = {}
        self._runs: dict[str, list[tuple[str, str]]] = {}  # strings repeat: widths, then drawing


    def covers(self) -> frozenset[int]:
        cover = set()
        if self.latin:
            cover |= {c for c in self._glyphs[self.latin] if _LATIN_RE.match(chr(c))}
        for name in self.faces:
            cover |= set(self._glyphs[name])
        return frozenset(cover)

    def _face_of(self, ch: str) -> str:
        face = self._memo.get(ch)
        if face is None:
            code = ord(ch)
            if self.latin and code in self._glyphs[self.latin] and _LATIN_RE.match(ch):
                face = self.latin
            else:
                face = next((n for n in self.faces if code in self._glyphs[n]), self.primary)
            self._memo[ch] = face
        return face

    def runs(self, text: str) -> list[tuple[str, str]]:
        """(face name, text) runs in order; their concatenation is `text`."""
        if self.single:
            return [(self.primary, text)] if text else []
        out = self._runs.get(text)
        if out is not None:
            return out
        if len(self._runs) >= 4096:
            self._runs.clear()
        out = self._runs[text] = []
        pieces = _LATIN_RUNS.findall(text) if self.latin else [text]
        for piece in pieces:
            whole = (self.latin if self.latin and _LATIN_RE.match(piece) else self.primary)
            if self._chars[whole].issuperset(piece):
                if out and out[-1][0] == whole:
                    out[-1] = (whole, out[-1][1] + piece)
                else:
                    out.append((whole, piece))
                continue
            for ch in piece:
                face = self._face_of(ch)
                if out and out[-1][0] == face:
                    out[-1] = (face, out[-1][1] + ch)
                else:
                    out.append((face, ch))
        return out

    def stringWidth(self, text: str, size: float) -> float:  # noqa: N802 (ReportLab's font interface)
        if self.single:
            return self._fonts[self.primary].stringWidth(text, size)
        runs, scales = self.runs(text), self.scales
        if len(runs) == 1 and not scales:
            return self._fonts[runs[0][0]].stringWidth(text, size)
        return sum(self._fonts[face].stringWidth(run, size * scales.get(face, 1)) for face, run in runs)


_STACKS: dict[str, FaceStack] = {}


def stack(name: str) -> FaceStack | None:
    """The registered stack of that name, if it is one."""
    return _STACKS.get(name)


def register(fonts: Fonts) -> tuple[str, str]:
    """Register the regular and bold stacks once per process; returns their names.

    Bold falls back to the regular faces for characters the bold face lacks, so both styles print
    every character the regular one can."""
    regular = [_face(fonts.regular, fonts.subfont_index)] + [_face(f, 0) for f in fonts.fallback]
    bold_index = fonts.subfont_index if fonts.bold_subfont_index is None else fonts.bold_subfont_index
    bold = [_face(fonts.bold, bold_index), *regular]
    latin_regular = _face(fonts.latin_regular, 0) if fonts.latin_regular else None
    latin_bold = _face(fonts.latin_bold, 0) if fonts.latin_bold else latin_regular
    names = []
    for latin, faces, scales in ((latin_regular, regular, {}), (latin_bold, bold, {bold[0]: fonts.bold_scale})):
        s = FaceStack(latin, faces, scales)
        _STACKS.setdefault(s.name, s)
        names.append(s.name)
    return names[0], names[1]


def string_width(text: str, name: str, size: float) -> float:
    """`pdfmetrics.stringWidth` that also knows face stacks."""
    s = _STACKS.get(name)
    return s.stringWidth(text, size) if s is not None else pdfmetrics.stringWidth(text, name, size)


@lru_cache(maxsize=None)
def coverage(fonts: Fonts) -> frozenset[int]:
    """Code points both styles can draw: text outside it would print as empty boxes."""
    regular, bold = register(fonts)
    return _STACKS[regular].covers() & _STACKS[bold].covers()
