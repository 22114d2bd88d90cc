"""Identity rules: what an IDMS answer means, what an attestation says, which
checks may run next, and what an identity event from the IDMS changes.

Pure: no I/O. The adapter turns HTTP into an :class:`IdmsAnswer`; these rules
turn the answer into one outcome with a stable code and a human reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from wpis_common.signing import document_fingerprint

ISSUER = "wpis.identity_gateway"


class Outcome(StrEnum):
    VERIFIED = "verified"
    NOT_FOUND = "not_found"
    DATA_MISMATCH = "data_mismatch"
    DOCUMENT_EXPIRED = "document_expired"
    DOCUMENT_INVALID = "document_invalid"
    ENTRY_BAN = "entry_ban"
    CONSENT_MISSING = "consent_missing"
    UNAVAILABLE = "unavailable"


# When several IDMS errors apply, the most serious names the outcome.
ERROR_OUTCOMES: tuple[tuple[str, Outcome], ...] = (
    ("IDMS-BAN-001", Outcome.ENTRY_BAN),
    ("IDMS-DOC-003", Outcome.DOCUMENT_INVALID),
    ("IDMS-DOC-001", Outcome.NOT_FOUND),
    ("IDMS-DEM-001", Outcome.DATA_MISMATCH),
    ("IDMS-DOC-002", Outcome.DOCUMENT_EXPIRED),
    ("IDMS-CON-001", Outcome.CONSENT_MISSING),
)

REASONS = {
    Outcome.VERIFIED: "identity verified against the national register",
    Outcome.NOT_FOUND: "the travel document is not in the national register",
    Outcome.DATA_MISMATCH: "the applicant's data does not match the register",
    Outcome.DOCUMENT_EXPIRED: "the travel document has expired",
    Outcome.DOCUMENT_INVALID: "the travel document is reported {status}",
    Outcome.ENTRY_BAN: "the person is on the entry-ban list",
    Outcome.CONSENT_MISSING: "the applicant's consent to the check is missing",
    Outcome.UNAVAILABLE: "the national identity register is unavailable; the check will be retried",
}

# The checks the IDMS runs, in its order; it stops early without consent or document.
ALL_CHECKS = (
    "consent",
    "document_exists",
    "demographics",
    "document_status",
    "document_expiry",
    "entry_ban",
)


@dataclass(frozen=True)
class IdmsError:
    code: str
    message: str
    fields: tuple[str, ...] = ()
    document_status: str | None = None


@dataclass(frozen=True)
class IdmsAnswer:
    """An IDMS authentication answer, or ``unavailable`` when there was none.

    ``idms_down`` says the IDMS could not be reached or failed (timeouts, 5xx,
    breaker open); a refusal of the request itself (4xx) is unavailable too but
    says nothing about the next check. The transport fields are for the record.
    """

    auth_status: bool
    person_token: str | None = None
    errors: tuple[IdmsError, ...] = ()
    unavailable: bool = False
    detail: str = ""
    idms_down: bool = False
    transaction_id: str | None = field(default=None, compare=False)
    latency_ms: float | None = field(default=None, compare=False)
    calls: int = field(default=0, compare=False)


@dataclass(frozen=True)
class CheckResult:
    outcome: Outcome
    reason: str
    mismatched_fields: tuple[str, ...] = field(default_factory=tuple)
    codes: tuple[str, ...] = ()

    @property
    def is_final(self) -> bool:
        return self.outcome != Outcome.UNAVAILABLE


def interpret(answer: IdmsAnswer) -> CheckResult:
    if answer.unavailable:
        return CheckResult(Outcome.UNAVAILABLE, REASONS[Outcome.UNAVAILABLE])
    codes = tuple(sorted({error.code for error in answer.errors}))
    if answer.auth_status and not answer.errors:
        return CheckResult(Outcome.VERIFIED, REASONS[Outcome.VERIFIED])
    by_code = {error.code: error for error in answer.errors}
    for code, outcome in ERROR_OUTCOMES:
        if code in by_code:
            return _result_for(outcome, by_code[code], codes)
    shown = ", ".join(codes) or "none"
    return CheckResult(Outcome.UNAVAILABLE, f"unrecognised IDMS answer (codes: {shown})")


def _result_for(outcome: Outcome, error: IdmsError, codes: tuple[str, ...]) -> CheckResult:
    if outcome == Outcome.DOCUMENT_INVALID:
        reason = REASONS[outcome].format(status=error.document_status or "invalid")
        return CheckResult(outcome, reason, codes=codes)
    if outcome == Outcome.DATA_MISMATCH:
        fields = ", ".join(error.fields) or "unspecified"
        return CheckResult(outcome, f"{REASONS[outcome]} ({fields})", error.fields, codes)
    return CheckResult(outcome, REASONS[outcome], codes=codes)


def checks_performed(result: CheckResult) -> list[str]:
    """What the IDMS checked to reach this result (it stops early, see ALL_CHECKS)."""
    if result.outcome == Outcome.CONSENT_MISSING:
        return list(ALL_CHECKS[:1])
    if result.outcome == Outcome.NOT_FOUND:
        return list(ALL_CHECKS[:2])
    return list(ALL_CHECKS)


def attestation_payload(
    *,
    attestation_id: str,
    verification_id: str,
    application_id: str,
    issuing_country: str,
    document_number: str,
    result: CheckResult,
    issued_at: datetime,
    ttl: timedelta,
) -> dict[str, object]:
    """What the identity gateway vouches for: this document was checked, with this
    outcome, at this time. ``subject`` is the document fingerprint, never the number;
    ``document_fingerprint`` repeats it for readers of the first payload version."""
    subject = document_fingerprint(issuing_country, document_number)
    return {
        "attestation_id": attestation_id,
        "issuer": ISSUER,
        "verification_id": verification_id,
        "application_id": application_id,
        "subject": subject,
        "subject_type": "document_fingerprint",
        "document_type": "passport",
        "document_country": issuing_country.upper(),
        "document_fingerprint": subject,
        "outcome": result.outcome.value,
        "reason": result.reason,
        "checks_performed": checks_performed(result),
        "issued_at": issued_at.isoformat(),
        "expires_at": (issued_at + ttl).isoformat(),
    }


def next_attempt_delay(attempts: int, base_seconds: float, max_seconds: float) -> float:
    """Exponential backoff for deferred checks: base, 2*base, 4*base ... capped."""
    return float(min(base_seconds * (2 ** max(attempts - 1, 0)), max_seconds))


# -- the queue of checks ---------------------------------------------------------------


def stop_draining(answer: IdmsAnswer) -> bool:
    """After an answer like this, later checks in the queue would fare no better."""
    return answer.unavailable and answer.idms_down


# -- identity events (re-checks) ---------------------------------------------------------

DOCUMENT_CHANGES = frozenset({"document_lost", "document_stolen", "document_revoked"})
PERSON_CHANGES = frozenset({"entry_ban_added", "person_deceased"})


@dataclass(frozen=True)
class IdentityEvent:
    """One event of the IDMS feed, as the adapter reads it."""

    sequence: int
    event_id: str
    change: str
    occurred_at: str
    person_token: str | None
    document_country: str | None = None
    document_number: str | None = None


def event_candidates(event: IdentityEvent, person_documents: dict[str, str]) -> dict[str, str]:
    """The documents (fingerprint -> issuing country) an identity event concerns: the one
    it names, or for a person event every document of that person the gateway knows."""
    if event.change in DOCUMENT_CHANGES and event.document_number and event.document_country:
        country = event.document_country.upper()
        return {document_fingerprint(country, event.document_number): country}
    if event.change in PERSON_CHANGES:
        return dict(person_documents)
    return {}


def status_changes(
    event: IdentityEvent, candidates: dict[str, str], verified: set[str]
) -> list[dict[str, str]]:
    """The ``identity_status_changed`` data for an event: one per candidate document this
    gateway has verified (what it never vouched for is nobody's business here)."""
    return [
        {
            "subject": subject,
            "document_country": candidates[subject],
            "change": event.change,
            "reported_at": event.occurred_at,
        }
        for subject in sorted(candidates)
        if subject in verified
    ]
