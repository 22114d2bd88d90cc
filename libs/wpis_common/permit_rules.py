"""The public verification rules, shared by the permits register and the
gateway's verification read model (ADR-014): permit number format, when a
permit found in the register is valid on a day and why not, and the public
answer's shape. Pure: no I/O.

Numbers look like ``WP-2027-000042-G``: the year, a gap-free sequence for that
year, and an ISO 7064 Mod 37,36 check character so a mistyped number is caught
before any lookup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from marshmallow import Schema, fields, validate
from stdnum.iso7064 import mod_37_36

from wpis_common.envelope import utc_now

NUMBER_PATTERN = re.compile(r"^WP-(\d{4})-(\d{6})-([0-9A-Z])$")
MALFORMED = "not a valid permit number (format or check character)"
UNKNOWN = "no permit matches"


class PermitStatus(StrEnum):
    ISSUED = "issued"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


# Why a permit found in the register is not valid: a code and its public wording.
REASONS = {
    "suspended": "the permit is suspended",
    "revoked": "the permit has been revoked",
    "cancelled": "the permit has been cancelled",
    "expired": "the permit has expired",
    "not_yet_valid": "the permit is not yet valid",
}


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


def last_valid_day(valid_until: date, ends_on: date | None) -> date:
    """A cancellation from a date ends validity the day before it."""
    if ends_on is None:
        return valid_until
    return min(valid_until, ends_on - timedelta(days=1))


def standing_on(
    status: str, valid_from: date, valid_until: date, ends_on: date | None, day: date
) -> str | None:
    """None when the permit is valid on ``day``, else the reason code (REASONS)."""
    if status in (PermitStatus.SUSPENDED, PermitStatus.REVOKED):
        return str(status)
    if status == PermitStatus.CANCELLED and (ends_on is None or day >= ends_on):
        return "cancelled"
    if status == PermitStatus.EXPIRED or day > valid_until:
        return "expired"
    if day < valid_from:
        return "not_yet_valid"
    return None


def dates_of_birth_match(recorded: str | date, given: date) -> bool:
    recorded_date = recorded if isinstance(recorded, date) else date.fromisoformat(recorded)
    return recorded_date == given


@dataclass(frozen=True)
class Standing:
    """What public verification needs to know of one permit in the register."""

    number: str
    status: str
    valid_from: date
    valid_until: date
    ends_on: date | None
    employer_name: str
    job_title: str | None


class PublicVerificationSchema(Schema):
    """The public answer: valid or why not, validity dates, employer name, job title.

    Nothing else: no holder, no document, no internal status or flags."""

    number = fields.String(allow_none=True)
    result = fields.String(validate=validate.OneOf(["valid", "not_valid", "unknown"]))
    valid = fields.Boolean()
    reason = fields.String(allow_none=True)
    message = fields.String(allow_none=True)
    valid_from = fields.Date(allow_none=True)
    valid_until = fields.Date(allow_none=True)
    employer_name = fields.String(allow_none=True)
    job_title = fields.String(allow_none=True)
    checked_at = fields.AwareDateTime(format="iso")


_ANSWER_SCHEMA = PublicVerificationSchema()


def judge(number: str | None, permit: Standing | None, today: date) -> dict[str, Any]:
    """The public answer for ``number``: unknown (``permit`` is None), valid or not and why."""
    if permit is None:
        return answer(number, "unknown", message=UNKNOWN)
    reason = standing_on(
        permit.status, permit.valid_from, permit.valid_until, permit.ends_on, today
    )
    return answer(
        permit.number,
        "valid" if reason is None else "not_valid",
        reason=reason,
        message=REASONS.get(reason or "", "the permit is valid"),
        valid_from=permit.valid_from,
        valid_until=last_valid_day(permit.valid_until, permit.ends_on),
        employer_name=permit.employer_name,
        job_title=permit.job_title,
    )


def malformed_answer(number: str) -> dict[str, Any]:
    return answer(number, "unknown", reason="malformed_number", message=MALFORMED)


def answer(number: str | None, result: str, **found: Any) -> dict[str, Any]:
    body = {
        "number": number,
        "result": result,
        "valid": result == "valid",
        "reason": None,
        "message": None,
        "valid_from": None,
        "valid_until": None,
        "employer_name": None,
        "job_title": None,
        "checked_at": utc_now(),
        **found,
    }
    return _ANSWER_SCHEMA.dump(body)
