"""Errors the line raises and the exit codes the nightly job reports for them.

Operators script on exit codes, so each outcome has its own, documented in the README.
"""
from __future__ import annotations

from pathlib import Path

EXIT_RELEASED = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_CONFIG = 3
EXIT_HALTED = 4
EXIT_BUSY = 5
EXIT_WAITING = 6
EXIT_ENVIRONMENT = 7
EXIT_SIGINT = 130
EXIT_SIGTERM = 143


class StmtprodError(Exception):
    """Base of every error the line reports to an operator."""

    exit_code = EXIT_INTERNAL


class ConfigError(StmtprodError):
    """A layout, catalog or option is wrong: the operator must fix configuration."""

    exit_code = EXIT_CONFIG

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None):
        self.file, self.key = file, key
        where = ": ".join(p for p in (file, key) if p)
        super().__init__(f"{where}: {message}" if where else message)


class UsageError(StmtprodError):
    """The command was called wrongly (missing input file, unknown region...)."""

    exit_code = EXIT_USAGE


class Halt(StmtprodError):
    """The line stopped itself: something produced is not provably right. Nothing is released."""

    exit_code = EXIT_HALTED

    def __init__(self, reason: str, **details: object):
        self.reason = reason
        self.details = details
        super().__init__(reason)

    def as_dict(self) -> dict:
        return {"reason": self.reason, **{k: v for k, v in self.details.items() if v is not None}}

    def __reduce__(self):
        """Pickled with its details, so a halt raised in a worker process reaches the parent whole."""
        return _halt, (type(self), self.reason, self.details)


def _halt(cls: type[Halt], reason: str, details: dict) -> Halt:
    return cls(reason, **details)


class BusyError(StmtprodError):
    """Another build or resume holds the output folder."""

    exit_code = EXIT_BUSY


class EnvironmentFault(StmtprodError):
    """The machine, not the data or the configuration: a full disk, a folder that cannot be written,
    a damaged ledger. The message names the file and what to do; a run it stopped can be resumed."""

    exit_code = EXIT_ENVIRONMENT


class AwaitingInspection(StmtprodError):
    """A manual stage has samples waiting for an inspector's findings."""

    exit_code = EXIT_WAITING

    def __init__(self, stage: int, name: str, lots: list[str], run_dir: Path):
        self.stage, self.lots = stage, lots
        super().__init__(f"stage {stage} ({name}) waits for an inspector: lots {', '.join(lots)}; "
                         f"see 'stmtprod qa draw {run_dir} --stage {stage}', record with 'stmtprod qa record', "
                         "then 'stmtprod resume'")


class Terminated(BaseException):
    """SIGTERM arrived: raised in the main thread so the line unwinds as for Ctrl-C (SIGINT)."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(f"signal {signum}")
