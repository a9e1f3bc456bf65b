"""Control files out: one per lot in `release/inserter/`, one record per piece, in the model's format.

A record tells the inserter what to do with a piece: its sheets, which hoppers to feed (`bins`, Y/N
per hopper, hopper 1 first), and the planned divert bin for a piece that must not be mailed (pulled
at inspection). A planned divert is the controller's decision; a fault outsort is the inserter's, and
comes back only in the results file. No timestamp: the same run gives the same bytes.
"""
from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import IO

from stmtprod.catalog import Catalog
from stmtprod.errors import ConfigError
from stmtprod.fsutil import atomic_open
from stmtprod.inserting.lotmodels import FOLDER, load_lot_models
from stmtprod.inserting.models import InserterModel, load_inserter
from stmtprod.inserting.pieces import Piece, iter_pieces
from stmtprod.inserting.records import RecordError, format_row, header_line
from stmtprod.layout import LayoutSet



def control_path(folder: Path, lot: str, model: InserterModel) -> Path:
    """`<folder>/inserter/<lot>.<model>.<ext>`."""
    return folder / FOLDER / f"{lot}.{model.name}.{model.control.extension}"


def control_row(run_id: str, piece: Piece, model: InserterModel, hoppers: int) -> dict[str, str]:
    return {"run_id": run_id, "lot": piece.lot, "sequence": str(piece.sequence), "sheets": str(piece.sheets),
            "bins": piece.bins(hoppers), "divert": str(model.divert_bin) if piece.divert else "",
            "postage_class": piece.postage_class, "weight_g": f"{piece.weight_g:.1f}", "name": piece.name}


def write_control_files(folder: Path, run_id: str, catalog: Catalog, layouts: LayoutSet,
                        model: InserterModel | str | None = None) -> list[Path]:
    """The control file of every lot of the run folder `folder` (`staging/` at release, or `release/`),
    each in its lot's model (`inserters/lots.toml`) unless `model` is given. Pieces are streamed.

    `folder.parent` is the run folder (its `work/accepted/` gives the names). Returns the paths.
    """
    folder = Path(folder)
    fixed = model if isinstance(model, InserterModel) else load_inserter(model) if model else None
    lots = load_lot_models() if fixed is None else None
    files: dict[str, tuple[InserterModel, Path, IO[bytes]]] = {}
    with ExitStack() as stack:
        for piece in iter_pieces(folder, folder.parent / "work" / "accepted", catalog, layouts):
            if piece.lot not in files:
                chosen = fixed or load_inserter(lots.model_name(piece.lot))
                path = control_path(folder, piece.lot, chosen)
                files[piece.lot] = (chosen, path, stack.enter_context(atomic_open(path, "wb")))
                head = header_line(chosen.control)
                _write(files[piece.lot], piece.lot, [head] if head else [])
            fmt = files[piece.lot][0]
            _write(files[piece.lot], piece.lot,
                   [format_row(fmt.control, control_row(run_id, piece, fmt, catalog.inserter.hoppers))])
    return [path for _, path, _ in files.values()]


def _write(target: tuple[InserterModel, Path, IO[bytes]], lot: str, lines: list[str]) -> None:
    model, _, fh = target
    try:
        for line in lines:
            fh.write(line.encode(model.control.encoding))
    except RecordError as exc:
        raise ConfigError(f"control file for lot {lot}: {exc}", file=f"inserters/{model.name}.toml",
                          key=f"control.{exc.field}") from None
    except UnicodeEncodeError as exc:
        raise ConfigError(f"control file for lot {lot}: a value cannot be written in {model.control.encoding} "
                          f"({exc.reason})", file=f"inserters/{model.name}.toml", key="control.encoding") from None
