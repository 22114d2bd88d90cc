"""Permit rules: numbering, validity, and what makes an attestation acceptable.

Pure: no I/O. Numbers look like ``WP-2027-000042-G``: the year, a gap-free
sequence for that year, and an ISO 7064 Mod 37,36 check character so a
mistyped number is caught before any lookup.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from stdnum.iso7064 import mod_37_36

from wpis_common.signing import document_fingerprint

NUMBER_PATTERN = re.compile(r"^WP-(\d{4})-(\d{6})-([0-9A-Z])$")


class PermitStatus(StrEnum):
    ISSUED = "issued"


MAX_SEQUENCE = 999_999


def permit_number(year: int, sequence: int) -> str:
    if not 1 <= sequence <= MAX_SEQUENCE:
        raise ValueError(f"permit sequence {sequence} is outside 1..{MAX_SEQUENCE}")
    body = f"WP{year:04d}{sequence:06d}"
    return f"WP-{year:04d}-{sequence:06d}-{mod_37_36.calc_check_digit(body)}"


def is_well_formed_number(number: str) -> bool:
    match = NUMBER_PATTERN.match(number)
    if not match:
        return False
    return mod_37_36.is_valid(f"WP{match.group(1)}{match.group(2)}{match.group(3)}")


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
) -> None:
    """No valid attestation, no permit. Raises PermitRefused with the reason."""
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


def is_valid_on(status: str, valid_from: date, valid_until: date, day: date) -> bool:
    return status == PermitStatus.ISSUED and valid_from <= day <= valid_until


def invalidity_reason(status: str, valid_from: date, valid_until: date, day: date) -> str:
    """Why a permit is not valid on ``day`` (for the public check)."""
    if status != PermitStatus.ISSUED:
        return f"the permit is {status}"
    if day < valid_from:
        return f"not yet valid: valid from {valid_from.isoformat()}"
    return f"expired on {valid_until.isoformat()}"
