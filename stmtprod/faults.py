"""Print-file faults as a print room makes them, for the escape-rate campaign and the tests.

Each fault class edits a copy of a real print file (qpdf through pikepdf, or the bytes themselves for
torn and corrupted files) at one page chosen by the caller, with a variant drawn from the caller's
random generator, so a campaign can make thousands of different faults of each class reproducibly.
Every class breaks something verification must catch: the barcode's print contract (ink, strip,
geometry, boxes, wrappers that change where or how the bars print), the file's integrity, or the
text a sheet shows. `apply` returns a short description of what was done, for the campaign's log.
"""
from __future__ import annotations

import random
import re
from pathlib import Path

import pikepdf

from stmtprod.barcode.content import page_streams

_PT_PER_MM = 72 / 25.4
_BAR_COLOUR = re.compile(rb"\n0 0 0 1 k\n")
_BARS = re.compile(rb"\nq\n0 0 0 1 k\n")
_RECT = re.compile(rb"(-?[\d.]+) (-?[\d.]+) (-?[\d.]+) (-?[\d.]+) re")
_SHOWN = re.compile(rb"\(((?:[^\\()]|\\.)*)\) Tj")
_ESCAPE_OR_DIGIT = re.compile(rb"\\[0-7]{1,3}|\\.|\d")
_ESCAPE_OR_BYTE = re.compile(rb"\\[0-7]{1,3}|\\.|.", re.S)


def _edit_content(pdf_path: Path, page: int, edit) -> str:
    """Replace one page's content with `edit(pdf, page_obj, data) -> (data, note)`; saves in place."""
    with pikepdf.open(pdf_path, allow_overwriting_input=True) as pdf:
        obj = pdf.pages[page].obj
        data, note = edit(pdf, obj, page_streams(obj))
        obj.Contents = pdf.make_stream(data)
        pdf.save(pdf_path, deterministic_id=True)
    return note


def _bars_box(data: bytes) -> tuple[float, float, float, float]:
    """The barcode's bars' extent (x0, y0, x1, y1) in points, from the page's last path."""
    tail = data[data.rindex(b"0 0 0 1 k"):]
    rects = [tuple(map(float, m)) for m in _RECT.findall(tail)]
    return (min(r[0] for r in rects), rects[0][1], max(r[0] + r[2] for r in rects), rects[0][1] + rects[0][3])


def ink(pdf_path: Path, page: int, rng: random.Random) -> str:
    """The bars printed in another ink: red, blue, rich black, or a tint of K."""
    name, colour = rng.choice([("red", b"0 1 1 0 k"), ("magenta", b"0 1 0 0 k"), ("blue", b"1 1 0 0 k"),
                               ("rich black", b".6 .4 .4 1 k"), ("rich black", b".3 .3 .3 1 k"),
                               ("25% tint", b"0 0 0 .25 k"), ("50% tint", b"0 0 0 .5 k"),
                               ("90% tint", b"0 0 0 .9 k"), ("RGB black", b"0 0 0 rg"), ("grey", b"0 g")])

    def edit(_pdf, _obj, data):
        return _BAR_COLOUR.sub(b"\n" + colour + b"\n", data), f"bars in {name} ({colour.decode()})"

    return _edit_content(pdf_path, page, edit)


def strip_background(pdf_path: Path, page: int, rng: random.Random) -> str:
    """Something printed under or beside the bars: a band of tint, a dark band, a rule, or text."""

    def edit(pdf, obj, data):
        x0, y0, x1, y1 = _bars_box(data)
        kind = rng.choice(["tint band", "dark band", "rule", "text", "text in quiet zone", "mark above"])
        if kind in ("tint band", "dark band"):
            tint = rng.choice([b".25", b".3", b".5"]) if kind == "tint band" else b"1"
            shape = f"{x0 - 12:.2f} {y0 - 3:.2f} {x1 - x0 + 24:.2f} {y1 - y0 + 6:.2f} re f".encode()
            add = b"q 0 0 0 " + tint + b" k " + shape + b" Q\n"
        elif kind == "rule":
            y = rng.uniform(y0, y1)
            add = f"q 0 0 0 1 K .5 w {x0 - 10:.2f} {y:.2f} m {x1 + 10:.2f} {y:.2f} l S Q\n".encode()
        elif kind == "mark above":
            add = f"q 0 0 0 1 k {rng.uniform(x0, x1):.2f} {y1 + 2:.2f} 3 2 re f Q\n".encode()
        else:
            fonts = obj.Resources.Font  # the subset that holds ASCII as itself, so the digits print
            name = next((k for k in fonts.keys() if k.endswith("+0")), next(iter(fonts.keys())))
            x = x0 - 8 if kind == "text in quiet zone" else rng.uniform(x0, x1 - 20)
            add = (f"BT 1 0 0 1 {x:.2f} {rng.uniform(y0, y1 - 6):.2f} Tm {name} 7 Tf 8.4 TL ".encode()
                   + b"(00) Tj T* ET\n")
        return add + data, f"{kind} under the barcode strip"

    return _edit_content(pdf_path, page, edit)


def wrapper(pdf_path: Path, page: int, rng: random.Random) -> str:
    """A clip, a transformation or a transparency slipped in just before the barcode (or wrapping the
    whole page), as an imposition or stamping tool might."""

    def edit(pdf, obj, data):
        x0, y0, x1, y1 = _bars_box(data)
        kind = rng.choice(["clip half", "clip away", "move", "scale", "shear", "transparency", "wrap page"])
        if kind == "clip half":
            op = f"{x0 - 5:.2f} {y0 - 5:.2f} {(x1 - x0) / 2:.2f} {y1 - y0 + 10:.2f} re W n\n".encode()
        elif kind == "clip away":
            op = b"0 400 595 400 re W n\n"
        elif kind == "move":  # beyond the contract's 1 mm (2.83 pt) position tolerance, across or up and down
            shift = rng.choice([-1, 1]) * rng.uniform(4.3, 20)
            dx, dy = (shift, rng.uniform(-2, 2)) if rng.random() < 0.5 else (rng.uniform(-2, 2), shift)
            op = f"1 0 0 1 {dx:.2f} {dy:.2f} cm\n".encode()
        elif kind == "scale":
            s = rng.choice([0.9, 0.95, 0.8, 1.1])
            op = f"{s} 0 0 {s} 0 0 cm\n".encode()
        elif kind == "shear":
            op = b"1 0 .05 1 0 0 cm\n"
        elif kind == "transparency":
            obj.Resources.ExtGState = pikepdf.Dictionary(
                {"/GSfault": pikepdf.Dictionary({"/ca": rng.choice([0.2, 0.3, 0.5]), "/CA": 0.3})})
            op = b"/GSfault gs\n"
        else:
            s = rng.choice([0.97, 0.9])
            return f"q {s} 0 0 {s} 8 8 cm\n".encode() + data + b"\nQ\n", f"page wrapped in a scale {s}"
        at = _BARS.search(data).start()
        return data[:at] + b"\n" + op + data[at:], f"{kind} before the barcode"

    return _edit_content(pdf_path, page, edit)


def form_xobject(pdf_path: Path, page: int, rng: random.Random) -> str:
    """The page turned into a Form XObject drawn with a matrix (a moved, scaled or clipped copy)."""
    kind = rng.choice(["moved", "scaled", "bbox clip"])
    with pikepdf.open(pdf_path, allow_overwriting_input=True) as pdf:
        page_obj = pdf.pages[page]
        form = page_obj.as_form_xobject()
        if kind == "bbox clip":
            form.BBox = [0, 60, 595, 842]
        name = page_obj.add_resource(form, pikepdf.Name.XObject, prefix="Fx")
        matrix = {"moved": f"1 0 0 1 {rng.uniform(3, 15):.2f} {rng.uniform(-6, 6):.2f}",
                  "scaled": "0.94 0 0 0.94 17 25", "bbox clip": "1 0 0 1 0 0"}[kind]
        page_obj.obj.Contents = pdf.make_stream(f"q {matrix} cm {name} Do Q".encode())
        pdf.save(pdf_path, deterministic_id=True)
    return f"page drawn as a Form XObject, {kind}"


def geometry(pdf_path: Path, page: int, rng: random.Random) -> str:
    """The bars drawn thinner, thicker, shorter, or moved out of place."""
    kind = rng.choice(["thin bars", "thick bars", "short bars", "moved bars", "narrow symbol"])

    def edit(_pdf, _obj, data):
        at = data.rindex(b"0 0 0 1 k")
        head, tail = data[:at], data[at:]

        def bar(m: re.Match) -> bytes:
            x, y, w, h = map(float, m.groups())
            if kind == "thin bars":
                w *= 0.75
            elif kind == "thick bars":
                x, w = x - 0.15 * w, w * 1.3
            elif kind == "short bars":
                h *= 0.6
            elif kind == "moved bars":
                x -= 8
            else:
                x, w = 60 + (x - 60) * 0.8, w * 0.8
            return f"{x:.4f} {y:.4f} {w:.4f} {h:.4f} re".encode()

        return head + _RECT.sub(bar, tail), kind

    return _edit_content(pdf_path, page, edit)


def page_box(pdf_path: Path, page: int, rng: random.Random) -> str:
    """A page box (crop, trim, bleed, art, or the media box itself) that cuts through the barcode."""
    box = rng.choice(["/CropBox", "/TrimBox", "/BleedBox", "/ArtBox", "/MediaBox"])
    bottom = rng.uniform(27, 60)  # points: the bars lie about 31-60 pt up, the strip from 25.5 pt
    left = rng.uniform(60, 150)
    with pikepdf.open(pdf_path, allow_overwriting_input=True) as pdf:
        obj = pdf.pages[page].obj
        rect = [0, bottom, 595.2756, 841.8898] if rng.random() < 0.6 else [left, 0, 595.2756, 841.8898]
        obj[box] = pikepdf.Array(rect)
        pdf.save(pdf_path, deterministic_id=True)
    return f"{box[1:]} {rect}"


def truncated(pdf_path: Path, page: int, rng: random.Random) -> str:
    """A torn write: the file cut short."""
    data = pdf_path.read_bytes()
    keep = rng.randrange(len(data) // 20, len(data) - 1)
    pdf_path.write_bytes(data[:keep])
    return f"cut at byte {keep} of {len(data)}"


def corrupted(pdf_path: Path, page: int, rng: random.Random) -> str:
    """Bytes changed inside one of the file's streams (a bad disk, a bad transfer)."""
    data = bytearray(pdf_path.read_bytes())
    spans = [(m.end(), data.index(b"endstream", m.end())) for m in re.finditer(rb"stream\r?\n", data)
             if data[m.start() - 3:m.start()] != b"end"]
    start, end = rng.choice(spans)
    count = rng.choice([1, 1, 2, 8])
    for _ in range(count):
        at = rng.randrange(start, max(start + 1, end - 1))
        data[at] = (data[at] + rng.randrange(1, 256)) % 256
    pdf_path.write_bytes(bytes(data))
    return f"{count} byte(s) changed in the stream at {start}"


def page_count(pdf_path: Path, page: int, rng: random.Random) -> str:
    """A sheet lost or printed twice."""
    with pikepdf.open(pdf_path, allow_overwriting_input=True) as pdf:
        if rng.random() < 0.5 and len(pdf.pages) > 1:
            del pdf.pages[page]
            note = f"page {page + 1} dropped"
        else:
            pdf.pages.insert(page, pdf.pages[page])
            note = f"page {page + 1} printed twice"
        pdf.save(pdf_path, deterministic_id=True)
    return note


def text_altered(pdf_path: Path, page: int, rng: random.Random, unique: bool = False) -> str:
    """One digit of the text a sheet shows changed in its content stream (an amount, a date, an id).

    `unique`: only in a text the sheet shows once (a challenge piece repeats its return address as its
    addressee, and a change to one copy of a repeated text is not a change to what the sheet says)."""

    def edit(_pdf, _obj, data):
        shown = list(_SHOWN.finditer(data))
        times: dict[bytes, int] = {}
        for m in shown:
            times[m.group(1)] = times.get(m.group(1), 0) + 1
        digits = [(m.start(1) + d.start(), m.group(1)) for m in shown if not unique or times[m.group(1)] == 1
                  for d in _ESCAPE_OR_DIGIT.finditer(m.group(1)) if d.group().isdigit()]
        at, text = rng.choice(digits)
        old = data[at:at + 1]
        new = str((int(old) + rng.randrange(1, 10)) % 10).encode()
        return data[:at] + new + data[at + 1:], f"text {text[:40]!r}: a digit {old!r} -> {new!r}"

    return _edit_content(pdf_path, page, edit)


_TEXT_BLOCK = re.compile(rb"BT 1 0 0 1 (\S+) (\S+) Tm /(\S+) (\S+) Tf \S+ TL \(((?:[^\\()]|\\.)*)\) Tj T\* ET\n")


def text_added(pdf_path: Path, page: int, rng: random.Random) -> str:
    """A second copy of one line of the sheet's text with one character changed (a letter or a digit,
    taken from what that font already prints), over the first, just above or below it, or elsewhere
    on the page: what a stamping tool or a hand edit adds, while the right text stays."""

    def edit(_pdf, _obj, data):
        blocks = [(m, _written(m.group(5))) for m in _TEXT_BLOCK.finditer(data)]
        by_font: dict[bytes, set[int]] = {}
        for m, written in blocks:
            by_font.setdefault(m.group(3), set()).update(c for _, c in written)
        choices = [(m, i) for m, written in blocks for i, _ in written if len(by_font[m.group(3)]) > 1]
        m, i = rng.choice(choices)
        raw = m.group(5)
        old = raw[i]
        same_kind = [c for c in by_font[m.group(3)] if c != old and chr(c).isdigit() == chr(old).isdigit()]
        new = rng.choice(sorted(same_kind or [c for c in by_font[m.group(3)] if c != old]))
        x, y = float(m.group(1)), float(m.group(2))
        where = rng.choice(["over it", "above it", "below it", "elsewhere"])
        if where == "above it":
            y += rng.uniform(4, 12)
        elif where == "below it":
            y -= rng.uniform(4, 12)
        elif where == "elsewhere":
            x, y = rng.uniform(40, 400), rng.uniform(300, 700)
        copy = (b"BT 1 0 0 1 %.4f %.4f Tm /%s %s Tf 9.6 TL (%s) Tj T* ET\n"
                % (x, y, m.group(3), m.group(4), raw[:i] + bytes([new]) + raw[i + 1:]))
        note = f"text {raw[:40]!r} copied {where} with {chr(old)!r} -> {chr(new)!r}"
        return data[:m.end()] + copy + data[m.end():], note

    return _edit_content(pdf_path, page, edit)


_HIDINGS = ("white ink", "light tint", "off the page", "off the right edge", "invisible mode", "tiny type",
            "white box over it", "black box over it", "clipped away", "wide stroke over it", "moved by cm",
            "squeezed (Tz)", "in a form")


def text_hidden(pdf_path: Path, page: int, rng: random.Random) -> str:
    """One line of the sheet's text made not to print as it reads (white or a light tint, off the page,
    invisible, too small, covered, clipped, moved, squeezed, or drawn by a form), while the text a
    reader extracts stays the same: the text check must not vouch for what the sheet does not show."""

    def edit(pdf, obj, data):
        m = rng.choice(list(_TEXT_BLOCK.finditer(data)))
        block, x, y = m.group(0), float(m.group(1)), float(m.group(2))
        how = rng.choice(_HIDINGS)
        near = b"%.2f %.2f" % (x - 2, y - 3)
        if how == "white ink":
            new = rng.choice([b"1 g\n", b"1 1 1 rg\n", b"0 0 0 0 k\n"]) + block + b"0 g\n"
        elif how == "light tint":
            new = rng.choice([b".9 g\n", b"0 0 0 .15 k\n", b".8 .8 .8 rg\n", b"1 0 0 rg\n"]) + block + b"0 g\n"
        elif how == "off the page":
            new = block.replace(m.group(1) + b" " + m.group(2), rng.choice([b"-900 ", b"900 "]) + m.group(2))
        elif how == "off the right edge":
            new = block.replace(m.group(1) + b" ", b"%.2f " % rng.uniform(581, 594))  # A4: 595 pt wide
        elif how == "invisible mode":
            new = rng.choice([block.replace(b"BT ", b"BT 3 Tr "), b"3 Tr\n" + block + b"0 Tr\n"])
        elif how == "tiny type":
            new = block.replace(b" " + m.group(4) + b" Tf", b" %.1f Tf" % rng.uniform(0.2, 4.5), 1)
        elif how in ("white box over it", "black box over it"):
            ink = b"1 g" if how.startswith("white") else b"0 g"
            new = block + ink + b" " + near + b" %.1f 12 re f 0 g\n" % rng.uniform(8, 60)
        elif how == "clipped away":
            new = b"q " + near + b" 1 1 re W n\n" + block + b"Q\n"
        elif how == "wide stroke over it":
            new = block + b"%.1f w %.2f %.2f m %.2f %.2f l S .3 w\n" % (rng.uniform(6, 40), x, y + 3, x + 50, y + 3)
        elif how == "moved by cm":
            new = b"q 1 0 0 1 0 %d cm\n" % rng.choice([-2000, 2000, -30]) + block + b"Q\n"
        elif how == "squeezed (Tz)":
            new = rng.choice([block.replace(b"BT ", b"BT 1 Tz "), b"1 Tz\n" + block + b"100 Tz\n"])
        else:
            form = pdf.make_stream(b"BT /F1 9 Tf 100 100 Td (hidden) Tj ET")
            form.Type, form.Subtype, form.BBox = pikepdf.Name.XObject, pikepdf.Name.Form, [0, 0, 1, 1]
            resources = obj.get("/Resources")
            xobjects = resources.get("/XObject") if resources is not None else None
            if xobjects is None:
                xobjects = resources.XObject = pikepdf.Dictionary()
            xobjects.Fx9 = form
            new = block + b"q /Fx9 Do Q\n"
        return data[:m.start()] + new + data[m.end():], f"text {m.group(5)[:40]!r} {how}"

    return _edit_content(pdf_path, page, edit)


def _written(raw: bytes) -> list[tuple[int, int]]:
    """(offset, byte) of each letter or digit a literal string writes as itself, not in an escape."""
    return [(m.start(), m[0][0]) for m in _ESCAPE_OR_BYTE.finditer(raw) if len(m[0]) == 1 and chr(m[0][0]).isalnum()]


CLASSES = {
    "ink": ink,
    "strip-background": strip_background,
    "wrapper": wrapper,
    "form-xobject": form_xobject,
    "geometry": geometry,
    "page-box": page_box,
    "truncated": truncated,
    "corrupted": corrupted,
    "page-count": page_count,
    "text-altered": text_altered,
    "text-added": text_added,
    "text-hidden": text_hidden,
}


def apply(kind: str, pdf_path: Path, page: int, rng: random.Random) -> str:
    """Make one fault of class `kind` at `page` (0-based) of the file; returns what was done."""
    return CLASSES[kind](Path(pdf_path), page, rng)
