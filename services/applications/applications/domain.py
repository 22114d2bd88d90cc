"""The rules of a work-permit case: its states, who may move it where, and the
rules around it (kinds, exemptions, working days, deadlines, documents, fees).

Pure: no I/O, no framework, no clock of its own (``now``/``today`` come in as
arguments). The service loads a case, asks these rules what may happen next,
and stores the answer with a history entry and an event.
"""

from __future__ import annotations

import base64
import json
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum

# -- states, actions, roles -----------------------------------------------------------


class Status(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    IDENTITY_CHECK_PENDING = "identity_check_pending"
    LMT_PENDING = "labour_market_test_pending"
    IN_REVIEW = "in_review"
    RETURNED = "returned_for_correction"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    PERMIT_ISSUED = "permit_issued"
    CLOSED = "closed"


class Action(StrEnum):
    SUBMIT = "submit"
    REQUEST_IDENTITY_CHECK = "request_identity_check"
    IDENTITY_VERIFIED = "identity_verified"
    IDENTITY_REJECTED = "identity_rejected"
    IDENTITY_DEFERRED = "identity_deferred"
    LMT_NOT_REQUIRED = "labour_market_test_not_required"
    LMT_CONSENTED = "labour_market_test_consented"
    LMT_REFUSED = "labour_market_test_refused"
    APPROVE = "approve"
    REJECT = "reject"
    SEND_BACK = "send_back"
    RESUBMIT = "resubmit"
    WITHDRAW = "withdraw"
    PERMIT_ISSUED = "permit_issued"
    PERMIT_REFUSED = "permit_refused"
    CLOSE = "close"


class Role(StrEnum):
    """Who acts: the role of the verified caller (its access token, see
    wpis_common.caller), checked here against the transition table. The agency and
    admin roles have no access to applications."""

    EMPLOYER = "employer"
    INTAKE_OFFICER = "intake_officer"
    DECISION_OFFICER = "decision_officer"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"
    SYSTEM = "system"


E, IO, DO, SV, SYS = (
    Role.EMPLOYER, Role.INTAKE_OFFICER, Role.DECISION_OFFICER, Role.SUPERVISOR, Role.SYSTEM,
)  # fmt: skip
OFFICERS = frozenset({IO, DO, SV})
HUMAN_ROLES = frozenset(Role) - {SYS}


@dataclass(frozen=True)
class Transition:
    source: Status
    action: Action
    target: Status
    roles: frozenset[Role]


def _t(source: Status, action: Action, target: Status, *roles: Role) -> Transition:
    return Transition(source, action, target, frozenset(roles))


S, A = Status, Action
WITHDRAWABLE = (S.SUBMITTED, S.IDENTITY_CHECK_PENDING, S.LMT_PENDING, S.IN_REVIEW, S.RETURNED)

TRANSITIONS: tuple[Transition, ...] = (
    _t(S.DRAFT, A.SUBMIT, S.SUBMITTED, E),
    _t(S.DRAFT, A.WITHDRAW, S.WITHDRAWN, E),
    _t(S.SUBMITTED, A.REQUEST_IDENTITY_CHECK, S.IDENTITY_CHECK_PENDING, SYS),
    _t(S.IDENTITY_CHECK_PENDING, A.IDENTITY_VERIFIED, S.LMT_PENDING, SYS),
    _t(S.IDENTITY_CHECK_PENDING, A.IDENTITY_REJECTED, S.REJECTED, SYS),
    _t(S.IDENTITY_CHECK_PENDING, A.IDENTITY_DEFERRED, S.IDENTITY_CHECK_PENDING, SYS),
    _t(S.LMT_PENDING, A.LMT_NOT_REQUIRED, S.IN_REVIEW, SYS),
    _t(S.LMT_PENDING, A.LMT_CONSENTED, S.IN_REVIEW, SYS),
    _t(S.LMT_PENDING, A.LMT_REFUSED, S.CLOSED, SYS),
    _t(S.IN_REVIEW, A.APPROVE, S.APPROVED, DO, SV),
    _t(S.IN_REVIEW, A.REJECT, S.REJECTED, DO, SV),
    _t(S.IN_REVIEW, A.SEND_BACK, S.RETURNED, IO, DO, SV),
    _t(S.RETURNED, A.RESUBMIT, S.IN_REVIEW, E),
    _t(S.RETURNED, A.CLOSE, S.CLOSED, SV),
    *(_t(source, A.WITHDRAW, S.WITHDRAWN, E) for source in WITHDRAWABLE),
    _t(S.APPROVED, A.PERMIT_ISSUED, S.PERMIT_ISSUED, SYS),
    _t(S.APPROVED, A.PERMIT_REFUSED, S.CLOSED, SYS),
)

TERMINAL = frozenset({S.REJECTED, S.WITHDRAWN, S.PERMIT_ISSUED, S.CLOSED})
# Cases on the authority's desk: the statutory clock runs for these.
CLOCK_RUNNING = frozenset({S.SUBMITTED, S.IDENTITY_CHECK_PENDING, S.LMT_PENDING, S.IN_REVIEW})
DECISIONS = {"approve": A.APPROVE, "reject": A.REJECT}
# Actions that decide a case on its merits: at most one per case.
DECIDING_ACTIONS = frozenset({A.APPROVE, A.REJECT, A.IDENTITY_REJECTED})


class TransitionRefused(Exception):
    """The action is not allowed from the case's current state (HTTP 409)."""

    def __init__(self, status: Status, action: Action, allowed: list[str]):
        self.status = status
        self.action = action
        self.allowed = allowed
        super().__init__(f"cannot {action.value} an application that is {status.value}")


class RoleRefused(Exception):
    """The action is allowed in this state, but not to this role (HTTP 403)."""

    def __init__(self, action: Action, role: Role, roles: list[str]):
        self.action = action
        self.role = role
        self.roles = roles
        super().__init__(f"a {role.value} may not {action.value}; allowed roles: {roles}")


def allowed_actions(status: Status, role: Role | None = None) -> list[str]:
    """What may happen next, for ``role`` (or for anyone), in table order."""
    seen: list[str] = []
    for t in TRANSITIONS:
        if t.source == status and (role is None or role in t.roles) and t.action not in seen:
            seen.append(t.action.value)
    return seen


def transition_for(status: Status, action: Action) -> Transition:
    for transition in TRANSITIONS:
        if transition.source == status and transition.action == action:
            return transition
    raise TransitionRefused(status, action, allowed_actions(status))


def next_status(status: Status, action: Action, role: Role | None = None) -> Status:
    """The state ``action`` by ``role`` leads to; raises TransitionRefused or RoleRefused."""
    transition = transition_for(status, action)
    if role is not None and role not in transition.roles:
        raise RoleRefused(action, role, sorted(r.value for r in transition.roles))
    return transition.target


def decision_action(decision: str) -> Action:
    return DECISIONS[decision]


HUMAN_ROLES_ORDERED = [r for r in Role if r != Role.SYSTEM]


# -- guards: facts that block an action although the state allows it --------------------


@dataclass(frozen=True)
class CaseFacts:
    fee_required: bool = False
    fee_paid: bool = False
    missing_documents: tuple[str, ...] = ()


def blockers(action: Action, facts: CaseFacts) -> list[str]:
    """Why ``action`` cannot happen yet, in words; empty when nothing blocks it."""
    reasons = []
    if action == A.APPROVE and facts.fee_required and not facts.fee_paid:
        reasons.append("the state fee has not been paid")
    if action in (A.SUBMIT, A.RESUBMIT) and facts.missing_documents:
        reasons.append("required documents are missing: " + ", ".join(facts.missing_documents))
    return reasons


REJECTION_CODES = (
    "identity_check_failed",
    "documents_invalid",
    "false_information",
    "salary_below_minimum",
    "security_concern",
    "employer_not_eligible",
    "other",
)

# -- kinds and the labour-market test ---------------------------------------------------


class Kind(StrEnum):
    NEW = "new"
    EXTENSION = "extension"
    AMENDMENT = "amendment"


KINDS_REFERENCING_A_PERMIT = frozenset({Kind.EXTENSION, Kind.AMENDMENT})


def permit_reference_problem(kind: Kind, verdict: dict | None) -> str | None:
    """Why an extension/amendment cannot go ahead on this permit (permits.verify's answer)."""
    if kind not in KINDS_REFERENCING_A_PERMIT:
        return None
    if verdict is None:
        return "the permit register did not answer; try again later"
    if not verdict.get("valid"):
        reason = verdict.get("reason") or "it is not valid"
        return f"permit {verdict.get('number')} cannot be {_verb(kind)}: {reason}"
    return None


def _verb(kind: Kind) -> str:
    return "extended" if kind == Kind.EXTENSION else "amended"


@dataclass(frozen=True)
class LmtRules:
    """Which cases need a labour-market test, and how long the agency has to answer."""

    required: bool = False
    exempt_isco_codes: frozenset[str] = frozenset()
    exempt_nationalities: frozenset[str] = frozenset()
    exempt_claims: frozenset[str] = frozenset({"founder_director", "representative_office"})
    working_days: int = 15
    default_outcome: str = "consent"  # applied when the agency does not answer in time


def lmt_exemption(
    rules: LmtRules, kind: Kind, isco_code: str, nationality: str, claim: str | None
) -> str | None:
    """The exemption that applies, or None when the case needs a labour-market test.

    The order is the order an officer would check: the kind, the worker's
    citizenship, the declared position, then the profession list.
    """
    if kind != Kind.NEW:
        return f"not_required_for_{kind.value}"
    if not rules.required:
        return "not_required_by_configuration"
    if nationality in rules.exempt_nationalities:
        return "listed_state_citizen"
    if claim and claim in rules.exempt_claims:
        return claim
    if isco_code in rules.exempt_isco_codes:
        return "listed_profession"
    return None


LMT_OUTCOMES = ("consent", "refusal")


def lmt_default_action(default_outcome: str) -> Action:
    return A.LMT_CONSENTED if default_outcome == "consent" else A.LMT_REFUSED


# -- working days and deadlines ---------------------------------------------------------


def is_working_day(day: date, holidays: frozenset[date]) -> bool:
    return day.weekday() < 5 and day not in holidays


def add_working_days(start: date, days: int, holidays: frozenset[date]) -> date:
    """The ``days``-th working day after ``start`` (``start`` itself not counted)."""
    current, counted = start, 0
    while counted < days:
        current += timedelta(days=1)
        if is_working_day(current, holidays):
            counted += 1
    return current


def end_of_day(day: date, tz: object) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=tz)  # type: ignore[arg-type]


@dataclass(frozen=True)
class DeadlineRules:
    days_by_kind: dict[str, int] = field(
        default_factory=lambda: {"new": 30, "extension": 20, "amendment": 15}
    )
    warning_days: int = 5


def statutory_due(submitted_at: datetime, kind: Kind, rules: DeadlineRules) -> datetime:
    return submitted_at + timedelta(days=rules.days_by_kind[kind.value])


class DeadlineSignal(StrEnum):
    APPROACHING = "application_deadline_approaching"
    OVERDUE = "application_overdue"


def deadline_signal(
    status: Status,
    due_at: datetime | None,
    now: datetime,
    warning_days: int,
    warned: bool,
    flagged_overdue: bool,
) -> DeadlineSignal | None:
    """What the deadline timer should announce for a case now, if anything (once each)."""
    if due_at is None or status not in CLOCK_RUNNING:
        return None
    if now > due_at:
        return None if flagged_overdue else DeadlineSignal.OVERDUE
    if now >= due_at - timedelta(days=warning_days) and not warned:
        return DeadlineSignal.APPROACHING
    return None


def resumed_due(due_at: datetime, paused_at: datetime, now: datetime) -> datetime:
    """The clock stops while the case is with the employer for correction."""
    return due_at + max(now - paused_at, timedelta(0))


# -- documents --------------------------------------------------------------------------

DOCUMENT_TYPES = ("passport_copy", "contract_draft", "diploma", "photo", "vacancy_notice", "other")
DEFAULT_CHECKLIST = {
    "new": ("passport_copy", "contract_draft", "diploma", "photo"),
    "extension": ("passport_copy", "contract_draft"),
    "amendment": ("contract_draft",),
}
# Media types we accept, recognised by their first bytes, not by what the client claims.
MAGIC = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)
ALLOWED_MEDIA_TYPES = tuple(media for _, media in MAGIC)
DOCUMENT_VIEWERS = frozenset({E, IO, DO, SV})


def sniff_media_type(head: bytes) -> str | None:
    for magic, media_type in MAGIC:
        if head.startswith(magic):
            return media_type
    return None


def document_problems(
    document_type: str, size: int, declared_type: str | None, head: bytes, max_bytes: int
) -> dict[str, list[str]]:
    """Field errors for an upload; empty when it may be stored."""
    errors: dict[str, list[str]] = {}
    if document_type not in DOCUMENT_TYPES:
        errors["document_type"] = [f"must be one of: {', '.join(DOCUMENT_TYPES)}"]
    if size == 0:
        errors["file"] = ["the file is empty"]
    elif size > max_bytes:
        errors["file"] = [f"the file is {size} bytes; the limit is {max_bytes} bytes"]
    else:
        sniffed = sniff_media_type(head)
        if sniffed is None:
            allowed = ", ".join(ALLOWED_MEDIA_TYPES)
            errors["file"] = [f"the file type is not allowed; send one of: {allowed}"]
        elif declared_type and declared_type.split(";")[0].strip() not in (sniffed, ""):
            errors["file"] = [f"declared as {declared_type} but the content is {sniffed}"]
    return errors


def missing_documents(checklist: Iterable[str], uploaded_types: Iterable[str]) -> tuple[str, ...]:
    have = set(uploaded_types)
    return tuple(doc for doc in checklist if doc not in have)


def may_see_documents(role: Role) -> bool:
    return role in DOCUMENT_VIEWERS


def employer_owns(role: Role, tax_id: str | None, employer_tax_id: str) -> bool:
    """An employer sees and acts on its own cases only (its account's tax id); an
    employer without a tax id owns nothing."""
    return role != E or (tax_id is not None and tax_id == employer_tax_id)


# -- fees -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeeRules:
    required: bool = False
    amounts: dict[str, int] = field(
        default_factory=lambda: {"new": 105000, "extension": 52500, "amendment": 21000}
    )
    currency: str = "AMD"


def payment_problem(confirmation: dict | None, amount_due: int, currency: str) -> str | None:
    """Why a payment confirmation does not pay this case's fee, or None."""
    if confirmation is None:
        return "the payment service did not answer; try again later"
    if confirmation.get("status") != "confirmed":
        return f"the payment is not confirmed (status: {confirmation.get('status', 'unknown')})"
    if confirmation.get("currency") != currency:
        return f"the payment is in {confirmation.get('currency')}, the fee is in {currency}"
    if int(confirmation.get("amount", 0)) < amount_due:
        return f"the payment of {confirmation.get('amount')} is less than the fee of {amount_due}"
    return None


# -- search and pagination --------------------------------------------------------------


def search_text(given_names: str, surname: str, passport_number: str) -> str:
    """What full-text search matches: names folded to plain lower case, and the passport."""
    return f" {fold(given_names)} {fold(surname)} {passport_number.lower()} "


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(plain.lower().split())


def search_terms(query: str) -> list[str]:
    return [term for term in fold(query).split(" ") if term][:8]


def encode_cursor(created_at: datetime, application_id: str) -> str:
    raw = json.dumps([created_at.isoformat(), application_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """ValueError for anything that is not a cursor we handed out."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, application_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        moment = datetime.fromisoformat(created)
    except Exception as error:  # any malformed cursor is the same client mistake
        raise ValueError("not a cursor from a previous page") from error
    if moment.tzinfo is None or not isinstance(application_id, str):
        raise ValueError("not a cursor from a previous page")
    return moment, application_id


# -- submission date rules --------------------------------------------------------------

MINIMUM_WORKING_AGE = 18


def identity_refusal_reason(outcome: str, reason: str) -> str:
    return f"identity check failed ({outcome}): {reason}"


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


# -- the whole policy, as configured ----------------------------------------------------


@dataclass(frozen=True)
class Policy:
    lmt: LmtRules = field(default_factory=LmtRules)
    fees: FeeRules = field(default_factory=FeeRules)
    deadlines: DeadlineRules = field(default_factory=DeadlineRules)
    holidays: frozenset[date] = frozenset()
    require_documents: bool = False
    checklist: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_CHECKLIST))
    document_max_bytes: int = 5 * 1024 * 1024
