"""A way out of every halt: the commands that lead forward from it, and the print files it condemns.

A halt's `action` says in words what to correct; its `next` is the list of commands, with the run id
and output folder filled in, that the operator pastes once that is done. A read-back failure that
names a batch clears that batch's render proof in the ledger, so the resume renders it again
instead of re-using the file that failed and halting the same way for ever. A rejected inspection
lot goes on only after its correction is recorded (`stmtprod qa correct`; `--action rerender`
clears the lot's render proofs the same way). Drills are never carried into a resume: a resumed
drill run runs clean, which is how the drill's way out is proven.
"""
from __future__ import annotations

import shlex
from pathlib import Path

from stmtprod.engine.ledger import Ledger

def _q(value: object) -> str:
    return shlex.quote(str(value))


def resume_command(run_id: str, out: Path, line: str = "statements", personalisation: bool = False) -> str:
    """`stmtprod resume RUN --out OUT`, with `--personalisation NEW_LOG` for a card run that needs a new log."""
    command = f"stmtprod resume {_q(run_id)} --out {_q(Path(out).resolve())}"
    return command + (" --personalisation NEW_LOG.jsonl" if personalisation and line == "cards" else "")


def condemned_batches(ledger: Ledger, run_id: str, halt: dict) -> list[str]:
    """The batches whose print files a halt shows to be bad: they must be rendered again on resume."""
    if halt.get("step") == "verify" and halt.get("batch") in ledger.batches(run_id):
        return [halt["batch"]]
    return []


def next_commands(run_id: str, run_dir: Path, halt: dict, line: str = "statements") -> list[str]:
    """The commands, in order, that take the run forward once the halt's `action` is done."""
    out = Path(run_dir).resolve().parent
    step = halt.get("step") or ""
    resume = resume_command(run_id, out, line, personalisation=step == "match")
    if halt.get("field") == "switching":
        return [f"stmtprod qa restore --out {_q(out)} --region {_q(halt['lot'])} --stage {step.rsplit('-', 1)[-1]} "
                "--reason 'WHAT WAS CORRECTED' --operator NAME", resume]
    return [resume]


def prepare(ledger: Ledger, run_id: str, run_dir: Path, halt: dict, line: str = "statements") -> dict:
    """The halt with its way out: `next` commands, and `rerender` (the batches whose proof it cleared).

    A halt that names its own commands (a rejected lot: record the correction) keeps them, ended
    with the resume when they do not say it."""
    condemned = condemned_batches(ledger, run_id, halt)
    if condemned:
        ledger.unprove_batches(run_id, condemned)
    own = list(halt.get("next") or [])
    ours = next_commands(run_id, run_dir, halt, line)  # ends with the resume
    if not own:
        commands = ours
    elif any(c.startswith("stmtprod resume ") for c in own):
        commands = own
    else:
        commands = own + ours[-1:]
    return {**halt, **({"rerender": condemned} if condemned else {}), "next": commands}


SOURCES_MISSING = "the run's source records are missing"
"""The reason of a verification halt for a run folder that lost its copy of the source records
(`verify.require_spill`): the released files may well be right, so the way out is to restore them."""


def after_reverification(run_dir: Path, halt: dict) -> tuple[bool, dict]:
    """What `stmtprod verify` says when a run's files fail re-verification: (released?, halt with `next`).

    A released run stays RELEASED (its files may be at the printer already): the way out is to hold
    the batch and make the cycle again as a new run. A run not yet released resumes as after any halt.
    """
    from stmtprod.engine.runstate import load_run

    run_dir = Path(run_dir).resolve()
    run = load_run(run_dir)
    options = run.get("options") or {}
    out = run_dir.parent
    if run.get("state") != "RELEASED":
        return False, {**halt, "next": [resume_command(run["run_id"], out, options.get("line", "statements"))]}
    if halt.get("reason") == SOURCES_MISSING:   # the run folder lost its records, not the release its files
        return True, {**halt, "next": [f"stmtprod verify {_q(run_dir)}"]}
    if options.get("line") == "cards":
        again = (f"stmtprod cards --orders {_q(options['orders'])} --personalisation {_q(options['personalisation'])} "
                 f"--out {_q(out)} --force" + (" --demo-key" if options.get("key") == "DEMO" else ""))
    else:
        again = f"stmtprod build --input {_q(run['input'])} --out {_q(out)} --force"
    batch = f"batch {halt['batch']}" if halt.get("batch") else "the run's print files"
    return True, {**halt, "action": f"pull {batch} from the printer queue, keep what was printed from it out of "
                                    "the mail, and find how the released file changed (transfer, storage, edit); "
                                    "then make the cycle again as a new run", "next": [again]}


def waiting_commands(run_id: str, run_dir: Path, stage: int, line: str = "statements") -> list[str]:
    """What an inspector runs for a run waiting at a manual stage: see the sample (as a proof), record
    the findings, resume."""
    run_dir = Path(run_dir).resolve()
    return [f"stmtprod qa draw {_q(run_dir)} --stage {stage} --proof {_q(run_dir / f'stage{stage}-sample.pdf')}",
            f"stmtprod qa record {_q(run_dir)} --stage {stage} --inspector NAME --accept-clean",
            resume_command(run_id, run_dir.parent, line)]
