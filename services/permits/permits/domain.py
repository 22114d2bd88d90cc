"""Permit rules: numbering, validity, and what makes an attestation acceptable.

Pure: no I/O. Numbers look like ``WP-2027-000042-G``: the year, a gap-free
sequence for that year, and an ISO 7064 Mod 37,36 check character so a
mistyped number is caught before any lookup.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from enum import StrEnum

from wpis_common.permit_rules import (  # noqa: F401  (the register's rules, shared: ADR-014)
    MAX_SEQUENCE,
    NUMBER_PATTERN,
    REASONS,
    PermitStatus,
    dates_of_birth_match,
    is_well_formed_number,
    last_valid_day,
    permit_number,
    standing_on,
)
from wpis_common.signing import document_fingerprint


@dataclass(frozen=True)
class ValidityRules:
    max_months: int = 12
    passport_margin_days: int = 30


def add_months(start: date, months: int) -> date:
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def legal_maximum_end(start: date, months: int) -> date:
    """The day before the same date ``months`` on; when that date does not exist
    (31 Jan + 1 month), the last day of the shorter month."""
    same_date_later = add_months(start, months)
    if same_date_later.day < start.day:  # clipped to the month's last day
        return same_date_later
    return same_date_later - timedelta(days=1)


def validity_period(
    contract_start: date, contract_end: date, passport_expiry: date, rules: ValidityRules
) -> tuple[date, date]:
    """From the contract start to the earliest of: contract end, the legal
    maximum, and the passport expiry less the margin."""

    legal_end = legal_maximum_end(contract_start, rules.max_months)
    passport_end = passport_expiry - timedelta(days=rules.passport_margin_days)
    valid_until = min(contract_end, legal_end, passport_end)
    if valid_until < contract_start:
        raise PermitRefused("the passport expires too soon to issue a permit")
    return contract_start, valid_until


class PermitRefused(Exception):
    """No permit may be issued; the message says why."""


def check_attestation(
    payload: dict,
    signature_ok: bool,
    application_id: str,
    passport_country: str,
    passport_number: str,
    now: datetime,
    *,
    key_known: bool = True,
) -> None:
    """No valid attestation, no permit. Raises PermitRefused with the reason.

    ``key_known``: the attestation's key id is in this service's key ring (a signature
    by an unknown key is never ``signature_ok`` either; this only names the reason)."""
    if not key_known:
        raise PermitRefused("the identity attestation's key id is not one this service knows")
    if not signature_ok:
        raise PermitRefused("the identity attestation's signature is not valid")
    if payload.get("outcome") != "verified":
        raise PermitRefused("the identity attestation does not say verified")
    if payload.get("application_id") != application_id:
        raise PermitRefused("the identity attestation is for another application")
    expected = document_fingerprint(passport_country, passport_number)
    if payload.get("document_fingerprint") != expected:
        raise PermitRefused("the identity attestation names another travel document")
    try:
        expires_at = datetime.fromisoformat(payload["expires_at"])
    except (KeyError, TypeError, ValueError):
        raise PermitRefused("the identity attestation has no valid expiry") from None
    if expires_at.tzinfo is None:
        raise PermitRefused("the identity attestation has no valid expiry")
    if expires_at <= now:
        raise PermitRefused("the identity attestation has expired")


# -- lifecycle -----------------------------------------------------------------------


class Action(StrEnum):
    EXTEND = "extend"
    AMEND = "amend"
    SUSPEND = "suspend"
    REINSTATE = "reinstate"
    REVOKE = "revoke"
    CANCEL = "cancel"
    EXPIRE = "expire"
    FLAG = "flag"


_S, _A = PermitStatus, Action
TRANSITIONS: dict[tuple[PermitStatus, Action], PermitStatus] = {
    (_S.ISSUED, _A.EXTEND): _S.ISSUED,
    (_S.ISSUED, _A.AMEND): _S.ISSUED,
    (_S.ISSUED, _A.FLAG): _S.ISSUED,
    (_S.ISSUED, _A.SUSPEND): _S.SUSPENDED,
    (_S.ISSUED, _A.REVOKE): _S.REVOKED,
    (_S.ISSUED, _A.CANCEL): _S.CANCELLED,
    (_S.ISSUED, _A.EXPIRE): _S.EXPIRED,
    (_S.SUSPENDED, _A.REINSTATE): _S.ISSUED,
    (_S.SUSPENDED, _A.REVOKE): _S.REVOKED,
    (_S.SUSPENDED, _A.CANCEL): _S.CANCELLED,
    (_S.SUSPENDED, _A.EXPIRE): _S.EXPIRED,
}
TERMINAL = frozenset({_S.REVOKED, _S.CANCELLED, _S.EXPIRED})


class IllegalTransition(Exception):
    """The action is not allowed in the permit's current status."""

    def __init__(self, status: str, action: str):
        self.status, self.action = status, action
        self.allowed = allowed_actions(status)
        super().__init__(f"a permit that is {status} cannot be {past_tense(action)}")


def past_tense(action: str) -> str:
    return {"extend": "extended", "amend": "amended", "suspend": "suspended",
            "reinstate": "reinstated", "revoke": "revoked", "cancel": "cancelled",
            "expire": "expired", "flag": "flagged"}.get(action, action)  # fmt: skip


# Taken by the system (the expiry timer, identity events), never offered to users.
SYSTEM_ACTIONS = frozenset({Action.EXPIRE, Action.FLAG})


def allowed_actions(status: str) -> list[str]:
    """What an officer or employer may still do to a permit in ``status``."""
    return sorted(
        str(action)
        for (from_status, action) in TRANSITIONS
        if from_status == status and action not in SYSTEM_ACTIONS
    )


def next_status(status: str, action: str) -> PermitStatus:
    """The status after ``action``; raises IllegalTransition when it is not allowed."""
    try:
        return TRANSITIONS[(PermitStatus(status), Action(action))]
    except (KeyError, ValueError):
        raise IllegalTransition(status, action) from None


def authority_today(now: datetime, timezone: tzinfo) -> date:
    """The calendar date at the authority: a permit valid until D expires when this
    date passes D, i.e. at the end of day D in the authority's time zone."""
    return now.astimezone(timezone).date()


def is_due_to_expire(status: str, valid_until: date, today: date) -> bool:
    return (status, Action.EXPIRE) in TRANSITIONS and valid_until < today


def is_flaggable(status: str, valid_until: date, today: date) -> bool:
    """Identity-change reviews concern permits still in force (or about to be)."""
    return status == PermitStatus.ISSUED and valid_until >= today


class ChangeRefused(Exception):
    """A requested change breaks a rule; ``field`` names the input at fault."""

    def __init__(self, field: str, reason: str):
        self.field, self.reason = field, reason
        super().__init__(f"{field}: {reason}")


def extended_until(
    current_until: date,
    requested_until: date,
    passport_expiry: date | None,
    rules: ValidityRules,
) -> date:
    """The new end of validity an extension may grant: later than the current end,
    at most the legal maximum counted from the day after it, and not past the
    passport expiry less the margin. Refuses rather than silently shortening."""
    if requested_until <= current_until:
        raise ChangeRefused(
            "valid_until", f"must be after the current end of validity {current_until.isoformat()}"
        )
    limit = legal_maximum_end(current_until + timedelta(days=1), rules.max_months)
    if passport_expiry is not None:
        limit = min(limit, passport_expiry - timedelta(days=rules.passport_margin_days))
    if requested_until > limit:
        raise ChangeRefused("valid_until", f"may be at most {limit.isoformat()}")
    return requested_until


def job_changes(current_job: dict, requested: dict) -> dict:
    """The fields of an amendment that really change the job; refuses a no-op."""
    changes = {key: value for key, value in requested.items() if current_job.get(key) != value}
    if not changes:
        raise ChangeRefused("changes", "nothing differs from the permit's current job")
    return changes


def is_valid_on(status: str, valid_from: date, valid_until: date, day: date) -> bool:
    return standing_on(status, valid_from, valid_until, None, day) is None
