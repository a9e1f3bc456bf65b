"""Switching rules of ANSI/ASQ Z1.4-2008 (MIL-STD-105E), for one stream of lots (a region and stage).

A pure state machine: ``SwitchingState.record(...)`` returns a new state and never changes the old
one, so the caller can store each state (``to_dict()``) in its ledger and rebuild it
(``from_dict()``) on the next run.

Rules (every lot is judged on its original inspection):

* normal -> tightened: 2 lots not accepted within 5 or fewer consecutive lots on normal inspection.
* tightened -> normal: 5 consecutive lots accepted on tightened inspection.
* normal -> reduced: the preceding 10 lots on normal inspection all accepted, and production steady,
  and reduced inspection approved by the responsible authority (configuration), and - only when
  limit numbers are used (configuration) - the total of nonconforming units (or nonconformities) in
  the samples of those 10 lots at most the limit number of Table VIII, given by the caller.
* reduced -> normal: a lot not accepted; or a lot accepted with Ac < d < Re (a reduced plan's gap);
  or production irregular or delayed.
* tightened -> discontinued: the number of lots not accepted while on tightened inspection reaches 5
  (cumulatively, since tightened began). Acceptance under the standard stops: the line halts until
  an operator has had the cause corrected and calls ``resume()``, which restarts on tightened.

Each recorded lot appends to ``history`` an entry whose ``reason`` says, in words, why the severity
changed or stayed.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from stmtprod.sampling.plans import Plan

NORMAL, TIGHTENED, REDUCED, DISCONTINUED = "normal", "tightened", "reduced", "discontinued"
STATES: tuple[str, ...] = (NORMAL, TIGHTENED, REDUCED, DISCONTINUED)

FORMAT_VERSION = 1

# The numbers of the rules, kept together.
NORMAL_WINDOW = 5  # "2 out of 5 or fewer consecutive lots"
NORMAL_NOT_ACCEPTED_TO_TIGHTEN = 2
TIGHTENED_ACCEPTED_TO_NORMAL = 5
NORMAL_ACCEPTED_TO_REDUCE = 10
TIGHTENED_NOT_ACCEPTED_TO_DISCONTINUE = 5


class InspectionDiscontinued(Exception):
    """A lot was recorded while inspection is discontinued: an operator must act and resume."""


@dataclass(frozen=True)
class SwitchingState:
    """Where one stream of lots stands in the switching scheme.

    Counters (all reset whenever the severity changes):
    ``normal_recent``: accepted/not accepted of the last (up to 5) lots on normal inspection.
    ``consecutive_accepted``: lots accepted in a row on the present severity.
    ``tightened_not_accepted``: lots not accepted since tightened inspection began.
    ``normal_run``: [sample units, defects] of the last (up to 10) lots of the present run of
    accepted lots on normal inspection, for the limit numbers.
    """

    severity: str = NORMAL
    normal_recent: tuple[bool, ...] = ()
    consecutive_accepted: int = 0
    tightened_not_accepted: int = 0
    normal_run: tuple[tuple[int, int], ...] = ()
    history: tuple[dict, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.severity not in STATES:
            raise ValueError(f"unknown severity {self.severity!r}; valid: {', '.join(STATES)}")

    # -- queries -------------------------------------------------------------------------------

    @property
    def halted(self) -> bool:
        """Inspection discontinued: no lot may be accepted under the standard until resumed."""
        return self.severity == DISCONTINUED

    def last_ten_totals(self) -> tuple[int, int]:
        """(sample units, defects) of the present run of accepted normal lots, at most the last 10:
        what Table VIII (limit numbers) is entered with."""
        return sum(u for u, _ in self.normal_run), sum(d for _, d in self.normal_run)

    # -- transitions ---------------------------------------------------------------------------

    def record(
        self,
        lot_accepted: bool,
        defects: int,
        plan: Plan,
        steady_production: bool = True,
        approved_for_reduced: bool = True,
        use_limit_numbers: bool = False,
        *,
        limit_number: int | None = None,
        lot: str | None = None,
    ) -> "SwitchingState":
        """The state after one more lot, inspected with ``plan`` and found with ``defects``.

        ``plan`` must be a plan of the present severity, and ``lot_accepted`` must be what the plan
        decides for ``defects`` (``plan.accepts``): a mismatch raises ValueError rather than writing
        a wrong history. ``limit_number`` (Table VIII, for the totals of ``last_ten_totals()`` plus
        this lot) is required when ``use_limit_numbers`` is set.
        """
        if self.halted:
            raise InspectionDiscontinued(
                "inspection is discontinued (5 lots not accepted on tightened inspection): "
                "corrective action and an operator's resume() are required before the next lot"
            )
        if isinstance(defects, bool) or not isinstance(defects, int) or defects < 0:
            raise ValueError(f"defects must be a non-negative integer, got {defects!r}")
        if plan.severity != self.severity:
            raise ValueError(f"lot inspected with a {plan.severity} plan while {self.severity} inspection is in effect")
        if bool(lot_accepted) != plan.accepts(defects):
            raise ValueError(
                f"lot_accepted={bool(lot_accepted)} contradicts the plan: {defects} defects with "
                f"Ac {plan.accept} / Re {plan.reject} {'accepts' if plan.accepts(defects) else 'rejects'} the lot"
            )
        if use_limit_numbers and limit_number is None:
            raise ValueError("use_limit_numbers needs the Table VIII limit_number from configuration")
        accepted = bool(lot_accepted)
        if self.severity == NORMAL:
            new, switched, reason = self._after_normal(accepted, defects, plan, steady_production,
                                                       approved_for_reduced, use_limit_numbers, limit_number)
        elif self.severity == TIGHTENED:
            new, switched, reason = self._after_tightened(accepted)
        else:
            new, switched, reason = self._after_reduced(accepted, defects, plan, steady_production)
        entry = {
            "event": "lot",
            "lot": lot,
            "severity": self.severity,
            "next_severity": new.severity,
            "switched": switched,
            "accepted": accepted,
            "defects": defects,
            "plan_letter": plan.plan_letter,
            "sample_size": plan.effective_sample_size,
            "accept": plan.accept,
            "reject": plan.reject,
            "reason": reason,
        }
        return replace(new, history=self.history + (entry,))

    def resume(self, reason: str, operator: str | None = None) -> "SwitchingState":
        """After discontinuation: corrective action taken, restart on tightened inspection."""
        if not self.halted:
            raise ValueError(f"nothing to resume: {self.severity} inspection is in effect")
        if not reason or not reason.strip():
            raise ValueError("resume needs the corrective action taken, in words")
        entry = {
            "event": "resume",
            "lot": None,
            "severity": DISCONTINUED,
            "next_severity": TIGHTENED,
            "switched": True,
            "operator": operator,
            "reason": f"discontinued -> tightened: inspection resumed after corrective action: {reason.strip()}",
        }
        return SwitchingState(severity=TIGHTENED, history=self.history + (entry,))

    def _switch(self, severity: str) -> "SwitchingState":
        return SwitchingState(severity=severity, history=self.history)

    def _after_normal(self, accepted, defects, plan, steady, approved, use_limits, limit_number):
        recent = (self.normal_recent + (accepted,))[-NORMAL_WINDOW:]
        not_accepted = recent.count(False)
        if not accepted and not_accepted >= NORMAL_NOT_ACCEPTED_TO_TIGHTEN:
            first = recent.index(False)
            span = len(recent) - first
            return self._switch(TIGHTENED), True, (
                f"normal -> tightened: {not_accepted} of the last {span} consecutive lots on normal "
                f"inspection not accepted (the rule: 2 within 5 or fewer)"
            )
        if not accepted:
            return replace(self, normal_recent=recent, consecutive_accepted=0, normal_run=()), False, (
                f"normal: lot not accepted ({defects} defects, Re {plan.reject}); 1 not accepted within "
                f"the last {len(recent)} lots on normal, a second within 5 lots switches to tightened"
            )
        run = (self.normal_run + ((plan.effective_sample_size, defects),))[-NORMAL_ACCEPTED_TO_REDUCE:]
        consecutive = self.consecutive_accepted + 1
        stay = replace(self, normal_recent=recent, consecutive_accepted=consecutive, normal_run=run)
        if consecutive < NORMAL_ACCEPTED_TO_REDUCE:
            return stay, False, (
                f"normal: lot accepted; {consecutive} consecutive accepted on normal inspection "
                f"({NORMAL_ACCEPTED_TO_REDUCE} may allow reduced)"
            )
        blockers = []
        if not steady:
            blockers.append("production not steady")
        if not approved:
            blockers.append("reduced inspection not approved by configuration")
        units, total = sum(u for u, _ in run), sum(d for _, d in run)
        limit_text = ""
        if use_limits:
            limit_text = f", {total} defects in {units} sample units of the last 10 lots <= limit number {limit_number}"
            if total > limit_number:
                blockers.append(f"{total} defects in {units} sample units of the last 10 lots exceed "
                                f"the limit number {limit_number}")
        if blockers:
            return stay, False, (
                f"normal: lot accepted; {consecutive} consecutive accepted on normal inspection, "
                f"but staying on normal: {'; '.join(blockers)}"
            )
        return self._switch(REDUCED), True, (
            f"normal -> reduced: {NORMAL_ACCEPTED_TO_REDUCE} consecutive lots accepted on normal "
            f"inspection, production steady, reduced inspection approved{limit_text}"
        )

    def _after_tightened(self, accepted):
        if accepted:
            consecutive = self.consecutive_accepted + 1
            if consecutive >= TIGHTENED_ACCEPTED_TO_NORMAL:
                return self._switch(NORMAL), True, (
                    f"tightened -> normal: {consecutive} consecutive lots accepted on tightened inspection"
                )
            return replace(self, consecutive_accepted=consecutive), False, (
                f"tightened: lot accepted; {consecutive} consecutive accepted "
                f"({TIGHTENED_ACCEPTED_TO_NORMAL} return to normal)"
            )
        count = self.tightened_not_accepted + 1
        if count >= TIGHTENED_NOT_ACCEPTED_TO_DISCONTINUE:
            return self._switch(DISCONTINUED), True, (
                f"tightened -> discontinued: {count} lots not accepted since tightened inspection began; "
                f"inspection halted, operator action required (corrective action, then resume)"
            )
        return replace(self, consecutive_accepted=0, tightened_not_accepted=count), False, (
            f"tightened: lot not accepted; {count} not accepted since tightened began "
            f"({TIGHTENED_NOT_ACCEPTED_TO_DISCONTINUE} discontinue inspection)"
        )

    def _after_reduced(self, accepted, defects, plan, steady):
        if not accepted:
            return self._switch(NORMAL), True, (
                f"reduced -> normal: lot not accepted ({defects} defects, Re {plan.reject})"
            )
        if plan.in_gap(defects):
            return self._switch(NORMAL), True, (
                f"reduced -> normal: lot accepted with {defects} defects, between Ac {plan.accept} "
                f"and Re {plan.reject}"
            )
        if not steady:
            return self._switch(NORMAL), True, "reduced -> normal: production irregular or delayed"
        consecutive = self.consecutive_accepted + 1
        return replace(self, consecutive_accepted=consecutive), False, (
            f"reduced: lot accepted ({defects} defects, Ac {plan.accept}); production steady"
        )

    # -- persistence ---------------------------------------------------------------------------

    def to_dict(self) -> dict:
        return {
            "version": FORMAT_VERSION,
            "severity": self.severity,
            "normal_recent": list(self.normal_recent),
            "consecutive_accepted": self.consecutive_accepted,
            "tightened_not_accepted": self.tightened_not_accepted,
            "normal_run": [list(pair) for pair in self.normal_run],
            "history": [dict(entry) for entry in self.history],
        }

    @classmethod
    def from_dict(cls, data: dict) -> "SwitchingState":
        if not isinstance(data, dict):
            raise ValueError("switching state must be a JSON object")
        version = data.get("version")
        if version != FORMAT_VERSION:
            raise ValueError(f"switching state version {version!r} is not {FORMAT_VERSION}")
        try:
            state = cls(
                severity=data["severity"],
                normal_recent=tuple(bool(x) for x in data.get("normal_recent", ())),
                consecutive_accepted=int(data.get("consecutive_accepted", 0)),
                tightened_not_accepted=int(data.get("tightened_not_accepted", 0)),
                normal_run=tuple((int(u), int(d)) for u, d in data.get("normal_run", ())),
                history=tuple(dict(entry) for entry in data.get("history", ())),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"bad switching state: {exc}") from exc
        if len(state.normal_recent) > NORMAL_WINDOW or len(state.normal_run) > NORMAL_ACCEPTED_TO_REDUCE:
            raise ValueError("bad switching state: counters longer than the rules keep")
        if state.consecutive_accepted < 0 or state.tightened_not_accepted < 0:
            raise ValueError("bad switching state: negative counter")
        return state
