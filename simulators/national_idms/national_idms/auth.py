"""Pure authentication decision: error codes, checks after the document is found, tokens."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import date
from typing import Any

from national_idms.matching import demographic_mismatches
from national_idms.models import Demographics, Document, Person

CONSENT_MISSING = "IDMS-CON-001"
DOCUMENT_NOT_FOUND = "IDMS-DOC-001"
DOCUMENT_EXPIRED = "IDMS-DOC-002"
DOCUMENT_INVALID = "IDMS-DOC-003"
DEMOGRAPHIC_MISMATCH = "IDMS-DEM-001"
ENTRY_BAN = "IDMS-BAN-001"


@dataclass(frozen=True)
class AuthError:
    """One reason why an authentication failed."""

    code: str
    message: str
    fields: tuple[str, ...] = ()
    document_status: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"errorCode": self.code, "errorMessage": self.message}
        if self.fields:
            out["fields"] = list(self.fields)
        if self.document_status is not None:
            out["documentStatus"] = self.document_status
        return out


def consent_error() -> AuthError:
    return AuthError(CONSENT_MISSING, "consent of the individual is missing or false")


def document_not_found_error() -> AuthError:
    return AuthError(DOCUMENT_NOT_FOUND, "document not found for the given issuing country")


def evaluate(
    person: Person, document: Document, presented: Demographics, today: date
) -> list[AuthError]:
    """All failed checks for a found document, in order: demographics, status, expiry, ban."""
    errors: list[AuthError] = []
    mismatched = demographic_mismatches(presented, person)
    if mismatched:
        message = "demographic data do not match the register"
        errors.append(AuthError(DEMOGRAPHIC_MISMATCH, message, fields=tuple(mismatched)))
    if document.status != "valid":
        message = f"document is invalid: reported {document.status}"
        errors.append(AuthError(DOCUMENT_INVALID, message, document_status=document.status))
    if document.expiry_date < today:
        errors.append(AuthError(DOCUMENT_EXPIRED, "document has expired"))
    if person.entry_ban:
        errors.append(AuthError(ENTRY_BAN, "person is on the entry-ban list"))
    return errors


def person_token(partner_key: str, person_id: str) -> str:
    """Stable opaque token for a person as seen by one partner; never the internal id."""
    digest = hmac.new(partner_key.encode(), person_id.encode(), hashlib.sha256)
    return digest.hexdigest()[:32]
