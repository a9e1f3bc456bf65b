"""Tests of the cycle-extract generator, with expectations written out here independently of it.

The rules below are taken from formats.md (and the generator's brief), not imported from
stmtprod.generate, so a mistake there does not silently agree with itself here.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import re
import tracemalloc
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pytest

from stmtprod.generate import extract_lines, generate_accounts, write_extract

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "cycle.jsonl"

KEYS = [
    "account_id", "region", "product", "language", "delivery", "name", "address", "card_last5",
    "period_start", "period_end", "due_date", "currency", "previous_balance", "payments", "credits",
    "fees", "interest", "new_balance", "minimum_due", "transactions", "segments", "points",
]  # fmt: skip
ADDRESS_KEYS = ["lines", "city", "state", "postcode", "country"]
TX_KEYS = ["date", "description", "amount"]
REGIONS = {"AU", "NZ", "JP", "MY", "ID", "SG", "HK"}
CURRENCY = {"AU": "AUD", "NZ": "NZD", "JP": "JPY", "MY": "MYR", "ID": "IDR", "SG": "SGD", "HK": "HKD"}
WHOLE = {"JPY", "IDR"}
POSTCODE = {
    "AU": r"\d{4}",
    "NZ": r"\d{4}",
    "JP": r"\d{3}-\d{4}",
    "MY": r"\d{5}",
    "ID": r"\d{5}",
    "SG": r"\d{6}",
    "HK": r"",
}
AU_STATES = {"NSW", "VIC", "QLD", "WA", "SA", "TAS", "ACT", "NT"}
LANGUAGES = {
    "AU": {"en"},
    "NZ": {"en"},
    "SG": {"en"},
    "JP": {"ja", "en"},
    "HK": {"zh-Hant", "en"},
    "MY": {"ms", "en"},
    "ID": {"id", "en"},
}
PRODUCTS = {"classic", "gold", "platinum", "business"}
SEGMENTS = {"travel", "dining", "shopping", "new_member", "premium", "student", "online"}
TOP_AMOUNTS = ["previous_balance", "payments", "credits", "fees", "interest", "new_balance", "minimum_due"]
SIGNS = {"previous_balance": 1, "payments": -1, "credits": -1, "fees": 1, "interest": 1}

# Which rule each kind of deliberately bad record must break (and no other).
INTENDED = {
    "balance_mismatch": "balance",
    "float_amount": "amount_type",
    "country_mismatch": "country",
    "unknown_region": "region",
    "jpy_decimals": "amount_scale",
    "missing_name": "missing_field",
    "invalid_json": "json",
    "bad_postcode": "postcode",
    "bad_date": "date",
    "currency_mismatch": "currency",
}

# The bundled sample's bad lines (1-based line number, account id, kind), as documented in
# samples/README.md.
SAMPLE_BAD = [
    (16, "AU0000000016", "balance_mismatch"),
    (46, "SG0000000046", "float_amount"),
    (76, "NZ0000000076", "country_mismatch"),
    (106, "XX0000000106", "unknown_region"),
    (136, "JP0000000136", "jpy_decimals"),
    (166, "ID0000000166", "missing_name"),
    (196, "HK0000000196", "invalid_json"),
    (226, "JP0000000226", "bad_postcode"),
    (256, "MY0000000256", "bad_date"),
    (286, "AU0000000286", "currency_mismatch"),
]


def _date(text):
    if not isinstance(text, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def violations(line: str) -> set[str]:
    """Every formats.md rule the line breaks (an empty set for a valid record)."""
    try:
        rec = json.loads(line)
    except json.JSONDecodeError:
        return {"json"}
    if not isinstance(rec, dict):
        return {"json"}
    bad: set[str] = set()
    if any(k not in rec for k in KEYS) or any(k not in rec.get("address", {}) for k in ADDRESS_KEYS):
        bad.add("missing_field")
    if set(rec) - set(KEYS):
        bad.add("extra_field")
    region = rec.get("region")
    known = region in REGIONS
    if not known:
        bad.add("region")
    address = rec.get("address", {})
    if not re.fullmatch(r"[A-Z]{2}\d{10}", str(rec.get("account_id", ""))) or rec["account_id"][:2] != region:
        bad.add("account_id")
    if known:
        if address.get("country") != region:
            bad.add("country")
        if rec.get("currency") != CURRENCY[region]:
            bad.add("currency")
        if not re.fullmatch(POSTCODE[region], str(address.get("postcode"))):
            bad.add("postcode")
        if rec.get("language") not in LANGUAGES[region]:
            bad.add("language")
        if region == "AU" and address.get("state") not in AU_STATES:
            bad.add("state")
        if region in ("HK", "NZ", "SG") and address.get("state") != "":
            bad.add("state")
    if "dpid" in address and (region != "AU" or not re.fullmatch(r"[0-9]{8}", str(address["dpid"]))):
        bad.add("dpid")  # optional, Australian addresses only, 8 digits
    lines = address.get("lines")
    if not (isinstance(lines, list) and 1 <= len(lines) <= 3 and all(isinstance(x, str) and x for x in lines)):
        bad.add("address_lines")
    if not isinstance(rec.get("name", ""), str) or ("name" in rec and not rec["name"].strip()):
        bad.add("name")
    if rec.get("product") not in PRODUCTS or rec.get("delivery") not in ("paper", "paperless"):
        bad.add("enum")
    segs = rec.get("segments")
    if not (isinstance(segs, list) and len(segs) <= 3 and len(set(segs)) == len(segs) and set(segs) <= SEGMENTS):
        bad.add("segments")
    if not (type(rec.get("points")) is int and rec["points"] >= 0):
        bad.add("points")
    if not re.fullmatch(r"\d{5}", str(rec.get("card_last5"))):
        bad.add("card_last5")

    # Amounts: strings, scale of the market's currency, the balance equation, the signs.
    txs = rec.get("transactions", [])
    raw = {k: rec.get(k) for k in TOP_AMOUNTS}
    raw.update({f"tx{i}": t.get("amount") for i, t in enumerate(txs)})
    values: dict[str, Decimal] = {}
    whole = CURRENCY.get(region) in WHOLE if known else rec.get("currency") in WHOLE
    for key, value in raw.items():
        if isinstance(value, bool) or value is None:
            bad.add("amount_type")
            continue
        if not isinstance(value, str):
            bad.add("amount_type")
            value = repr(value)  # a JSON number still has a value, for the equation
        elif not re.fullmatch(r"-?\d+" if whole else r"-?\d+\.\d{2}", value):
            bad.add("amount_scale")
        try:
            values[key] = Decimal(value)
        except InvalidOperation:
            bad.add("amount_type")
    if len(values) == len(raw):
        total = sum(
            (values[k] for k in ("previous_balance", "payments", "credits", "fees", "interest")), Decimal(0)
        ) + sum((values[f"tx{i}"] for i in range(len(txs))), Decimal(0))
        if total != values["new_balance"]:
            bad.add("balance")
        for key, sign in SIGNS.items():
            if values[key] * sign < 0:
                bad.add("sign")
        if not Decimal(0) <= values["minimum_due"] <= max(values["new_balance"], Decimal(0)):
            bad.add("minimum_due")
        if any(values[f"tx{i}"] == 0 for i in range(len(txs))):
            bad.add("zero_amount")

    # Dates: valid, ordered, transactions inside the period and sorted.
    start, end, due = (_date(rec.get(k)) for k in ("period_start", "period_end", "due_date"))
    tx_dates = [_date(t.get("date")) for t in txs]
    if None in (start, end, due) or None in tx_dates:
        bad.add("date")
    else:
        if not start < end < due:
            bad.add("date_order")
        if tx_dates != sorted(tx_dates) or any(not start <= d <= end for d in tx_dates):
            bad.add("date_order")
    if any(list(t) != TX_KEYS or not isinstance(t["description"], str) or not t["description"] for t in txs):
        bad.add("transaction_shape")
    return bad


def _lines(path: Path) -> list[str]:
    data = path.read_bytes()
    assert data.endswith(b"\n") and b"\r" not in data
    return data.decode("utf-8").split("\n")[:-1]


# ------------------------------------------------------------------------------------------------


def test_determinism_identical_bytes(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    ca = write_extract(a, 1500, seed=7, bad=12)
    cb = write_extract(b, 1500, seed=7, bad=12)
    assert ca == cb
    assert a.read_bytes() == b.read_bytes()
    # A different seed gives a different extract; the generator stream is reproducible too.
    write_extract(tmp_path / "c.jsonl", 1500, seed=8, bad=12)
    assert (tmp_path / "c.jsonl").read_bytes() != a.read_bytes()
    assert list(generate_accounts(50, 99)) == list(generate_accounts(50, 99))


def test_key_order_and_json_shape():
    rec = next(generate_accounts(1, 1))
    assert list(rec) == KEYS
    assert list(rec["address"]) in (ADDRESS_KEYS, ADDRESS_KEYS + ["dpid"])
    text = json.dumps(rec, ensure_ascii=False)
    assert json.loads(text) == rec


def test_generated_records_satisfy_formats_rules():
    seen_ids = set()
    n = 0
    for rec in generate_accounts(4000, 31):
        line = json.dumps(rec, ensure_ascii=False)
        assert violations(line) == set(), (rec["account_id"], violations(line))
        assert list(rec) == KEYS and list(rec["address"]) in (ADDRESS_KEYS, ADDRESS_KEYS + ["dpid"])
        assert rec["period_start"] == "2026-10-21" and rec["period_end"] == "2026-11-20"
        assert rec["due_date"] == "2026-12-10"
        assert rec["account_id"] not in seen_ids
        seen_ids.add(rec["account_id"])
        n += 1
    assert n == 4000


def test_cycle_end_parameter():
    rec = next(generate_accounts(1, 5, cycle_end=date(2027, 3, 1)))
    assert (rec["period_start"], rec["period_end"], rec["due_date"]) == ("2027-01-30", "2027-03-01", "2027-03-21")
    assert violations(json.dumps(rec, ensure_ascii=False)) == set()


def test_mix_and_shares_over_5000():
    regions = collections.Counter()
    paperless = zero_tx = many_tx = markup = 0
    tx_counts = []
    refunds = purchases = 0
    langs = collections.defaultdict(collections.Counter)
    for rec in generate_accounts(5000, 2026):
        regions[rec["region"]] += 1
        langs[rec["region"]][rec["language"]] += 1
        paperless += rec["delivery"] == "paperless"
        n = len(rec["transactions"])
        tx_counts.append(n)
        zero_tx += n == 0
        many_tx += n >= 60
        assert n <= 150
        markup += any(c in rec["name"] for c in "&<>")
        for t in rec["transactions"]:
            if t["amount"].startswith("-"):
                refunds += 1
            else:
                purchases += 1
    share = {r: regions[r] / 5000 for r in REGIONS}
    expected = {"JP": 0.30, "AU": 0.20, "HK": 0.12, "MY": 0.10, "ID": 0.10, "SG": 0.10, "NZ": 0.08}
    for r, p in expected.items():
        assert abs(share[r] - p) < 0.025, (r, share[r])
    assert 0.06 <= paperless / 5000 <= 0.10
    assert 0.03 <= zero_tx / 5000 <= 0.07
    assert 0.015 <= many_tx / 5000 <= 0.045
    mid = sum(3 <= n <= 25 for n in tx_counts) / 5000
    assert mid > 0.6
    assert 5 <= markup <= 60  # about 1 in 200
    assert 0 < refunds < purchases * 0.1
    assert langs["JP"]["ja"] > langs["JP"]["en"] > 0
    assert langs["HK"]["zh-Hant"] > langs["HK"]["en"] > 0
    assert langs["MY"]["ms"] > 0 and langs["MY"]["en"] > 0
    assert langs["ID"]["id"] > langs["ID"]["en"] > 0


def test_market_realism():
    kanji = re.compile(r"[\u4e00-\u9fff]")
    kana = re.compile(r"[\u30a0-\u30ff\u3040-\u309f]")
    by = collections.defaultdict(list)
    for rec in generate_accounts(3000, 11):
        by[rec["region"]].append(rec)
    jp = [r for r in by["JP"] if "<" not in r["name"]]
    assert all(kanji.search(r["name"]) and " " in r["name"] for r in jp)
    assert all(kanji.search(r["address"]["state"]) and r["address"]["state"][-1] in "都道府県" for r in by["JP"])
    jp_desc = [t["description"] for r in by["JP"] for t in r["transactions"]]
    assert sum(bool(kana.search(d) or kanji.search(d)) for d in jp_desc) > len(jp_desc) / 2
    hk_names = [r["name"] for r in by["HK"]]
    assert sum(bool(kanji.search(n)) for n in hk_names) > len(hk_names) / 2
    assert any(re.fullmatch(r"[A-Z][a-z]+( [A-Z][a-z]+)+", n) for n in hk_names)
    assert all(r["address"]["postcode"] == "" and r["address"]["state"] == "" for r in by["HK"])
    my_names = [r["name"] for r in by["MY"]]
    assert any(" bin " in n for n in my_names) and any(" binti " in n for n in my_names)
    assert any(" a/l " in n or " a/p " in n for n in my_names)
    assert all(r["address"]["city"] == "Singapore" for r in by["SG"])
    assert {r["address"]["state"] for r in by["AU"]} <= AU_STATES
    assert {r["address"]["state"] for r in by["ID"]} & {"DKI Jakarta", "Jawa Barat"}
    assert {r["address"]["state"] for r in by["MY"]} & {"Selangor", "Kuala Lumpur"}
    assert {len(r["address"]["lines"]) for rs in by.values() for r in rs} == {1, 2, 3}
    # Magnitudes: IDR balances in the hundreds of thousands to millions; JPY in thousands and up.
    med = {}
    for region, rs in by.items():
        bal = sorted(Decimal(r["new_balance"]) for r in rs)
        med[region] = bal[len(bal) // 2]
    assert Decimal(100_000) <= med["ID"] <= Decimal(100_000_000)
    assert Decimal(5_000) <= med["JP"] <= Decimal(1_000_000)
    for region in ("AU", "NZ", "SG"):
        assert Decimal(50) <= med[region] <= Decimal(10_000)


def test_bad_records_each_break_exactly_their_rule(tmp_path):
    count, bad = 2000, 25
    path = tmp_path / "bad.jsonl"
    result = write_extract(path, count, seed=424242, bad=bad)
    lines = _lines(path)
    assert len(lines) == count == result["records"]
    assert result["bad"] == bad
    found = collections.Counter()
    invalid = 0
    paperless = 0
    for text in lines:
        v = violations(text)
        if v:
            invalid += 1
            assert len(v) == 1, (text[:120], v)
            found[v.pop()] += 1
        else:
            paperless += json.loads(text)["delivery"] == "paperless"
    assert invalid == bad
    assert paperless == result["paperless"]
    # 25 bad records cycle through the 10 kinds: 3, 3, 3, 3, 3, 2, 2, 2, 2, 2.
    assert sorted(found.values()) == [2] * 5 + [3] * 5
    assert set(found) == set(INTENDED.values())
    # extract_lines labels each bad line with its kind, and the label matches the rule it breaks.
    for text, record, kind in extract_lines(count, 424242, bad):
        if kind is None:
            assert violations(text) == set() and record is not None
        else:
            assert violations(text) == {INTENDED[kind]} and record is None


def test_good_records_do_not_depend_on_bad(tmp_path):
    clean = _lines(_write(tmp_path / "clean.jsonl", 400, 3, 0))
    dirty = _lines(_write(tmp_path / "dirty.jsonl", 400, 3, 10))
    assert len(clean) == len(dirty) == 400
    diff = [i for i, (a, b) in enumerate(zip(clean, dirty, strict=True)) if a != b]
    assert diff == [20 + 40 * i for i in range(10)]  # evenly spread: (2i+1)*400 // 20


def _write(path: Path, count: int, seed: int, bad: int) -> Path:
    write_extract(path, count, seed, bad=bad)
    return path


def test_bad_out_of_range_rejected(tmp_path):
    with pytest.raises(ValueError):
        write_extract(tmp_path / "x.jsonl", 5, 1, bad=6)
    assert not list(tmp_path.iterdir())  # no temp file left behind


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text("old\n")
    result = write_extract(path, 50, 1)
    assert result == {"records": 50, "paperless": result["paperless"], "bad": 0}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]
    assert len(_lines(path)) == 50


def test_bundled_sample_is_exactly_reproducible(tmp_path):
    fresh = tmp_path / "cycle.jsonl"
    result = write_extract(fresh, 300, seed=2026, bad=10)
    assert result["records"] == 300 and result["bad"] == 10
    assert SAMPLE.read_bytes() == fresh.read_bytes()


def test_bundled_sample_bad_lines_match_readme():
    lines = _lines(SAMPLE)
    assert len(lines) == 300
    bad_at = {}
    for no, text in enumerate(lines, 1):
        v = violations(text)
        if v:
            assert len(v) == 1
            bad_at[no] = v.pop()
    assert bad_at == {no: INTENDED[kind] for no, _, kind in SAMPLE_BAD}
    for no, account_id, _ in SAMPLE_BAD:
        assert f'"account_id":"{account_id}"' in lines[no - 1]
    readme = (SAMPLE.parent / "README.md").read_text(encoding="utf-8")
    for no, account_id, _ in SAMPLE_BAD:
        assert re.search(rf"^\|\s*{no}\s*\|\s*`?{account_id}`?\s*\|", readme, re.M), no


def _volume_count() -> int:
    # Same convention as conftest.volume(): STMTPROD_VOLUME=small (CI) runs a smaller extract.
    return 10_000 if os.environ.get("STMTPROD_VOLUME", "full") == "small" else 200_000


@pytest.mark.volume
def test_streaming_constant_memory():
    count = _volume_count()
    bound = 8 * 2**20
    digest = hashlib.sha256()
    tracemalloc.start()
    try:
        n = size = 0
        for text, _, _ in extract_lines(count, 77, bad=count // 1000):
            data = text.encode("utf-8")
            digest.update(data)
            n += 1
            size += len(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n == count
    assert size > 2 * bound  # the extract is large enough that holding it would break the bound
    assert peak < bound, f"peak {peak / 2**20:.1f} MiB"  # well under 50 MB
