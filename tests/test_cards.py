"""The card line (issue #7): carriers, tokenisation, the card-to-carrier match, and no card number anywhere.

Everything is read back from what the line wrote: PDF text with pypdf, barcodes optically with
pypdfium2 + zxing-cpp, every byte of every output file (the ledger included) searched for every
sample card number.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import zlib
from pathlib import Path

import pypdf
import pytest
from click.testing import CliRunner

from stmtprod.barcode.payload import parse
from stmtprod.barcode.reader import read_page_barcodes
from stmtprod.cards import samples as card_samples
from stmtprod.cli.cards import cards as cards_command
from stmtprod.cards.keys import DEMO_KEY, CardKey, card_key, resolve_key
from stmtprod.cards.line import resume_cards, run_cards, verify_card_run
from stmtprod.cards.match import Carrier, match
from stmtprod.cards.models import CardOrder, PersonalisationEntry
from stmtprod.cards.texts import load_carrier_texts
from stmtprod.catalog import load_catalog
from stmtprod.errors import ConfigError, Halt
from stmtprod.engine.ledger import Ledger

ROOT = Path(__file__).resolve().parent.parent
ORDERS = ROOT / "samples" / "cards.jsonl"
LOG = ROOT / "samples" / "personalisation.jsonl"
FAULTS = ROOT / "samples" / "cards-faults"
DATE = dt.date(2026, 11, 23)
WS = re.compile(r"\s+")


def squash(text: str) -> str:
    return WS.sub("", text)


def sample_pans() -> list[str]:
    """Every card number in the sample order file, good and bad lines alike (read without stmtprod)."""
    pans = []
    for line in ORDERS.read_text(encoding="utf-8").splitlines():
        pan = json.loads(line).get("pan")
        if isinstance(pan, str):
            pans.append(pan)
    return pans


def pan_forms(pan: str) -> list[str]:
    """The number as digits, in groups of four, and in the 4-6-5 grouping embossed on such cards."""
    fours = " ".join(pan[i:i + 4] for i in range(0, len(pan), 4))
    amex = f"{pan[:4]} {pan[4:10]} {pan[10:]}"
    return [pan, fours, amex, pan[:-1]]   # the number without its check digit is a leak too


def good_orders() -> list[dict]:
    rows = [json.loads(line) for line in ORDERS.read_text(encoding="utf-8").splitlines()]
    return [r for i, r in enumerate(rows, 1) if i not in card_samples.BAD_LINES]


def subset(tmp: Path, region: str) -> tuple[Path, Path]:
    """One region's good orders and their personalisation log, written by hand (small, fast runs)."""
    orders = [o for o in good_orders() if o["region"] == region]
    (tmp / "orders.jsonl").write_text("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in orders), "utf-8")
    log = [{"card_id": o["card_id"], "pan_last5": o["pan"][-5:], "embossed_name": o["embossed_name"], "slot": i}
           for i, o in enumerate(orders, 1)]
    (tmp / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log), "utf-8")
    return tmp / "orders.jsonl", tmp / "log.jsonl"


def manifest(run_dir: Path, folder: str = "release") -> list[dict]:
    rows = []
    for path in sorted((run_dir / folder / "manifest").glob("*.jsonl")):
        rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return sorted(rows, key=lambda r: r["sequence"])


def page_text(run_dir: Path, row: dict) -> str:
    return pypdf.PdfReader(run_dir / "release" / "print" / row["file"]).pages[row["page"] - 1].extract_text()


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("cards-out")
    summary = run_cards(ORDERS, LOG, out, key=None, demo=True, workers=2, production_date=DATE)
    return {"out": out, "summary": summary, "dir": Path(summary["run_dir"])}


@pytest.fixture(scope="module")
def fault_runs(tmp_path_factory) -> dict[str, dict]:
    runs = {}
    for fault in ("swapped", "missing", "extra", "wrong-name", "wrong-last5"):
        out = tmp_path_factory.mktemp(f"cards-{fault}")
        summary = run_cards(ORDERS, FAULTS / f"{fault}.jsonl", out, key=None, demo=True, workers=1,
                            production_date=DATE)
        runs[fault] = {"out": out, "summary": summary, "dir": Path(summary["run_dir"])}
    return runs


# --- samples ------------------------------------------------------------------------------------


def test_samples_are_generated_deterministically(tmp_path):
    counts = card_samples.write_samples(tmp_path)
    assert counts == {"orders": 105, "good": 100, "bad": 5, "slots": 100}
    for name in ("cards.jsonl", "personalisation.jsonl"):
        assert (tmp_path / name).read_bytes() == (ROOT / "samples" / name).read_bytes(), name
    for path in FAULTS.glob("*.jsonl"):
        assert (tmp_path / "cards-faults" / path.name).read_bytes() == path.read_bytes(), path.name


def test_sample_orders_cover_the_seven_markets_with_valid_numbers():
    from stdnum import luhn

    good = good_orders()
    assert len(good) == 100
    assert {o["region"] for o in good} == {"AU", "NZ", "JP", "MY", "ID", "SG", "HK"}
    assert all(len(o["pan"]) == 15 and luhn.is_valid(o["pan"]) for o in good)
    assert any(re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", o["name"]) for o in good if o["region"] == "JP")
    assert any(re.search(r"[\u4e00-\u9fff]", o["name"]) for o in good if o["region"] == "HK")
    log = [json.loads(line) for line in LOG.read_text(encoding="utf-8").splitlines()]
    assert [r["slot"] for r in log] == list(range(1, 101))


# --- the released run ---------------------------------------------------------------------------


def test_samples_release(released):
    s, run_dir = released["summary"], released["dir"]
    assert s["state"] == "RELEASED", s.get("halt")
    assert s["counts"] == {"input": 105, "produced": 100, "quarantined": 5, "suppressed": 0, "sheets": 100,
                           "not_released": 0}
    assert s["reconciled"] is True
    assert s["regions"] == {"AU": 20, "NZ": 10, "JP": 26, "MY": 10, "ID": 10, "SG": 10, "HK": 14}
    assert s["key"] == "DEMO" and s["line"] == "cards"
    assert (run_dir / "release").is_dir() and not (run_dir / "staging").exists()
    assert all(Path(p).is_file() for p in s["print_files"] + s["manifest_files"] + [s["sealing_file"]])
    assert json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))["run_id"] == s["run_id"]
    run_json = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert run_json["state"] == "RELEASED" and run_json["line"] == "cards"
    ledger = Ledger(released["out"])
    try:
        run = ledger.run(s["run_id"])
        assert run["state"] == "RELEASED" and run["options"]["key"] == "DEMO"
        assert ledger.piece_count(s["run_id"]) == 100
        lots = {(x["stage"], x["lot"]) for x in ledger.stages(s["run_id"])}
        assert {(stage, "CARDS-JP") for stage in (1, 2, 3)} <= lots
        assert all(x["decision"] == "accepted" for x in ledger.stages(s["run_id"]))
    finally:
        ledger.close()
    sealing = [json.loads(x) for x in Path(s["sealing_file"]).read_text(encoding="utf-8").splitlines()]
    assert [r["slot"] for r in sealing] == [r["sequence"] for r in sealing] == list(range(1, 101))


def test_a_carrier_print_file_is_freed_as_it_is_dropped(tmp_path, monkeypatch):
    """Rendering carriers leaves no reference cycle (the statements' test of the same name): each
    print file, rendered with the collector off, is freed as it is dropped; one collection after
    each finds none of rendering's objects."""
    import gc

    from stmtprod.cards import render as carrier_render
    from tests.conftest import rendering_garbage

    render, left = carrier_render.render_pdf, {}

    def render_and_collect(job):
        gc.collect()
        gc.disable()
        try:
            result = render(job)  # its bytes and manifest rows: no cycle among them
        finally:
            left[job.name] = rendering_garbage()
            gc.enable()
        return result

    monkeypatch.setattr(carrier_render, "render_pdf", render_and_collect)
    summary = run_cards(ORDERS, LOG, tmp_path, key=None, demo=True, workers=1, production_date=DATE)
    assert summary["state"] == "RELEASED"
    assert len(left) >= 7 and all(found == [] for found in left.values()), left


def test_runs_command_lists_card_runs(released):
    from stmtprod.cli import main

    res = CliRunner().invoke(main, ["runs", "--out", str(released["out"]), "--json"])
    assert res.exit_code == 0, res.output
    runs = json.loads(res.stdout)["runs"]
    assert [r["state"] for r in runs if r["run_id"] == released["summary"]["run_id"]] == ["RELEASED"]


def test_bad_orders_quarantined_with_line_and_reason(released):
    rows = [json.loads(x) for x in (released["dir"] / "quarantine.jsonl").read_text(encoding="utf-8").splitlines()]
    by_line = {r["line"]: r for r in rows}
    assert set(by_line) == set(card_samples.BAD_LINES)
    assert by_line[9]["field"] == "pan" and "Luhn" in by_line[9]["reason"]
    assert by_line[33]["field"] == "expiry" and "2029-13" in by_line[33]["reason"]
    assert by_line[58]["field"] == "region" and "XX" in by_line[58]["reason"]
    assert by_line[77]["field"] == "pan" and "15 digits" in by_line[77]["reason"]
    assert by_line[96]["kind"] == "duplicate" and "line 4" in by_line[96]["reason"]
    assert all(r["card_id"] and r["card_id"].startswith("C-") for r in rows)
    assert all(set(r) == {"line", "card_id", "account_id", "field", "kind", "reason"} for r in rows)


def test_every_carrier_barcode_decodes_to_its_manifest_payload(released):
    rows = manifest(released["dir"])
    assert [r["sequence"] for r in rows] == list(range(1, 101))
    for name in sorted({r["file"] for r in rows}):
        mine = [r for r in rows if r["file"] == name]
        decoded = read_page_barcodes(released["dir"] / "release" / "print" / name, dpi=200)
        assert len(decoded) == len(mine)
        for row, texts in zip(mine, decoded):
            assert texts == [row["payload"]] == row["payloads"]
            payload = parse(texts[0])
            assert (payload.region, payload.sequence, payload.sheet, payload.sheets) == (row["region"], row["sequence"], 1, 1)
            assert sorted(payload.hoppers) == row["hoppers"]
            assert payload.run_tag == released["summary"]["run_id"][-6:]


def test_manifest_rows_identify_cards_by_token(released):
    rows = manifest(released["dir"])
    assert all(re.fullmatch(r"tok_[0-9a-f]{16}", r["token"]) for r in rows)
    assert len({r["token"] for r in rows}) == 100
    by_id = {o["card_id"]: o for o in good_orders()}
    demo = CardKey(DEMO_KEY, demo=True)
    for r in rows:
        assert r["token"] == demo.token(by_id[r["card_id"]]["pan"])
        assert r["last5"] == by_id[r["card_id"]]["pan"][-5:]
        assert {"card_id", "token", "last5", "sequence", "payload", "file", "page"} <= set(r)


def test_carriers_show_masked_number_name_and_welcome_kit(released):
    by_id = {o["card_id"]: o for o in good_orders()}
    for row in manifest(released["dir"]):
        order, text = by_id[row["card_id"]], squash(page_text(released["dir"], row))
        assert squash(f"Card ending {order['pan'][-5:]}") in text
        assert squash(order["embossed_name"]) in text
        assert squash(order["name"]) in text
        assert squash("Card attach area") in text and squash("Activate your card") in text
        if order["language"] == "ja":
            assert squash(f"カード番号末尾 {order['pan'][-5:]}") in text
        if order["language"] == "zh-Hant":
            assert squash(f"卡號末五位 {order['pan'][-5:]}") in text
        if order["reason"] == "new":
            assert "WELCOME" in row["inserts"] and "WELCOME" in text
        for code in row["inserts"]:
            assert code in text


def test_carrier_hotline_is_the_products(released):
    by_id = {o["card_id"]: o for o in good_orders()}
    platinum_jp = next(r for r in manifest(released["dir"])
                       if by_id[r["card_id"]]["product"] == "platinum" and r["region"] == "JP")
    assert squash("0120-000-111") in squash(page_text(released["dir"], platinum_jp))


def test_carriers_carry_their_own_footer_localised_enclosures_and_nothing_cut(released):
    """A carrier asks for no payment: the statement's "pay by the due date" footer is not on it, the
    carrier's own footer is; inserts are listed by their title in the card's language; nothing is cut."""
    import tomllib

    catalog = {i["code"]: i for i in tomllib.loads((ROOT / "inserts" / "catalog.toml").read_text("utf-8"))["insert"]}
    by_id = {o["card_id"]: o for o in good_orders()}
    for row in manifest(released["dir"]):
        region, language = row["region"], by_id[row["card_id"]]["language"]
        statement = tomllib.loads((ROOT / "layouts" / f"{region}.toml").read_text("utf-8"))["footer"]
        own = tomllib.loads((ROOT / "layouts" / "cards" / f"{region}.toml").read_text("utf-8"))["footer"]
        raw = page_text(released["dir"], row)
        text = squash(raw)
        assert "…" not in raw, (region, raw)
        assert all(squash(line) in text for line in own), region
        payment = [line for line in statement if not any(squash(line) in squash(o) for o in own)]
        assert not any(squash(line) in text for line in payment), region
        assert not re.search(r"(?i)due date|pay by|請於到期還款日", raw), region
        for code in row["inserts"]:
            title = catalog[code].get("titles", {}).get(language, catalog[code]["title"])
            assert squash(f"{code} {title}") in text, (region, language, code)
        # One number to call: no other product's hotline anywhere on the carrier (the footer included).
        hotlines = tomllib.loads((ROOT / "layouts" / "cards" / f"{region}.toml").read_text("utf-8"))["hotline"]
        numbers = {k: re.match(r"[0-9][0-9 -]*[0-9]", v).group() for k, v in hotlines.items()}
        mine = numbers.get(by_id[row["card_id"]]["product"], numbers["default"])
        assert not any(squash(n) in text for n in numbers.values() if n != mine), (region, row["card_id"])


@pytest.mark.parametrize("region", ["AU", "NZ", "JP", "MY", "ID", "SG", "HK"])
def test_every_carrier_language_prints_whole_with_the_longest_enclosures(region):
    """Each language of the market's carrier, for each reason, with the three longest insert titles in
    that language: titles, enclosures and footer read back whole; nothing cut with '…'."""
    import io
    import tomllib

    import pypdfium2 as pdfium

    from stmtprod.cards.models import CardOrder, CarrierPiece
    from stmtprod.cards.render import CarrierPainter
    from stmtprod.layout import load_layout
    from stmtprod.render.batch import insert_titles, open_canvas

    conf = tomllib.loads((ROOT / "layouts" / "cards" / f"{region}.toml").read_text("utf-8"))
    inserts = tomllib.loads((ROOT / "inserts" / "catalog.toml").read_text("utf-8"))["insert"]
    painter = CarrierPainter(load_layout(ROOT / "layouts" / f"{region}.toml"),
                             load_carrier_texts(ROOT / "layouts" / "cards" / f"{region}.toml"), "20261123-ABCDEF")
    order = next(o for o in good_orders() if o["region"] == region)
    buffer = io.BytesIO()
    canvas = open_canvas(buffer, painter, "test")
    expected = []
    for language in conf["text"]:
        def title(i, language=language):
            return i.get("titles", {}).get(language, i["title"])
        longest = sorted(inserts, key=lambda i: -len(title(i)))[:3]
        for reason in ("new", "renewal", "replacement"):
            record = CardOrder.model_validate(order | {"language": language, "reason": reason}).record("tok_" + "0" * 16)
            piece = CarrierPiece(sequence=len(expected) + 1, line=1, inserts=tuple(i["code"] for i in longest),
                                 hoppers=(), record=record)
            painter.draw(canvas, piece, insert_titles(str(ROOT / "inserts" / "catalog.toml")))
            expected.append((language, [f"{i['code']} {title(i)}" for i in longest]))
    canvas.save()
    pdf = pdfium.PdfDocument(buffer.getvalue())
    assert len(pdf) == len(expected)
    for page, (language, names) in zip(pdf, expected):
        textpage = page.get_textpage()
        raw = textpage.get_text_range()
        textpage.close()
        text = squash(raw)
        assert "…" not in raw, (region, language, raw)
        assert squash(conf["text"][language]["title"]) in text and squash(conf["text"]["en"]["title"]) in text
        assert squash(", ".join(names)) in text, (region, language)
        assert all(squash(line) in text for line in conf["footer"]), (region, language)
    pdf.close()


def test_verify_card_run_rereads_every_carrier(released):
    result = verify_card_run(released["dir"], workers=1)
    assert result["ok"] and result["pieces"] == 100


def test_card_spill_and_batch_rows_read_as_trusted_views_equal_the_models(released):
    """The carriers' readers take the spill and batch rows as trusted views (`ingest.trusted`): each
    equals the pydantic model field by field, type included, and a damaged row halts naming the field."""
    from tests.test_trusted import typed
    from stmtprod.cards.ingest import read_spill, read_spill_records
    from stmtprod.cards.models import CarrierPiece
    from stmtprod.cards.plan import read_carrier_batch

    work = released["dir"] / "work"
    spills = sorted((work / "accepted").glob("*.jsonl"))
    records = [(read_spill(path), read_spill_records(path)) for path in spills]
    assert sum(len(views) for views, _models in records) == 100
    assert all(typed(views) == typed(models) and type(next(iter(views.values()))).__name__ == "CardRecordView"
               for views, models in records)
    for path in sorted((work / "batches").glob("*.jsonl")):
        assert [typed(v) for v in read_carrier_batch(path)] == [
            typed(CarrierPiece.model_validate_json(raw)) for raw in path.read_bytes().splitlines()]
    rows = spills[0].read_bytes().splitlines(keepends=True)
    spills[0].write_bytes(rows[0].replace(b'"last5"', b'"last_5"') + b"".join(rows[1:]))
    try:
        with pytest.raises(Halt, match="spill row 1 .* is not as this run wrote it: record.last5"):
            read_spill(spills[0])
    finally:
        spills[0].write_bytes(b"".join(rows))


def test_proof_of_a_card_stage_sample(released, tmp_path):
    from stmtprod.proof import make_proof

    summary = make_proof(released["dir"], tmp_path / "proof.pdf", stage=1)
    assert summary["pieces"] > 0 and not summary["barcode_mismatches"]
    text = "".join(p.extract_text() for p in pypdf.PdfReader(tmp_path / "proof.pdf").pages)
    for pan in sample_pans():
        assert all(squash(form) not in squash(text) for form in pan_forms(pan))


def test_same_orders_same_bytes_in_any_output_folder(tmp_path):
    orders, log = subset(tmp_path, "NZ")
    first = run_cards(orders, log, tmp_path / "a", key=None, demo=True, production_date=DATE)
    second = run_cards(orders, log, tmp_path / "b", key=None, demo=True, production_date=DATE)
    assert first["run_id"] == second["run_id"] and first["state"] == second["state"] == "RELEASED"
    for kind in ("print", "manifest", "sealing"):
        a = {p.name: p.read_bytes() for p in (Path(first["run_dir"]) / "release" / kind).iterdir()}
        b = {p.name: p.read_bytes() for p in (Path(second["run_dir"]) / "release" / kind).iterdir()}
        assert a == b and a, kind
    from stmtprod.errors import UsageError

    with pytest.raises(UsageError, match="already released"):
        run_cards(orders, log, tmp_path / "a", key=None, demo=True, production_date=DATE)
    again = run_cards(orders, log, tmp_path / "a", key=None, demo=True, production_date=DATE, force=True)
    assert again["run_id"] != first["run_id"] and again["state"] == "RELEASED"


# --- no card number anywhere --------------------------------------------------------------------


def _pdf_texts(path: Path) -> list[bytes]:
    data = path.read_bytes()
    texts = [p.extract_text().encode("utf-8") for p in pypdf.PdfReader(path).pages]
    for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            texts.append(zlib.decompress(m.group(1)))
        except zlib.error:
            pass
    return texts


def _assert_no_pan(folders: list[Path], extra: list[bytes] = ()) -> int:
    needles = [form.encode() for pan in sample_pans() for form in pan_forms(pan)]
    squashed = [n.replace(b" ", b"") for n in needles]
    checked = 0
    blobs: list[tuple[str, bytes]] = [("(extra)", b) for b in extra]
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            blobs.append((str(path), path.read_bytes()))
            if path.suffix == ".pdf":
                blobs += [(f"{path} (text/streams)", t) for t in _pdf_texts(path)]
    for where, blob in blobs:
        flat = re.sub(rb"\s+", b"", blob)
        for needle, flat_needle in zip(needles, squashed):
            assert needle not in blob and flat_needle not in flat, f"card number found in {where}"
        checked += 1
    return checked


def test_no_sample_card_number_in_any_output_byte(released, fault_runs):
    folders = [released["out"]] + [r["out"] for r in fault_runs.values()]
    assert _assert_no_pan(folders) > 300
    assert list(released["out"].glob("ledger.sqlite*"))


def test_no_card_number_in_cli_output(tmp_path):
    orders, log = subset(tmp_path, "NZ")
    res = CliRunner().invoke(cards_command, ["--orders", str(orders), "--personalisation", str(log), "--out",
                                             str(tmp_path / "out"), "--demo-key", "--workers", "1", "--date",
                                             "2026-11-23", "--json"], env={"STMTPROD_CARD_KEY": None})
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["state"] == "RELEASED" and summary["key"] == "DEMO"
    assert "DEMO" in res.stderr
    _assert_no_pan([tmp_path / "out"], [res.stdout.encode(), res.stderr.encode()])


# --- the match ----------------------------------------------------------------------------------

FAULT_EXPECT = {
    # fault: (field, slot, card, carrier, words in the reason)
    "swapped": ("order", 10, "C-AU-000011", 10, "order differs"),
    "missing": ("card_id", 25, "C-NZ-000005", 25, "missing card"),
    "extra": ("card_id", 40, "C-JP-999999", 40, "extra card"),
    "wrong-name": ("embossed_name", 55, "C-JP-000025", 55, "embossed name differs"),
    "wrong-last5": ("pan_last5", 70, "C-ID-000004", 70, "last five digits differ"),
}


@pytest.mark.parametrize("fault", sorted(FAULT_EXPECT))
def test_personalisation_fault_halts_with_slot_card_and_carrier(fault_runs, fault):
    run = fault_runs[fault]
    s, run_dir = run["summary"], run["dir"]
    field, slot, card, carrier, words = FAULT_EXPECT[fault]
    assert s["state"] == "HALTED"
    halt = s["halt"]
    assert halt["step"] == "match" and halt["field"] == field
    assert (halt["slot"], halt["card"], halt["carrier"]) == (slot, card, carrier)
    assert words in halt["reason"]
    assert not (run_dir / "release").exists(), "nothing may be released for sealing"
    assert s["print_files"] == [] and s["counts"]["produced"] == 0 and s["counts"]["not_released"] == 100
    assert json.loads((run_dir / "halt.json").read_text(encoding="utf-8"))["slot"] == slot
    text = (run_dir / "halt.txt").read_text(encoding="utf-8")
    assert card in text and f"carrier   {carrier}" in text
    ledger = Ledger(run["out"])
    try:
        assert ledger.run(s["run_id"])["state"] == "HALTED"
        assert ledger.halts(s["run_id"])[-1]["slot"] == slot
    finally:
        ledger.close()


def test_swapped_cards_name_both_carriers(fault_runs):
    halt = fault_runs["swapped"]["summary"]["halt"]
    assert halt["expected"] == "C-AU-000010" and halt["found"] == "C-AU-000011" and halt["carrier_of_card"] == 11


def _carriers(n: int) -> list[Carrier]:
    return [Carrier(i, f"C-AU-{i:06d}", f"{i:05d}", f"NAME {i}", f"tok_{i:016x}", "AU-0001.pdf", i)
            for i in range(1, n + 1)]


def _log(carriers: list[Carrier]) -> list[PersonalisationEntry]:
    return [PersonalisationEntry(card_id=c.card_id, pan_last5=c.last5, embossed_name=c.embossed_name, slot=i)
            for i, c in enumerate(carriers, 1)]


def test_match_cases_at_the_ends():
    carriers = _carriers(5)
    assert [r["slot"] for r in match(carriers, _log(carriers))] == [1, 2, 3, 4, 5]
    with pytest.raises(Halt) as exc:
        match(carriers, _log(carriers)[:4])
    assert exc.value.details["slot"] == 5 and exc.value.details["carrier"] == 5 and "missing card" in exc.value.reason
    more = _log(carriers) + [PersonalisationEntry(card_id="C-AU-000009", pan_last5="00009", embossed_name="X", slot=6)]
    with pytest.raises(Halt) as exc:
        match(carriers, more)
    assert exc.value.details["slot"] == 6 and "extra card" in exc.value.reason
    twice = _log(carriers)[:3] + [_log(carriers)[2].model_copy(update={"slot": 4})] + _log(carriers)[3:]
    with pytest.raises(Halt) as exc:
        match(carriers, twice)
    assert exc.value.details["slot"] == 4 and "second time" in exc.value.reason
    renumbered = [e.model_copy(update={"slot": e.slot + 1}) for e in _log(carriers)]
    with pytest.raises(Halt) as exc:
        match(carriers, renumbered)
    assert exc.value.details["field"] == "slot"


def test_malformed_log_line_halts_without_echoing_it(tmp_path):
    orders, log = subset(tmp_path, "SG")
    pan = next(o["pan"] for o in good_orders() if o["region"] == "SG")
    lines = log.read_text(encoding="utf-8").splitlines()
    bad = json.loads(lines[2]) | {"pan": pan}
    lines[2] = json.dumps(bad)
    log.write_text("\n".join(lines) + "\n", "utf-8")
    s = run_cards(orders, log, tmp_path / "out", key=None, demo=True, production_date=DATE)
    assert s["state"] == "HALTED" and s["halt"]["step"] == "match" and s["halt"]["line"] == 3
    assert pan not in json.dumps(s) and "pan" in s["halt"]["field"]
    files = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert not any(pan.encode() in p.read_bytes() for p in files)


def test_resume_after_match_halt_releases_without_rerendering(fault_runs, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(fault_runs["wrong-name"]["out"], out)
    run_id = fault_runs["wrong-name"]["summary"]["run_id"]
    before = {p.name: p.read_bytes() for p in (out / run_id / "staging" / "print").glob("*.pdf")}
    events = []
    s = resume_cards(run_id, out, personalisation=LOG, events=lambda e, **d: events.append((e, d)))
    assert s["state"] == "RELEASED" and s["resumed"] is True
    assert [d for e, d in events if e == "render"][0]["batches"] == 0
    after = {p.name: p.read_bytes() for p in (out / run_id / "release" / "print").glob("*.pdf")}
    assert after == before
    assert resume_cards(run_id, out)["resumed"] is False


def test_card_ingest_reports_progress_as_the_statement_ingest_does(tmp_path, monkeypatch):
    """An operator running a big order file sees ingest advance: `ingest` events with bytes read of the
    file's size and orders so far, as for statements."""
    from stmtprod.cards import ingest as card_ingest

    monkeypatch.setattr(card_ingest, "PROGRESS_EVERY", 10)
    events = []
    run_cards(ORDERS, LOG, tmp_path / "out", key=None, demo=True, production_date=dt.date(2026, 11, 23),
              events=lambda e, **d: events.append((e, d)))
    seen = [d for e, d in events if e == "ingest"]
    lines = len(ORDERS.read_bytes().splitlines())
    assert len(seen) == lines // 10
    assert all(0 < d["done"] < d["total"] == ORDERS.stat().st_size for d in seen)
    assert [d["records"] for d in seen] == sorted(d["records"] for d in seen) and seen[-1]["records"] >= lines - 10


# --- keys ---------------------------------------------------------------------------------------


def test_refuses_to_run_without_a_key_unless_demo(tmp_path):
    orders, log = subset(tmp_path, "NZ")
    with pytest.raises(ConfigError, match="no card tokenisation key"):
        run_cards(orders, log, tmp_path / "out", key=None, demo=False)
    assert not (tmp_path / "out").exists()
    with pytest.raises(ConfigError, match="both a card key and demo"):
        run_cards(orders, log, tmp_path / "out", key=b"k" * 32, demo=True)
    with pytest.raises(ConfigError, match="too short"):
        card_key(b"short", demo=False)
    res = CliRunner().invoke(cards_command, ["--orders", str(orders), "--personalisation", str(log), "--out",
                                             str(tmp_path / "out")], env={"STMTPROD_CARD_KEY": None,
                                                                          "STMTPROD_DEMO": None})
    assert res.exit_code == 3 and "STMTPROD_CARD_KEY" in res.stderr


def test_key_from_environment_or_file(tmp_path):
    key, demo = resolve_key(None, False, {"STMTPROD_CARD_KEY": "00112233445566778899aabbccddeeff"})
    assert key == bytes.fromhex("00112233445566778899aabbccddeeff") and demo is False
    (tmp_path / "card.key").write_text("a text key of enough length\n")
    assert resolve_key(tmp_path / "card.key", False, {}) == (b"a text key of enough length", False)
    assert resolve_key(None, False, {"STMTPROD_DEMO": "1"}) == (None, True)
    with pytest.raises(ConfigError, match="missing"):
        resolve_key(tmp_path / "nope.key", False, {})


def test_keyed_run_tokens_differ_from_demo(tmp_path):
    orders, log = subset(tmp_path, "ID")
    good_log = log.read_text(encoding="utf-8")
    lines = good_log.splitlines()
    lines[0], lines[1] = lines[1], lines[0]
    log.write_text("\n".join(lines) + "\n", "utf-8")
    secret = bytes(range(32))
    s = run_cards(orders, log, tmp_path / "out", key=secret, demo=False, production_date=DATE)
    assert s["state"] == "HALTED" and s["key"] == "KEYED" and s["halt"]["field"] == "order"
    rows = manifest(Path(s["run_dir"]), "staging")
    by_id = {o["card_id"]: o["pan"] for o in good_orders()}
    assert all(r["token"] == CardKey(secret, False).token(by_id[r["card_id"]]) for r in rows)
    assert all(r["token"] != CardKey(DEMO_KEY, True).token(by_id[r["card_id"]]) for r in rows)
    log.write_text(good_log, "utf-8")
    with pytest.raises(ConfigError, match="not the one"):
        resume_cards(s["run_id"], tmp_path / "out", key=b"another key of 16+ bytes")
    with pytest.raises(ConfigError, match="no card tokenisation key"):
        resume_cards(s["run_id"], tmp_path / "out")
    done = resume_cards(s["run_id"], tmp_path / "out", key=secret)
    assert done["state"] == "RELEASED" and done["key"] == "KEYED"
    assert "secret" not in repr(CardKey(secret, False)) and secret.hex() not in repr(CardKey(secret, False))


# --- validation ---------------------------------------------------------------------------------


def _order(**changes) -> dict:
    return good_orders()[0] | changes


@pytest.mark.parametrize("changes, field", [
    ({"pan": "378282246310006"}, "pan"),
    ({"pan": 378282246310005}, "pan"),
    ({"pan": "3782 822463 10005"}, "pan"),
    ({"expiry": "2029-13"}, "expiry"),
    ({"expiry": "11/29"}, "expiry"),
    ({"embossed_name": "Jane Citizen"}, "embossed_name"),
    ({"embossed_name": "A" * 27}, "embossed_name"),
    ({"reason": "lost"}, "reason"),
])
def test_order_validation_never_echoes_the_number(changes, field):
    from pydantic import ValidationError

    from stmtprod.cards.ingest import _reject_from

    with pytest.raises(ValidationError) as exc:
        CardOrder.model_validate(_order(**changes))
    rej = _reject_from(exc.value)
    assert rej.field == field
    assert "3782822463" not in rej.reason and "37828224631" not in rej.reason


def test_card_number_in_another_field_is_refused(tmp_path):
    order = _order()
    bad = order | {"card_id": "C-JP-000001", "address": order["address"] | {"lines": [f"Ref {order['pan']}"]}}
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as exc:
        CardOrder.model_validate(bad)
    assert order["pan"] not in str(exc.value.errors()[0]["msg"])


def test_carrier_texts_are_validated(tmp_path):
    text = (ROOT / "layouts" / "cards" / "AU.toml").read_text(encoding="utf-8")
    (tmp_path / "AU.toml").write_text(text.replace('card_ending = "Card ending {last5}"', 'card_ending = "Card"'),
                                      "utf-8")
    with pytest.raises(ConfigError) as exc:
        load_carrier_texts(tmp_path / "AU.toml")
    assert "AU.toml" in str(exc.value) and "card_ending" in str(exc.value)


def test_carrier_welcome_kit_must_be_in_the_catalog(tmp_path):
    from stmtprod.cards.texts import check_against
    from stmtprod.layout import load_layout

    text = (ROOT / "layouts" / "cards" / "NZ.toml").read_text(encoding="utf-8")
    (tmp_path / "NZ.toml").write_text(text.replace('welcome_kit = ["WELCOME", "ESTMT"]',
                                                   'welcome_kit = ["WELCOME", "NOPE"]'), "utf-8")
    catalog, _ = load_catalog(ROOT / "inserts" / "catalog.toml")
    with pytest.raises(ConfigError, match="NOPE"):
        check_against(load_carrier_texts(tmp_path / "NZ.toml"), load_layout(ROOT / "layouts" / "NZ.toml"), catalog,
                      tmp_path / "NZ.toml")


# --- inspection through the QA CLI ---------------------------------------------------------------


def test_manual_inspection_through_the_qa_cli(tmp_path):
    from stmtprod.cli.qa import qa

    config = (ROOT / "inspection.toml").read_text(encoding="utf-8")
    manual = config.replace('[stage.1]\nname = "composition"\naql = 0.065\nlevel = "II"\nmode = "auto"',
                            '[stage.1]\nname = "composition"\naql = 0.065\nlevel = "II"\nmode = "manual"')
    assert manual != config
    (tmp_path / "inspection.toml").write_text(manual, "utf-8")
    orders, log = subset(tmp_path, "MY")
    s = run_cards(orders, log, tmp_path / "out", key=None, demo=True, production_date=DATE,
                  inspection_file=tmp_path / "inspection.toml")
    assert s["state"] == "INSPECTING" and s["waiting"]["lots"] == ["CARDS-MY"]
    run_dir = Path(s["run_dir"])
    stage = json.loads((run_dir / "inspection" / "stage1.json").read_text(encoding="utf-8"))
    assert stage["lots"]["CARDS-MY"]["sample"]
    res = CliRunner().invoke(qa, ["record", str(run_dir), "--stage", "1", "--accept-clean", "--inspector", "amy",
                                  "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["results"][0]["lot"] == "CARDS-MY"
    done = resume_cards(s["run_id"], tmp_path / "out")
    assert done["state"] == "RELEASED", done.get("halt")
