"""Ingest in worker processes: the same verdicts applied in line order, so every output is the serial one."""
from __future__ import annotations

import json
from pathlib import Path

from stmtprod.catalog import load_catalog
from stmtprod.config import default_catalog_file, default_layouts_dir
from stmtprod.ingest import reader
from stmtprod.ingest.lines import MAX_LINE_BYTES
from stmtprod.layout import load_layouts
from tests.test_ingest import CASES, GOOD, variant


def _extract(path: Path) -> Path:
    """Every kind of line: accepted, bad in each way, unprintable (valid, so counted in its region),
    paperless, of a region not selected, identical and conflicting duplicates, blank, not JSON, over
    the size cap, and a byte order mark first."""
    lines = [json.dumps(variant(account_id=f"JP{n:010d}"), ensure_ascii=False) for n in range(1, 9)]
    lines += [json.dumps(variant(**{**dict(c[0]), "account_id": f"JP{100 + i:010d}"}), ensure_ascii=False)
              for i, c in enumerate(CASES)]
    lines += [json.dumps(variant(account_id="JP0000000200", name="山田 " + "長" * 100), ensure_ascii=False),
              json.dumps(variant(account_id="JP0000000201", delivery="paperless")),
              json.dumps(variant(account_id="AU0000000001", region="AU", currency="AUD", name="Jane Citizen",
                                 address={"lines": ["1 Martin Place"], "city": "Sydney", "state": "NSW",
                                          "postcode": "2000", "country": "AU"},
                                 previous_balance="0.00", payments="0.00", credits="0.00", fees="0.00",
                                 interest="0.00", new_balance="10.00", minimum_due="10.00",
                                 transactions=[{"date": "2026-11-01", "description": "Cafe", "amount": "10.00"}])),
              lines[0], json.dumps(variant(account_id="JP0000000002", name="Other Name")),
              "", "   ", "{not json", "x" * (MAX_LINE_BYTES + 10), json.dumps(GOOD, ensure_ascii=False)]
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode("utf-8") + b"\n")
    return path


def _outputs(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_ingest_in_workers_writes_what_the_serial_ingest_writes(tmp_path, monkeypatch):
    monkeypatch.setattr(reader, "_CHUNK_LINES", 3)  # many chunks in flight, out of step with the reading
    extract = _extract(tmp_path / "extract.jsonl")
    catalog, _version = load_catalog(default_catalog_file())
    layouts = load_layouts(default_layouts_dir())
    results, outputs = [], []
    for workers in (1, 2):
        folder = tmp_path / f"w{workers}"
        results.append(reader.ingest(extract, layouts, ("JP",), folder / "accepted", folder / "quarantine.jsonl",
                                     catalog, workers=workers))
        outputs.append(_outputs(folder))
    serial, parallel = results
    assert outputs[0] == outputs[1]
    assert vars(serial) == vars(parallel)
    assert {"width", "json", "size", "duplicate", "field", "rule"} <= set(serial.quarantined_by_kind)
    assert serial.input_by_region["AU"] == 1
    assert dict(serial.suppressed) == {"paperless": 1, "region not selected": 1, "duplicate account": 1}
    assert serial.input == serial.accepted_count + serial.quarantined + sum(serial.suppressed.values())


def test_a_big_extract_is_ingested_in_the_build_workers_and_releases_the_same_bytes(tmp_path, monkeypatch):
    """The statement line validates an extract above PARALLEL_INGEST_BYTES in its workers: the run
    (quarantine, release files) is byte for byte the run a one-process ingest makes."""
    from stmtprod.config import BuildOptions
    from stmtprod.statements import line

    seen = []
    original = reader._in_order

    def spy(lines, layouts, regions, catalog, workers):
        seen.append(workers)
        return original(lines, layouts, regions, catalog, workers)

    monkeypatch.setattr(reader, "_in_order", spy)
    extract = Path(__file__).resolve().parent.parent / "samples" / "cycle.jsonl"
    runs = {}
    for threshold in (10 ** 12, 0):
        monkeypatch.setattr(line, "PARALLEL_INGEST_BYTES", threshold)
        out = tmp_path / str(threshold)
        summary = line.build(BuildOptions(input=extract, out=out, workers=2))
        assert summary["state"] == "RELEASED"
        run_dir = Path(summary["run_dir"])
        runs[threshold] = {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(run_dir.rglob("*"))
                           if p.is_file() and (p.name == "quarantine.jsonl" or "release" in p.parts)}
    assert seen == [1, 2]
    assert runs[0] == runs[10 ** 12] and len(runs[0]) > 30


def test_printable_sets_worked_out_in_a_helper_are_those_of_one_process(monkeypatch):
    """`prepare_all` with workers hands every other distinct font set to a helper process: each layout's
    printable set is the one this process works out itself, whichever process made it."""
    from stmtprod.ingest import printable

    layouts = load_layouts(default_layouts_dir())
    chosen = [layouts[r] for r in ("AU", "JP", "HK", "NZ")]  # three distinct font sets
    monkeypatch.setattr(printable, "_PRINTABLE", {})
    printable.prepare_all(chosen, workers=2)
    assert len(printable._PRINTABLE) == 3
    for layout in chosen:
        assert printable.printable_set(layout.fonts) == printable._printable(layout.fonts)
    assert ord("山") in printable.printable_set(layouts["JP"].fonts)
    assert ord("山") not in printable.printable_set(layouts["AU"].fonts)
