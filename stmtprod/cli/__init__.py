"""`stmtprod`: the command line, a thin layer over the library; one module per command group.

A command's module is imported when the command runs (or its help is shown), not at start-up, so
that `stmtprod samples` does not pay for importing the inspection stages, and so on.

Exit codes (README): 0 released, 2 bad usage, 3 bad configuration, 4 halted, 5 busy, 6 waiting,
7 environment fault, 130/143 interrupted by SIGINT/SIGTERM, 1 an unexpected internal error.
"""
from __future__ import annotations

import atexit
import gc
import importlib
import logging
import sys

import click

from stmtprod.cli.guard import FaultGuard
from stmtprod.cli.output import quiet_libraries

log = logging.getLogger("stmtprod")


# command name -> (module under stmtprod.cli, attribute), in the order they were always registered
_COMMANDS = {"build": ("runs", "build"), "resume": ("runs", "resume"), "runs": ("runs", "runs"),
             "show": ("runs", "show"), "verify": ("runs", "verify"), "samples": ("runs", "samples"),
             "qa": ("qa", "qa"), "proof": ("proof", "proof"), "cards": ("cards", "cards"),
             "postal": ("postal", "postal"), "drill": ("drill", "drill"), "inserter": ("inserter", "inserter"),
             "reconcile": ("inserter", "reconcile"), "insert-sim": ("inserter", "insert_sim"),
             "reprint": ("inserter", "reprint")}


class _LazyCommands(FaultGuard):
    """The main group, with each command imported from its module on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*_COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in _COMMANDS:
            module, attribute = _COMMANDS[name]
            self.add_command(getattr(importlib.import_module(f"stmtprod.cli.{module}"), attribute), name)
        return self.commands.get(name)


@click.group(cls=_LazyCommands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def main(verbose: bool) -> None:
    """stmtprod: statement and card production line controller."""
    quiet_libraries(verbose)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(logging.DEBUG if verbose else logging.INFO)
    log.propagate = False
    _skip_the_last_collection()


def _skip_the_last_collection() -> None:
    """At exit, CPython's last garbage collection walks every object still alive (font tables, printable
    sets, caches: about 0.2 s of an idle core after a build) only to free memory the system takes back
    anyway; frozen first, they are skipped. Files are closed and flushed where they are written, and
    atexit and weakref.finalize callbacks still run."""
    atexit.unregister(gc.freeze)  # once, however many commands a process runs (tests)
    atexit.register(gc.freeze)



if __name__ == "__main__":
    main()
