"""No card number anywhere it does not belong (issue 13), proven on real `stmtprod build` and
`stmtprod cards` runs.

Card numbers are planted in every text field of both lines (names, address lines, city, state,
descriptions, account and card ids, embossed names, amounts, points, expiry, JSON keys, the
personalisation log's card id, embossed name and slot), written in ASCII, fullwidth, Arabic-Indic
and Devanagari digits and kanji numerals, separated by spaces, NBSP, en dashes, minus signs, dots, zero-width spaces
and other format characters, and split across two address lines. Then every byte the runs write is
searched: every file under the output folder, the text of every PDF, every decoded barcode, the
ledger's SQL dump, stdout and stderr. The search normalises on its own (NFKC, every Unicode digit
to ASCII, everything but letters and digits dropped, JSON escapes undone) and also looks for each
planted form as written.
"""
from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import unicodedata
from decimal import Decimal
from pathlib import Path

import pypdf
import pypdfium2
import pytest
import zxingcpp

ROOT = Path(__file__).resolve().parent.parent
CYCLE = ROOT / "samples" / "cycle.jsonl"
ORDERS = ROOT / "samples" / "cards.jsonl"
BAD_SAMPLE_LINES = {16, 46, 76, 106, 136, 166, 196, 226, 256, 286}


def luhn_complete(prefix: str) -> str:
    """`prefix` with the check digit that makes it pass the Luhn check (written here, not imported)."""
    total = 0
    for i, ch in enumerate(reversed(prefix + "0")):
        n = int(ch) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return prefix + str((10 - total % 10) % 10)


# Visa 16, Amex 15, Visa 13, Discover 16, JCB 16, UnionPay 19, Mastercard 16, Diners 14, Visa 16, Amex 15
PANS = [luhn_complete(p) for p in ("411111111111111", "37828224631000", "422222222222", "601100099013942",
                                   "353011133330000", "622126000000000000", "555555555555444", "3056930902590",
                                   "401288888888188", "37144963539843")]


def _digits(pan: str, zero: int) -> str:
    return "".join(chr(zero + int(d)) for d in pan)


def _groups(text: str, sep: str) -> str:
    return sep.join(text[i:i + 4] for i in range(0, len(text), 4))


ENCODINGS = {
    "ascii": lambda p: p,
    "spaces": lambda p: _groups(p, " "),
    "nbsp": lambda p: _groups(p, "\u00a0"),
    "en-dash": lambda p: _groups(p, "\u2013"),
    "dots": lambda p: _groups(p, "."),
    "zero-width": lambda p: "\u200b".join(p),
    "fullwidth": lambda p: _groups(_digits(p, 0xFF10), "\u3000"),
    "arabic-indic": lambda p: _groups(_digits(p, 0x0660), "\u00a0"),
    "devanagari": lambda p: _groups(_digits(p, 0x0966), "-"),
    "kanji": lambda p: _groups("".join("〇一二三四五六七八九"[int(d)] for d in p), " "),
    "mixed": lambda p: _groups(_digits(p, 0xFF10)[:8] + p[8:], "\u2212\u00ad\u2060\ufeff"),
    # letters written as marks or strokes, which a reader takes for separators
    "modifier-apostrophe": lambda p: _groups(p, "\u02bc"),
    "long-vowel-mark": lambda p: _groups(_digits(p, 0xFF10), "\u30fc"),
    "click-bar": lambda p: _groups(p, "\u01c0"),
    "hangul-eu": lambda p: _groups(p, "\u3161"),
}
PLAIN = ("ascii", "spaces", "dots")           # forms an embossing machine can emboss
EMBOSSABLE = {"ascii": PLAIN[0], "spaces": PLAIN[1], "dots": PLAIN[2]}


def pan_for(n: int) -> str:
    return PANS[n % len(PANS)]


# --- the independent search -------------------------------------------------------------------

# Letters a reader takes for separators between digits, listed here on their own: modifier letters (the
# whole category), and letters drawn as a stroke or a dot.
_MARK_LETTERS = set("ǀǁǂǃㅡㅣㆍᅳᅵᆞㄧ丨丶丿乀乁亅اויᛁⵏᐟᐠᐥᐦᐧᐨᐩᣟꞏ")


class _Digits(dict):
    def __missing__(self, code: int) -> str:
        ch = chr(code)
        value = unicodedata.decimal(ch, None)
        if value is None and unicodedata.numeric(ch, -1) in range(10):
            value = int(unicodedata.numeric(ch))
        name = unicodedata.name(ch, "")
        if value is None and "NUMBER" in name and ("CIRCLED" in name or "PARENTHESIZED" in name):
            value = int(unicodedata.numeric(ch, -1))   # ⓫ reads 11
        if value is not None and value >= 0:
            out = str(value)
        elif ch.isalpha() and unicodedata.category(ch) != "Lm" and ch not in _MARK_LETTERS:
            out = "|"
        else:
            out = ""
        self[code] = out
        return out


_DIGITS = _Digits()
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


_ONE_LETTER = re.compile(r"(?<=[0-9])\|(?=[0-9])")   # a letter alone between digits reads as a separator


def digits_only(text: str) -> str:
    return _ONE_LETTER.sub("", unicodedata.normalize("NFKC", text).translate(_DIGITS))


def pdf_blobs(path: Path) -> list[tuple[str, str]]:
    """Each page's extracted text and every barcode decoded from it (release and staging PDFs alike)."""
    out = []
    for i, page in enumerate(pypdf.PdfReader(path).pages):
        out.append((f"{path} page {i + 1} text", page.extract_text() or ""))
    doc = pypdfium2.PdfDocument(path)
    try:
        for i in range(len(doc)):
            image = doc[i].render(scale=200 / 72).to_pil()
            out += [(f"{path} page {i + 1} barcode", b.text) for b in zxingcpp.read_barcodes(image)]
    finally:
        doc.close()
    return out


def search_everything(out: Path, streams: list[bytes], planted: list[tuple[str, str]]) -> dict:
    """Assert that no planted number (as digits, or as written) is in any byte the runs wrote."""
    blobs: list[tuple[str, str, bytes]] = [(f"stream {i}", s.decode("utf-8", "replace"), s)
                                           for i, s in enumerate(streams)]
    counts = {"files": 0, "pdf pages": 0, "barcodes": 0, "ledgers": 0}
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        raw = path.read_bytes()
        blobs.append((str(path), raw.decode("utf-8", "replace"), raw))
        counts["files"] += 1
        if path.suffix == ".pdf":
            for where, text in pdf_blobs(path):
                blobs.append((where, text, text.encode()))
                counts["barcodes" if where.endswith("barcode") else "pdf pages"] += 1
        if path.name == "ledger.sqlite":
            with sqlite3.connect(path) as db:
                dump = "\n".join(db.iterdump())
            blobs.append((f"{path} (iterdump)", dump, dump.encode()))
            counts["ledgers"] += 1
    numbers = sorted({digits for digits, _ in planted})
    forms = sorted({form for _, form in planted})
    for where, text, raw in blobs:
        unescaped = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
        view = digits_only(unescaped)
        for digits in numbers:
            assert digits not in view, f"card number {digits} found in {where}"
        for form in forms:
            assert form.encode() not in raw and form not in unescaped, f"planted form {form!r} found in {where}"
    return counts


def test_the_search_reads_every_planted_form():
    """The search would find each planted number if it were written anywhere, in any of its forms."""
    for name, encode in ENCODINGS.items():
        for pan in PANS:
            form = encode(pan)
            assert pan in digits_only(f"x{form}y"), name
            if name != "ascii":
                assert form != pan and pan not in form, name
    for _, pan, form in statement_plants() + card_plants():
        assert pan in digits_only(form)


# --- the statement line -------------------------------------------------------------------------

def _good_statements() -> list[dict]:
    rows = []
    for number, line in enumerate(CYCLE.read_text(encoding="utf-8").splitlines(), 1):
        if number not in BAD_SAMPLE_LINES:
            rows.append(json.loads(line))
    return rows


def _base(region: str) -> dict:
    return next(r for r in _good_statements() if r["region"] == region and r["delivery"] == "paper"
                and r["transactions"])


def _plant_statement(rec: dict, field: str, form: str, pan: str) -> dict:
    rec = json.loads(json.dumps(rec))
    addr = rec["address"]
    if field == "name":
        rec["name"] = f"{rec['name']} {form}"
    elif field == "address.lines.0":
        addr["lines"][0] = f"Unit {form}"
    elif field in ("address.city", "address.state", "address.postcode"):
        addr[field.split(".")[1]] = form
    elif field == "description":
        rec["transactions"][0]["description"] = f"REF {form}"
    elif field == "split-lines":
        half = len(form) // 2
        addr["lines"] = [f"Unit {form[:half]}", f"{form[half:]} Example Street"]
    elif field == "split-descriptions":
        half = len(form) // 2
        rec["transactions"][0]["description"] = f"REF {form[:half]}"
        rec["transactions"][1]["description"] = form[half:]
    elif field == "json-key":
        addr[form] = "x"
    elif field == "duplicate-key":        # written first, then overridden by the record's own name
        rec[FIRST] = '"name": ' + json.dumps(form, ensure_ascii=False)
    elif field == "escaped-duplicate-key":
        rec[FIRST] = '"name": "' + "".join(f"\\u{ord(c):04x}" for c in form) + '"'
    elif field == "account_id":
        rec["account_id"] = _groups(pan, "-")
    elif field == "new_balance":
        rec["new_balance"] = pan + (".00" if rec["currency"] != "JPY" else "")
    elif field == "fees":
        amount = Decimal(pan + (".00" if rec["currency"] != "JPY" else ""))
        rec["fees"] = str(amount)
        rec["new_balance"] = str(Decimal(rec["new_balance"]) + amount)
    elif field == "points":
        rec["points"] = int(pan)
    elif field == "product":
        rec["product"] = f"x{pan}"
    elif field == "segments":
        rec["segments"] = ["travel", f"x{pan}"]
    return rec


TEXT_FIELDS = ("name", "address.lines.0", "address.city", "address.state", "address.postcode", "description",
               "split-lines",
               "split-descriptions", "json-key", "duplicate-key", "escaped-duplicate-key")
FIRST = "(written before the record's own keys)"


def jsonl_line(rec: dict) -> str:
    """The record as one JSON line; a `FIRST` entry is written raw ahead of the other keys."""
    rec = dict(rec)
    first = rec.pop(FIRST, None)
    body = json.dumps(rec, ensure_ascii=False)
    return ("{" + first + ", " + body[1:] if first else body) + "\n"
ASCII_ONLY_FIELDS = ("account_id", "new_balance", "fees", "points", "product", "segments")


def statement_plants() -> list[tuple[dict, str, str]]:
    """(record, digits, form) for every field, encoding and base region (en and ja texts)."""
    plants, n = [], 0
    for region in ("AU", "JP"):
        base = _base(region)
        for field in TEXT_FIELDS:
            for name, encode in ENCODINGS.items():
                pan = pan_for(n)
                form = encode(pan)
                rec = _plant_statement(base, field, form, pan)
                if field != "account_id":
                    rec["account_id"] = f"{region}9{n:09d}"
                plants.append((rec, pan, form))
                n += 1
        for field in ASCII_ONLY_FIELDS:
            pan = pan_for(n)
            rec = _plant_statement(base | {"account_id": f"{region}9{n:09d}"}, field, pan, pan)
            plants.append((rec, pan, _groups(pan, "-") if field == "account_id" else pan))
            n += 1
    return plants


def _run(args: list[str], cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stmtprod", *args], cwd=cwd, capture_output=True, timeout=600)


@pytest.fixture(scope="module")
def statement_run(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("pan-statements")
    good = [r for r in _good_statements() if r["region"] in ("AU", "JP")][:24]
    plants = statement_plants()
    rows = good + [rec for rec, _, _ in plants]
    extract = tmp / "cycle.jsonl"
    extract.write_text("".join(jsonl_line(r) for r in rows), "utf-8")
    res = _run(["build", "--input", str(extract), "--out", str(tmp / "out"), "--workers", "2",
                "--reject-threshold", "1", "--json"])
    return {"out": tmp / "out", "res": res, "good": good, "plants": plants, "planted_from": len(good) + 1}


def test_no_planted_number_in_any_byte_of_a_statement_run(statement_run):
    res = statement_run["res"]
    planted = [(pan, form) for _, pan, form in statement_run["plants"]]
    counts = search_everything(statement_run["out"], [res.stdout, res.stderr], planted)
    assert res.returncode == 0, res.stderr.decode()[-2000:]
    summary = json.loads(res.stdout.decode().strip().splitlines()[-1])
    assert summary["state"] == "RELEASED"
    assert counts["pdf pages"] >= summary["counts"]["sheets"] and counts["barcodes"] >= summary["counts"]["sheets"]
    assert counts["ledgers"] == 1


def test_every_planted_statement_is_quarantined_naming_its_field(statement_run):
    summary = json.loads(statement_run["res"].stdout.decode().strip().splitlines()[-1])
    rows = [json.loads(line) for line in Path(summary["quarantine_file"]).read_text(encoding="utf-8").splitlines()]
    by_line = {r["line"]: r for r in rows}
    first = statement_run["planted_from"]
    planted_lines = range(first, first + len(statement_run["plants"]))
    assert set(by_line) == set(planted_lines)
    kinds = {by_line[n]["kind"] for n in planted_lines}
    assert "card-number" in kinds
    for n, (rec, _, _) in zip(planted_lines, statement_run["plants"]):
        row = by_line[n]
        if row["kind"] == "card-number":
            assert "card number" in row["reason"]
            assert row["field"].split(".")[0] in ("name", "address", "transactions", "account_id", "fees",
                                                 "points", "new_balance", "product", "segments", "(record)")
    assert summary["counts"]["produced"] + summary["counts"]["suppressed"] == len(statement_run["good"])


# --- the card line ------------------------------------------------------------------------------

def _good_orders(region: str) -> list[dict]:
    from stmtprod.cards import samples as card_samples

    rows = [json.loads(line) for line in ORDERS.read_text(encoding="utf-8").splitlines()]
    return [r for i, r in enumerate(rows, 1) if i not in card_samples.BAD_LINES and r["region"] == region]


def _plant_order(order: dict, field: str, form: str, pan: str) -> dict:
    order = json.loads(json.dumps(order))
    addr = order["address"]
    if field == "name":
        order["name"] = f"{order['name']} {form}"
    elif field == "embossed_name":
        order["embossed_name"] = form
    elif field == "address.lines.0":
        addr["lines"][0] = f"Unit {form}"
    elif field in ("address.city", "address.state", "address.postcode"):
        addr[field.split(".")[1]] = form
    elif field == "split-lines":
        half = len(form) // 2
        addr["lines"] = [f"Unit {form[:half]}", f"{form[half:]} Example Street"]
    elif field == "json-key":
        order[form] = "x"
    elif field == "card_id":
        order["card_id"] = "C-" + _groups(pan, "-")
    elif field == "expiry":
        order["expiry"] = form
    elif field == "product":
        order["product"] = f"x{pan}"
    return order


def card_plants() -> list[tuple[dict, str, str]]:
    plants, n = [], 0
    base_ids = {}
    for region in ("NZ", "JP"):
        base = _good_orders(region)[0]
        base_ids[region] = base["card_id"]
        for field in ("name", "address.lines.0", "address.city", "address.state", "address.postcode",
                      "split-lines", "json-key", "embossed_name"):
            for name, encode in ENCODINGS.items():
                if field == "embossed_name" and name not in EMBOSSABLE:
                    continue
                pan = pan_for(n)
                order = _plant_order(base, field, encode(pan), pan)
                plants.append((order, pan, encode(pan)))
                n += 1
        for field in ("card_id", "expiry", "product"):
            pan = pan_for(n)
            form = {"card_id": _groups(pan, "-"), "expiry": _groups(pan, " "), "product": pan}[field]
            plants.append((_plant_order(base, field, form, pan), pan, form))
            n += 1
    for k, (order, _, _) in enumerate(plants):
        order["pan"] = luhn_complete(f"37990{k:09d}")    # each order its own number and, but one, its own id
        if order["card_id"] == base_ids[order["region"]]:
            order["card_id"] = f"C-{order['region']}-8{k:05d}"
    return plants


def _log(orders: list[dict]) -> list[dict]:
    return [{"card_id": o["card_id"], "pan_last5": o["pan"][-5:], "embossed_name": o["embossed_name"], "slot": i}
            for i, o in enumerate(orders, 1)]


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def _bad_logs(good: list[dict]) -> dict[str, tuple[list[dict], str, str]]:
    """Personalisation logs that each carry a card number somewhere the match reads, with (digits, form)."""
    log = _log(good)
    pan_a, pan_b, pan_c, pan_d, pan_e = PANS[0], PANS[1], PANS[4], PANS[6], PANS[8]
    return {
        "extra card id": (log + [{"card_id": pan_a, "pan_last5": "00000", "embossed_name": "EXTRA",
                                  "slot": len(log) + 1}], pan_a, pan_a),
        "card id in place": ([log[0] | {"card_id": _groups(_digits(pan_b, 0xFF10), " ")}] + log[1:], pan_b,
                             _groups(_digits(pan_b, 0xFF10), " ")),
        "embossed name": ([log[0] | {"embossed_name": f"MS {_groups(pan_c, ' ')}"}] + log[1:], pan_c,
                          _groups(pan_c, " ")),
        "slot": (log[:-1] + [log[-1] | {"slot": int(pan_d)}], pan_d, pan_d),
        "key": ([log[0] | {_groups(pan_e, "\u2013"): 1}] + log[1:], pan_e, _groups(pan_e, "\u2013")),
    }


@pytest.fixture(scope="module")
def card_run(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("pan-cards")
    good = _good_orders("NZ")
    plants = card_plants()
    orders = _write_jsonl(tmp / "orders.jsonl", good + [o for o, _, _ in plants])
    out = tmp / "out"
    common = ["--out", str(out), "--demo-key", "--workers", "2", "--date", "2026-11-23", "--json"]
    # a log without the first card: the run halts at the match, so each bad log below resumes it
    first = _run(["cards", "--orders", str(orders), "--personalisation",
                  str(_write_jsonl(tmp / "good-log.jsonl", _log(good[1:]))), "--reject-threshold", "1", *common])
    run_id = json.loads(first.stdout.decode().strip().splitlines()[-1])["run_id"]
    halts = {}
    for name, (log, pan, form) in _bad_logs(good).items():
        path = _write_jsonl(tmp / f"log-{len(halts)}.jsonl", log)
        res = _run(["cards", "--resume", run_id, "--personalisation", str(path), *common])
        halts[name] = (res, pan, form)
    last = _run(["cards", "--resume", run_id, "--personalisation", str(_write_jsonl(tmp / "log.jsonl", _log(good))),
                 *common])
    return {"out": out, "first": first, "halts": halts, "last": last, "plants": plants, "good": good}


def test_no_planted_number_in_any_byte_of_a_card_run(card_run):
    streams = [card_run["first"].stdout, card_run["first"].stderr, card_run["last"].stdout, card_run["last"].stderr]
    streams += [s for res, _, _ in card_run["halts"].values() for s in (res.stdout, res.stderr)]
    planted = [(pan, form) for _, pan, form in card_run["plants"]]
    planted += [(pan, form) for _, pan, form in card_run["halts"].values()]
    planted += [(o["pan"], o["pan"]) for o, _, _ in card_run["plants"]]
    counts = search_everything(card_run["out"], streams, planted)
    last = json.loads(card_run["last"].stdout.decode().strip().splitlines()[-1])
    assert last["state"] == "RELEASED", card_run["last"].stderr.decode()[-2000:]
    assert counts["pdf pages"] >= len(card_run["good"]) and counts["barcodes"] >= len(card_run["good"])


def test_every_planted_order_is_quarantined(card_run):
    first = json.loads(card_run["first"].stdout.decode().strip().splitlines()[-1])
    rows = [json.loads(line) for line in Path(first["quarantine_file"]).read_text(encoding="utf-8").splitlines()]
    planted_lines = set(range(len(card_run["good"]) + 1, len(card_run["good"]) + len(card_run["plants"]) + 1))
    assert {r["line"] for r in rows} == planted_lines
    assert sum(r["kind"] == "card-number" for r in rows) >= len(planted_lines) // 2


@pytest.mark.parametrize("name", ["extra card id", "card id in place", "embossed name", "slot", "key"])
def test_a_card_number_in_the_personalisation_log_halts_unechoed(card_run, name):
    res, pan, form = card_run["halts"][name]
    assert res.returncode == 4, res.stderr.decode()[-2000:]
    summary = json.loads(res.stdout.decode().strip().splitlines()[-1])
    assert summary["state"] == "HALTED" and summary["halt"]["step"] == "match"
    assert pan not in digits_only(json.dumps(summary, ensure_ascii=False))


# --- what people type -----------------------------------------------------------------------------

def test_inspector_findings_never_echo_a_card_number(tmp_path):
    """`qa record` defect notes and inspector names are typed by people: a number typed there is masked,
    in the ledger, the stage files, the run report and the command's own output."""
    config = (ROOT / "inspection.toml").read_text(encoding="utf-8")
    manual = config.replace('[stage.1]\nname = "composition"\naql = 0.065\nlevel = "II"\nmode = "auto"',
                            '[stage.1]\nname = "composition"\naql = 0.065\nlevel = "II"\nmode = "manual"')
    assert manual != config
    (tmp_path / "inspection.toml").write_text(manual, "utf-8")
    good = _good_orders("MY")
    out = tmp_path / "out"
    first = _run(["cards", "--orders", str(_write_jsonl(tmp_path / "orders.jsonl", good)), "--personalisation",
                  str(_write_jsonl(tmp_path / "log.jsonl", _log(good))), "--out", str(out), "--demo-key",
                  "--workers", "1", "--date", "2026-11-23", "--inspection", str(tmp_path / "inspection.toml"),
                  "--json"])
    summary = json.loads(first.stdout.decode().strip().splitlines()[-1])
    assert summary["state"] == "INSPECTING", first.stderr.decode()[-2000:]
    run_dir = Path(summary["run_dir"])
    sample = json.loads((run_dir / "inspection" / "stage1.json").read_text(encoding="utf-8"))["lots"]["CARDS-MY"]["sample"]
    note, name = ENCODINGS["arabic-indic"](PANS[2]), ENCODINGS["spaces"](PANS[3])
    malformed = _run(["qa", "record", str(run_dir), "--stage", "1", "--defect", note])
    assert malformed.returncode == 2
    recorded = _run(["qa", "record", str(run_dir), "--stage", "1", "--defect", f"{sample[0]}:embossed-name:reads {note}",
                     "--inspector", f"amy {name}", "--json"])
    assert recorded.returncode == 0, recorded.stderr.decode()[-2000:]
    resumed = _run(["cards", "--resume", summary["run_id"], "--out", str(out), "--demo-key", "--json"])
    assert json.loads(resumed.stdout.decode().strip().splitlines()[-1])["state"] == "HALTED"
    streams = [r.stdout for r in (first, malformed, recorded, resumed)] + [r.stderr for r in (first, malformed, recorded, resumed)]
    search_everything(out, streams, [(PANS[2], note), (PANS[3], name)])


@pytest.mark.parametrize("encoding", ["ascii", "spaces", "nbsp", "arabic-indic"])
def test_a_card_number_typed_as_a_command_argument_is_never_echoed(tmp_path, encoding):
    """An operator may paste a card number where an account id, a run id, a count or an option belongs:
    click's own usage errors and the line's errors quote the argument, and must mask it, with and
    without --json, in every command group."""
    from click.testing import CliRunner

    from stmtprod.cli import main

    pan = PANS[4]
    typed = ENCODINGS[encoding](pan)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    commands = [
        ["samples", "--accounts", f"{typed}x", "--out", str(tmp_path / "x.jsonl")],
        ["show", typed, "--out", str(tmp_path)],
        ["show", typed, "--out", str(tmp_path), "--json"],
        [f"--{typed}"],
        ["build", f"--{typed}=3"],
        ["build", "--input", str(tmp_path / typed), "--out", str(tmp_path / "o"), "--regions", typed],
        ["resume", typed, "--out", str(tmp_path), "--json"],
        ["proof", str(run_dir), "--accounts", typed, "--out", str(tmp_path / "p.pdf")],
        ["qa", "plan", "--lot-size", f"{typed}x"],
        ["qa", "draw", str(tmp_path / typed), "--stage", "1"],
        ["cards", "--resume", typed, "--out", str(tmp_path), "--demo-key", "--json"],
        ["reconcile", str(run_dir), "--piece", typed, "--action", "ok", "--reason", "r", "--operator", "o"],
        ["postal", "encode", "--symbology", "auspost", "--dpid", typed],
        ["postal", "encode", "--symbology", "japanpost", "--info", typed],
    ]
    streams = []
    for args in commands:
        result = CliRunner().invoke(main, args)
        assert result.exit_code != 0, args
        assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), args
        streams += [result.stdout.encode(), result.stderr.encode()]
    assert any(b"[digits removed]" in s for s in streams)
    search_everything(tmp_path / "nothing-written", streams, [(pan, typed)])


# --- how text is read ---------------------------------------------------------------------------

def test_letters_written_as_marks_or_strokes_read_as_separators_and_letters_of_words_end_a_run():
    """Every modifier letter that stays a mark under NFKC (ʼ ˌ ː, the long-vowel mark ー and its
    halfwidth form), every letter drawn as a stroke (this file's own list), any one letter beyond ASCII
    alone between digits (the saltillo ꞌ, palochka Ӏ, katakana ノ), and two-digit enclosed numbers (⓫) are read as a
    person reads them between the groups of a card number: the number is found and masked. Words (two
    letters or more, in any script) and ASCII letters (4x4, the T of a timestamp) still end a run."""
    from stmtprod.cardnumbers import MASK, card_number_field, redact

    pan = PANS[0]
    marks = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Lm"
             and not any(unicodedata.category(x) in ("Lu", "Ll", "Lt", "Lo") for x in unicodedata.normalize("NFKC", chr(c)))]
    assert "\u02bc" in marks and "\u30fc" in marks and "\uff70" in marks and len(marks) > 100
    for ch in marks + sorted(_MARK_LETTERS):
        written = _groups(pan, ch)
        assert card_number_field([("f", f"REF {written}")]) == "f", f"U+{ord(ch):04X}"
        assert MASK in redact(f"ref {written}") and pan not in digits_only(redact(f"ref {written}")), f"U+{ord(ch):04X}"
    assert card_number_field([("f", "4111 1111 \u24eb11 1111")]) == "f"     # ⓫ reads 11
    for lone in ("\ua78c", "\ua78b", "\u04c0", "\ua4f2", "\u141e", "ノ", "ヘ", "中", "ж", "é", "\uff38"):
        written = _groups(pan, lone)   # one letter between the groups: a separator, whatever it looks like
        assert card_number_field([("f", written)]) == "f", f"U+{ord(lone):04X}"
        assert pan not in digits_only(redact(f"ref {written}")), f"U+{ord(lone):04X}"
    for word in ("x", "T", "Zx", "アイ", "中文", "กข", "가나", "ßa", "ж ж"):   # an ASCII letter: a code's (4x4)
        assert card_number_field([("f", _groups(pan, word))]) is None, word


@pytest.mark.parametrize("option", ["--input", "--out", "--batch-size"])
@pytest.mark.parametrize("encoding", ["ascii", "long-vowel-mark", "modifier-apostrophe"])
def test_an_option_that_reads_as_a_card_number_is_refused_before_any_work_unechoed(tmp_path, option, encoding):
    """A path or option value is written to the run's record, summary, report and ledger and printed by
    `show`: one that reads as a card number (a file named after one, say) is refused, not echoed, and
    nothing is made."""
    typed = ENCODINGS[encoding](PANS[5])
    given = {"--input": str(CYCLE), "--out": str(tmp_path / "out"), "--batch-size": "100"}
    if option == "--input":
        given[option] = str(tmp_path / f"cycle-{typed}.jsonl")
        Path(given[option]).write_bytes(CYCLE.read_bytes())
    elif option == "--out":
        given[option] = str(tmp_path / f"out-{typed}")
    else:
        given[option] = PANS[5]
    res = _run(["build", *[x for pair in given.items() for x in pair], "--workers", "1", "--json"])
    assert res.returncode == 2, res.stderr.decode()[-2000:]
    assert f"{option}: the value reads as a card number" in res.stderr.decode()
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob("out-*"))
    search_everything(tmp_path / "nothing-written", [res.stdout, res.stderr], [(PANS[5], typed)])


def test_the_numeral_one_drawn_as_a_dash_is_read_both_ways():
    """一 (and 〡, ⼀) between groups is a hyphen as often as a 1: a number hidden by reading it as 1s (no
    Luhn-valid stretch in the longer run) is found by reading it as a dash."""
    from stmtprod.cardnumbers import card_number_field

    def hidden_as_ones(pan: str) -> bool:
        run = "1".join(pan[i:i + 4] for i in range(0, 16, 4))
        return not any(luhn_complete(run[i:i + n - 1]) == run[i:i + n] for n in range(13, 20)
                       for i in range(len(run) - n + 1))

    pan = next(p for p in (luhn_complete(f"4{n:014d}") for n in range(10**9, 10**9 + 5000)) if hidden_as_ones(p))
    for one in "一〡⼀":
        assert card_number_field([("f", _groups(pan, one))]) == "f", one
    assert card_number_field([("f", "四一一一")]) is None     # a kanji number stays a number
