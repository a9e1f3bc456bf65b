"""Rows this run wrote itself, read back without validating them again.

Ingest validates each input record once with its pydantic model and spills the accepted ones; plan
splices them into batch files. Every later reader (the renderer, verification, the inspectors) used
to validate each record again with pydantic, about 25 us a record more than decoding it. Here a
reader decodes such a row with msgspec into a *view*: a `msgspec.Struct` derived from the pydantic
model itself (`view_of`: the same fields, defaults and nesting, the model's own methods and
properties), so the schema stays single and the view cannot drift from it unnoticed
(tests/test_trusted.py holds every view to its model, field by field).

Nothing is checked less. The view only stands for a validation that already happened in this run:
resume ingests the input again before it plans. What a row holds is still checked where it counts,
independently of the code that drew it: every sheet is read back and every piece compared with its
source record. A row the view cannot decode in its plain form is handed to the model itself, so a
reader sees exactly what the model would give; a row the model refuses too (a damaged or altered
work file) halts the run with the file, the row and the field, never a traceback.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import types
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, NotRequired, TypedDict, Union, get_args, get_origin

import msgspec
from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticUndefined

from stmtprod.cardnumbers import redact
from stmtprod.errors import Halt
from stmtprod.ingest.models import schema_errors

_PLAIN_TYPES = (str, int, bool, float, Decimal, dt.date, dt.datetime, type(None))


def _view_type(annotation):
    """The msgspec type that decodes what `annotation` validates, constraints left to the model."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _view_type(args[0])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return view_of(annotation)
    if origin is Literal or annotation in _PLAIN_TYPES:
        return annotation
    if origin in (list, tuple, set, frozenset):
        return origin[tuple(a if a is Ellipsis else _view_type(a) for a in args)]
    if origin in (Union, types.UnionType):
        return Union[tuple(_view_type(a) for a in args)]
    raise TypeError(f"no trusted view for the type {annotation!r}: teach stmtprod.ingest.trusted to read it")


def _field(info):
    """The view field's default: the model's, a mutable one made afresh for each row as pydantic does."""
    if info.alias is not None or info.validation_alias is not None:
        raise TypeError("aliased fields have no trusted view")
    if info.default_factory is not None:
        return msgspec.field(default_factory=info.default_factory)
    if info.default is PydanticUndefined:
        return msgspec.NODEFAULT
    default = info.default
    if isinstance(default, (list, dict, set)):
        return msgspec.field(default_factory=lambda: type(default)(default))
    return default


def _behaviour(model: type[BaseModel]) -> dict:
    """The methods and properties the model's own classes define (validators excepted: a view validates
    nothing), so code that reads a view calls the very same code it calls on the model."""
    decorators = model.__pydantic_decorators__
    validators = {name for kind in dataclasses.fields(decorators) for name in getattr(decorators, kind.name)}
    namespace = {}
    for cls in reversed(model.__mro__[:model.__mro__.index(BaseModel)]):
        for name, value in vars(cls).items():
            if name.startswith("__") or name in validators or name == "model_config":
                continue
            if isinstance(value, (property, types.FunctionType)):
                namespace[name] = value
    return namespace


@cache
def view_of(model: type[BaseModel]) -> type[msgspec.Struct]:
    """The msgspec Struct that reads what `model` wrote: its fields in order, with their defaults
    (keyword-only, so order is the model's), nested models as their views, unknown keys refused
    where the model refuses them, frozen where it is frozen. Named in this module (`<Model>View`), so
    a view pickles to a worker process as a model does."""
    name = model.__name__ + "View"
    if name in globals():
        raise TypeError(f"{model.__module__}.{model.__qualname__}: the name {name} is taken "
                        f"({globals()[name].__doc__})")
    fields = [(field, _view_type(info.annotation), _field(info)) for field, info in model.model_fields.items()]
    config = model.model_config
    view = globals()[name] = msgspec.defstruct(
        name, fields, namespace={"__doc__": f"A trusted view of `{model.__module__}.{model.__qualname__}`.",
                                 "__module__": __name__, **_behaviour(model)},
        kw_only=True, frozen=bool(config.get("frozen")), forbid_unknown_fields=config.get("extra") == "forbid")
    return view


class TrustedRows:
    """JSON rows of `model` that this run wrote (spill rows, batch rows), decoded as views."""

    def __init__(self, model: type[BaseModel], what: str, kind: type | None = None):
        """`what` names the rows in a halt ("spill row", "batch file row"); `kind`: what msgspec decodes
        a row into (default: the model's view)."""
        self.model, self.what = model, what
        self._decode = msgspec.json.Decoder(kind or view_of(model)).decode

    def decode(self, raw: bytes | str, file: str | Path, row: int | None = None):
        """The row's view (or, for a form only the model reads, the model's own reading); a Halt naming
        `file`, the `row` (1-based, when known), the input line and the field when the model refuses it."""
        try:
            return self._decode(raw)
        except (msgspec.ValidationError, msgspec.DecodeError):
            pass
        try:
            model = self.model.model_validate_json(raw)
        except ValidationError as exc:
            raise damaged(self.what, file, row, _line_of(raw), exc) from None
        return self._by_model(model, raw)

    def _by_model(self, model: BaseModel, _raw: bytes | str):
        return model


def picked(model: type[BaseModel], keep: dict) -> type:
    """A TypedDict of the fields of `model` that `keep` names, each decoded as `json.loads` decodes it
    (`keep[name]` None) or picked again from its nested model (a dict); the rest of the row is skipped
    unread, and a key the row lacks is absent, as from `json.loads` (the card line's spill rows share
    the name and address of a record). A name the model does not have raises KeyError: the pick is
    held to the model."""
    fields = {}
    for name, inner in keep.items():
        info = model.model_fields[name]
        fields[name] = NotRequired[Any if inner is None else picked(_model_in(info.annotation), inner)]
    return TypedDict(f"{model.__name__}Picked", fields)


def _model_in(annotation) -> type[BaseModel]:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    raise TypeError(f"{annotation!r} is not a model to pick fields from")


class PickedRows(TrustedRows):
    """Rows of `model` this run wrote, of which a reader needs a few plain fields: decoded as the dicts
    `json.loads` gives, with only the fields `keep` names (`picked`), about a seventh of the cost."""

    def __init__(self, model: type[BaseModel], keep: dict, what: str):
        super().__init__(model, what, picked(model, keep))
        self._keep = keep

    def _by_model(self, _model: BaseModel, raw: bytes | str) -> dict:
        """The picked fields of a row only the model reads, as `json.loads` gives them."""
        return _pick(json.loads(raw), self._keep)


def _pick(value: dict, keep: dict) -> dict:
    return {name: value[name] if inner is None else _pick(value[name], inner)
            for name, inner in keep.items() if name in value}


def _line_of(raw: bytes | str) -> int | None:
    """The input line a row names at its start, as spill and batch rows do."""
    found = _LINE.match(raw if isinstance(raw, bytes) else raw.encode())
    return int(found[1]) if found else None


_LINE = re.compile(rb'\{"(?:sequence": ?[0-9]+, ?")?line": ?([0-9]{1,18})[,}]')


def damaged(what: str, file: str | Path, row: int | None, line: int | None, exc: ValidationError) -> Halt:
    """A Halt for a work file row the model refuses: this run did not write it as it is now."""
    error = (schema_errors(exc) or exc.errors())[0]
    field = ".".join(map(str, error["loc"])) or "(the row)"
    message = redact(error["msg"])
    where = (f" {row}" if row else "") + (f" (input line {line})" if line else "")
    return Halt(f"{what}{where} in {file} is not as this run wrote it: {field}: {message}", step="read",
                file=str(file), row=row, line=line, field=field, expected="the row ingest and plan wrote, valid",
                found=message, action="the run's work files were altered or damaged after they were written: "
                                      "resume the run (it ingests and plans again), or build it afresh")
