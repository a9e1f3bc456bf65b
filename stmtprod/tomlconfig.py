"""Loading a TOML configuration file into its pydantic model, with errors that name file and key."""
from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from stmtprod.cardnumbers import redact
from stmtprod.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def config_error(exc: ValidationError, file: Path) -> ConfigError:
    """Turn pydantic's errors into one ConfigError naming the file and the first bad key."""
    errors = exc.errors()
    keys = [redact(".".join(str(p) for p in err["loc"]) or "(top level)") for err in errors]
    message = errors[0]["msg"] + "".join(f"; also {k}: {e['msg']}" for k, e in zip(keys[1:], errors[1:]))
    return ConfigError(redact(message), file=str(file), key=keys[0])


def load_model(path: Path, model: type[M], what: str) -> tuple[M, str]:
    """The validated model and the file's version (the first 16 hex digits of its SHA-256)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        data = tomllib.loads(raw.decode("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{what} is missing", file=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"{what} cannot be read ({exc.strerror}): it must be a readable file", file=str(path)) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not valid TOML: {exc}", file=str(path)) from None
    try:
        return model.model_validate(data), hashlib.sha256(raw).hexdigest()[:16]
    except ValidationError as exc:
        raise config_error(exc, path) from None
