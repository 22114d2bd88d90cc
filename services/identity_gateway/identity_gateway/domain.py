"""Identity rules: what an IDMS answer means, and what an attestation says.

Pure: no I/O. The adapter turns HTTP into an :class:`IdmsAnswer`; these rules
turn the answer into one outcome with a stable code and a human reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from wpis_common.signing import document_fingerprint


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


@dataclass(frozen=True)
class IdmsError:
    code: str
    message: str
    fields: tuple[str, ...] = ()
    document_status: str | None = None


@dataclass(frozen=True)
class IdmsAnswer:
    """An IDMS authentication answer, or ``unavailable`` when there was none."""

    auth_status: bool
    person_token: str | None = None
    errors: tuple[IdmsError, ...] = ()
    unavailable: bool = False
    detail: str = ""


@dataclass(frozen=True)
class CheckResult:
    outcome: Outcome
    reason: str
    mismatched_fields: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_final(self) -> bool:
        return self.outcome != Outcome.UNAVAILABLE


def interpret(answer: IdmsAnswer) -> CheckResult:
    if answer.unavailable:
        return CheckResult(Outcome.UNAVAILABLE, REASONS[Outcome.UNAVAILABLE])
    if answer.auth_status and not answer.errors:
        return CheckResult(Outcome.VERIFIED, REASONS[Outcome.VERIFIED])
    by_code = {error.code: error for error in answer.errors}
    for code, outcome in ERROR_OUTCOMES:
        if code in by_code:
            return _result_for(outcome, by_code[code])
    codes = ", ".join(sorted(by_code)) or "none"
    return CheckResult(Outcome.UNAVAILABLE, f"unrecognised IDMS answer (codes: {codes})")


def _result_for(outcome: Outcome, error: IdmsError) -> CheckResult:
    if outcome == Outcome.DOCUMENT_INVALID:
        return CheckResult(
            outcome, REASONS[outcome].format(status=error.document_status or "invalid")
        )
    if outcome == Outcome.DATA_MISMATCH:
        fields = ", ".join(error.fields) or "unspecified"
        return CheckResult(outcome, f"{REASONS[outcome]} ({fields})", error.fields)
    return CheckResult(outcome, REASONS[outcome])


def attestation_payload(
    *,
    attestation_id: str,
    verification_id: str,
    application_id: str,
    person_token: str | None,
    issuing_country: str,
    document_number: str,
    checked_at: datetime,
    ttl: timedelta,
) -> dict[str, str | None]:
    """What the identity gateway vouches for: this document checked out, at this time."""
    return {
        "attestation_id": attestation_id,
        "issuer": "wpis.identity_gateway",
        "verification_id": verification_id,
        "application_id": application_id,
        "subject": person_token,
        "document_type": "passport",
        "document_country": issuing_country.upper(),
        "document_fingerprint": document_fingerprint(issuing_country, document_number),
        "outcome": Outcome.VERIFIED.value,
        "checked_at": checked_at.isoformat(),
        "expires_at": (checked_at + ttl).isoformat(),
    }


def next_attempt_delay(attempts: int, base_seconds: float, max_seconds: float) -> float:
    """Exponential backoff for deferred checks: base, 2*base, 4*base ... capped."""
    return float(min(base_seconds * (2 ** max(attempts - 1, 0)), max_seconds))
