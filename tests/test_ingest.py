"""Ingest: every line accounted for; rejects named by line, field and reason; the reject threshold."""
from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path


from stmtprod.config import BuildOptions
from stmtprod.ingest.models import StatementRecord
from stmtprod.statements.line import build

GOOD = {
    "account_id": "JP0000012345", "region": "JP", "product": "gold", "language": "ja", "delivery": "paper",
    "name": "山田 太郎",
    "address": {"lines": ["虎ノ門4-1-1", "神谷町トラストタワー"], "city": "港区", "state": "東京都",
                "postcode": "105-0001", "country": "JP"},
    "card_last5": "41005", "period_start": "2026-10-21", "period_end": "2026-11-20", "due_date": "2026-12-10",
    "currency": "JPY", "previous_balance": "120000", "payments": "-120000", "credits": "0", "fees": "0",
    "interest": "0", "new_balance": "43500", "minimum_due": "4350",
    "transactions": [{"date": "2026-10-22", "description": "ANA 羽田空港", "amount": "38000"},
                     {"date": "2026-11-02", "description": "STARBUCKS SHIBUYA", "amount": "5500"}],
    "segments": ["travel", "dining"], "points": 4350,
}


def variant(**changes) -> dict:
    rec = copy.deepcopy(GOOD)
    for path, value in changes.items():
        target = rec
        keys = path.split("__")
        for k in keys[:-1]:
            target = target[int(k)] if k.isdigit() else target[k]
        if value is KeyError:
            del target[keys[-1]]
        else:
            target[keys[-1]] = value
    return rec


def test_formats_md_example_is_accepted():
    rec = StatementRecord.model_validate_json(json.dumps(GOOD))
    assert str(rec.new_balance) == "43500" and rec.new_charges == 43500


CASES = [
    (variant(new_balance="43501"), "new_balance", "does not equal"),
    (variant(payments=-120000), "payments", "decimal string"),
    (variant(transactions__0__amount=38000.0), "transactions.0.amount", "decimal string"),
    (variant(address__country="AU"), "address.country", "does not equal region"),
    (variant(region="XX"), "region", "'AU'"),
    (variant(currency="USD"), "currency", "'JPY'"),
    (variant(currency="AUD"), "currency", "currency of region JP"),
    (variant(fees="0.50", new_balance="43500.50"), "fees", "0 decimal places"),
    (variant(name=KeyError), "name", "missing"),
    (variant(due_date="2026-02-30"), "due_date", "date"),
    (variant(address__postcode="1050001"), "address.postcode", "does not match JP shape"),
    (variant(delivery="email"), "delivery", "'paper'"),
    (variant(card_last5="4100"), "card_last5", "pattern"),
    (variant(name="Bad\x07Name"), "name", "control characters"),
    (variant(unexpected="x"), "unexpected", "Extra inputs"),
    (variant(period_start="2026-11-21"), "period_start", "out of order"),
]


def _unique(lines: list[str]) -> list[str]:
    """Each line's copy of GOOD's account id made its own (`JP` + the 1-based line number), since
    copies of one account are duplicates (tests/test_records.py)."""
    return [line.replace(GOOD["account_id"], f"JP{n:010d}") for n, line in enumerate(lines, 1)]


def _run(tmp_path: Path, lines: list[str], **options) -> dict:
    tmp_path.mkdir(parents=True, exist_ok=True)
    extract = tmp_path / "extract.jsonl"
    extract.write_text("\n".join(_unique(lines)) + "\n", encoding="utf-8")
    return build(BuildOptions(input=extract, out=tmp_path / "out", workers=1, **options))


def test_each_kind_of_bad_record_is_quarantined_with_its_field(tmp_path):
    lines = [json.dumps(GOOD, ensure_ascii=False)] * 3 + [json.dumps(c[0], ensure_ascii=False) for c in CASES]
    lines.append('{"account_id": "JP1", "region": "JP", truncated')
    summary = _run(tmp_path, lines, reject_threshold=1.0)
    rows = [json.loads(x) for x in Path(summary["quarantine_file"]).read_text(encoding="utf-8").splitlines()]
    assert summary["counts"]["quarantined"] == len(CASES) + 1 == len(rows)
    for row, (_rec, field, reason) in zip(rows, CASES):
        assert row["field"] == field, row
        assert reason in row["reason"], row
        assert row["account_id"] == f"JP{row['line']:010d}"
    assert rows[-1]["line"] == len(lines) and rows[-1]["field"] == "(record)" and rows[-1]["account_id"] is None
    assert [r["line"] for r in rows] == list(range(4, len(lines) + 1))
    assert summary["counts"]["produced"] == 3


# Each way an amount is refused, with the exact row an operator reads (GOOD is in JPY: no places).
# The "rule" rows come from the cross-field check; the others from the amount itself.
NOT_PLAIN = ("is not a plain decimal string: ASCII digits, an optional leading minus and a decimal point "
             "with digits on both sides")
MONEY_CASES = [
    (variant(payments=-120000), "payments", "field", "amount must be a decimal string, not int"),
    (variant(fees=0.5), "fees", "field", "amount must be a decimal string, not float"),
    (variant(transactions__1__amount=5500.0), "transactions.1.amount", "field",
     "amount must be a decimal string, not float"),
    (variant(fees=None), "fees", "field", "amount must be a decimal string, not NoneType"),
    (variant(fees=True), "fees", "field", "amount must be a decimal string, not bool"),
    (variant(fees=["0"]), "fees", "field", "amount must be a decimal string, not list"),
    (variant(fees="1e3"), "fees", "field", "amount '1e3' is not a plain decimal number"),
    (variant(interest="0E+2"), "interest", "field", "amount '0E+2' is not a plain decimal number"),
    (variant(fees="NaN"), "fees", "field", "amount 'NaN' is not a plain decimal number"),
    (variant(credits="-Infinity"), "credits", "field", "amount '-Infinity' is not a plain decimal number"),
    (variant(fees=" 0"), "fees", "field", "amount ' 0' is not a plain decimal string"),
    (variant(transactions__0__amount="38000\u00a0"), "transactions.0.amount", "field",
     "amount '38000\\xa0' is not a plain decimal string"),
    (variant(fees=""), "fees", "field", "amount '' is not a plain decimal string"),
    (variant(fees="1,000"), "fees", "field", "amount '1,000' is not a decimal number"),
    (variant(fees="--1"), "fees", "field", "amount '--1' is not a decimal number"),
    # Read by Decimal, but not how formats.md writes an amount: an upstream fault, not a number.
    *((variant(**{key: value}), key.replace("__", "."), "field", f"amount {value!r} {NOT_PLAIN}")
      for key, value in (("fees", "+1"), ("interest", "1_000"), ("fees", "0."), ("credits", "\uff10"),
                         ("transactions__0__amount", "\u0663\u0668\u0660\u0660\u0660"))),
    (variant(transactions__0__amount="38000.5"), "transactions.0.amount", "rule",
     "transactions.0.amount 38000.5 must have exactly 0 decimal places in JPY"),
    (variant(minimum_due="4350.00"), "minimum_due", "rule", "minimum_due 4350.00 must have exactly 0 decimal places in JPY"),
]


def test_each_refused_amount_is_quarantined_with_its_exact_reason(tmp_path):
    """Amounts are validated in pydantic-core where they are plain, and in Python where they are
    not; the reasons must read as one validator's would, with no trace of the two paths."""
    lines = [json.dumps(GOOD, ensure_ascii=False)] + [json.dumps(c[0], ensure_ascii=False) for c in MONEY_CASES]
    summary = _run(tmp_path, lines, reject_threshold=1.0)
    rows = [json.loads(x) for x in Path(summary["quarantine_file"]).read_text(encoding="utf-8").splitlines()]
    assert [(r["line"], r["field"], r["kind"], r["reason"]) for r in rows] == [
        (n, field, kind, reason) for n, (_rec, field, kind, reason) in enumerate(MONEY_CASES, 2)]
    assert summary["counts"]["produced"] == 1


def test_paperless_is_suppressed_and_counted(tmp_path):
    summary = _run(tmp_path, [json.dumps(GOOD), json.dumps(variant(delivery="paperless"))])
    assert summary["counts"] == {"input": 2, "produced": 1, "quarantined": 0, "suppressed": 1,
                                 "sheets": 1, "not_released": 0}
    assert summary["suppressed_by_reason"] == {"paperless": 1}


def test_region_selection_is_accounted_as_suppressed(tmp_path):
    au = variant(account_id="AU0000000001", region="AU", currency="AUD", name="Jane Citizen",
                 address={"lines": ["1 Martin Place"], "city": "Sydney", "state": "NSW", "postcode": "2000",
                          "country": "AU"},
                 previous_balance="0.00", payments="0.00", credits="0.00", fees="0.00", interest="0.00",
                 new_balance="10.00", minimum_due="10.00",
                 transactions=[{"date": "2026-11-01", "description": "Cafe", "amount": "10.00"}])
    summary = _run(tmp_path, [json.dumps(GOOD), json.dumps(au)], regions=("JP",))
    assert summary["regions"] == {"JP": 1}
    assert summary["suppressed_by_reason"] == {"region not selected": 1}
    assert summary["reconciled"]


def test_text_the_layout_font_cannot_print_is_quarantined(tmp_path):
    au = variant(account_id="AU0000000001", region="AU", currency="AUD", name="陳大文",
                 address={"lines": ["1 Martin Place"], "city": "Sydney", "state": "NSW", "postcode": "2000",
                          "country": "AU"},
                 previous_balance="0.00", payments="0.00", credits="0.00", fees="0.00", interest="0.00",
                 new_balance="0.00", minimum_due="0.00", transactions=[])
    summary = _run(tmp_path, [json.dumps(GOOD)] * 20 + [json.dumps(au, ensure_ascii=False)])
    row = json.loads(Path(summary["quarantine_file"]).read_text(encoding="utf-8"))
    assert row["field"] == "name" and "U+9673" in row["reason"] and row["kind"] == "glyph"


def test_rejects_above_the_threshold_halt_the_run_and_release_nothing(tmp_path):
    lines = [json.dumps(GOOD)] * 18 + [json.dumps(variant(new_balance="1"))] * 2
    summary = _run(tmp_path, lines)
    assert summary["state"] == "HALTED" and "threshold" in summary["halt"]["reason"]
    run_dir = Path(summary["run_dir"])
    assert not (run_dir / "release").exists() and summary["print_files"] == []
    assert json.loads((run_dir / "run.json").read_text())["state"] == "HALTED"
    assert summary["counts"]["input"] == 20 and summary["reconciled"]
    lenient = _run(tmp_path / "again", lines, reject_threshold=0.10)
    assert lenient["state"] == "RELEASED" and lenient["counts"]["produced"] == 18


def test_cli_exit_codes_halted_usage_and_configuration(tmp_path):
    extract = tmp_path / "x.jsonl"
    extract.write_text("\n".join(_unique([json.dumps(GOOD), json.dumps(variant(new_balance="1"))])) + "\n")
    base = [sys.executable, "-m", "stmtprod", "build", "--input", str(extract), "--workers", "1"]
    halted = subprocess.run(base + ["--out", str(tmp_path / "a"), "--json"], capture_output=True, text=True)
    assert halted.returncode == 4
    assert json.loads(halted.stdout.splitlines()[-1])["state"] == "HALTED"
    usage = subprocess.run(base + ["--out", str(tmp_path / "b"), "--batch-size", "0"], capture_output=True, text=True)
    assert usage.returncode == 2
    layouts = tmp_path / "layouts"
    layouts.mkdir()
    root = Path(__file__).resolve().parent.parent / "layouts"
    for f in root.glob("*.toml"):
        (layouts / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    broken = (layouts / "SG.toml").read_text(encoding="utf-8").replace("narrow_bar_mm = 0.33", "narrow_bar_mm = 0.1")
    (layouts / "SG.toml").write_text(broken, encoding="utf-8")
    config = subprocess.run(base + ["--out", str(tmp_path / "c"), "--layouts", str(layouts)],
                            capture_output=True, text=True)
    assert config.returncode == 3
    assert "SG.toml" in config.stderr and "barcode.narrow_bar_mm" in config.stderr


def test_packed_presort_keys_sort_as_the_postcode_account_line_tuples():
    """The planner sorts packed keys as bytes; that order must be (postcode, account id, input line)."""
    import random

    from stmtprod.plan import Accepted

    rng = random.Random(3)
    alphabet = ["1", "2", "10", "100", "A", "a", "Z", "é", "東", "〒", " ", "-"]
    rows = [("".join(rng.choices(alphabet, k=rng.randint(0, 4))), "".join(rng.choices(alphabet, k=rng.randint(1, 5))),
             rng.randint(1, 10**7), rng.randint(0, 2**40), rng.randint(0, 300)) for _ in range(3000)]
    rows += [("123", "X", 5, 0, 0), ("1234", "X", 4, 0, 0), ("123", "XY", 3, 0, 0), ("123", "X", 2, 0, 0)]
    packed = sorted(Accepted.pack((p, a), line, offset, which) for p, a, line, offset, which in rows)
    assert [Accepted.unpack(k)[0] for k in packed] == [r[2] for r in sorted(rows, key=lambda r: (r[0], r[1], r[2], r[3]))]
    assert {Accepted.unpack(Accepted.pack((p, a), line, off, w)) for p, a, line, off, w in rows} == \
        {(line, off, w) for _p, _a, line, off, w in rows}


def _amount_verdict(adapter, value, mode: str):
    """What validating `value` as an amount gives: the Decimal (as its tuple, so 1.0 and 1.00 differ) or
    the first error's type and message as reject_from would read them."""
    from pydantic import ValidationError

    from stmtprod.ingest.models import schema_errors
    try:
        amount = adapter.validate_json(json.dumps(value)) if mode == "json" else adapter.validate_python(value)
    except ValidationError as exc:
        err = schema_errors(exc)[0]
        return err["type"], err["loc"], err["msg"]
    return type(amount), amount.as_tuple()


def test_the_fast_amount_path_decides_as_the_python_validator_alone():
    """`Money` takes plain decimals inside pydantic-core and leaves the rest to `_decimal_string`: held
    to `_decimal_string` as the only validator (the amount type before the fast path) over
    hand-picked and generated inputs, JSON and Python, accepted and refused alike."""
    import random
    from decimal import Decimal
    from typing import Annotated

    from pydantic import BeforeValidator, TypeAdapter

    from stmtprod.ingest.models import Money, _decimal_string

    fast, reference = TypeAdapter(Money), TypeAdapter(Annotated[Decimal, BeforeValidator(_decimal_string)])
    values = ["12.34", "-0.50", "0", "-0", "007.10", "+1.00", ".5", "5.", "1_000.00", "1__0", "_1",
              "\u0661\u0662.\u0663\u0664", "\uff11.00", " 1.00", "1.00 ", "\t1", "1\n", "\u00a01", "\u30001", "", " ",
              "NaN", "-nan", "sNaN", "Infinity", "-Inf", "1e3", "1E+3", "0e0", "1.2.3", "--1", "0x10", "1,000",
              "9" * 80 + "." + "9" * 40, 12.5, 12, 0, -1, 1e300, True, None, [], {}, ["1.00"]]
    rng = random.Random(18)
    alphabet = "0123456789.-+eE_ \tN a\u0661\uff10"
    values += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6))) for _ in range(3000)]
    accepted = 0
    for value in values:
        for mode in ("json", "python"):
            expected = _amount_verdict(reference, value, mode)
            assert _amount_verdict(fast, value, mode) == expected, (value, mode)
            accepted += expected[0] is Decimal
    assert accepted > 500   # the generated strings reach both paths, not only refusals
    assert _amount_verdict(fast, b"1.00", "python")[0] == "value_error"   # bytes stay refused, as before
