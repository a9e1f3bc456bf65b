"""The run ledger: one SQLite database (WAL) per output folder, behind this one module.

It records every run, its transitions, batches (with the hashes that prove them good), pieces,
verification, inspection decisions and samples, halts and releases, with timestamps, plus the
input file's hash and the layout and catalog versions each run used. Schema changes are numbered
migrations applied in order (`PRAGMA user_version`). Every write is one transaction.
"""
from __future__ import annotations

import datetime as dt
import json
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from stmtprod.engine import journal
from stmtprod.errors import EnvironmentFault, UsageError

LEDGER_FILE = "ledger.sqlite"

MIGRATIONS = [
    """
    CREATE TABLE runs (
        run_id TEXT PRIMARY KEY, base_id TEXT NOT NULL, state TEXT NOT NULL, input_path TEXT NOT NULL,
        input_sha256 TEXT NOT NULL, layouts_version TEXT NOT NULL, catalog_version TEXT NOT NULL,
        options TEXT NOT NULL, counts TEXT, summary TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
    CREATE TABLE transitions (
        id INTEGER PRIMARY KEY, run_id TEXT NOT NULL REFERENCES runs(run_id), state TEXT NOT NULL,
        at TEXT NOT NULL, details TEXT);
    CREATE TABLE batches (
        run_id TEXT NOT NULL REFERENCES runs(run_id), batch TEXT NOT NULL, region TEXT NOT NULL,
        pieces INTEGER NOT NULL, sheets INTEGER, batch_sha256 TEXT NOT NULL, pdf_sha256 TEXT,
        manifest_sha256 TEXT, rendered_at TEXT, verified_at TEXT, PRIMARY KEY (run_id, batch));
    CREATE TABLE pieces (
        run_id TEXT NOT NULL REFERENCES runs(run_id), sequence INTEGER NOT NULL, account_id TEXT NOT NULL,
        region TEXT NOT NULL, batch TEXT NOT NULL, line INTEGER NOT NULL, sheets INTEGER NOT NULL,
        inserts TEXT NOT NULL, PRIMARY KEY (run_id, sequence));
    CREATE TABLE verifications (
        id INTEGER PRIMARY KEY, run_id TEXT NOT NULL REFERENCES runs(run_id), at TEXT NOT NULL,
        ok INTEGER NOT NULL, pieces INTEGER, sheets INTEGER, detail TEXT);
    CREATE TABLE stage_decisions (
        run_id TEXT NOT NULL REFERENCES runs(run_id), stage INTEGER NOT NULL, lot TEXT NOT NULL,
        lot_size INTEGER NOT NULL, plan TEXT NOT NULL, seed TEXT NOT NULL, sample TEXT NOT NULL,
        defects TEXT, decision TEXT, inspector TEXT, at TEXT NOT NULL, PRIMARY KEY (run_id, stage, lot));
    CREATE TABLE switching (
        region TEXT NOT NULL, stage INTEGER NOT NULL, state TEXT NOT NULL, updated_at TEXT NOT NULL,
        PRIMARY KEY (region, stage));
    CREATE TABLE halts (
        id INTEGER PRIMARY KEY, run_id TEXT NOT NULL REFERENCES runs(run_id), at TEXT NOT NULL,
        step TEXT, reason TEXT NOT NULL, details TEXT NOT NULL);
    CREATE TABLE releases (
        run_id TEXT PRIMARY KEY REFERENCES runs(run_id), at TEXT NOT NULL, files TEXT NOT NULL);
    """,
    # 2: audit-grade QA decisions. `original` = 1 when the decision counts in the switching rules (the
    # lot's first decision at that stage, in a production run); `drill` names a drill run's fault.
    # `lot_events` keeps every finding, decision and correction; `pulled_pieces` the pieces a 100%
    # screening removed, with who and why.
    """
    ALTER TABLE stage_decisions ADD COLUMN original INTEGER;
    ALTER TABLE stage_decisions ADD COLUMN drill TEXT;
    CREATE TABLE lot_events (
        id INTEGER PRIMARY KEY, run_id TEXT NOT NULL REFERENCES runs(run_id), stage INTEGER NOT NULL,
        lot TEXT NOT NULL, event TEXT NOT NULL, decision TEXT, who TEXT, reason TEXT, details TEXT NOT NULL,
        at TEXT NOT NULL);
    CREATE TABLE pulled_pieces (
        run_id TEXT NOT NULL REFERENCES runs(run_id), sequence INTEGER NOT NULL, stage INTEGER NOT NULL,
        lot TEXT NOT NULL, reason TEXT NOT NULL, inspector TEXT NOT NULL, at TEXT NOT NULL,
        PRIMARY KEY (run_id, sequence));
    INSERT INTO lot_events (run_id, stage, lot, event, decision, who, reason, details, at)
        SELECT run_id, stage, lot, CASE WHEN decision IS NULL THEN 'drawn' ELSE 'decided' END, decision, inspector,
               NULL, json_object('plan', json(plan), 'seed', seed, 'sample', json(sample),
                                 'defects', json(coalesce(defects, '[]')), 'original', json('true'),
                                 'drill', NULL), at
        FROM stage_decisions ORDER BY at;
    UPDATE stage_decisions SET original = 1 WHERE decision IS NOT NULL;
    """,
    # 3: the inserter loop (`stmtprod.inserting.fates`). `inserter_results`: each results file applied
    # (whole, once: its hash); `piece_fates`: every piece's history (status per results file, operator
    # decisions with who and why); `piece_state`: each reported piece's current fate, for the counts.
    """
    CREATE TABLE inserter_results (
        id INTEGER PRIMARY KEY, run_id TEXT NOT NULL REFERENCES runs(run_id), file TEXT NOT NULL,
        sha256 TEXT NOT NULL, model TEXT NOT NULL, lots TEXT NOT NULL, counts TEXT NOT NULL, at TEXT NOT NULL,
        UNIQUE (run_id, sha256));
    CREATE TABLE piece_fates (
        id INTEGER PRIMARY KEY, run_id TEXT NOT NULL REFERENCES runs(run_id), sequence INTEGER NOT NULL,
        results_id INTEGER REFERENCES inserter_results(id), status TEXT, fate TEXT NOT NULL, who TEXT,
        reason TEXT, details TEXT, at TEXT NOT NULL);
    CREATE INDEX piece_fates_piece ON piece_fates (run_id, sequence);
    CREATE TABLE piece_state (
        run_id TEXT NOT NULL REFERENCES runs(run_id), sequence INTEGER NOT NULL, fate TEXT NOT NULL,
        status TEXT, reason TEXT, at TEXT NOT NULL, PRIMARY KEY (run_id, sequence));
    """,
    # 4: reprint children (`stmtprod.inserting.reprint`). One row per piece sent to reprint: the parent
    # run's piece, the child run that prints it again (`<root>-R<round>`), the child's input line it
    # became, and the child's sequence once the child is planned and released.
    """
    CREATE TABLE reprints (
        parent_run TEXT NOT NULL REFERENCES runs(run_id), parent_seq INTEGER NOT NULL, child_run TEXT NOT NULL,
        line INTEGER NOT NULL, child_seq INTEGER, round INTEGER NOT NULL, at TEXT NOT NULL,
        PRIMARY KEY (child_run, line));
    CREATE UNIQUE INDEX reprints_parent ON reprints (parent_run, parent_seq, child_run);
    """,
    # 5: envelopes reported for pieces whose fate was already settled (mailed, pulled, or in a reprint
    # child): the fate stays, and an envelope that may be in the mail stream waits for the operator's
    # `pull` (taken out) or `ack` (a duplicate report), recorded with who and why (`action` NULL: open).
    """
    CREATE TABLE second_copies (
        id INTEGER PRIMARY KEY, run_id TEXT NOT NULL REFERENCES runs(run_id), sequence INTEGER NOT NULL,
        results_id INTEGER REFERENCES inserter_results(id), status TEXT NOT NULL, fate TEXT NOT NULL,
        reason TEXT NOT NULL, details TEXT, at TEXT NOT NULL, action TEXT, who TEXT, decided_reason TEXT,
        decided_at TEXT);
    CREATE INDEX second_copies_piece ON second_copies (run_id, sequence);
    """,
]


def files_proven(batch: dict, pdf_file: str, manifest_file: str, stamp: str) -> bool:
    """A batch's `stamp` ("rendered_at" or "verified_at") holds, and its files on disk are exactly
    those the ledger recorded then: the test for "already proven good" that resume relies on. A file
    that is not a regular file (a link to a device, a folder) is not proven, and never read."""
    from stmtprod.fsutil import not_regular, sha256_file

    return bool(batch.get(stamp)) and all(
        Path(path).exists() and not_regular(path) is None and sha256_file(path) == batch[key]
        for path, key in ((pdf_file, "pdf_sha256"), (manifest_file, "manifest_sha256")))


_SQLITE_ADVICE = {
    13: "the filesystem holding it is full: free space there",  # SQLITE_FULL
    8: "it cannot be written (read-only file or filesystem): make the output folder writable",  # SQLITE_READONLY
    14: "it cannot be opened: the output folder must be readable and writable for this user",  # SQLITE_CANTOPEN
    3: "permission denied: the output folder must be readable and writable for this user",  # SQLITE_PERM
    10: "the disk reported an I/O error: check the disk and free space",  # SQLITE_IOERR
    5: "another process holds it: wait for it to finish",  # SQLITE_BUSY
}
_DAMAGED = ("it is damaged (not a database, truncated or overwritten): restore it and its -wal file from a "
            "backup, or move it away with every run folder beside it; stmtprod refuses to work in this folder "
            "until then and never deletes a run folder")


def ledger_fault(path: Path, exc: sqlite3.Error) -> EnvironmentFault:
    """A one-line EnvironmentFault for an SQLite error: the ledger file, what went wrong, what to do."""
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    fault = EnvironmentFault(f"{path}: ledger error ({exc}); {_SQLITE_ADVICE.get(code, _DAMAGED)}")
    fault.disk_full = code == 13
    return fault


class _Connection(sqlite3.Connection):
    """A connection whose database errors name the ledger file (integrity and programming errors are
    bugs and pass unchanged)."""

    ledger_path: Path = Path(LEDGER_FILE)

    def execute(self, *args):
        return self._named(super().execute, args)

    def executemany(self, *args):
        return self._named(super().executemany, args)

    def _named(self, call, args: tuple):
        try:
            return call(*args)
        except (sqlite3.IntegrityError, sqlite3.ProgrammingError):
            raise
        except sqlite3.DatabaseError as exc:
            raise ledger_fault(self.ledger_path, exc) from exc


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


class Ledger:
    def __init__(self, folder: Path):
        self.path = Path(folder) / LEDGER_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None, factory=_Connection)
        except sqlite3.Error as exc:
            raise ledger_fault(self.path, exc) from exc
        self.db.ledger_path = self.path
        try:
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except BaseException:
            self.db.close()
            raise

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:  # SQLite may already have rolled back by itself (a full disk)
                try:
                    self.db.execute("ROLLBACK")
                except EnvironmentFault:
                    pass
            raise

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.transaction() as db:
                for statement in filter(str.strip, script.split(";")):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {number}")

    @property
    def schema_version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    # runs -----------------------------------------------------------------------------------------
    def create_run(self, run_id: str, base_id: str, input_path: str, input_sha256: str, layouts_version: str,
                   catalog_version: str, options: dict) -> None:
        stamp = now()
        with self.transaction() as db:
            db.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,NULL,NULL,?,?)",
                       (run_id, base_id, "PLANNED", input_path, input_sha256, layouts_version, catalog_version,
                        _dumps(options), stamp, stamp))
            db.execute("INSERT INTO transitions (run_id, state, at, details) VALUES (?,?,?,?)",
                       (run_id, "CREATED", stamp, None))

    def run(self, run_id: str) -> dict | None:
        row = self.db.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return _run_dict(row) if row else None

    def runs(self, base_id: str | None = None) -> list[dict]:
        if base_id is None:
            rows = self.db.execute("SELECT * FROM runs ORDER BY created_at, run_id").fetchall()
        else:
            rows = self.db.execute("SELECT * FROM runs WHERE base_id = ? ORDER BY created_at, run_id",
                                   (base_id,)).fetchall()
        return [_run_dict(r) for r in rows]

    def transition(self, run_id: str, state: str, **details: object) -> None:
        stamp = now()
        with self.transaction() as db:
            _not_complete(db, run_id)
            db.execute("UPDATE runs SET state = ?, updated_at = ? WHERE run_id = ?", (state, stamp, run_id))
            db.execute("INSERT INTO transitions (run_id, state, at, details) VALUES (?,?,?,?)",
                       (run_id, state, stamp, _dumps(details) if details else None))

    def update_run(self, run_id: str, **fields: object) -> None:
        allowed = {"input_sha256", "layouts_version", "catalog_version", "counts", "summary", "input_path"}
        assert set(fields) <= allowed, fields
        sets = ", ".join(f"{k} = ?" for k in fields)
        values = [_dumps(v) if k in ("counts", "summary") else v for k, v in fields.items()]
        with self.transaction() as db:
            db.execute(f"UPDATE runs SET {sets}, updated_at = ? WHERE run_id = ?", (*values, now(), run_id))

    def history(self, run_id: str) -> list[dict]:
        rows = self.db.execute("SELECT state, at, details FROM transitions WHERE run_id = ? ORDER BY id", (run_id,))
        return [{"state": r["state"], "at": r["at"], **(json.loads(r["details"]) if r["details"] else {})}
                for r in rows]

    # batches and pieces ---------------------------------------------------------------------------
    def plan_batches(self, run_id: str, batches: list[dict]) -> None:
        """Record the plan; a batch whose input changed loses its proofs (rendered/verified)."""
        with self.transaction() as db:
            known = {r["batch"]: r["batch_sha256"] for r in
                     db.execute("SELECT batch, batch_sha256 FROM batches WHERE run_id = ?", (run_id,))}
            names = {b["batch"] for b in batches}
            for stale in set(known) - names:
                db.execute("DELETE FROM batches WHERE run_id = ? AND batch = ?", (run_id, stale))
            for b in batches:
                if known.get(b["batch"]) == b["batch_sha256"]:
                    continue
                db.execute("INSERT OR REPLACE INTO batches (run_id, batch, region, pieces, batch_sha256) "
                           "VALUES (?,?,?,?,?)", (run_id, b["batch"], b["region"], b["pieces"], b["batch_sha256"]))

    def batches(self, run_id: str) -> dict[str, dict]:
        rows = self.db.execute("SELECT * FROM batches WHERE run_id = ? ORDER BY batch", (run_id,))
        return {r["batch"]: dict(r) for r in rows}

    def batch_rendered(self, run_id: str, batch: str, sheets: int, pdf_sha256: str, manifest_sha256: str,
                       pieces: list[dict]) -> None:
        with self.transaction() as db:
            db.execute("UPDATE batches SET sheets = ?, pdf_sha256 = ?, manifest_sha256 = ?, rendered_at = ?, "
                       "verified_at = NULL WHERE run_id = ? AND batch = ?",
                       (sheets, pdf_sha256, manifest_sha256, now(), run_id, batch))
            db.execute("DELETE FROM pieces WHERE run_id = ? AND batch = ?", (run_id, batch))
            db.executemany("INSERT OR REPLACE INTO pieces VALUES (?,?,?,?,?,?,?,?)",
                           [(run_id, p["sequence"], p["account_id"], p["region"], batch, p["line"], p["sheets"],
                             _dumps(p["inserts"])) for p in pieces])

    def batches_verified(self, run_id: str, batches: list[str]) -> None:
        stamp = now()
        with self.transaction() as db:
            db.executemany("UPDATE batches SET verified_at = ? WHERE run_id = ? AND batch = ?",
                           [(stamp, run_id, b) for b in batches])

    def piece_batches(self, run_id: str) -> dict[int, str]:
        """Each piece's batch."""
        rows = self.db.execute("SELECT sequence, batch FROM pieces WHERE run_id = ?", (run_id,))
        return {r["sequence"]: r["batch"] for r in rows}

    def unprove_batches(self, run_id: str, batches: list[str]) -> None:
        """Clear the render and verify proofs of batches a halt condemned, so a resume renders them again."""
        with self.transaction() as db:
            db.executemany("UPDATE batches SET rendered_at = NULL, verified_at = NULL WHERE run_id = ? AND batch = ?",
                           [(run_id, b) for b in batches])

    def piece_count(self, run_id: str) -> int:
        return self.db.execute("SELECT COUNT(*) FROM pieces WHERE run_id = ?", (run_id,)).fetchone()[0]

    # verification, halts, releases ----------------------------------------------------------------
    def record_verification(self, run_id: str, ok: bool, pieces: int | None, sheets: int | None,
                            detail: object = None) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO verifications (run_id, at, ok, pieces, sheets, detail) VALUES (?,?,?,?,?,?)",
                       (run_id, now(), int(ok), pieces, sheets, _dumps(detail) if detail is not None else None))

    def record_halt(self, run_id: str, halt: dict) -> None:
        stamp = now()
        with self.transaction() as db:
            _not_complete(db, run_id)
            db.execute("INSERT INTO halts (run_id, at, step, reason, details) VALUES (?,?,?,?,?)",
                       (run_id, stamp, halt.get("step"), halt["reason"], _dumps(halt)))
            db.execute("UPDATE runs SET state = 'HALTED', updated_at = ? WHERE run_id = ?", (stamp, run_id))
            db.execute("INSERT INTO transitions (run_id, state, at, details) VALUES (?,?,?,?)",
                       (run_id, "HALTED", stamp, _dumps(halt)))

    def halts(self, run_id: str) -> list[dict]:
        rows = self.db.execute("SELECT at, details FROM halts WHERE run_id = ? ORDER BY id", (run_id,))
        return [{"at": r["at"], **json.loads(r["details"])} for r in rows]

    def record_release(self, run_id: str, files: list[str], counts: dict, summary: dict) -> None:
        stamp = now()
        with self.transaction() as db:
            _not_complete(db, run_id)
            db.execute("INSERT OR REPLACE INTO releases VALUES (?,?,?)", (run_id, stamp, _dumps(files)))
            db.execute("UPDATE runs SET state = 'RELEASED', counts = ?, summary = ?, updated_at = ? "
                       "WHERE run_id = ?", (_dumps(counts), _dumps(summary), stamp, run_id))
            db.execute("INSERT INTO transitions (run_id, state, at, details) VALUES (?,?,?,?)",
                       (run_id, "RELEASED", stamp, _dumps({"counts": counts})))

    # inspection -----------------------------------------------------------------------------------
    def record_draw(self, run_id: str, stage: int, lot: str, lot_size: int, plan: dict, seed: str,
                    sample: list[int]) -> None:
        """A lot's sample drawn for an inspector (decision None until recorded), with its `drawn` event."""
        with self.transaction() as db:
            stamp = now()
            db.execute("INSERT OR REPLACE INTO stage_decisions VALUES (?,?,?,?,?,?,?,NULL,NULL,NULL,?,NULL,NULL)",
                       (run_id, stage, lot, lot_size, _dumps(plan), seed, _dumps(sample), stamp))
            _event(db, run_id, stage, lot, "drawn", None, None, None, {"plan": plan, "seed": seed, "sample": sample},
                   stamp)

    def record_decisions(self, decisions: list[dict]) -> None:
        """Several lots' decisions, each with its event and (when it counts) the new switching state,
        in one transaction: all of them are recorded or none.

        Each item: run_id, stage, lot, lot_size, plan, seed, sample, defects, decision, inspector,
        original, drill, reason, and `switching` (the state to save, or None)."""
        with self.transaction() as db:
            events = []
            for d in decisions:
                stamp = now()
                db.execute("INSERT OR REPLACE INTO stage_decisions VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           (d["run_id"], d["stage"], d["lot"], d["lot_size"], _dumps(d["plan"]), d["seed"],
                            _dumps(d["sample"]), _dumps(d["defects"]), d["decision"], d["inspector"], stamp,
                            int(d["original"]), d["drill"]))
                events.append((d["run_id"], d["stage"], d["lot"], "decided", d["decision"], d["inspector"], d["reason"],
                               {"defects": d["defects"], "sample": d["sample"], "plan": d["plan"], "seed": d["seed"],
                                "original": bool(d["original"]), "drill": d["drill"]}, stamp))
                if d["switching"] is not None:
                    db.execute("INSERT OR REPLACE INTO switching VALUES (?,?,?,?)",
                               (d["lot"], d["stage"], _dumps(d["switching"]), stamp))
            self._journaled(db, events)

    def record_correction(self, run_id: str, stage: int, lot: str, action: str, decision: str, inspector: str,
                          reason: str, pulled: list[int], batches: list[str]) -> None:
        """A rejected lot's correction, in one transaction: the lot's new decision (`rerender`: to be
        inspected again after its `batches` are rendered again, whose proofs are cleared here;
        `screened`: accepted after 100% screening), the pieces the screening pulled, and the event."""
        stamp = now()
        with self.transaction() as db:
            db.execute("UPDATE stage_decisions SET decision = ?, inspector = ?, at = ?, original = 0 "
                       "WHERE run_id = ? AND stage = ? AND lot = ?", (decision, inspector, stamp, run_id, stage, lot))
            db.executemany("INSERT INTO pulled_pieces VALUES (?,?,?,?,?,?,?)",
                           [(run_id, seq, stage, lot, reason, inspector, stamp) for seq in pulled])
            db.executemany("UPDATE batches SET rendered_at = NULL, verified_at = NULL WHERE run_id = ? AND batch = ?",
                           [(run_id, b) for b in batches])
            self._journaled(db, [(run_id, stage, lot, "corrected", decision, inspector, reason,
                                  {"action": action, "pulled": pulled, "batches": batches}, stamp)])

    def _journaled(self, db: sqlite3.Connection, events: list[tuple]) -> None:
        """Decision and correction events (`_event`'s arguments), each stored with the hash of its entry in
        its run's QA journal (`stmtprod.engine.journal`), which is written last, inside the transaction:
        a journal that cannot be written leaves the ledger as it was."""
        writes = []
        for run_id in dict.fromkeys(e[0] for e in events):
            group = [e for e in events if e[0] == run_id]
            entries = journal.chain(self.path.parent / run_id, [journal.body(*e) for e in group])
            for (*head, details, stamp), entry in zip(group, entries):
                _event(db, *head, {**details, "journal": entry["hash"]}, stamp)
            writes.append((self.path.parent / run_id, entries))
        for run_dir, entries in writes:
            journal.append(run_dir, entries)

    def lot_events(self, run_id: str | None = None) -> list[dict]:
        """Every drawn sample, decision and correction, oldest first: the lots' history."""
        sql = "SELECT * FROM lot_events" + (" WHERE run_id = ?" if run_id else "") + " ORDER BY id"
        return [{**{k: r[k] for k in ("run_id", "stage", "lot", "event", "decision", "who", "reason", "at")},
                 **json.loads(r["details"])} for r in self.db.execute(sql, (run_id,) if run_id else ())]

    def pulled(self, run_id: str) -> list[dict]:
        rows = self.db.execute("SELECT p.*, pieces.account_id, pieces.region FROM pulled_pieces p LEFT JOIN pieces "
                               "ON pieces.run_id = p.run_id AND pieces.sequence = p.sequence "
                               "WHERE p.run_id = ? ORDER BY p.sequence", (run_id,))
        return [dict(r) for r in rows]

    def stages(self, run_id: str | None = None) -> list[dict]:
        sql = "SELECT * FROM stage_decisions" + (" WHERE run_id = ?" if run_id else "") + " ORDER BY at, stage, lot"
        rows = self.db.execute(sql, (run_id,) if run_id else ())
        out = []
        for r in rows:
            d = dict(r)
            for key in ("plan", "sample", "defects"):
                d[key] = json.loads(d[key]) if d[key] is not None else None
            out.append(d)
        return out

    def switching_state(self, region: str, stage: int) -> dict | None:
        row = self.db.execute("SELECT state FROM switching WHERE region = ? AND stage = ?", (region, stage)).fetchone()
        return json.loads(row["state"]) if row else None

    def save_switching_state(self, region: str, stage: int, state: dict) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO switching VALUES (?,?,?,?)", (region, stage, _dumps(state), now()))

    def all_switching(self) -> list[dict]:
        rows = self.db.execute("SELECT * FROM switching ORDER BY region, stage")
        return [{"region": r["region"], "stage": r["stage"], "updated_at": r["updated_at"],
                 **json.loads(r["state"])} for r in rows]


def _not_complete(db: sqlite3.Connection, run_id: str) -> None:
    """COMPLETE is the end of a run's life (every piece mailed or pulled, the lodgement final): no
    state, halt or release may follow it."""
    row = db.execute("SELECT state FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    if row is not None and row["state"] == "COMPLETE":
        raise UsageError(f"run {run_id} is COMPLETE (every piece mailed or pulled, lodgement final): "
                         "nothing more happens to it")


def _event(db: sqlite3.Connection, run_id: str, stage: int, lot: str, event: str, decision: str | None,
           who: str | None, reason: str | None, details: dict, stamp: str) -> None:
    db.execute("INSERT INTO lot_events (run_id, stage, lot, event, decision, who, reason, details, at) "
               "VALUES (?,?,?,?,?,?,?,?,?)", (run_id, stage, lot, event, decision, who, reason, _dumps(details), stamp))


def _run_dict(row: sqlite3.Row) -> dict:
    d = dict(row)
    for key in ("options", "counts", "summary"):
        d[key] = json.loads(d[key]) if d[key] else None
    return d
