"""The `stmtprod` command group's last word: whatever stops a command ends in one line on stderr and its
documented exit code (README, "Exit codes"), never a traceback.
"""
from __future__ import annotations

import signal
import sqlite3

import click

from stmtprod.cardnumbers import redact
from stmtprod.cli.output import exit_with
from stmtprod.errors import EXIT_INTERNAL, EXIT_SIGINT, EXIT_SIGTERM, EnvironmentFault, StmtprodError, Terminated
from stmtprod.engine.envfaults import os_fault, signal_name


def _on_sigterm(signum: int, _frame) -> None:
    raise Terminated(signum)


def _where(exc: BaseException) -> str:
    """The innermost frame of a traceback, as file:line: enough to report a bug without echoing the
    exception's message, which may quote input data."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return f"{tb.tb_frame.f_code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno}" if tb else "?"


def _masked(exc: click.exceptions.ClickException) -> click.exceptions.ClickException:
    """A usage error as click words it, with whatever in it could be a card number masked: click quotes
    the operator's own argument (`Invalid value for '--accounts': '4111...'`), and an operator may
    paste a card number where an account id belongs."""
    exc.message = redact(exc.message)
    if isinstance(exc, click.exceptions.NoSuchOption):
        exc.option_name = redact(exc.option_name)
    return exc


class FaultGuard(click.Group):
    """The `stmtprod` command group: any fault ends in one line and its documented exit code.

    SIGTERM is turned into `Terminated` so the line unwinds as for Ctrl-C: workers stopped, the run
    marked INTERRUPTED, exit 143 (SIGINT: 130). A bug still ends with exit 1, in one line too that
    names the exception and where (never its message, which may quote input); `-v` logs the traceback.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["stmtprod.json"] = "--json" in args  # an error then also ends stdout with a JSON line
        try:
            return super().parse_args(ctx, args)
        except click.exceptions.ClickException as exc:
            raise _masked(exc) from None

    def invoke(self, ctx: click.Context):
        previous = signal.getsignal(signal.SIGTERM)
        if previous in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, _on_sigterm)
        as_json = ctx.meta.get("stmtprod.json", False)
        try:
            return super().invoke(ctx)
        except (KeyboardInterrupt, Terminated) as exc:
            notes = getattr(exc, "__notes__", [])
            code = EXIT_SIGTERM if isinstance(exc, Terminated) else EXIT_SIGINT
            exit_with(f"interrupted by {signal_name(exc)}" + "".join(f"; {n}" for n in notes), code, as_json)
        except StmtprodError as exc:
            exit_with(str(exc), exc.exit_code, as_json)
        except OSError as exc:
            fault = os_fault(exc)
            exit_with(str(fault), fault.exit_code, as_json)
        except sqlite3.Error as exc:
            fault = EnvironmentFault(f"the ledger cannot be used ({exc}); check the output folder's ledger.sqlite")
            exit_with(str(fault), fault.exit_code, as_json)
        except click.exceptions.ClickException as exc:
            raise _masked(exc) from None
        except (click.exceptions.Exit, click.exceptions.Abort, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001 (a bug: one line, exit 1, traceback with --verbose)
            import logging

            logging.getLogger("stmtprod").debug("internal error", exc_info=True)
            exit_with(f"internal error ({type(exc).__name__} at {_where(exc)}); please report it with the "
                       "command and the output of 'stmtprod -v ...'", EXIT_INTERNAL, as_json)
        finally:
            if previous in (signal.SIG_DFL, None):
                signal.signal(signal.SIGTERM, previous or signal.SIG_DFL)
