"""Public verification: by permit number (optionally with the holder's date of
birth as a second factor) or by the unguessable token in the certificate's QR.

The answer says valid / not valid and why / unknown, the validity dates, the
employer's name and the job title: nothing else. A wrong date of birth gets
the same answer as an unknown number, so the check is no oracle for birth
dates. A malformed number (bad format or check character) is answered without
touching the database; every other check is logged (when, which permit, the
client address the gateway passes, the answer).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select

from permits import domain
from permits.lifecycle import load_request
from permits.models import Permit, VerificationLogEntry
from permits.schemas import VerifyRequestSchema
from wpis_common import permit_rules as rules
from wpis_common.db import UnitOfWork
from wpis_common.envelope import utc_now
from wpis_common.errors import InvalidInput

log = logging.getLogger(__name__)

TOKEN_LENGTH = 43  # secrets.token_urlsafe(32)


@dataclass(frozen=True)
class VerificationPolicy:
    require_date_of_birth: bool = False


def by_number(
    uow: UnitOfWork, number: str, options: Any, policy: VerificationPolicy, today: date
) -> dict[str, Any]:
    request = load_request(VerifyRequestSchema, options or {})
    number = (number or "").strip().upper()
    if not domain.is_well_formed_number(number):
        log.info("verification of a malformed number from %s", request["client"])
        return rules.malformed_answer(number)
    given_birth_date = request["date_of_birth"]
    if policy.require_date_of_birth and given_birth_date is None:
        raise InvalidInput({"date_of_birth": ["the holder's date of birth is required"]})
    permit = uow.session.get(Permit, number)
    if permit is not None and not _second_factor_ok(permit, given_birth_date):
        permit = None
    answer = _judge(number, permit, today)
    _log(uow, permit, "number", request["client"], answer)
    return answer


def _second_factor_ok(permit: Permit, given_birth_date: date | None) -> bool:
    if given_birth_date is None:
        return True
    return domain.dates_of_birth_match(permit.holder["date_of_birth"], given_birth_date)


def by_token(uow: UnitOfWork, token: str, options: Any, today: date) -> dict[str, Any]:
    request = load_request(VerifyRequestSchema, options or {})
    token = (token or "").strip()
    permit = None
    if len(token) == TOKEN_LENGTH:
        permit = uow.session.scalar(select(Permit).where(Permit.verification_token == token))
    answer = _judge(permit.number if permit else None, permit, today)
    _log(uow, permit, "token", request["client"], answer)
    return answer


def _judge(number: str | None, permit: Permit | None, today: date) -> dict[str, Any]:
    return rules.judge(number, standing(permit) if permit is not None else None, today)


def standing(permit: Permit) -> rules.Standing:
    return rules.Standing(
        number=permit.number,
        status=permit.status,
        valid_from=permit.valid_from,
        valid_until=permit.valid_until,
        ends_on=permit.ends_on,
        employer_name=permit.employer["name"],
        job_title=permit.job.get("title"),
    )


def _log(
    uow: UnitOfWork, permit: Permit | None, channel: str, client: str | None, answer: dict
) -> None:
    uow.session.add(
        VerificationLogEntry(
            at=utc_now(),
            permit_number=permit.number if permit else None,
            channel=channel,
            client=client,
            result=answer["result"],
            reason=answer["reason"],
        )
    )
