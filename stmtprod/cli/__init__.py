"""`stmtprod`: the command line, a thin layer over the library; one module per command group.

Exit codes (README): 0 released, 2 bad usage, 3 bad configuration, 4 halted, 5 busy, 6 waiting,
7 environment fault, 130/143 interrupted by SIGINT/SIGTERM, 1 an unexpected internal error.
"""
from __future__ import annotations

import logging
import sys

import click

from stmtprod.cli.cards import cards
from stmtprod.cli.drill import drill
from stmtprod.cli.guard import FaultGuard
from stmtprod.cli.inserter import insert_sim, inserter, reconcile, reprint
from stmtprod.cli.output import quiet_libraries
from stmtprod.cli.postal import postal
from stmtprod.cli.proof import proof
from stmtprod.cli.qa import qa
from stmtprod.cli.qa_stages import COMMANDS as QA_STAGE_COMMANDS
from stmtprod.cli.runs import build, resume, runs, samples, show, verify

log = logging.getLogger("stmtprod")


@click.group(cls=FaultGuard, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def main(verbose: bool) -> None:
    """stmtprod: statement and card production line controller."""
    quiet_libraries(verbose)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(logging.DEBUG if verbose else logging.INFO)
    log.propagate = False



for command in (build, resume, runs, show, verify, samples, qa, proof, cards, postal, drill, inserter, reconcile,
                insert_sim, reprint):
    main.add_command(command)
for command in QA_STAGE_COMMANDS:
    qa.add_command(command)

if __name__ == "__main__":
    main()
