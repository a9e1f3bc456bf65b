"""Trusted views (`stmtprod.ingest.trusted`): rows this run wrote, read back without pydantic.

The view is derived from the pydantic model, so it is held to the model here, field by field, type and
exponent included, on every record of the bundled extract, on generated records, and on the spill and
batch rows of a real run; a row the model refuses must still stop the line with a clear halt.
"""
from __future__ import annotations

import datetime as dt
import json
import pickle
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
from pydantic import BaseModel, ValidationError

from stmtprod.errors import Halt
from stmtprod.generate import extract_lines
from stmtprod.ingest.models import StatementRecord
from stmtprod.ingest.trusted import TrustedRows, view_of
from stmtprod.ingest.trusted import picked
from stmtprod.inspect.context import parse_record
from stmtprod.mailing import mailing_rows
from stmtprod.plan import BATCH_ROWS, SPILL_ADDRESSES, SPILL_ROWS, Piece, SpillRow, _piece_line, _tail, read_batch
from tests.conftest import SAMPLES, volume


def typed(value):
    """A value as the model's `model_dump(mode="python")` gives it, every leaf with its type and repr
    (so Decimal("1.50") and Decimal("1.5"), or "1" and 1, are told apart)."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="python")
    if isinstance(value, msgspec.Struct):
        return {name: typed(getattr(value, name)) for name in value.__struct_fields__}
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [typed(item) for item in value])
    return (type(value).__name__, repr(value))


def behaviour(record) -> tuple:
    """What readers call on a record besides its fields."""
    return typed([record.new_charges, record.spend, list(record.amounts())])


def spill_row(line: int, raw: str) -> bytes:
    """A spill row as ingest writes it: the input line's own JSON and its number."""
    return b'{"line":%d,"record":%s}\n' % (line, raw.encode())


def accepted(lines):
    """(line number, raw JSON, model) for each line the model accepts: only those are ever spilled."""
    for number, raw in enumerate(lines, 1):
        try:
            yield number, raw, StatementRecord.model_validate_json(raw)
        except ValidationError:
            continue


def assert_views_equal_the_model(lines) -> int:
    count = 0
    for number, raw, model in accepted(lines):
        row = spill_row(number, raw)
        view = SPILL_ROWS.decode(row, "spill").record
        assert isinstance(view, msgspec.Struct), f"line {number} fell back to the model"
        assert typed(view) == typed(model), f"line {number}"
        assert behaviour(view) == behaviour(model), f"line {number}"
        assert typed(SPILL_ROWS.decode(row, "spill")) == typed(SpillRow.model_validate_json(row))
        whole = json.loads(row)["record"]
        assert typed(SPILL_ADDRESSES.decode(row, "spill")) == typed(
            {"record": {key: whole[key] for key in ("account_id", "region", "name", "address")}})
        piece = _piece_line(number + 1000, number, _tail(("A1", "B2"), [1, 3]), row)
        assert typed(BATCH_ROWS.decode(piece, "batch")) == typed(Piece.model_validate_json(piece))
        count += 1
    return count


def test_the_view_reads_every_sample_record_as_the_model_does():
    lines = SAMPLES.read_text(encoding="utf-8").splitlines()
    assert assert_views_equal_the_model(lines) > len(lines) * 0.8


def test_the_view_reads_generated_records_as_the_model_does():
    count = volume(1500, 20000)
    lines = [text for text, _record, _kind in extract_lines(count, seed=1871)]
    assert assert_views_equal_the_model(lines) == count


def test_a_real_runs_spill_and_batch_rows_read_as_the_model_reads_them(sample_run):
    work = Path(sample_run["run_dir"]) / "work"
    rows = 0
    for folder, trusted, model in (("accepted", SPILL_ROWS, SpillRow), ("batches", BATCH_ROWS, Piece)):
        for path in sorted((work / folder).glob("*.jsonl")):
            for raw in path.read_bytes().splitlines():
                view = trusted.decode(raw, path)
                assert isinstance(view, msgspec.Struct) and typed(view) == typed(model.model_validate_json(raw))
                assert behaviour(view.record) == behaviour(model.model_validate_json(raw).record)
                rows += 1
    assert rows >= 2 * sample_run["counts"]["produced"] > 0
    batch = sorted((work / "batches").glob("*.jsonl"))[0]
    assert [typed(p) for p in read_batch(batch)] == [typed(Piece.model_validate_json(raw))
                                                    for raw in batch.read_bytes().splitlines()]


def test_a_date_in_a_form_the_model_once_read_as_a_timestamp_halts_naming_the_field():
    """Dates as a timestamp or a datetime at midnight were valid for pydantic's lax reading, not for the
    view's decoder; the model now reads only `YYYY-MM-DD` strings too (a timestamp is a number as long
    as a card number), so such a row is not as the run wrote it: a Halt naming the row and the field."""
    number, raw, _model = next(accepted(SAMPLES.read_text(encoding="utf-8").splitlines()))
    record = json.loads(raw)
    midnight = dt.datetime.combine(dt.date.fromisoformat(record["period_start"]), dt.time(), dt.timezone.utc)
    for field, value in (("period_start", int(midnight.timestamp())), ("due_date", record["due_date"] + "T00:00:00")):
        row = spill_row(number, json.dumps(record | {field: value}, ensure_ascii=False))
        with pytest.raises(Halt, match=f"record.{field}: a date must be a string written YYYY-MM-DD"):
            SPILL_ROWS.decode(row, "spill")


def test_the_view_has_the_models_fields_defaults_and_behaviour():
    for model in (StatementRecord, SpillRow, Piece):
        view = view_of(model)
        assert view.__struct_fields__ == tuple(model.model_fields)
        public = {name for name, value in vars(model).items()
                  if isinstance(value, property) or (callable(value) and not name.startswith("_"))}
        assert public <= set(vars(view)), model
    minimal = json.loads(SAMPLES.read_text(encoding="utf-8").splitlines()[0])
    for name in ("transactions", "segments", "points"):
        minimal.pop(name)
    minimal["new_balance"] = str(sum(Decimal(minimal[k]) for k in ("previous_balance", "payments", "credits", "fees",
                                                                    "interest")))
    minimal["minimum_due"] = str(min(Decimal(minimal["minimum_due"]), max(Decimal(minimal["new_balance"]), Decimal(0))))
    row = spill_row(1, json.dumps(minimal, ensure_ascii=False))
    view = SPILL_ROWS.decode(row, "spill")
    assert isinstance(view, msgspec.Struct) and typed(view) == typed(SpillRow.model_validate_json(row))
    assert view.record.transactions is not SPILL_ROWS.decode(row, "spill").record.transactions   # fresh defaults
    assert typed(pickle.loads(pickle.dumps(view))) == typed(view)   # to a worker process, as a model goes


def test_picked_rows_are_held_to_the_model_and_keep_absent_keys_absent():
    with pytest.raises(KeyError):
        picked(SpillRow, {"record": {"adress": None}})
    card = {"line": 4, "record": {"card_id": "C-AU-000001", "name": "Jane Citizen", "region": "AU",
                                  "address": {"lines": ["1 Martin Place"], "city": "Sydney", "country": "AU"}}}
    assert SPILL_ADDRESSES.decode(json.dumps(card, sort_keys=True), "spill") == {
        "record": {k: v for k, v in card["record"].items() if k != "card_id"}}
    with pytest.raises(Halt, match=r"spill row \(input line 4\) in spill .*: \(the row\)"):
        SPILL_ADDRESSES.decode(json.dumps(card)[:-3], "spill")


def test_a_field_type_the_view_cannot_read_is_refused_when_the_view_is_made():
    class Odd(BaseModel):
        counts: dict[str, int]

    with pytest.raises(TypeError, match="no trusted view"):
        view_of(Odd)


def _damaged(raw: str, fault: str) -> str:
    record = json.loads(raw)
    if fault == "bad JSON":
        return raw[: len(raw) // 2]
    if fault == "wrong type":
        record["points"] = "many"
    elif fault == "missing field":
        del record["address"]["city"]
    elif fault == "not a date":
        record["due_date"] = "2026-02-30"
    return json.dumps(record, ensure_ascii=False)


FAULTS = {"bad JSON": "(the row)", "wrong type": "record.points", "missing field": "record.address.city",
          "not a date": "record.due_date"}


@pytest.mark.parametrize("fault", FAULTS)
def test_a_damaged_row_halts_naming_file_row_and_field(fault, tmp_path):
    number, raw, _model = next(accepted(SAMPLES.read_text(encoding="utf-8").splitlines()))
    row = spill_row(number, _damaged(raw, fault))
    with pytest.raises(Halt) as caught:
        SPILL_ROWS.decode(row, "work/accepted/JP.jsonl")
    halt = caught.value.as_dict()
    assert halt["field"] == FAULTS[fault] and halt["file"] == "work/accepted/JP.jsonl"
    assert halt["line"] == number and f"spill row (input line {number}) in" in halt["reason"]
    assert "resume" in halt["action"]
    assert pickle.loads(pickle.dumps(caught.value)).as_dict() == halt   # whole from a worker process
    batch = tmp_path / "AU-0001.jsonl"
    good = _piece_line(1, number, _tail((), []), spill_row(number, raw))
    batch.write_bytes(good + _piece_line(2, number, _tail((), []), row))
    pieces = read_batch(batch)
    assert typed(next(pieces)) == typed(Piece.model_validate_json(good))
    with pytest.raises(Halt, match=rf"batch file row 2 \(input line {number}\) in {batch}") as caught:
        next(pieces)
    assert caught.value.as_dict()["row"] == 2 and caught.value.as_dict()["field"] == FAULTS[fault]


def test_the_inspectors_and_the_mailing_manifest_name_the_regions_spill(tmp_path):
    number, raw, _model = next(accepted(SAMPLES.read_text(encoding="utf-8").splitlines()))
    row = spill_row(number, _damaged(raw, "missing field"))
    with pytest.raises(Halt) as caught:
        parse_record(row, "NZ")
    assert caught.value.as_dict()["file"] == "work/accepted/NZ.jsonl"
    log = tmp_path / "NZ-LOT.jsonl"
    log.write_text(json.dumps({"sequence": 1, "region": "NZ", "weight_g": 12.0}) + "\n", encoding="utf-8")
    row = spill_row(number, _damaged(raw, "bad JSON"))
    with pytest.raises(Halt) as caught:
        list(mailing_rows(log, lambda _sequence: row))
    assert caught.value.as_dict()["file"] == "work/accepted/NZ.jsonl"


def test_a_card_number_in_a_damaged_row_is_not_echoed():
    number, raw, _model = next(accepted(SAMPLES.read_text(encoding="utf-8").splitlines()))
    record = json.loads(raw)
    record["transactions"][0]["amount"] = "4111 1111 1111 1111"
    with pytest.raises(Halt) as caught:
        SPILL_ROWS.decode(spill_row(number, json.dumps(record)), "spill")
    assert "1111 1111" not in json.dumps(caught.value.as_dict())


@pytest.mark.parametrize("fault", ["bad JSON", "wrong type", "missing field"])
def test_reverifying_a_run_whose_spill_is_damaged_halts_with_the_row(fault, sample_run, tmp_path):
    """`stmtprod verify` on a run whose accepted records were altered: a halt naming the spill, the
    input line and the field (exit 4), not a traceback."""
    import shutil

    out = tmp_path / Path(sample_run["run_dir"]).name
    shutil.copytree(sample_run["run_dir"], out, symlinks=True)
    spill = out / "work" / "accepted" / "AU.jsonl"
    rows = spill.read_bytes().splitlines(keepends=True)
    line = json.loads(rows[3])["line"]
    head = b'{"line":%d,"record":' % line
    record = rows[3][len(head):rows[3].rindex(b"}")].decode()
    rows[3] = spill_row(line, _damaged(record, fault))
    spill.write_bytes(b"".join(rows))
    proc = subprocess.run([sys.executable, "-m", "stmtprod", "verify", str(out), "--json", "--workers", "1"],
                          capture_output=True, text=True)
    assert proc.returncode == 4, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    halt = json.loads(proc.stdout.strip().splitlines()[-1])["halt"]
    assert halt["field"] == FAULTS[fault] and halt["file"] == str(spill)
    assert halt["line"] == line and f"(input line {line})" in halt["reason"]
