"""What to tell whom, on which channel, and when to try again. Pure: no I/O.

An event calls for notices to people (the employer, the worker) by e-mail, and
by SMS when they gave a phone number, each in the person's own language; and
for a webhook call to every agency endpoint that subscribed to its type.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

LANGUAGES = ("en", "hy", "ru")
DEFAULT_LANGUAGE = "en"
EMPLOYER, WORKER, AGENCY = "employer", "worker", "agency"
EMAIL, SMS, WEBHOOK = "email", "sms", "webhook"
BOTH = (EMPLOYER, WORKER)

# Delivery states. pending -> sending -> sent, or -> retrying -> sending ... -> failed.
PENDING, SENDING, SENT, RETRYING, FAILED, CANCELLED = (
    "pending", "sending", "sent", "retrying", "failed", "cancelled",
)  # fmt: skip
STATUSES = (PENDING, SENDING, SENT, RETRYING, FAILED, CANCELLED)
SENDABLE = (PENDING, RETRYING, SENDING)  # SENDING only once its claim has lapsed

# The public events notifications subscribes to, by producer.
SUBSCRIBED_EVENTS: dict[str, tuple[str, ...]] = {
    "applications": ("application_submitted", "application_approved", "application_rejected"),
    "identity_gateway": ("identity_check_deferred",),
    "permits": (
        "permit_issued", "permit_extended", "permit_amended", "permit_suspended",
        "permit_reinstated", "permit_revoked", "permit_cancelled", "permit_expired",
        "permit_flagged",
    ),
    "contracts": ("contract_registered", "contract_terminated"),
}  # fmt: skip
WEBHOOK_EVENT_TYPES = tuple(t for types in SUBSCRIBED_EVENTS.values() for t in types)
ALL_EVENTS = "*"

# event type -> (template, who is told). Events missing here reach agencies only
# (permit_flagged: a case under review is not announced to the person concerned).
NOTICES: dict[str, tuple[str, tuple[str, ...]]] = {
    "application_submitted": ("application_received", BOTH),
    "identity_check_deferred": ("identity_check_delayed", (EMPLOYER,)),
    "application_approved": ("application_approved", BOTH),
    "application_rejected": ("application_rejected", BOTH),
    "permit_issued": ("permit_issued", BOTH),
    "permit_extended": ("permit_extended", BOTH),
    "permit_amended": ("permit_amended", BOTH),
    "permit_suspended": ("permit_suspended", BOTH),
    "permit_reinstated": ("permit_reinstated", BOTH),
    "permit_revoked": ("permit_revoked", BOTH),
    "permit_cancelled": ("permit_cancelled", BOTH),
    "permit_expired": ("permit_expired", BOTH),
    "contract_registered": ("contract_registered", BOTH),
    "contract_terminated": ("contract_terminated", BOTH),
}
TEMPLATES = tuple(sorted({template for template, _ in NOTICES.values()}))


@dataclass(frozen=True)
class Person:
    role: str
    name: str
    email: str | None
    phone: str | None
    language: str


@dataclass(frozen=True)
class Contacts:
    application_id: str
    employer: Person
    worker: Person

    def person(self, role: str) -> Person:
        return self.employer if role == EMPLOYER else self.worker


@dataclass(frozen=True)
class PlannedNotice:
    role: str
    channel: str
    address: str
    template: str
    language: str


def language_or_default(language: str | None) -> str:
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def full_name(worker: dict[str, Any]) -> str:
    return f"{worker['given_names']} {worker['surname']}"


def contacts_from_submission(data: dict[str, Any]) -> Contacts:
    """Who to tell about a case, from application_submitted's data."""
    employer, worker = data["employer"], data["worker"]
    return Contacts(
        application_id=data["application_id"],
        employer=Person(
            EMPLOYER,
            employer["name"],
            employer.get("email"),
            employer.get("phone"),
            language_or_default(employer.get("language")),
        ),
        worker=Person(
            WORKER,
            full_name(worker),
            worker.get("email"),
            worker.get("phone"),
            language_or_default(worker.get("language")),
        ),
    )


def calls_for_notices(event_type: str, data: dict[str, Any]) -> bool:
    """Whether people are told of this event (a deferred identity check: only the first time)."""
    if event_type not in NOTICES:
        return False
    if event_type == "identity_check_deferred":
        return data.get("attempts") == 1
    return True


def plan_notices(event_type: str, data: dict[str, Any], contacts: Contacts) -> list[PlannedNotice]:
    """The notices an event calls for: per person told, e-mail and (with a phone) SMS."""
    if not calls_for_notices(event_type, data):
        return []
    template, roles = NOTICES[event_type]
    planned = []
    for role in roles:
        person = contacts.person(role)
        for channel, address in ((EMAIL, person.email), (SMS, person.phone)):
            if address:
                planned.append(PlannedNotice(role, channel, address, template, person.language))
    return planned


def template_facts(data: dict[str, Any], contacts: Contacts, role: str) -> dict[str, Any]:
    """What a template may say: the event's data, the names, and whom it addresses."""
    return {
        **data,
        "worker_name": contacts.worker.name,
        "employer_name": contacts.employer.name,
        "recipient_name": contacts.person(role).name,
        "recipient_role": role,
    }


def endpoint_wants(event_types: list[str], event_type: str) -> bool:
    return ALL_EVENTS in event_types or event_type in event_types


def retry_delay(attempts: int, base_seconds: float, max_seconds: float) -> float:
    """Exponential backoff after the ``attempts``-th failed attempt: base, 2*base, 4*base..."""
    return min(base_seconds * 2 ** max(attempts - 1, 0), max_seconds)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base_seconds: float
    max_seconds: float


@dataclass(frozen=True)
class Outcome:
    status: str
    next_attempt_at: datetime | None


def after_failure(attempts: int, policy: RetryPolicy, now: datetime) -> Outcome:
    """A failed attempt is retried later, or, after the last attempt, is final."""
    if attempts >= policy.max_attempts:
        return Outcome(FAILED, None)
    delay = retry_delay(attempts, policy.base_seconds, policy.max_seconds)
    return Outcome(RETRYING, now + timedelta(seconds=delay))
