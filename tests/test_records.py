"""One record never stops the night: each kind of unprintable, uninspectable or malformed record is
quarantined at ingest (line, field, reason) and every other record is released, in real builds.

Each test builds a small real extract (good records from the bundled sample plus the bad line), runs
the whole line and reads back what it released: the PDF text, the quarantine file and the summary.
"""
from __future__ import annotations

import copy
import json
import subprocess
import sys
import unicodedata
from decimal import Decimal
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from stmtprod.config import BuildOptions
from stmtprod.statements.line import build
from tests.conftest import SAMPLES, manifest_rows

ROOT = Path(__file__).resolve().parent.parent


def _good() -> dict[str, list[dict]]:
    """The sample's paper records that ingest accepts, by region (read with json, not stmtprod)."""
    from stmtprod.ingest.models import StatementRecord

    found: dict[str, list[dict]] = {}
    for line in SAMPLES.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
            StatementRecord.model_validate(rec)
        except Exception:  # the sample's deliberately bad lines
            continue
        if rec["delivery"] == "paper":
            found.setdefault(rec["region"], []).append(rec)
    return found


GOOD = _good()


def _base() -> list[dict]:
    return GOOD["AU"][:6] + GOOD["JP"][:4]


def _extract(tmp_path: Path, bad: list, name: str = "extract.jsonl") -> Path:
    """The base records, then each bad entry (a dict is written as JSON, bytes as they are)."""
    path = tmp_path / name
    with open(path, "wb") as fh:
        for rec in _base():
            fh.write(json.dumps(rec, ensure_ascii=False).encode() + b"\n")
        for item in bad:
            fh.write(item if isinstance(item, bytes) else json.dumps(item, ensure_ascii=False).encode() + b"\n")
    return path


def _build(tmp_path: Path, bad: list, **options) -> dict:
    path = _extract(tmp_path, bad)
    return build(BuildOptions(input=path, out=tmp_path / "out", workers=1, reject_threshold=0.5, **options))


def _quarantine(summary: dict) -> list[dict]:
    return [json.loads(x) for x in Path(summary["quarantine_file"]).read_text(encoding="utf-8").splitlines()]


def _printed_text(summary: dict) -> str:
    text = []
    for path in summary["print_files"]:
        pdf = pdfium.PdfDocument(path)
        for page in pdf:
            textpage = page.get_textpage()
            text.append(textpage.get_text_range())
            textpage.close()
        pdf.close()
    return "\n".join(text)


def _au(index: int = 8, **changes) -> dict:
    rec = copy.deepcopy(GOOD["AU"][index])
    rec.update(changes)
    return rec


def _jp(index: int = 6, **changes) -> dict:
    rec = copy.deepcopy(GOOD["JP"][index])
    rec.update(changes)
    return rec


def _released_all_but(summary: dict, quarantined: int, kind: str | None = None, field: str | None = None,
                      added: int = 1) -> list[dict]:
    """Released, with `quarantined` of the base records and the `added` lines quarantined and the rest produced."""
    assert summary["state"] == "RELEASED", summary.get("halt")
    assert summary["reconciled"]
    rows = _quarantine(summary)
    assert len(rows) == quarantined == summary["counts"]["quarantined"]
    assert summary["counts"]["produced"] == len(_base()) + added - quarantined - summary["counts"]["suppressed"]
    if kind:
        assert {r["kind"] for r in rows} == {kind}, rows
    if field:
        assert {r["field"] for r in rows} == {field}, rows
    return rows


def _with_address(rec: dict, **address) -> dict:
    rec["address"] = dict(rec["address"], **address)
    return rec


WIDE = [
    ("name", lambda: _au(name="Maximilian Alexander Featherstonehaugh-Worthington Esquire")),
    ("address.lines.1", lambda: _with_address(_au(), lines=["Unit 4", "Tower Three International Towers, 300 Barangaroo Avenue, Barangaroo South"])),
    ("address.city", lambda: _with_address(_au(), city="Mount Kuring-gai Chase National Park Heights North West")),
    ("address.lines.0", lambda: _with_address(_jp(), lines=["南三条西5丁目22番地20号ちょっと長い建物名前のマンション三〇一号室グランドタワー東館"])),
    ("name", lambda: _jp(name="山本 明美" * 9)),
    ("account_id", lambda: dict(copy.deepcopy(GOOD["ID"][0]), account_id="W" * 32, language="id")),
    ("transactions.0.description", lambda: _au(transactions=[dict(t, description="W" * 118 if i == 0 else t["description"])
                                                             for i, t in enumerate(_au()["transactions"])])),
]


@pytest.mark.parametrize("field,make", WIDE, ids=[f"{i}-{w[0]}" for i, w in enumerate(WIDE)])
def test_a_field_wider_than_its_box_is_quarantined_and_the_rest_released(tmp_path, field, make):
    summary = _build(tmp_path, [make()])
    (row,) = _released_all_but(summary, 1, "width", field)
    assert row["line"] == len(_base()) + 1 and " mm wide at " in row["reason"] and "the room is" in row["reason"]


def test_a_long_name_that_fits_by_shrinking_prints_whole_never_cut(tmp_path):
    name = "Maximilian Alexander Featherstonehaugh-Worthington"  # wider than the window at 9.5 pt, not at 8
    summary = _build(tmp_path, [_au(name=name)])
    _released_all_but(summary, 0)
    text = _printed_text(summary)
    assert name in text and "…" not in text


@pytest.mark.parametrize("form", ["NFD", "NFKD"])
def test_decomposed_text_prints_composed(tmp_path, form):
    jp_name = unicodedata.normalize(form, "山本 がぎぐ")
    au_name = unicodedata.normalize(form, "José Müller")
    assert jp_name != "山本 がぎぐ"
    summary = _build(tmp_path, [_jp(name=jp_name), _au(name=au_name)])
    assert summary["state"] == "RELEASED" and summary["counts"]["quarantined"] == 0
    text = _printed_text(summary)
    assert "山本 がぎぐ 様" in text and "José Müller" in text
    assert "\u3099" not in text and "\u0301" not in text and "\u309b" not in text


@pytest.mark.parametrize("field,text,kind", [
    ("name", "Chloe Patel \U0001F600", "readback"),             # emoji: a glyph in DejaVu, no read-back
    ("address.lines.0", "1 \uFB01eld Street", "readback"),      # the fi ligature reads back as "fi"
    ("name", "q\u0303uentin", "readback"),                       # a mark NFC cannot compose
    ("name", "Chloe\u200bPatel", "glyph"),                       # zero-width space
    ("name", "\u0645\u062d\u0645\u062f Ali", "readback"),           # Arabic: prints unjoined, left to right
    ("address.lines.0", "1 \u05e8\u05d7\u05d5\u05d1 Street", "readback"),   # Hebrew
])
def test_characters_that_do_not_read_back_are_quarantined(tmp_path, field, text, kind):
    rec = _au()
    if field == "name":
        rec["name"] = text
    else:
        rec = _with_address(rec, lines=[text])
    summary = _build(tmp_path, [rec])
    (row,) = _released_all_but(summary, 1, field=field)
    assert row["kind"] in (kind, "glyph", "readback") and "U+" in row["reason"]


def test_wide_and_ideographic_spaces_are_printable(tmp_path):
    summary = _build(tmp_path, [_jp(name="山本\u3000明美"), _au(name="Chloe\u2002Patel")])
    assert summary["state"] == "RELEASED" and summary["counts"]["quarantined"] == 0
    text = "".join(_printed_text(summary).split())
    assert "山本明美様" in text and "ChloePatel" in text


def _heavy(count: int) -> dict:
    rec = _au()
    total = Decimal(0)
    rec["transactions"] = []
    for i in range(count):
        rec["transactions"].append({"date": rec["period_end"], "description": f"SHOP {i}", "amount": "1.00"})
        total += Decimal("1.00")
    parts = sum(Decimal(rec[k]) for k in ("previous_balance", "payments", "credits", "fees", "interest"))
    rec["new_balance"] = str(parts + total)
    return rec


def test_a_piece_over_the_envelope_weight_is_quarantined_not_a_halt(tmp_path):
    summary = _build(tmp_path, [_heavy(400)])
    (row,) = _released_all_but(summary, 1, "weight", "transactions")
    assert "over the 60 g envelope limit" in row["reason"]


def test_the_heaviest_piece_that_fits_is_released(tmp_path):
    # 17 rows on sheet 1 and 38 on each further one: 283 transactions make 8 sheets, 6 + 40 g + inserts
    summary = _build(tmp_path, [_heavy(283)])
    _released_all_but(summary, 0)
    assert max(r["sheets"] for r in manifest_rows(summary)) == 8


MALFORMED = [
    ("lone surrogate in the account id", json.dumps(_au()).replace('"AU', '"\\ud800AU', 1).encode() + b"\n", "json"),
    ("lone surrogate in the name", json.dumps(_au(name="Bad \udc80 name")).encode() + b"\n", "json"),
    ("100,000 nested arrays", b'{"account_id":"AU1","x":' + b"[" * 100_000 + b"]" * 100_000 + b"}\n", "json"),
    ("nested objects", b'{"account_id":"AU1","x":' + b'{"a":' * 50_000 + b"1" + b"}" * 50_000 + b"}\n", "json"),
    ("invalid UTF-8", b'{"account_id":"AU1","name":"\xff\xfe"}\n', "json"),
    ("a JSON array, not an object", b"[1, 2, 3]\n", None),
]


@pytest.fixture(scope="module")
def malformed_run(tmp_path_factory) -> subprocess.CompletedProcess:
    """One real `stmtprod build` in its own process (a crash would show) of the base records followed
    by every malformed line, each on its own line: each test below finds its own line's fate in it."""
    tmp = tmp_path_factory.mktemp("malformed")
    extract = _extract(tmp, [line for _, line, _ in MALFORMED])
    return subprocess.run([sys.executable, "-m", "stmtprod", "build", "--input", str(extract), "--out",
                           str(tmp / "out"), "--workers", "1", "--reject-threshold", "0.5", "--json"],
                          capture_output=True, text=True, cwd=ROOT)


@pytest.mark.parametrize("what,line,kind", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_a_malformed_line_is_quarantined_not_a_crash(malformed_run, what, line, kind):
    run = malformed_run
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    rows = _released_all_but(summary, len(MALFORMED), added=len(MALFORMED))
    number = len(_base()) + 1 + [m[0] for m in MALFORMED].index(what)
    (row,) = [r for r in rows if r["line"] == number]
    assert kind is None or row["kind"] == kind, row
    assert row["account_id"] in (None, "AU1", MALFORMED[1][1] and _au()["account_id"])


def test_a_line_over_the_size_cap_is_quarantined_without_being_read_whole(tmp_path):
    from stmtprod.ingest import lines

    huge = b'{"account_id":"AU1","name":"' + b"x" * (lines.MAX_LINE_BYTES + 10) + b'"}\n'
    summary = _build(tmp_path, [huge, _au()])
    rows = _quarantine(summary)
    assert [(r["line"], r["kind"], r["account_id"]) for r in rows] == [(len(_base()) + 1, "size", None)]
    assert "not read" in rows[0]["reason"]
    assert summary["counts"]["produced"] == len(_base()) + 1


def test_a_byte_order_mark_at_the_start_is_accepted(tmp_path):
    extract = _extract(tmp_path, [])
    extract.write_bytes(b"\xef\xbb\xbf" + extract.read_bytes())
    summary = build(BuildOptions(input=extract, out=tmp_path / "out", workers=1))
    assert summary["state"] == "RELEASED" and summary["counts"]["quarantined"] == 0
    assert summary["counts"]["produced"] == len(_base())


def test_identical_duplicates_produce_one_piece_and_count_the_other_as_suppressed(tmp_path):
    first = _base()[0]
    summary = _build(tmp_path, [first, json.dumps(first, indent=None, separators=(", ", ": ")).encode() + b"\n"])
    assert summary["state"] == "RELEASED" and summary["reconciled"]
    assert summary["suppressed_by_reason"].get("duplicate account") == 2
    accounts = [r["account_id"] for r in manifest_rows(summary)]
    assert accounts.count(first["account_id"]) == 1 and len(accounts) == len(set(accounts))
    assert [r["line"] for r in manifest_rows(summary) if r["account_id"] == first["account_id"]] == [1]


def test_conflicting_duplicates_are_all_quarantined(tmp_path):
    first = _base()[1]
    other = dict(first, minimum_due="0.00")
    summary = _build(tmp_path, [other])
    rows = _released_all_but(summary, 2, "duplicate", "account_id")
    assert sorted(r["line"] for r in rows) == [2, len(_base()) + 1]
    assert first["account_id"] not in {r["account_id"] for r in manifest_rows(summary)}


def test_a_duplicate_whose_other_copy_was_rejected_is_quarantined_too(tmp_path):
    first = _base()[2]
    summary = _build(tmp_path, [dict(first, new_balance="1.00")])
    rows = _quarantine(summary)
    assert sorted((r["line"], r["kind"]) for r in rows) == [(3, "duplicate"), (len(_base()) + 1, "rule")]
    assert first["account_id"] not in {r["account_id"] for r in manifest_rows(summary)}


@pytest.mark.parametrize("content", [b"", b"\n  \n\t\r\n", b"\xef\xbb\xbf\n"])
def test_an_empty_extract_is_refused_unless_allowed(tmp_path, content):
    extract = tmp_path / "empty.jsonl"
    extract.write_bytes(content)
    run = subprocess.run([sys.executable, "-m", "stmtprod", "build", "--input", str(extract), "--out",
                          str(tmp_path / "out")], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 2 and "holds no records" in run.stderr and "--allow-empty" in run.stderr
    assert "Traceback" not in run.stderr
    assert not [p for p in (tmp_path / "out").glob("*") if p.is_dir()]
    allowed = build(BuildOptions(input=extract, out=tmp_path / "out", workers=1, allow_empty=True))
    assert allowed["state"] == "RELEASED" and allowed["counts"]["input"] == 0


def test_an_extract_whose_every_record_is_rejected_is_not_released(tmp_path):
    extract = tmp_path / "bad.jsonl"
    extract.write_text('{"account_id": "AU1"}\nnot json\n', encoding="utf-8")
    summary = build(BuildOptions(input=extract, out=tmp_path / "out", workers=1, reject_threshold=1.0))
    assert summary["state"] == "HALTED" and "none of the 2 records was accepted" in summary["halt"]["reason"]
    assert not (Path(summary["run_dir"]) / "release").exists()


# --- the card line: the same classes on card orders ----------------------------------------------


def _luhn_pan(seed: int) -> str:
    from stdnum import luhn

    body = f"37{seed:012d}"
    return body + luhn.calc_check_digit(body)


def test_unprintable_card_orders_are_quarantined_and_the_rest_released(tmp_path):
    import datetime as dt

    from stmtprod.cards.line import run_cards
    from tests.test_cards import manifest, page_text, subset

    orders, log = subset(tmp_path, "AU")
    rows = [json.loads(line) for line in orders.read_text(encoding="utf-8").splitlines()]
    rows[0]["name"] = unicodedata.normalize("NFD", "José Müller")  # accepted, and printed composed
    first = rows[0]
    bad = [first | {"card_id": "C-AU-900001", "pan": _luhn_pan(1), "name": "Maximilian Alexander "
                    "Featherstonehaugh-Worthington of Barangaroo"},
           first | {"card_id": "C-AU-900002", "pan": _luhn_pan(2),
                    "address": first["address"] | {"lines": ["1 \U0001F600 Street"]}}]
    lines = [json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in rows + bad]
    lines.append(b'{"card_id":"C-AU-900003","x":' + b"[" * 100_000 + b"]" * 100_000 + b"}\n")
    orders.write_bytes(b"\xef\xbb\xbf" + b"".join(lines))
    summary = run_cards(orders, log, tmp_path / "out", key=None, demo=True, workers=1,
                        production_date=dt.date(2026, 11, 23), reject_threshold=0.5)
    assert summary["state"] == "RELEASED", summary.get("halt")
    quarantined = [json.loads(x) for x in Path(summary["quarantine_file"]).read_text(encoding="utf-8").splitlines()]
    assert [(r["line"], r["field"], r["kind"]) for r in quarantined] == [
        (len(rows) + 1, "name", "width"), (len(rows) + 2, "address.lines.0", "readback"),
        (len(rows) + 3, "(record)", "json")]
    assert summary["counts"]["produced"] == len(rows)
    run_dir = Path(summary["run_dir"])
    first_row = next(r for r in manifest(run_dir) if r["card_id"] == first["card_id"])
    assert "José Müller" in unicodedata.normalize("NFC", page_text(run_dir, first_row))
    assert "\u0301" not in page_text(run_dir, first_row)


def test_an_empty_order_file_is_refused_unless_allowed(tmp_path):
    import datetime as dt

    from stmtprod.cards.line import run_cards
    from stmtprod.errors import UsageError

    orders, log = tmp_path / "orders.jsonl", tmp_path / "log.jsonl"
    orders.write_bytes(b"\n\n")
    log.write_bytes(b"")
    with pytest.raises(UsageError, match="holds no card orders"):
        run_cards(orders, log, tmp_path / "out", key=None, demo=True, production_date=dt.date(2026, 11, 23))
    allowed = run_cards(orders, log, tmp_path / "out", key=None, demo=True, production_date=dt.date(2026, 11, 23),
                        allow_empty=True)
    assert allowed["state"] == "RELEASED" and allowed["counts"]["input"] == 0


def test_a_card_reference_wider_than_the_header_is_quarantined(tmp_path):
    import datetime as dt

    from stmtprod.cards.line import run_cards
    from tests.test_cards import subset

    orders, log = subset(tmp_path, "ID")
    first = json.loads(orders.read_text(encoding="utf-8").splitlines()[0])
    wide = first | {"card_id": "W" * 32, "pan": _luhn_pan(3), "language": "id"}
    with open(orders, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(wide, ensure_ascii=False) + "\n")
    summary = run_cards(orders, log, tmp_path / "out", key=None, demo=True, workers=1,
                        production_date=dt.date(2026, 11, 23), reject_threshold=0.5)
    assert summary["state"] == "RELEASED", summary.get("halt")
    (row,) = [json.loads(x) for x in Path(summary["quarantine_file"]).read_text(encoding="utf-8").splitlines()]
    assert (row["field"], row["kind"]) == ("card_id", "width") and "the room is 80.0 mm" in row["reason"]


def test_card_orders_identical_repeat_suppressed_conflicting_repeat_quarantines_both(tmp_path):
    import datetime as dt

    from stmtprod.cards.line import run_cards
    from tests.test_cards import manifest, subset

    orders, log = subset(tmp_path, "AU")
    rows = [json.loads(line) for line in orders.read_text(encoding="utf-8").splitlines()]
    same, changed = rows[0], rows[1] | {"name": rows[1]["name"] + " Jr"}
    with open(orders, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(same, ensure_ascii=False) + "\n" + json.dumps(changed, ensure_ascii=False) + "\n")
    entries = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    kept = [e for e in entries if e["card_id"] != rows[1]["card_id"]]
    log.write_text("".join(json.dumps(e | {"slot": i}) + "\n" for i, e in enumerate(kept, 1)), encoding="utf-8")
    summary = run_cards(orders, log, tmp_path / "out", key=None, demo=True, workers=1,
                        production_date=dt.date(2026, 11, 23), reject_threshold=0.5)
    assert summary["state"] == "RELEASED", summary.get("halt")
    assert summary["suppressed_by_reason"] == {"duplicate order": 1} and summary["reconciled"]
    quarantined = [json.loads(x) for x in Path(summary["quarantine_file"]).read_text(encoding="utf-8").splitlines()]
    assert sorted((r["line"], r["kind"], r["card_id"]) for r in quarantined) == [
        (2, "duplicate", rows[1]["card_id"]), (len(rows) + 2, "duplicate", rows[1]["card_id"])]
    produced = [r["card_id"] for r in manifest(Path(summary["run_dir"]))]
    assert produced.count(rows[0]["card_id"]) == 1 and rows[1]["card_id"] not in produced


def test_card_orders_with_a_key_twice_or_already_expired_are_quarantined_and_the_rest_released(tmp_path):
    """A key given twice (pydantic keeps the last, so a first "pan" or "name" would go unchecked), at the
    top or in the address, and a card expiring before its production month: each order is quarantined
    naming why, as the statement line does, and every other carrier is made. A personalisation log
    that starts with a byte order mark is read as the order file is."""
    import datetime as dt

    from stmtprod.cards.line import run_cards
    from tests.test_cards import subset

    orders, log = subset(tmp_path, "AU")
    rows = [json.loads(line) for line in orders.read_text(encoding="utf-8").splitlines()]
    body = json.dumps(rows[0] | {"card_id": "C-AU-900011", "pan": _luhn_pan(11)}, ensure_ascii=False)
    twice = ['{"pan": "' + _luhn_pan(12) + '", ' + body[1:],
             '{"name": "MR FIRST NAME", ' + json.dumps(rows[0] | {"card_id": "C-AU-900013", "pan": _luhn_pan(13)},
                                                       ensure_ascii=False)[1:],
             body.replace('"address": {', '"address": {"city": "ELSEWHERE", ', 1).replace("C-AU-900011", "C-AU-900014")
             .replace(_luhn_pan(11), _luhn_pan(14))]
    assert all(line.count('"pan"') + line.count('"name"') + line.count('"city"') >= 4 for line in twice)
    expired = json.dumps(rows[0] | {"card_id": "C-AU-900015", "pan": _luhn_pan(15), "expiry": "2026-10"})
    current = json.dumps(rows[0] | {"card_id": "C-AU-900016", "pan": _luhn_pan(16), "expiry": "2026-11"})
    with open(orders, "a", encoding="utf-8") as fh:
        fh.write("\n".join([*twice, expired, current]) + "\n")
    entries = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    added = {**entries[0], "card_id": "C-AU-900016", "pan_last5": _luhn_pan(16)[-5:], "slot": len(entries) + 1}
    log.write_bytes(b"\xef\xbb\xbf" + "".join(json.dumps(e) + "\n" for e in [*entries, added]).encode())
    summary = run_cards(orders, log, tmp_path / "out", key=None, demo=True, workers=1,
                        production_date=dt.date(2026, 11, 23), reject_threshold=0.5)
    assert summary["state"] == "RELEASED", summary.get("halt")
    quarantined = [json.loads(x) for x in Path(summary["quarantine_file"]).read_text(encoding="utf-8").splitlines()]
    assert [(r["line"], r["field"], r["kind"]) for r in quarantined] == [
        (len(rows) + 1, "(record)", "json"), (len(rows) + 2, "(record)", "json"), (len(rows) + 3, "(record)", "json"),
        (len(rows) + 4, "expiry", "expiry")]
    assert "2026-11" in quarantined[-1]["reason"]
    assert summary["counts"]["produced"] == len(rows) + 1


@pytest.mark.volume
def test_readback_assumptions_hold_for_every_layout_font():
    """`readable` does not draw the unified ideographs and Hangul (assumed to read back) nor anything
    above U+FFFF (assumed not to): measured here, every `step`-th one in CI."""
    from stmtprod.layout import load_layouts
    from stmtprod.render import readback
    from stmtprod.render.fonts import coverage
    from tests.conftest import volume

    step = volume(7, 1)
    layouts = load_layouts(ROOT / "layouts")
    for fonts in {layouts[r].fonts for r in ("AU", "NZ", "JP", "MY", "ID", "SG", "HK")}:
        covered = sorted(coverage(fonts))
        assumed = [cp for cp in covered if readback._assumed(cp)][::step]
        astral = [cp for cp in covered if cp > readback.BMP_LAST and not unicodedata.category(chr(cp)).startswith(("C", "Z"))][::step]
        assert readback.measure(fonts, assumed) == set(assumed), fonts
        assert not readback.measure(fonts, astral), fonts


def _with_transaction_date(rec: dict, date) -> dict:
    rec["transactions"] = [dict(t, date=date if i == 0 else t["date"]) for i, t in enumerate(rec["transactions"])]
    return rec


BAD_DATES = [
    ("transactions.0.date", "field", lambda: _with_transaction_date(_au(), 1792627200000)),      # a Unix timestamp
    ("transactions.0.date", "field", lambda: _with_transaction_date(_au(), "1792627200000")),    # the same, as digits
    ("transactions.0.date", "field", lambda: _with_transaction_date(_au(), "2026-11-2")),
    ("transactions.0.date", "field", lambda: _with_transaction_date(_au(), "2026-11-02T00:00:00")),
    ("period_end", "field", lambda: _au(period_end=20261120)),
    ("transactions.0.date", "rule", lambda: _with_transaction_date(_au(), "0001-01-01")),      # printed "01/01/1"
    ("transactions.0.date", "rule", lambda: _with_transaction_date(_jp(), "0999-01-01")),
    ("transactions.0.date", "rule", lambda: _with_transaction_date(_au(), "2099-12-31")),      # after the period
    ("transactions.0.date", "rule", lambda: _with_transaction_date(_au(), "2024-01-01")),      # long before it
    ("period_end", "rule", lambda: _au(period_start="0001-01-01", period_end="0001-01-20")),
    ("due_date", "rule", lambda: _au(due_date="9999-12-31")),
    ("period_end", "rule", lambda: _au(period_start="2100-01-01", period_end="2100-01-20", due_date="2100-02-10",
                                       transactions=[])),
    ("period_end", "rule", lambda: _au(period_start="2024-10-21")),
]


@pytest.mark.parametrize("field,kind,make", BAD_DATES, ids=[f"{i}-{d[0]}" for i, d in enumerate(BAD_DATES)])
def test_a_date_no_statement_can_carry_is_quarantined_and_the_rest_released(tmp_path, field, kind, make):
    """A date is `YYYY-MM-DD` in a string (never a timestamp, which would keep a 13-digit number in the
    run's files) and belongs to the cycle: one record dated 0001-01-01 halted the whole night at the
    text check (the year printed as "1"), and was never quarantined."""
    summary = _build(tmp_path, [make()])
    (row,) = _released_all_but(summary, 1, kind, field)
    assert "1792627200000" not in json.dumps(row)


def test_a_late_posted_transaction_from_before_the_period_is_printed(tmp_path):
    """Transactions posted in the cycle may be dated before it (within a year): such a record is printed."""
    rec = _with_transaction_date(_au(), "2026-09-30")
    summary = _build(tmp_path, [rec])
    _released_all_but(summary, 0)
    assert "30/09/2026" in _printed_text(summary)


def test_a_replacement_character_is_quarantined_as_damaged_text(tmp_path):
    """U+FFFD is what a decoder upstream leaves for bytes it could not read: it prints (the fonts have a
    glyph for it) but the name printed would not be the customer's."""
    summary = _build(tmp_path, [_au(name="Chloe \ufffd Patel")])
    (row,) = _released_all_but(summary, 1, field="name")
    assert "replacement character" in row["reason"] and "damaged" in row["reason"]
    assert "\ufffd" not in _printed_text(summary)


@pytest.mark.parametrize("minimum_due,new_balance", [("962154631552498288388988.00", None), ("10.00", "-5.00")])
def test_a_minimum_payment_above_the_balance_is_quarantined(tmp_path, minimum_due, new_balance):
    """A minimum payment larger than what is owed (or any on a credit balance) is upstream damage: a
    statement asking for it must not be printed."""
    rec = _au(minimum_due=minimum_due)
    if new_balance is not None:   # moved by the payments, so the balance still adds up
        rec["payments"] = str(Decimal(rec["payments"]) - Decimal(rec["new_balance"]) + Decimal(new_balance))
        rec["new_balance"] = new_balance
    summary = _build(tmp_path, [rec])
    (row,) = _released_all_but(summary, 1, "rule", "minimum_due")
    assert "more than the new balance" in row["reason"]


@pytest.mark.parametrize("period", [("2099-11-21", "2099-12-20", "2099-12-31"), ("2000-01-01", "2000-01-20", "2000-02-10")])
def test_a_cycle_at_the_edge_of_the_years_is_released_with_its_challenge_pieces(tmp_path, period):
    """A night of valid records whose cycle ends in the first or last weeks of the years allowed: the
    challenge pieces, dated around the cycle's end, are valid too, and the night is released (the
    challenge step's own record was refused: an internal error, every night, resume included)."""
    start, end, due = period
    rec = _au(period_start=start, period_end=end, due_date=due, transactions=[])
    rec["new_balance"] = str(sum(Decimal(rec[k]) for k in ("previous_balance", "payments", "credits", "fees", "interest")))
    rec["minimum_due"] = "0.00"
    path = tmp_path / "edge.jsonl"
    path.write_text(json.dumps(rec, ensure_ascii=False) + "\n", encoding="utf-8")
    summary = build(BuildOptions(input=path, out=tmp_path / "out", regions=("AU",), workers=1))
    assert summary["state"] == "RELEASED", summary.get("halt") or summary
    assert summary["counts"]["produced"] == 1 and summary["challenges"]["pieces"] >= 2


def test_a_japanese_address_whose_numbers_join_into_a_card_number_is_mailed_without_the_postal_barcode(tmp_path):
    """Words between them, the address's numbers do not read as a card number, and the address prints;
    but the Japan Post address number joins them with hyphens (4230-9721-5134-0597), which would put one
    into the manifest, the postal barcode and the mailing files: the piece is mailed non-barcoded, saying why."""
    from stdnum import luhn

    pan = "423097215134059" + luhn.calc_check_digit("423097215134059")
    rec = _with_address(_jp(), lines=[f"Room {pan[:4]} Bldg {pan[4:8]}", f"Fl {pan[8:12]} No {pan[12:]}"])
    summary = _build(tmp_path, [rec])
    _released_all_but(summary, 0)
    run_dir = Path(summary["run_dir"])
    row = next(r for r in manifest_rows(summary) if r["account_id"] == rec["account_id"])
    assert row["postal"]["class"] == "NON-BARCODED" and "read as a card number" in row["postal"]["reason"]
    for path in (run_dir / "release").rglob("*"):
        if path.is_file() and path.suffix != ".pdf":
            text = path.read_text(encoding="utf-8", errors="replace")
            assert f"{pan[:4]}-{pan[4:8]}" not in text and pan not in text.replace("-", ""), path
