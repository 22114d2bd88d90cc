"""Use cases: run a check, record it, emit its outcome; retry deferred checks in order."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from identity_gateway import domain
from identity_gateway.adapter import IdentityQuery, IdmsAdapter
from identity_gateway.models import Verification
from identity_gateway.schemas import VerificationSchema
from wpis_common.db import UnitOfWork
from wpis_common.envelope import utc_now
from wpis_common.errors import NotFound
from wpis_common.signing import sign


class Attester:
    """Signs attestations; built from the service config by a dependency provider."""

    def __init__(self, private_key: Any, ttl: timedelta):
        self.private_key = private_key
        self.ttl = ttl


class RetryPolicy:
    def __init__(self, base_seconds: float, max_seconds: float):
        self.base_seconds = base_seconds
        self.max_seconds = max_seconds


def query_from_worker(worker: dict[str, Any]) -> IdentityQuery:
    return IdentityQuery(
        given_names=worker["given_names"],
        surname=worker["surname"],
        date_of_birth=worker["date_of_birth"],
        sex=worker["sex"],
        nationality=worker["nationality"],
        passport_number=worker["passport"]["number"],
        issuing_country=worker["passport"]["issuing_country"],
    )


def start_check(
    uow: UnitOfWork,
    idms: IdmsAdapter,
    attester: Attester,
    retry: RetryPolicy,
    application_id: str,
    worker: dict[str, Any],
) -> Verification:
    query = query_from_worker(worker)
    now = utc_now()
    verification = Verification(
        id=str(uuid.uuid4()),
        application_id=application_id,
        status="pending",
        document_country=query.issuing_country,
        document_fingerprint=domain.document_fingerprint(
            query.issuing_country, query.passport_number
        ),
        pending_query=vars(query),
        attempts=0,
        created_at=now,
    )
    uow.session.add(verification)
    attempt(uow, idms, attester, retry, verification)
    return verification


def retry_due(
    uow_factory: Any, idms: IdmsAdapter, attester: Attester, retry: RetryPolicy, limit: int = 50
) -> int:
    """Retry deferred checks whose time has come, oldest first, one transaction each."""
    with uow_factory() as uow:
        due_ids = list(
            uow.session.scalars(
                select(Verification.id)
                .where(Verification.status == "pending", Verification.next_attempt_at <= utc_now())
                .order_by(Verification.created_at)
                .limit(limit)
            )
        )
    for verification_id in due_ids:
        with uow_factory() as uow:
            verification = uow.session.get(Verification, verification_id)
            if verification is None or verification.status != "pending":
                continue
            result = attempt(uow, idms, attester, retry, verification)
        if not result.is_final:
            break  # the IDMS is still down: keep the rest in order for the next round
    return len(due_ids)


def attempt(
    uow: UnitOfWork,
    idms: IdmsAdapter,
    attester: Attester,
    retry: RetryPolicy,
    verification: Verification,
) -> domain.CheckResult:
    query = IdentityQuery(**verification.pending_query)
    answer = idms.authenticate(query, purpose="work-permit-application")
    result = domain.interpret(answer)
    now = utc_now()
    verification.attempts += 1
    if not result.is_final:
        _defer(uow, retry, verification, result, now)
        return result
    verification.status = "completed"
    verification.outcome = result.outcome.value
    verification.reason = result.reason
    verification.mismatched_fields = list(result.mismatched_fields)
    verification.person_token = answer.person_token
    verification.pending_query = None  # personal data is not kept past the check
    verification.next_attempt_at = None
    verification.completed_at = now
    if result.outcome == domain.Outcome.VERIFIED:
        _attest(uow, attester, verification, query, now)
    else:
        uow.emit(
            "identity_rejected",
            {
                "verification_id": verification.id,
                "application_id": verification.application_id,
                "outcome": result.outcome.value,
                "reason": result.reason,
                "mismatched_fields": list(result.mismatched_fields),
            },
        )
    return result


def _attest(
    uow: UnitOfWork,
    attester: Attester,
    verification: Verification,
    query: IdentityQuery,
    now: datetime,
) -> None:
    payload = domain.attestation_payload(
        attestation_id=str(uuid.uuid4()),
        verification_id=verification.id,
        application_id=verification.application_id,
        person_token=verification.person_token,
        issuing_country=query.issuing_country,
        document_number=query.passport_number,
        checked_at=now,
        ttl=attester.ttl,
    )
    verification.attestation = sign(attester.private_key, payload)
    uow.emit(
        "identity_verified",
        {
            "verification_id": verification.id,
            "application_id": verification.application_id,
            "outcome": domain.Outcome.VERIFIED.value,
            "reason": domain.REASONS[domain.Outcome.VERIFIED],
            "attestation": verification.attestation,
        },
    )


def _defer(
    uow: UnitOfWork,
    retry: RetryPolicy,
    verification: Verification,
    result: domain.CheckResult,
    now: datetime,
) -> None:
    delay = domain.next_attempt_delay(verification.attempts, retry.base_seconds, retry.max_seconds)
    verification.next_attempt_at = now + timedelta(seconds=delay)
    verification.reason = result.reason
    uow.emit(
        "identity_check_deferred",
        {
            "verification_id": verification.id,
            "application_id": verification.application_id,
            "outcome": result.outcome.value,
            "reason": result.reason,
            "attempts": verification.attempts,
            "next_attempt_at": verification.next_attempt_at,
        },
    )


def get(uow: UnitOfWork, verification_id: str) -> dict[str, Any]:
    verification = uow.session.get(Verification, verification_id)
    if verification is None:
        raise NotFound("no such verification", verification_id=verification_id)
    return VerificationSchema().dump(verification)
