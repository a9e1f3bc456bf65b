"""Reading a run's own rows quickly, held to the slow way: `jsonrows.Fields` against `json.loads` (the same
fields and values for every row of a real run, the same result or error for damaged rows), and the
inspection context's row index against a binary search."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from stmtprod.jsonrows import Fields

NAMES = ("sequence", "region", "lot", "line", "payloads", "weight_g", "tray", "postal", "name", "planned_divert")


def loads_picked(raw: bytes | str, names=NAMES):
    """What the readers did before: the whole row by `json.loads`, then its fields."""
    row = json.loads(raw)
    return {n: row[n] for n in names if n in row} if isinstance(row, dict) else row


def outcome(read, raw):
    try:
        value = read(raw)
    except Exception as exc:  # noqa: BLE001  (the very error is what is compared)
        return ("error", type(exc), str(exc))
    return ("value", value, typed(value))


def typed(value):
    """`value` with the type of every leaf, so 1 and 1.0 and True differ."""
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    return (type(value).__name__, repr(value))


def run_rows(summary: dict) -> list[bytes]:
    release = Path(summary["print_files"][0]).parent.parent
    rows = []
    for folder in ("manifest", "envelopes", "mailing", "challenge/manifest"):
        for path in sorted((release / folder).glob("*.jsonl")):
            rows += path.read_bytes().splitlines(keepends=True)
    return rows


def test_every_row_of_a_real_run_reads_as_json_loads_reads_it(sample_run):
    rows = run_rows(sample_run)
    assert len(rows) > 100
    read = Fields(*NAMES)
    for raw in rows:
        assert outcome(read, raw) == outcome(loads_picked, raw)
        assert outcome(read, raw.decode()) == outcome(loads_picked, raw.decode())


DAMAGED = [
    b'{"sequence": 1, "sequence": 2}', b'{"sequence": 1e400}', b'{"sequence": NaN}', b'{"sequence": 1, "x": NaN}',
    b'\xef\xbb\xbf{"sequence": 1}', b'{"name": "\\ud800"}', b'{"sequence": 1, "x": "\xff"}', b'{"name": "\xff"}',
    b'{"sequence": 1} x', b'[1, 2]', b'"sequence"', b'17', b'null', b'', b'\n', b'{"sequence": 01}',
    b'{"sequence": 123456789012345678901234567890}', b'{"weight_g": 13.000000000000002}', b'{"weight_g": -0.0}',
    b'{"sequence": 1, "x": "\x01"}', b'{"sequence": 1, "x": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    b'{"sequence": 1, "x": ' + b"[" * 300 + b"]" * 300 + b"}", b'{"sequence": 1, "x": {"y": [1, {"z": "\\u00e9"}]}}',
    '{"name": "山田 太郎 様", "sequence": 3}'.encode(), '{"x": "山田", "sequence": 3}'.encode("utf-16"),
    b'{"sequence": 1,}', b'{"sequence": tru}', b'{"lot": "AU-C01", "planned_divert": true, "hoppers": []}',
]


@pytest.mark.parametrize("raw", DAMAGED, ids=range(len(DAMAGED)))
def test_an_odd_or_damaged_row_gives_what_json_loads_gives(raw):
    read = Fields(*NAMES)
    assert outcome(read, raw) == outcome(loads_picked, raw)
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        return
    assert outcome(read, text) == outcome(loads_picked, text)


def test_rows_damaged_at_random_read_as_json_loads_reads_them(sample_run):
    """Every row of a real run with a byte changed, removed or doubled, at random places."""
    rng = random.Random(18)
    read = Fields(*NAMES)
    alphabet = b'{}[]":,.-+0123456789eEntrufalsNI \\/\x00\x80\xff\xc3\xa9'
    checked = 0
    for raw in run_rows(sample_run):
        for _ in range(3):
            at = rng.randrange(len(raw))
            how = rng.randrange(3)
            if how == 0:
                bad = raw[:at] + bytes([rng.choice(alphabet)]) + raw[at + 1:]
            elif how == 1:
                bad = raw[:at] + raw[at + 1:]
            else:
                bad = raw[:at] + raw[at:at + 1] + raw[at:]
            assert outcome(read, bad) == outcome(loads_picked, bad), bad
            checked += 1
    assert checked > 300


@pytest.mark.parametrize("sequences", [[3, 4, 5, 6, 7], [1], [5, 3, 4, 4, 6], [2, 4, 5, 9], []],
                         ids=["range", "one", "range-with-a-repeat", "gaps", "empty"])
def test_a_row_index_finds_a_key_where_searching_the_sorted_keys_finds_it(sequences, tmp_path):
    """`_RowIndex` finds a key of an unbroken range by its distance from the first; held here to the
    binary search it stands in for, for keys of every kind a caller might hand it."""
    import numpy as np

    from stmtprod.fsutil import LineReader
    from stmtprod.inspect.context import _RowIndex

    (tmp_path / "rows").mkdir()
    rows = [{"sequence": s, "region": "AU", "line": 10 * s + i} for i, s in enumerate(sequences)]
    (tmp_path / "rows" / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    index = _RowIndex(tmp_path / "rows", "sequence", LineReader(), keep=lambda r: (r["region"], r["line"]),
                      fields=("region", "line"))
    first = {}
    for r in rows:
        first.setdefault(r["sequence"], r)
    last = {r["sequence"]: r for r in rows}
    keys = [*range(-2, 12), True, False, 4.0, 4.5, np.int64(4), np.int32(5), 2 ** 70]
    for key in keys:
        position = int(np.searchsorted(index.keys, key))
        found = position < len(index.keys) and index.keys[position] == key
        assert (key in index) == found, key
        if found:
            sequence = int(index.keys[position])
            assert index.get(key) == first[sequence]
            assert index.kept(key) == ("AU", last[sequence]["line"])
        else:
            assert index.get(key) is None
            with pytest.raises(KeyError):
                index.kept(key)
    assert list(index.kept_items()) == [(s, "AU", last[s]["line"]) for s in sorted(last)]
