"""The case workflow and the rules around it: pure, no broker, no database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from applications.casework import Who, who_from
from applications.domain import (
    DECIDING_ACTIONS,
    TERMINAL,
    TRANSITIONS,
    Action,
    CaseFacts,
    DeadlineSignal,
    Kind,
    LmtRules,
    Role,
    RoleRefused,
    Status,
    TransitionRefused,
    add_working_days,
    allowed_actions,
    blockers,
    deadline_signal,
    decision_action,
    decode_cursor,
    document_problems,
    employer_owns,
    encode_cursor,
    lmt_exemption,
    missing_documents,
    next_status,
    payment_problem,
    permit_reference_problem,
    resumed_due,
    search_terms,
    search_text,
    submission_date_errors,
)
from wpis_common.caller import SYSTEM, Caller, Forbidden

S, A, R = Status, Action, Role

# -- the transition table -------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "action", "role", "target"),
    [
        (S.DRAFT, A.SUBMIT, R.EMPLOYER, S.SUBMITTED),
        (S.SUBMITTED, A.REQUEST_IDENTITY_CHECK, R.SYSTEM, S.IDENTITY_CHECK_PENDING),
        (S.IDENTITY_CHECK_PENDING, A.IDENTITY_VERIFIED, R.SYSTEM, S.LMT_PENDING),
        (S.IDENTITY_CHECK_PENDING, A.IDENTITY_REJECTED, R.SYSTEM, S.REJECTED),
        (S.IDENTITY_CHECK_PENDING, A.IDENTITY_DEFERRED, R.SYSTEM, S.IDENTITY_CHECK_PENDING),
        (S.LMT_PENDING, A.LMT_NOT_REQUIRED, R.SYSTEM, S.IN_REVIEW),
        (S.LMT_PENDING, A.LMT_CONSENTED, R.SYSTEM, S.IN_REVIEW),
        (S.LMT_PENDING, A.LMT_REFUSED, R.SYSTEM, S.CLOSED),
        (S.IN_REVIEW, A.APPROVE, R.DECISION_OFFICER, S.APPROVED),
        (S.IN_REVIEW, A.REJECT, R.SUPERVISOR, S.REJECTED),
        (S.IN_REVIEW, A.SEND_BACK, R.INTAKE_OFFICER, S.RETURNED),
        (S.RETURNED, A.RESUBMIT, R.EMPLOYER, S.IN_REVIEW),
        (S.RETURNED, A.CLOSE, R.SUPERVISOR, S.CLOSED),
        (S.IN_REVIEW, A.WITHDRAW, R.EMPLOYER, S.WITHDRAWN),
        (S.DRAFT, A.WITHDRAW, R.EMPLOYER, S.WITHDRAWN),
        (S.APPROVED, A.PERMIT_ISSUED, R.SYSTEM, S.PERMIT_ISSUED),
        (S.APPROVED, A.PERMIT_REFUSED, R.SYSTEM, S.CLOSED),
    ],
)
def test_allowed_transition_leads_to_its_target(source, action, role, target):
    assert next_status(source, action, role) == target


def test_every_declared_transition_is_honoured_for_each_of_its_roles():
    for transition in TRANSITIONS:
        assert transition.roles, f"{transition} names no role"
        for role in transition.roles:
            assert next_status(transition.source, transition.action, role) == transition.target


def test_transition_table_is_deterministic():
    pairs = [(t.source, t.action) for t in TRANSITIONS]
    assert len(pairs) == len(set(pairs))


def test_every_status_is_reachable_from_a_draft():
    reached, frontier = {S.DRAFT}, [S.DRAFT]
    while frontier:
        source = frontier.pop()
        for t in TRANSITIONS:
            if t.source == source and t.target not in reached:
                reached.add(t.target)
                frontier.append(t.target)
    assert reached == set(Status)


REFUSED = [
    (status, action)
    for status in Status
    for action in Action
    if all((t.source, t.action) != (status, action) for t in TRANSITIONS)
]


@pytest.mark.parametrize(("status", "action"), REFUSED)
def test_undeclared_transition_is_refused_with_the_allowed_list(status, action):
    with pytest.raises(TransitionRefused) as refused:
        next_status(status, action, R.SUPERVISOR)
    assert refused.value.status == status
    assert refused.value.allowed == allowed_actions(status)
    assert action.value not in refused.value.allowed
    assert f"cannot {action.value}" in str(refused.value)


@pytest.mark.parametrize(
    ("status", "action", "role", "roles"),
    [
        (S.IN_REVIEW, A.APPROVE, R.EMPLOYER, ["decision_officer", "supervisor"]),
        (S.IN_REVIEW, A.APPROVE, R.INTAKE_OFFICER, ["decision_officer", "supervisor"]),
        (S.IN_REVIEW, A.WITHDRAW, R.SUPERVISOR, ["employer"]),
        (S.IDENTITY_CHECK_PENDING, A.IDENTITY_VERIFIED, R.SUPERVISOR, ["system"]),
        (S.RETURNED, A.CLOSE, R.DECISION_OFFICER, ["supervisor"]),
        (S.IN_REVIEW, A.SEND_BACK, R.AUDITOR, ["decision_officer", "intake_officer",
                                                "supervisor"]),
    ],
)  # fmt: skip
def test_a_role_that_may_not_act_is_refused_with_the_roles_that_may(status, action, role, roles):
    with pytest.raises(RoleRefused) as refused:
        next_status(status, action, role)
    assert refused.value.roles == roles


@pytest.mark.parametrize("status", sorted(TERMINAL))
def test_terminal_state_has_no_outgoing_transition(status):
    assert allowed_actions(status) == []
    for action in Action:
        with pytest.raises(TransitionRefused):
            next_status(status, action)


def test_terminal_states():
    assert {S.REJECTED, S.WITHDRAWN, S.PERMIT_ISSUED, S.CLOSED} == TERMINAL


@pytest.mark.parametrize(
    ("status", "role", "expected"),
    [
        (S.IDENTITY_CHECK_PENDING, R.DECISION_OFFICER, []),
        (S.IDENTITY_CHECK_PENDING, R.EMPLOYER, ["withdraw"]),
        (S.IN_REVIEW, R.DECISION_OFFICER, ["approve", "reject", "send_back"]),
        (S.IN_REVIEW, R.INTAKE_OFFICER, ["send_back"]),
        (S.IN_REVIEW, R.EMPLOYER, ["withdraw"]),
        (S.IN_REVIEW, R.AUDITOR, []),
        (S.RETURNED, R.EMPLOYER, ["resubmit", "withdraw"]),
        (S.RETURNED, R.SUPERVISOR, ["close"]),
        (S.APPROVED, R.SYSTEM, ["permit_issued", "permit_refused"]),
        (S.DRAFT, R.EMPLOYER, ["submit", "withdraw"]),
    ],
)  # fmt: skip
def test_allowed_actions_by_role(status, role, expected):
    assert allowed_actions(status, role) == expected


def test_allowed_actions_without_role_is_the_union_over_roles():
    for status in Status:
        union = {a for role in Role for a in allowed_actions(status, role)}
        assert set(allowed_actions(status)) == union


def test_decisions_map_to_officer_actions():
    assert decision_action("approve") == A.APPROVE
    assert decision_action("reject") == A.REJECT
    with pytest.raises(KeyError):
        decision_action("permit_issued")


@pytest.mark.parametrize(
    ("role", "tax_id", "case_tax_id", "owns"),
    [
        (R.EMPLOYER, "02563412", "02563412", True),
        (R.EMPLOYER, "00817345", "02563412", False),  # another employer
        (R.EMPLOYER, None, "02563412", False),  # an employer account without a tax id
        (R.DECISION_OFFICER, None, "02563412", True),  # officers see every case
        (R.AUDITOR, None, "02563412", True),
    ],
)
def test_an_employer_owns_only_its_own_tax_ids_cases(role, tax_id, case_tax_id, owns):
    assert employer_owns(role, tax_id, case_tax_id) is owns


@pytest.mark.parametrize(
    ("caller", "expected"),
    [
        (Caller("ararat", "employer", "02563412"), Who(R.EMPLOYER, "ararat", "02563412")),
        (Caller("anna", "decision_officer", "02563412"), Who(R.DECISION_OFFICER, "anna", None)),
        (Caller("aram", "auditor"), Who(R.AUDITOR, "aram", None)),
        (SYSTEM, Who(R.SYSTEM, "system", None)),
    ],
)
def test_the_acting_role_comes_from_the_verified_caller(caller, expected):
    assert who_from(caller) == expected


@pytest.mark.parametrize("role", ["agency", "admin"])
def test_agency_and_admin_have_no_access_to_applications(role):
    with pytest.raises(Forbidden) as refused:
        who_from(Caller("someone", role))
    assert "system" not in refused.value.details["allowed_roles"]


# -- guards ---------------------------------------------------------------------------------


def test_unpaid_fee_blocks_approval_only_when_required():
    assert blockers(A.APPROVE, CaseFacts(fee_required=True)) == ["the state fee has not been paid"]
    assert blockers(A.APPROVE, CaseFacts(fee_required=True, fee_paid=True)) == []
    assert blockers(A.APPROVE, CaseFacts(fee_required=False)) == []
    assert blockers(A.REJECT, CaseFacts(fee_required=True)) == []


def test_missing_documents_block_submission_and_are_listed():
    facts = CaseFacts(missing_documents=("passport_copy", "photo"))
    assert blockers(A.SUBMIT, facts) == ["required documents are missing: passport_copy, photo"]
    assert blockers(A.RESUBMIT, facts)
    assert blockers(A.APPROVE, facts) == []


def test_missing_documents_in_checklist_order():
    checklist = ("passport_copy", "contract_draft", "photo")
    assert missing_documents(checklist, ["photo", "other"]) == ("passport_copy", "contract_draft")
    assert missing_documents(checklist, checklist) == ()


# -- kinds, exemptions, the permit reference ----------------------------------------------

LMT_ON = LmtRules(
    required=True,
    exempt_isco_codes=frozenset({"1120"}),
    exempt_nationalities=frozenset({"RUS", "KAZ"}),
)


@pytest.mark.parametrize(
    ("rules", "kind", "isco", "nationality", "claim", "expected"),
    [
        (LMT_ON, Kind.NEW, "7212", "IND", None, None),
        (LMT_ON, Kind.NEW, "1120", "IND", None, "listed_profession"),
        (LMT_ON, Kind.NEW, "7212", "KAZ", None, "listed_state_citizen"),
        (LMT_ON, Kind.NEW, "7212", "IND", "founder_director", "founder_director"),
        (LMT_ON, Kind.NEW, "7212", "IND", "astronaut", None),
        (LMT_ON, Kind.EXTENSION, "7212", "IND", None, "not_required_for_extension"),
        (LMT_ON, Kind.AMENDMENT, "7212", "IND", None, "not_required_for_amendment"),
        (LmtRules(), Kind.NEW, "7212", "IND", None, "not_required_by_configuration"),
    ],
)  # fmt: skip
def test_labour_market_exemption(rules, kind, isco, nationality, claim, expected):
    assert lmt_exemption(rules, kind, isco, nationality, claim) == expected


def test_extension_of_a_permit_that_is_not_valid_is_refused_with_its_reason():
    verdict = {"number": "WP-2026-000001-K", "valid": False, "reason": "revoked on 2026-11-01"}
    assert permit_reference_problem(Kind.EXTENSION, verdict) == (
        "permit WP-2026-000001-K cannot be extended: revoked on 2026-11-01"
    )
    assert "cannot be amended" in permit_reference_problem(Kind.AMENDMENT, verdict)
    assert permit_reference_problem(Kind.EXTENSION, {"number": "X", "valid": True}) is None
    assert "did not answer" in permit_reference_problem(Kind.EXTENSION, None)
    assert permit_reference_problem(Kind.NEW, None) is None


# -- working days and deadlines -----------------------------------------------------------

HOLIDAYS = frozenset({date(2027, 1, 1), date(2027, 1, 6)})


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (date(2026, 12, 4), 1, date(2026, 12, 7)),  # Friday + 1 = Monday
        (date(2026, 12, 7), 5, date(2026, 12, 14)),
        (date(2026, 12, 31), 1, date(2027, 1, 4)),  # 1 Jan holiday, then a weekend
        (date(2026, 12, 31), 3, date(2027, 1, 7)),  # skips 6 Jan too
        (date(2026, 12, 7), 0, date(2026, 12, 7)),
    ],
)
def test_working_days_skip_weekends_and_holidays(start, days, expected):
    assert add_working_days(start, days, HOLIDAYS) == expected


@given(st.dates(date(2026, 1, 1), date(2030, 1, 1)), st.integers(1, 40))
def test_working_day_deadline_is_a_working_day_after_the_start(start, days):
    due = add_working_days(start, days, HOLIDAYS)
    assert due > start and due.weekday() < 5 and due not in HOLIDAYS
    assert (due - start).days >= days


NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
DUE = NOW + timedelta(days=10)


@pytest.mark.parametrize(
    ("now", "warned", "flagged", "expected"),
    [
        (NOW, False, False, None),
        (DUE - timedelta(days=5), False, False, DeadlineSignal.APPROACHING),
        (DUE - timedelta(days=4), True, False, None),
        (DUE, False, False, DeadlineSignal.APPROACHING),
        (DUE + timedelta(seconds=1), True, False, DeadlineSignal.OVERDUE),
        (DUE + timedelta(seconds=1), False, False, DeadlineSignal.OVERDUE),
        (DUE + timedelta(days=3), True, True, None),
    ],
)
def test_deadline_signal_once_each(now, warned, flagged, expected):
    assert deadline_signal(S.IN_REVIEW, DUE, now, 5, warned, flagged) == expected


@pytest.mark.parametrize("status", [S.DRAFT, S.RETURNED, S.APPROVED, *sorted(TERMINAL)])
def test_no_deadline_signal_when_the_clock_is_not_running(status):
    assert deadline_signal(status, DUE, DUE + timedelta(days=1), 5, False, False) is None


def test_clock_stops_while_the_case_is_with_the_employer():
    assert resumed_due(DUE, NOW, NOW + timedelta(days=3)) == DUE + timedelta(days=3)
    assert resumed_due(DUE, NOW, NOW - timedelta(days=1)) == DUE


# -- documents -------------------------------------------------------------------------------

PDF = b"%PDF-1.7\n"
PNG = b"\x89PNG\r\n\x1a\n"
LIMIT = 1000


@pytest.mark.parametrize(
    ("document_type", "size", "declared", "head", "errors"),
    [
        ("passport_copy", 10, "application/pdf", PDF, {}),
        ("photo", 10, "image/png", PNG, {}),
        ("photo", 10, None, b"\xff\xd8\xff\xe0", {}),
        ("photo", LIMIT, "", PNG, {}),
        ("photo", LIMIT + 1, "image/png", PNG,
         {"file": ["the file is 1001 bytes; the limit is 1000 bytes"]}),
        ("photo", 0, "image/png", b"", {"file": ["the file is empty"]}),
        ("photo", 10, "application/x-msdownload", b"MZ\x90\x00",
         {"file": ["the file type is not allowed; send one of: application/pdf, image/png, "
                   "image/jpeg"]}),
        ("photo", 10, "image/png", PDF,
         {"file": ["declared as image/png but the content is application/pdf"]}),
        ("selfie", 10, "image/png", PNG,
         {"document_type": ["must be one of: passport_copy, contract_draft, diploma, photo, "
                            "vacancy_notice, other"]}),
    ],
)  # fmt: skip
def test_document_problems(document_type, size, declared, head, errors):
    assert document_problems(document_type, size, declared, head, LIMIT) == errors


# -- fees ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("confirmation", "problem"),
    [
        ({"status": "confirmed", "amount": 105000, "currency": "AMD"}, None),
        ({"status": "confirmed", "amount": 200000, "currency": "AMD"}, None),
        ({"status": "confirmed", "amount": 1000, "currency": "AMD"},
         "the payment of 1000 is less than the fee of 105000"),
        ({"status": "confirmed", "amount": 105000, "currency": "USD"},
         "the payment is in USD, the fee is in AMD"),
        ({"status": "unknown"}, "the payment is not confirmed (status: unknown)"),
        (None, "the payment service did not answer; try again later"),
    ],
)  # fmt: skip
def test_payment_problem(confirmation, problem):
    assert payment_problem(confirmation, 105000, "AMD") == problem


# -- search and cursors ------------------------------------------------------------------------


def test_search_text_folds_accents_and_case():
    text = search_text("José María", "Núñez", "PAA123456")
    assert text == " jose maria nunez paa123456 "
    assert search_terms("  NÚÑEZ  josé ") == ["nunez", "jose"]


def test_cursor_round_trip():
    moment = datetime(2026, 12, 1, 10, 30, 15, 123456, tzinfo=UTC)
    assert decode_cursor(encode_cursor(moment, "abc")) == (moment, "abc")


@pytest.mark.parametrize("cursor", ["", "!!!", "bm90LWpzb24", encode_cursor.__name__])
def test_garbage_cursor_is_refused(cursor):
    with pytest.raises(ValueError, match="not a cursor"):
        decode_cursor(cursor)


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
    """Random sequences of commands by random roles, with the guards the service
    applies (fee before approval). Refused commands must change nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.status = S.DRAFT
        self.applied: list[Action] = []
        self.fee_paid = False
        self.fee_required = True

    def _apply(self, action: Action, role: Role) -> None:
        if blockers(action, CaseFacts(self.fee_required, self.fee_paid)):
            return
        self.status = next_status(self.status, action, role)
        self.applied.append(action)

    @rule(action=st.sampled_from(Action), role=st.sampled_from(Role))
    def try_any_command(self, action: Action, role: Role) -> None:
        before, applied = self.status, list(self.applied)
        if action.value in allowed_actions(self.status, role):
            self._apply(action, role)
            return
        expected = (
            RoleRefused if action.value in allowed_actions(self.status) else TransitionRefused
        )
        with pytest.raises(expected):
            next_status(self.status, action, role)
        assert (self.status, self.applied) == (before, applied)

    @precondition(lambda self: self.status not in TERMINAL)
    @rule(data=st.data())
    def take_an_allowed_action(self, data: st.DataObject) -> None:
        action = Action(data.draw(st.sampled_from(allowed_actions(self.status))))
        role = data.draw(st.sampled_from(sorted(transition_roles(self.status, action))))
        self._apply(action, role)

    @rule()
    def pay_the_fee(self) -> None:
        self.fee_paid = True

    @invariant()
    def no_permit_without_verified_identity_and_approval(self) -> None:
        if self.status == S.PERMIT_ISSUED:
            verified = self.applied.index(A.IDENTITY_VERIFIED)
            approved = self.applied.index(A.APPROVE)
            assert verified < approved < self.applied.index(A.PERMIT_ISSUED)

    @invariant()
    def no_approval_without_the_fee(self) -> None:
        if A.APPROVE in self.applied:
            assert self.fee_paid

    @invariant()
    def one_decision_per_case(self) -> None:
        assert sum(a in DECIDING_ACTIONS for a in self.applied) <= 1

    @invariant()
    def identity_settled_at_most_once(self) -> None:
        settled = [a for a in self.applied if a in (A.IDENTITY_VERIFIED, A.IDENTITY_REJECTED)]
        assert len(settled) <= 1

    @invariant()
    def review_only_after_identity_and_labour_market_settled(self) -> None:
        if self.status in (S.IN_REVIEW, S.APPROVED, S.RETURNED):
            assert A.IDENTITY_VERIFIED in self.applied
            assert {A.LMT_CONSENTED, A.LMT_NOT_REQUIRED} & set(self.applied)

    @invariant()
    def terminal_states_stay_terminal(self) -> None:
        if self.status in TERMINAL:
            assert allowed_actions(self.status) == []
            for action in Action:
                with pytest.raises(TransitionRefused):
                    next_status(self.status, action)


def transition_roles(status: Status, action: Action) -> frozenset[Role]:
    return next(t.roles for t in TRANSITIONS if t.source == status and t.action == action)


CaseWorkflow.TestCase.settings = settings(max_examples=150, stateful_step_count=20, deadline=None)
TestCaseWorkflow = CaseWorkflow.TestCase
