"""What every command prints when a run ends or fails: one summary, one error line, one exit code."""
from __future__ import annotations

import json
import logging
import os
import sys
import warnings
from typing import NoReturn

import click

from stmtprod import errors
from stmtprod.cardnumbers import redact
from stmtprod.engine.progress import Progress


def exit_with(message: str, code: int, as_json: bool, extra: dict | None = None) -> NoReturn:
    """One error line on stderr (and one JSON object with `--json`), then exit `code`; whatever in the
    message could be a card number is masked. Every command's failure ends here."""
    message = " ".join(redact(message).split())
    click.echo(f"stmtprod: {message}", err=True)
    if as_json:
        click.echo(json.dumps({"error": message, "exit_code": code, **(extra or {})}, ensure_ascii=False))
    sys.exit(code)


def fail(exc: errors.StmtprodError, as_json: bool, extra: dict | None = None) -> NoReturn:
    """`exit_with` for a line error: its message and its exit code."""
    exit_with(str(exc), exc.exit_code, as_json, extra)


def run_line(call, as_json: bool) -> None:
    """Run build or resume with progress, print the summary, exit with the state's code."""
    progress = Progress(sys.stderr.isatty())
    try:
        summary = call(progress)
    except errors.StmtprodError as exc:
        progress.close()
        fail(exc, as_json)
    progress.close()
    report_summary(summary)
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False, sort_keys=True))
    sys.exit({"RELEASED": errors.EXIT_RELEASED, "INSPECTING": errors.EXIT_WAITING}.get(summary["state"],
                                                                                     errors.EXIT_HALTED))


def report_summary(summary: dict) -> None:
    counts = summary["counts"]
    lines = [
        f"run {summary['run_id']}: {summary['state']}",
        f"  input {counts['input']} = produced {counts['produced']} + quarantined {counts['quarantined']}"
        f" + suppressed {counts['suppressed']}" + (f" + not released {counts['not_released']}" if counts["not_released"] else "")
        + ("  (reconciled)" if summary["reconciled"] else "  (DOES NOT RECONCILE)"),
        f"  sheets {counts['sheets']}" + ("; regions " + ", ".join(f"{r} {n}" for r, n in summary["regions"].items())
                                          if summary["regions"] else ""),
        f"  run folder {summary['run_dir']}",
    ]
    if counts.get("pulled"):
        lines.append(f"  pulled {counts['pulled']} of the produced pieces at inspection (release/pulled.jsonl): "
                     f"to mail {counts['produced'] - counts['pulled']}")
    if summary.get("drill"):
        lines.insert(0, f"DRILL RUN ({summary['drill']}): a training run, not production quality history")
    click.echo("\n".join(lines))
    if "waiting" in summary:
        click.echo(f"  WAITING: {summary['waiting']['message']}")
        for index, command in enumerate(summary["waiting"].get("next", [])):
            click.echo(f"{'Next:' if index == 0 else '     '} {command}")
    if "halt" in summary:
        from stmtprod.engine.halt_report import describe

        click.echo(describe(summary["run_id"], summary["halt"]), nl=False)


def quiet_libraries(verbose: bool = False) -> None:
    """No library chatter on the operator's screen or in the nightly logs: libraries' log records
    (pikepdf announces its logger bridge at import) go nowhere below ERROR, and Python warnings are
    off, in this process and in the worker processes it starts. `-v` lets them through."""
    if verbose:
        return
    logging.getLogger().setLevel(logging.ERROR)
    logging.getLogger("pikepdf").setLevel(logging.ERROR)
    warnings.simplefilter("ignore")
    os.environ["PYTHONWARNINGS"] = "ignore"
