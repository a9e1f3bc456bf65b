"""Every character a sheet shows is accounted for by its source record or its layout (issue 16).

The 100% text check reads each sheet's text back out of the print file. Finding every expected text
is not enough: an altered second copy of a value, or text nobody asked for, would pass a search. These
tests take the text of real released sheets and change it one character at a time, everywhere, and add
lines to it; each change must be a composition defect.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from stmtprod import verify
from stmtprod.catalog import load_catalog
from stmtprod.inspect.composition import check_piece
from stmtprod.layout import load_layouts
from tests.conftest import ROOT

LAYOUTS = load_layouts(ROOT / "layouts")
CATALOG, _ = load_catalog(ROOT / "inserts" / "catalog.toml")


def _pieces(summary: dict, per_file: int) -> list[tuple]:
    """(layout, record, manifest row, sheet texts, inserts) of the first pieces of each print file,
    the texts as verification reads them (the content read's lines)."""
    run_dir = Path(summary["run_dir"])
    pieces = []
    for manifest in map(Path, summary["manifest_files"]):
        rows = [json.loads(x) for x in manifest.read_text(encoding="utf-8").splitlines()]
        region = rows[0]["region"] if "region" in rows[0] else manifest.stem.split("-")[0]
        layout = LAYOUTS[region]
        pdf = next(p for p in map(Path, summary["print_files"]) if p.stem == manifest.stem)
        read = verify.read_file(str(pdf), verify.contract(layout))
        sources = verify.source_records(run_dir / "work" / "accepted" / f"{region}.jsonl", {r["line"] for r in rows})
        chosen = rows[:per_file] + [r for r in rows[per_file:] if r["sheets"] > 1][:1]  # and one of several sheets
        for row in chosen:
            record = sources[row["line"]]
            inserts = verify._check_source(row, region, record, CATALOG, {})
            texts = ["\n".join(read.lines[p - 1]) for p in range(row["first_page"], row["last_page"] + 1)]
            pieces.append((layout, record, row, texts, inserts))
    return pieces


@pytest.fixture(scope="module")
def pieces(sample_run) -> list[tuple]:
    return _pieces(sample_run, 2)


def _defects(piece: tuple, texts: list[str]) -> list[dict]:
    layout, record, row, _texts, inserts = piece
    return check_piece(row["sequence"], layout, record, row, texts, inserts)


def test_the_real_sheets_have_no_defect(pieces):
    assert len({p[0].region for p in pieces}) == 7 and any(len(p[3]) > 1 for p in pieces)
    assert [d for p in pieces for d in _defects(p, p[3])] == []


def _changed(ch: str) -> str:
    if ch.isdigit():
        return str((int(ch) + 1) % 10)
    return "X" if ch != "X" else "Y"


def test_every_one_character_change_of_every_sheet_is_a_defect(pieces):
    missed, tried = [], 0
    for piece in pieces:
        texts = piece[3]
        for s, text in enumerate(texts):
            for i, ch in enumerate(text):
                if ch.isspace():
                    continue
                tried += 1
                changed = texts[:s] + [text[:i] + _changed(ch) + text[i + 1:]] + texts[s + 1:]
                if not _defects(piece, changed):
                    missed.append((piece[2]["sequence"], s + 1, text[max(0, i - 12):i + 12]))
    assert tried > 10_000 and missed == [], (tried, missed[:10])


def _each_line(pieces):
    """(piece, sheet index, the sheet's lines, line index, the line) of every line of every sheet."""
    for piece in pieces:
        for s, text in enumerate(piece[3]):
            lines = text.split("\n")
            for k, line in enumerate(lines):
                yield piece, s, lines, k, line


def _with_sheet(piece: tuple, s: int, lines: list[str]) -> list[str]:
    """The piece's sheet texts with sheet `s` made of `lines`."""
    return piece[3][:s] + ["\n".join(lines)] + piece[3][s + 1:]


def test_a_second_altered_copy_of_any_line_is_a_defect(pieces):
    """Each line printed again, with one character changed, right after itself: the right text is still
    there, so only the check that everything printed is accounted for can see it."""
    missed = []
    for piece, s, lines, k, line in _each_line(pieces):
        at = next((i for i, ch in enumerate(line) if ch.isalnum()), None)
        if at is None:
            continue
        copy = line[:at] + _changed(line[at]) + line[at + 1:]
        if not _defects(piece, _with_sheet(piece, s, lines[:k + 1] + [copy] + lines[k + 1:])):
            missed.append((piece[2]["sequence"], s + 1, line))
    assert missed == [], missed[:10]


def test_added_text_is_named_with_its_sheet_and_a_card_number_in_it_is_masked(pieces):
    piece = next(p for p in pieces if len(p[3]) > 1)
    texts = list(piece[3])
    texts[1] += "\nPay to 4111 1111 1111 1111 today"
    defects = _defects(piece, texts)
    assert [d["kind"] for d in defects] == ["unexpected-text"] and defects[0]["sheet"] == 2, defects
    assert "Payto" not in defects[0]["evidence"] and "Pay to" in defects[0]["evidence"], defects
    assert "4111" not in defects[0]["evidence"].replace(" ", "") and "1111111111111111" not in \
        defects[0]["evidence"].replace(" ", ""), defects


def test_text_that_repeats_the_right_values_in_a_new_order_is_a_defect(pieces):
    """Another piece's name line added to this one's: every character is a real one, none is accounted for."""
    first, other = pieces[0], pieces[1]
    texts = list(first[3])
    texts[0] += "\n" + other[1].name
    assert any(d["kind"] == "unexpected-text" for d in _defects(first, texts))


def test_every_line_left_out_is_a_defect(pieces):
    """Each line of each sheet dropped in turn (a heading, the return address's first line, which is also
    part of the issuer's name, a total): each must be missed by a check."""
    missed = []
    for piece, s, lines, k, line in _each_line(pieces):
        if not _defects(piece, _with_sheet(piece, s, lines[:k] + lines[k + 1:])):
            missed.append((piece[2]["sequence"], s + 1, line))
    assert missed == [], missed[:10]
