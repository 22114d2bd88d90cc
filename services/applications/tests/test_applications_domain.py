"""The case workflow and the date rules of a submission: pure, no broker, no database."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from applications.domain import (
    TERMINAL,
    TRANSITIONS,
    Action,
    Actor,
    Status,
    TransitionRefused,
    allowed_actions,
    decision_action,
    next_status,
    submission_date_errors,
)

S, A = Status, Action
IDENTITY_ACTIONS = ["identity_verified", "identity_rejected", "identity_deferred"]

# -- transitions ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "action", "target"),
    [
        (S.IDENTITY_CHECK_PENDING, A.IDENTITY_VERIFIED, S.IN_REVIEW),
        (S.IDENTITY_CHECK_PENDING, A.IDENTITY_REJECTED, S.REJECTED),
        (S.IDENTITY_CHECK_PENDING, A.IDENTITY_DEFERRED, S.IDENTITY_CHECK_PENDING),
        (S.IN_REVIEW, A.APPROVE, S.APPROVED),
        (S.IN_REVIEW, A.REJECT, S.REJECTED),
        (S.APPROVED, A.PERMIT_ISSUED, S.PERMIT_ISSUED),
    ],
)
def test_allowed_transition_leads_to_its_target(source, action, target):
    assert next_status(source, action) == target


def test_every_declared_transition_is_honoured_by_next_status():
    for transition in TRANSITIONS:
        assert next_status(transition.source, transition.action) == transition.target


def test_transition_table_is_deterministic():
    pairs = [(t.source, t.action) for t in TRANSITIONS]
    assert len(pairs) == len(set(pairs))


REFUSED = [
    (status, action)
    for status in Status
    for action in Action
    if all((t.source, t.action) != (status, action) for t in TRANSITIONS)
]


@pytest.mark.parametrize(("status", "action"), REFUSED)
def test_undeclared_transition_is_refused_with_the_allowed_list(status, action):
    with pytest.raises(TransitionRefused) as refused:
        next_status(status, action)
    assert refused.value.status == status
    assert refused.value.action == action
    assert refused.value.allowed == allowed_actions(status)
    assert action.value not in refused.value.allowed
    assert f"cannot {action.value}" in str(refused.value)


@pytest.mark.parametrize(
    ("status", "action", "allowed"),
    [
        (S.IDENTITY_CHECK_PENDING, A.APPROVE, IDENTITY_ACTIONS),
        (S.IN_REVIEW, A.PERMIT_ISSUED, ["approve", "reject"]),
        (S.APPROVED, A.REJECT, ["permit_issued"]),
    ],
)  # fmt: skip
def test_refusal_names_exactly_what_is_allowed(status, action, allowed):
    with pytest.raises(TransitionRefused) as refused:
        next_status(status, action)
    assert refused.value.allowed == allowed


@pytest.mark.parametrize("status", sorted(TERMINAL))
def test_terminal_state_has_no_outgoing_transition(status):
    assert allowed_actions(status) == []
    for action in Action:
        with pytest.raises(TransitionRefused):
            next_status(status, action)


def test_terminal_states_are_rejected_and_permit_issued():
    assert {S.REJECTED, S.PERMIT_ISSUED} == TERMINAL


@pytest.mark.parametrize(
    ("status", "actor", "expected"),
    [
        (S.IDENTITY_CHECK_PENDING, Actor.OFFICER, []),
        (S.IDENTITY_CHECK_PENDING, Actor.SYSTEM, IDENTITY_ACTIONS),
        (S.IN_REVIEW, Actor.OFFICER, ["approve", "reject"]),
        (S.IN_REVIEW, Actor.SYSTEM, []),
        (S.APPROVED, Actor.OFFICER, []),
        (S.APPROVED, Actor.SYSTEM, ["permit_issued"]),
        (S.REJECTED, Actor.OFFICER, []),
        (S.PERMIT_ISSUED, Actor.SYSTEM, []),
    ],
)  # fmt: skip
def test_allowed_actions_by_actor(status, actor, expected):
    assert allowed_actions(status, actor) == expected


def test_allowed_actions_without_actor_is_the_union_of_both_actors():
    for status in Status:
        union = allowed_actions(status, Actor.SYSTEM) + allowed_actions(status, Actor.OFFICER)
        assert sorted(allowed_actions(status)) == sorted(union)


def test_decisions_map_to_officer_actions():
    assert decision_action("approve") == A.APPROVE
    assert decision_action("reject") == A.REJECT
    with pytest.raises(KeyError):
        decision_action("permit_issued")


# -- submission date rules --------------------------------------------------------

TODAY = date(2026, 12, 1)
ADULT = date(1990, 4, 12)
PASSPORT_OK = date(2031, 1, 1)
START_OK = date(2027, 1, 15)


def test_valid_dates_give_no_errors():
    assert submission_date_errors(ADULT, PASSPORT_OK, START_OK, TODAY) == {}


@pytest.mark.parametrize(
    ("born", "today", "is_adult"),
    [
        (date(2008, 12, 1), date(2026, 12, 1), True),  # 18th birthday today
        (date(2008, 12, 2), date(2026, 12, 1), False),  # 18 tomorrow
        (date(2008, 11, 30), date(2026, 12, 1), True),
        (date(2009, 1, 1), date(2026, 12, 31), False),  # 18 next year, same calendar year
        (date(2008, 2, 29), date(2026, 2, 28), False),  # leap-day birth: 18 on 1 March
        (date(2008, 2, 29), date(2026, 3, 1), True),
        (date(2030, 1, 1), date(2026, 12, 1), False),  # born in the future
    ],
)
def test_worker_must_be_eighteen(born, today, is_adult):
    errors = submission_date_errors(born, PASSPORT_OK, START_OK, today)
    if is_adult:
        assert "worker.date_of_birth" not in errors
    else:
        assert errors["worker.date_of_birth"] == ["the worker must be at least 18"]


@pytest.mark.parametrize(
    ("expiry", "expired"),
    [
        (date(2026, 11, 30), True),
        (TODAY, True),  # a passport expiring today is already unusable
        (date(2026, 12, 2), False),
    ],
)
def test_expired_passport_is_refused(expiry, expired):
    errors = submission_date_errors(ADULT, expiry, START_OK, TODAY)
    assert ("worker.passport.expiry_date" in errors) is expired
    if expired:
        assert errors["worker.passport.expiry_date"] == ["the passport has expired"]


@pytest.mark.parametrize(
    ("start", "in_past"),
    [(date(2026, 11, 30), True), (TODAY, False), (date(2026, 12, 2), False)],
)
def test_contract_start_must_not_be_in_the_past(start, in_past):
    errors = submission_date_errors(ADULT, PASSPORT_OK, start, TODAY)
    assert ("contract.start_date" in errors) is in_past
    if in_past:
        assert errors["contract.start_date"] == ["must not be in the past"]


def test_all_date_errors_are_reported_together():
    errors = submission_date_errors(date(2015, 1, 1), date(2020, 1, 1), date(2026, 1, 1), TODAY)
    assert set(errors) == {
        "worker.date_of_birth",
        "worker.passport.expiry_date",
        "contract.start_date",
    }


# -- stateful: random walks through the workflow ----------------------------------------


class CaseWorkflow(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.status = S.IDENTITY_CHECK_PENDING
        self.applied: list[Action] = []

    def _apply(self, action: Action) -> None:
        self.status = next_status(self.status, action)
        self.applied.append(action)

    @rule(action=st.sampled_from(Action))
    def try_any_action(self, action: Action) -> None:
        allowed = allowed_actions(self.status)
        if action.value in allowed:
            self._apply(action)
            return
        before = self.status
        with pytest.raises(TransitionRefused) as refused:
            next_status(self.status, action)
        assert refused.value.allowed == allowed
        assert self.status == before

    @precondition(lambda self: self.status not in TERMINAL)
    @rule(data=st.data())
    def take_an_allowed_action(self, data: st.DataObject) -> None:
        action = data.draw(st.sampled_from(allowed_actions(self.status)))
        self._apply(Action(action))

    @invariant()
    def permit_only_after_verified_identity_and_approval(self) -> None:
        if self.status == S.PERMIT_ISSUED:
            verified = self.applied.index(A.IDENTITY_VERIFIED)
            approved = self.applied.index(A.APPROVE)
            assert verified < approved < self.applied.index(A.PERMIT_ISSUED)

    @invariant()
    def at_most_one_decision(self) -> None:
        assert sum(a in (A.APPROVE, A.REJECT) for a in self.applied) <= 1

    @invariant()
    def identity_settled_at_most_once(self) -> None:
        settled = [a for a in self.applied if a in (A.IDENTITY_VERIFIED, A.IDENTITY_REJECTED)]
        assert len(settled) <= 1

    @invariant()
    def terminal_state_refuses_everything(self) -> None:
        if self.status in TERMINAL:
            for action in Action:
                with pytest.raises(TransitionRefused):
                    next_status(self.status, action)


CaseWorkflow.TestCase.settings = settings(max_examples=200, stateful_step_count=15, deadline=None)
TestCaseWorkflow = CaseWorkflow.TestCase
