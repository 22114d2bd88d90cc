"""The rules of a work-permit case: its states and who may move it where.

Pure: no I/O, no framework. The service loads a case, asks these rules what
the next state is, and stores the answer with a history entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class Status(StrEnum):
    IDENTITY_CHECK_PENDING = "identity_check_pending"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    PERMIT_ISSUED = "permit_issued"


class Action(StrEnum):
    IDENTITY_VERIFIED = "identity_verified"
    IDENTITY_REJECTED = "identity_rejected"
    IDENTITY_DEFERRED = "identity_deferred"
    APPROVE = "approve"
    REJECT = "reject"
    PERMIT_ISSUED = "permit_issued"


class Actor(StrEnum):
    SYSTEM = "system"
    OFFICER = "officer"


@dataclass(frozen=True)
class Transition:
    source: Status
    action: Action
    target: Status
    actor: Actor


TRANSITIONS: tuple[Transition, ...] = (
    Transition(
        Status.IDENTITY_CHECK_PENDING, Action.IDENTITY_VERIFIED, Status.IN_REVIEW, Actor.SYSTEM
    ),
    Transition(
        Status.IDENTITY_CHECK_PENDING, Action.IDENTITY_REJECTED, Status.REJECTED, Actor.SYSTEM
    ),
    Transition(
        Status.IDENTITY_CHECK_PENDING,
        Action.IDENTITY_DEFERRED,
        Status.IDENTITY_CHECK_PENDING,
        Actor.SYSTEM,
    ),
    Transition(Status.IN_REVIEW, Action.APPROVE, Status.APPROVED, Actor.OFFICER),
    Transition(Status.IN_REVIEW, Action.REJECT, Status.REJECTED, Actor.OFFICER),
    Transition(Status.APPROVED, Action.PERMIT_ISSUED, Status.PERMIT_ISSUED, Actor.SYSTEM),
)

TERMINAL = frozenset({Status.REJECTED, Status.PERMIT_ISSUED})
DECISIONS = {"approve": Action.APPROVE, "reject": Action.REJECT}


class TransitionRefused(Exception):
    """The action is not allowed from the case's current state."""

    def __init__(self, status: Status, action: Action, allowed: list[str]):
        self.status = status
        self.action = action
        self.allowed = allowed
        super().__init__(f"cannot {action.value} an application that is {status.value}")


def allowed_actions(status: Status, actor: Actor | None = None) -> list[str]:
    return [
        t.action.value
        for t in TRANSITIONS
        if t.source == status and (actor is None or t.actor == actor)
    ]


def next_status(status: Status, action: Action) -> Status:
    """The state ``action`` leads to from ``status``; raises TransitionRefused."""
    for transition in TRANSITIONS:
        if transition.source == status and transition.action == action:
            return transition.target
    raise TransitionRefused(status, action, allowed_actions(status))


def decision_action(decision: str) -> Action:
    return DECISIONS[decision]


def identity_refusal_reason(outcome: str, reason: str) -> str:
    return f"identity check failed ({outcome}): {reason}"


MINIMUM_WORKING_AGE = 18


def submission_date_errors(
    date_of_birth: date, passport_expiry: date, contract_start: date, today: date
) -> dict[str, list[str]]:
    """Date rules a schema cannot see alone: they depend on today."""
    errors: dict[str, list[str]] = {}
    if _age_on(date_of_birth, today) < MINIMUM_WORKING_AGE:
        errors["worker.date_of_birth"] = [f"the worker must be at least {MINIMUM_WORKING_AGE}"]
    if passport_expiry <= today:
        errors["worker.passport.expiry_date"] = ["the passport has expired"]
    if contract_start < today:
        errors["contract.start_date"] = ["must not be in the past"]
    return errors


def _age_on(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))
