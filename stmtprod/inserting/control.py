"""Control files out: one per lot in `release/inserter/`, one record per piece, in the model's format.

A record tells the inserter what to do with a piece: its sheets, which hoppers to feed (`bins`, Y/N
per hopper, hopper 1 first), and the planned divert bin for a piece that must not be mailed (pulled
at inspection). A planned divert is the controller's decision; a fault outsort is the inserter's, and
comes back only in the results file. No timestamp: the same run gives the same bytes.

At release this is the last serial step of a run, so a large run's records are made in `workers`
processes, each from a contiguous share of the manifests, and written here in manifest order: the
same bytes, the same first error, as one process would give.
"""
from __future__ import annotations

from collections import deque
from contextlib import ExitStack
from itertools import islice
from pathlib import Path
from typing import IO, Callable, Iterable, Iterator

from stmtprod.catalog import Catalog
from stmtprod.engine.workers import stopping_pool
from stmtprod.errors import ConfigError
from stmtprod.fsutil import atomic_open
from stmtprod.inserting.lotmodels import FOLDER, LotModels, load_lot_models
from stmtprod.inserting.models import InserterModel, load_inserter
from stmtprod.inserting.pieces import Piece, RunFacts, manifests, pieces_of
from stmtprod.inserting.records import RecordError, header_line, row_formatter
from stmtprod.layout import LayoutSet

PARALLEL_PIECES = 2000
"""A run this big or bigger has its control records made in worker processes; a smaller one here,
where starting the workers would cost more than they save."""
SHARES_PER_WORKER = 3  # contiguous shares of the manifests per worker: smaller shares balance better


def control_path(folder: Path, lot: str, model: InserterModel) -> Path:
    """`<folder>/inserter/<lot>.<model>.<ext>`."""
    return folder / FOLDER / f"{lot}.{model.name}.{model.control.extension}"


def control_row(run_id: str, piece: Piece, model: InserterModel, hoppers: int) -> dict[str, str]:
    return {"run_id": run_id, "lot": piece.lot, "sequence": str(piece.sequence), "sheets": str(piece.sheets),
            "bins": piece.bins(hoppers), "divert": str(model.divert_bin) if piece.divert else "",
            "postage_class": piece.postage_class, "weight_g": f"{piece.weight_g:.1f}", "name": piece.name}


def write_control_files(folder: Path, run_id: str, catalog: Catalog, layouts: LayoutSet,
                        model: InserterModel | str | None = None, workers: int = 1) -> list[Path]:
    """The control file of every lot of the run folder `folder` (`staging/` at release, or `release/`),
    each in its lot's model (`inserters/lots.toml`) unless `model` is given. Pieces are streamed.

    `folder.parent` is the run folder (its `work/accepted/` gives the names). Returns the paths.
    """
    folder = Path(folder)
    fixed = model if isinstance(model, InserterModel) else load_inserter(model) if model else None
    lots = load_lot_models() if fixed is None else None
    files = manifests(folder)
    facts = RunFacts.read(folder)
    accepted = folder.parent / "work" / "accepted"
    written: dict[str, Path] = {}
    with ExitStack() as stack:
        handles: dict[str, IO[bytes]] = {}
        for lot, chosen, head, rows in _made(files, facts, accepted, catalog, layouts, run_id, fixed, lots, workers):
            if lot not in handles:
                written[lot] = control_path(folder, lot, chosen)
                handles[lot] = stack.enter_context(atomic_open(written[lot], "wb"))
                handles[lot].write(head)
            handles[lot].write(rows)
    return list(written.values())


Segment = tuple[str, InserterModel, bytes, bytes]
"""(lot, its model, its header line, records): consecutive records of one lot, encoded."""


def _made(files: list[Path], facts: RunFacts, accepted: Path, catalog: Catalog, layouts: LayoutSet, run_id: str,
          fixed: InserterModel | None, lots: LotModels | None, workers: int) -> Iterator[Segment]:
    """The segments of every manifest in order: here, or in `workers` processes for a large run (a
    share that fails raises its first error when its turn comes, after the shares before it)."""
    args = (facts, accepted, catalog, layouts, run_id, fixed, lots)
    if workers <= 1 or len(files) <= 1 or facts.size < PARALLEL_PIECES:
        yield from _segments(files, *args)
        return
    cut = _shares(files, workers * SHARES_PER_WORKER)
    workers, shares = min(workers, len(cut)), iter(cut)
    with stopping_pool(workers) as pool:
        # A share's records are held here from when it is made until it is written: at most one
        # share more than there are workers is in flight, and each is let go once written.
        pending = deque(pool.submit(_share, share, *args) for share in islice(shares, workers + 1))
        while pending:
            made = pending.popleft().result()
            pending.extend(pool.submit(_share, share, *args) for share in islice(shares, 1))
            yield from made
            del made


def _share(files: list[Path], *args) -> list[Segment]:
    """One share's segments, in a worker process."""
    return list(_segments(files, *args))


def _segments(files: list[Path], facts: RunFacts, accepted: Path, catalog: Catalog, layouts: LayoutSet, run_id: str,
              fixed: InserterModel | None, lots: LotModels | None) -> Iterator[Segment]:
    """Each lot's model is chosen and its header encoded at its first piece here, then each record is
    made and encoded in turn, so an error is raised at the piece where one process would raise it."""
    chosen: dict[str, tuple[InserterModel, bytes]] = {}
    formatters: dict[str, Callable[[dict[str, str]], str]] = {}
    hoppers = catalog.inserter.hoppers
    lot, rows = None, []
    for piece in pieces_of(files, facts, accepted, catalog, layouts):
        if piece.lot not in chosen:
            picked = fixed or load_inserter(lots.model_name(piece.lot))
            head = header_line(picked.control)
            chosen[piece.lot] = (picked, _encoded(picked, piece.lot, [head] if head else []))
            formatters[piece.lot] = row_formatter(picked.control)
        if piece.lot != lot:
            if rows:
                yield lot, *chosen[lot], b"".join(rows)
            lot, rows, formatted = piece.lot, [], formatters[piece.lot]
        fmt = chosen[lot][0]
        rows.append(_encoded(fmt, lot, [formatted(control_row(run_id, piece, fmt, hoppers))]))
    if rows:
        yield lot, *chosen[lot], b"".join(rows)


def _shares(files: list[Path], count: int) -> list[list[Path]]:
    """`files` cut into at most `count` contiguous shares of about equal bytes."""
    sizes = [f.stat().st_size for f in files]
    total = sum(sizes) or 1
    shares: list[list[Path]] = [[] for _ in range(count)]
    at = 0
    for f, size in zip(files, sizes):
        shares[min(count - 1, int((at + size / 2) * count / total))].append(f)
        at += size
    return [share for share in shares if share]


def _encoded(model: InserterModel, lot: str, lines: Iterable[str]) -> bytes:
    try:
        return b"".join(line.encode(model.control.encoding) for line in lines)
    except RecordError as exc:
        raise ConfigError(f"control file for lot {lot}: {exc}", file=f"inserters/{model.name}.toml",
                          key=f"control.{exc.field}") from None
    except UnicodeEncodeError as exc:
        raise ConfigError(f"control file for lot {lot}: a value cannot be written in {model.control.encoding} "
                          f"({exc.reason})", file=f"inserters/{model.name}.toml", key="control.encoding") from None
