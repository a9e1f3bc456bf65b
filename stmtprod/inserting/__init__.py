"""The inserter loop of a released run, shared by the statement and the card line.

Control file out (`control`), results file in (`results`), every piece's fate in the ledger
(`fates`, `reconcile`), the run's end (`complete`: COMPLETE and the lodgement), and an emulator for
tests and drills (`emulator`). An inserter model is data: `inserters/<model>.toml` (`models`), and
which model runs each lot too: `inserters/lots.toml` (`lotmodels`). Everything here reads the run folder as both lines release it
(`release/manifest/*.jsonl`, `release/pulled.jsonl`, the envelope and mailing logs where the line
writes them), so one implementation serves both lines.
"""
