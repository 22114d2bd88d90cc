"""The console's forms and page rules, pure (no I/O, no framework): the filing
form's fields and how they become the API's JSON payload, the queue's filters,
the CSRF check, and which actions a case page offers.

The filing form is validated by the applications service itself (the same
marshmallow schema as ``POST /api/v1/applications``): its field errors come
back keyed by dotted paths (``worker.passport.number``) and the form's inputs
carry exactly those names, so each reason is shown next to its field.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CSRF_COOKIE = "wpis_csrf"
CSRF_FIELD = "csrf_token"
LANG_COOKIE = "wpis_lang"

OFFICER_ROLES = frozenset({"intake_officer", "decision_officer", "supervisor", "auditor"})
PERMIT_READERS = OFFICER_ROLES  # the permits service's readers; employers use the public check
QUEUE_ROLES = OFFICER_ROLES | {"employer"}
REGIONS = ("AM-ER", "AM-AG", "AM-AR", "AM-AV", "AM-GR", "AM-KT",
           "AM-LO", "AM-SH", "AM-SU", "AM-TV", "AM-VD")  # fmt: skip
STATUSES = (
    "draft", "submitted", "identity_check_pending", "labour_market_test_pending", "in_review",
    "returned_for_correction", "approved", "rejected", "withdrawn", "permit_issued", "closed",
)  # fmt: skip
KINDS = ("new", "extension", "amendment")
REJECTION_CODES = (
    "identity_check_failed", "documents_invalid", "false_information", "salary_below_minimum",
    "security_concern", "employer_not_eligible", "other",
)  # fmt: skip
DOCUMENT_TYPES = ("passport_copy", "contract_draft", "diploma", "photo", "vacancy_notice", "other")


@dataclass(frozen=True)
class Field:
    name: str  # the dotted path in the API payload
    label: str  # catalog key
    kind: str = "text"  # text | date | email | number | select
    required: bool = True
    choices: tuple[str, ...] = ()
    choice_prefix: str = ""  # catalog prefix of the choices' labels ("" = show as is)


FILING_SECTIONS: tuple[tuple[str, tuple[Field, ...]], ...] = (
    ("section_employer", (
        Field("employer.tax_id", "tax_id"),
        Field("employer.name", "employer_name"),
        Field("employer.email", "email", "email"),
        Field("employer.phone", "phone", required=False),
    )),
    ("section_worker", (
        Field("worker.given_names", "given_names"),
        Field("worker.surname", "surname"),
        Field("worker.date_of_birth", "date_of_birth", "date"),
        Field("worker.sex", "sex", "select", choices=("M", "F", "X")),
        Field("worker.nationality", "nationality"),
        Field("worker.email", "email", "email"),
        Field("worker.phone", "phone", required=False),
    )),
    ("section_passport", (
        Field("worker.passport.number", "passport_number"),
        Field("worker.passport.issuing_country", "passport_country"),
        Field("worker.passport.expiry_date", "passport_expiry", "date"),
    )),
    ("section_job", (
        Field("kind", "kind", "select", choices=KINDS, choice_prefix="kind_"),
        Field("permit_number", "permit_number", required=False),
        Field("job.title", "job_title"),
        Field("job.isco_code", "isco_code"),
        Field("job.region", "region", "select", choices=REGIONS),
        Field("job.monthly_salary", "monthly_salary", "number"),
        Field("job.currency", "currency"),
    )),
    ("section_contract", (
        Field("contract.start_date", "start_date", "date"),
        Field("contract.end_date", "end_date", "date"),
    )),
)  # fmt: skip
FILING_FIELDS = tuple(field for _, fields in FILING_SECTIONS for field in fields)
UPPERCASE = frozenset(
    {"worker.nationality", "worker.passport.issuing_country", "worker.passport.number",
     "job.currency", "permit_number"}
)  # fmt: skip


def submission_from_form(form: Mapping[str, str]) -> dict[str, Any]:
    """The API payload from the filing form's fields. Blank optional fields are
    left out; values are passed on as typed (the service validates them), except
    that the salary becomes an integer when it is one and codes are upper-cased."""
    payload: dict[str, Any] = {}
    for field in FILING_FIELDS:
        raw = (form.get(field.name) or "").strip()
        if not raw and not field.required:
            continue
        value: Any = raw.upper() if field.name in UPPERCASE else raw
        if field.kind == "number" and raw.isdigit():
            value = int(raw)
        if not raw and field.required:
            continue  # missing: the schema says "Missing data for required field."
        *parents, leaf = field.name.split(".")
        node = payload
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    for section in ("employer", "worker", "job", "contract"):
        payload.setdefault(section, {})
    payload["worker"].setdefault("passport", {})
    return payload


def field_errors(body: Mapping[str, Any]) -> dict[str, list[str]]:
    """Field reasons from an API error body, in either shape: the current
    ``{"errors": {...}}`` or ``{"error": {"fields": {...}}}``."""
    errors = body.get("errors")
    if not isinstance(errors, dict):
        error = body.get("error")
        errors = error.get("fields") if isinstance(error, dict) else None
    if not isinstance(errors, dict):
        return {}
    return {str(key): [str(r) for r in (v if isinstance(v, list) else [v])]
            for key, v in errors.items()}  # fmt: skip


def error_message(body: Mapping[str, Any]) -> str:
    """A one-line reason from an API error body (either shape)."""
    error = body.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or error.get("code") or "refused")
    reasons = [f"{key}: {'; '.join(values)}" for key, values in field_errors(body).items()]
    return "; ".join(reasons) or str(body.get("message") or error or "refused")


def unplaced_errors(errors: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """Errors the form has no field for (shown at the top of the form)."""
    names = {field.name for field in FILING_FIELDS}
    return {key: value for key, value in errors.items() if key not in names}


# -- CSRF: a random token in a SameSite=Strict cookie, repeated in every form ---------


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_ok(cookie: str | None, submitted: str | None) -> bool:
    if not cookie or not submitted or len(cookie) < 32:
        return False
    return hmac.compare_digest(cookie.encode(), submitted.encode())


# -- the queue ------------------------------------------------------------------------


def queue_filters(args: Mapping[str, str], username: str) -> tuple[dict[str, Any], dict[str, str]]:
    """(filters for ``applications.search``, the form's current values). Unknown
    statuses or kinds are dropped rather than refused: this is a page, not the API."""
    status = (args.get("status") or "").strip()
    kind = (args.get("kind") or "").strip()
    overdue = args.get("overdue") == "1"
    mine = args.get("mine") == "1"
    filters: dict[str, Any] = {"limit": 100}
    if status in STATUSES:
        filters["status"] = [status]
    if kind in KINDS:
        filters["kind"] = kind
    if overdue:
        filters["overdue"] = True
    if mine:
        filters["assigned_to"] = username
    cursor = (args.get("cursor") or "").strip()
    if cursor:
        filters["cursor"] = cursor[:300]
    current = {
        "status": status if status in STATUSES else "",
        "kind": kind if kind in KINDS else "",
        "overdue": "1" if overdue else "",
        "mine": "1" if mine else "",
    }
    return filters, current


def status_counts(items: list[Mapping[str, Any]]) -> list[tuple[str, int]]:
    """How many of the listed cases are in each status, in workflow order."""
    counts: dict[str, int] = {}
    for item in items:
        counts[item.get("status", "")] = counts.get(item.get("status", ""), 0) + 1
    ordered = [(status, counts.pop(status)) for status in STATUSES if status in counts]
    return ordered + sorted(counts.items())


# -- which actions a case page offers ---------------------------------------------------

CASE_ACTIONS = ("assign", "submit", "send_back", "approve", "reject", "withdraw", "resubmit")
ASSIGNERS = frozenset({"intake_officer", "decision_officer", "supervisor"})


def case_actions(case: Mapping[str, Any], role: str, username: str) -> list[str]:
    """The actions to show: those the applications service says this role may take
    in the case's state (``allowed_actions``), plus "assign to me" while the case
    is open (an officer: only an unassigned case). The service still decides."""
    allowed = set(case.get("allowed_actions") or [])
    shown = []
    open_states = {"submitted", "identity_check_pending", "labour_market_test_pending",
                   "in_review", "returned_for_correction"}  # fmt: skip
    if role in ASSIGNERS and case.get("status") in open_states:
        # an officer takes an unassigned case; a supervisor may take any case
        holder = case.get("assigned_to")
        if holder != username and (holder is None or role == "supervisor"):
            shown.append("assign")
    for action in CASE_ACTIONS[1:]:
        if action in allowed:
            shown.append(action)
    return shown


def decision_payload(form: Mapping[str, str], decision: str) -> dict[str, Any]:
    payload: dict[str, Any] = {"decision": decision, "reason": (form.get("reason") or "").strip()}
    code = (form.get("reason_code") or "").strip()
    if code:
        payload["reason_code"] = code
    return payload


def send_back_payload(form: Mapping[str, str]) -> dict[str, Any]:
    fix = [line.strip() for line in (form.get("fix") or "").splitlines() if line.strip()]
    return {"reason": (form.get("reason") or "").strip(), "fix": fix}


def safe_next(target: str | None, default: str = "/console") -> str:
    """A local path to go to after login (never another site)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


GOOD = frozenset({"approved", "permit_issued", "issued"})
BAD = frozenset({"rejected", "closed", "withdrawn", "revoked", "cancelled", "expired"})
WAITING = frozenset({"returned_for_correction", "suspended", "identity_check_pending"})


def status_class(status: str | None) -> str:
    """The badge colour of an application's or a permit's status."""
    if status in GOOD:
        return "ok"
    if status in BAD:
        return "bad"
    return "warn" if status in WAITING else ""
