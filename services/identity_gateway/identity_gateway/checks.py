"""Use cases of identity checks: request one, run the queue of pending checks in
order, record each outcome with its attestation, list an application's checks.

The IDMS is never called inside a database transaction: a check is claimed
(a short lease) in one transaction, the IDMS is asked, and the answer is
recorded in another. Pending checks form one queue, oldest first: while the
IDMS is down the oldest is retried with backoff and every later one waits
behind it (each is told ``identity_check_deferred`` once), so when the IDMS
comes back they complete in the order they were asked for.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from eventlet.greenpool import GreenPool
from sqlalchemy import func, or_, select, update

from identity_gateway import domain
from identity_gateway.adapter import IdentityQuery, IdmsAdapter
from identity_gateway.models import CheckAuditEntry, Verification
from identity_gateway.schemas import AuditEntrySchema, VerificationSchema
from wpis_common.db import UnitOfWork
from wpis_common.envelope import utc_now
from wpis_common.errors import InvalidInput, NotFound
from wpis_common.signing import key_id, sign

PURPOSE = "work permit application {application_id}"
PENDING, COMPLETED = "pending", "completed"
UowFactory = Callable[[], UnitOfWork]


@dataclass(frozen=True)
class Attester:
    """The attestation signing key (one; rotation is in docs/identity.md) and lifetime."""

    private_key: Any
    ttl: timedelta

    @property
    def key_id(self) -> str:
        return key_id(self.private_key.public_key())


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff of deferred checks, the lease a worker holds on a check while it asks
    the IDMS, and how many fresh checks may ask it at once."""

    base_seconds: float
    max_seconds: float
    lease_seconds: float = 60.0
    concurrency: int = 4


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


# -- asking for a check -------------------------------------------------------------------


def request_check(
    uow: UnitOfWork, application_id: str, worker: dict[str, Any], requested_by: str
) -> Verification:
    """Queue a check for an application (once: a repeated request returns the first).
    If earlier checks are waiting for the IDMS, the new one waits behind them."""
    existing = uow.session.scalar(
        select(Verification).where(Verification.application_id == application_id)
    )
    if existing is not None:
        _audit(uow, "duplicate_request_ignored", existing, requested_by=requested_by)
        return existing
    query = query_from_worker(worker)
    now = utc_now()
    verification = Verification(
        id=str(uuid.uuid4()),
        application_id=application_id,
        requested_by=requested_by,
        status=PENDING,
        document_country=query.issuing_country.upper(),
        document_fingerprint=domain.document_fingerprint(
            query.issuing_country, query.passport_number
        ),
        pending_query=vars(query),
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    uow.session.add(verification)
    _audit(uow, "check_requested", verification, requested_by=requested_by)
    queue_due_at = _queue_waiting_until(uow, verification.id)
    if queue_due_at is not None:
        verification.next_attempt_at = max(queue_due_at, now)
        _announce_deferral(uow, verification, domain.REASONS[domain.Outcome.UNAVAILABLE], now)
    return verification


def _queue_waiting_until(uow: UnitOfWork, own_id: str) -> datetime | None:
    """When the checks waiting for the IDMS are next tried, if any are waiting."""
    return uow.session.scalar(
        select(func.max(Verification.next_attempt_at)).where(
            Verification.status == PENDING,
            Verification.waiting_for_idms.is_(True),
            Verification.id != own_id,
        )
    )


# -- running the queue --------------------------------------------------------------------


def run_due(
    uow_factory: UowFactory,
    idms: IdmsAdapter,
    attester: Attester,
    retry: RetryPolicy,
    limit: int = 100,
) -> int:
    """Run due checks oldest first, until the IDMS proves down; returns how many ran.

    Checks that have waited (deferred) run one by one, so they complete in the order
    they were asked for; fresh checks, all younger than those, run ``retry.concurrency``
    at a time (started in order) while the IDMS answers."""
    now = utc_now()
    with uow_factory() as uow:
        due = uow.session.execute(
            select(Verification.id, Verification.deferred_at)
            .where(
                Verification.status == PENDING,
                Verification.next_attempt_at <= now,
                or_(Verification.lease_until.is_(None), Verification.lease_until < now),
            )
            .order_by(Verification.created_at, Verification.id)
            .limit(limit)
        ).all()
    waited = [row.id for row in due if row.deferred_at is not None]
    fresh = [row.id for row in due if row.deferred_at is None]

    def run(verification_id: str) -> domain.IdmsAnswer | None:
        return attempt(uow_factory, idms, attester, retry, verification_id)

    ran = 0
    for verification_id in waited:
        answer = run(verification_id)
        ran += answer is not None
        if answer is not None and domain.stop_draining(answer):
            return ran  # the rest now wait behind this one (see _defer)
    pool = GreenPool(max(retry.concurrency, 1))
    for answer in pool.imap(run, fresh):
        ran += answer is not None
    return ran


def attempt(
    uow_factory: UowFactory,
    idms: IdmsAdapter,
    attester: Attester,
    retry: RetryPolicy,
    verification_id: str,
) -> domain.IdmsAnswer | None:
    """Claim one pending check, ask the IDMS outside any transaction, record the answer."""
    claimed = _claim(uow_factory, verification_id, retry.lease_seconds)
    if claimed is None:
        return None
    application_id, query = claimed
    answer = idms.authenticate(query, purpose=PURPOSE.format(application_id=application_id))
    with uow_factory() as uow:
        verification = uow.session.get(Verification, verification_id)
        if verification is None or verification.status != PENDING:
            return None
        record_answer(uow, attester, retry, verification, query, answer)
    return answer


def _claim(
    uow_factory: UowFactory, verification_id: str, lease_seconds: float
) -> tuple[str, IdentityQuery] | None:
    now = utc_now()
    with uow_factory() as uow:
        claimed = uow.session.execute(
            update(Verification)
            .where(
                Verification.id == verification_id,
                Verification.status == PENDING,
                or_(Verification.lease_until.is_(None), Verification.lease_until < now),
            )
            .values(lease_until=now + timedelta(seconds=lease_seconds))
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed != 1:
            return None
        verification = uow.session.get(Verification, verification_id)
        assert verification is not None and verification.pending_query is not None
        return verification.application_id, IdentityQuery(**verification.pending_query)


def record_answer(
    uow: UnitOfWork,
    attester: Attester,
    retry: RetryPolicy,
    verification: Verification,
    query: IdentityQuery,
    answer: domain.IdmsAnswer,
) -> domain.CheckResult:
    result = domain.interpret(answer)
    now = utc_now()
    verification.attempts += 1
    verification.lease_until = None
    verification.transaction_id = answer.transaction_id
    verification.idms_latency_ms = answer.latency_ms
    _audit_call(uow, verification, answer, result)
    if result.is_final:
        _complete(uow, attester, verification, query, result, answer, now)
    else:
        _defer(uow, retry, verification, result, answer, now)
    return result


def _complete(
    uow: UnitOfWork,
    attester: Attester,
    verification: Verification,
    query: IdentityQuery,
    result: domain.CheckResult,
    answer: domain.IdmsAnswer,
    now: datetime,
) -> None:
    verification.status = COMPLETED
    verification.waiting_for_idms = False
    verification.outcome = result.outcome.value
    verification.reason = result.reason
    verification.idms_codes = list(result.codes)
    verification.mismatched_fields = list(result.mismatched_fields)
    verification.person_token = answer.person_token
    verification.pending_query = None  # personal data is not kept past the check
    verification.next_attempt_at = None
    verification.completed_at = now
    payload = domain.attestation_payload(
        attestation_id=str(uuid.uuid4()),
        verification_id=verification.id,
        application_id=verification.application_id,
        issuing_country=query.issuing_country,
        document_number=query.passport_number,
        result=result,
        issued_at=now,
        ttl=attester.ttl,
    )
    verification.attestation = sign(attester.private_key, payload)
    _audit(uow, "check_completed", verification, outcome=result.outcome.value)
    data = {
        "verification_id": verification.id,
        "application_id": verification.application_id,
        "outcome": result.outcome.value,
        "reason": result.reason,
        "attestation": verification.attestation,
    }
    if result.outcome == domain.Outcome.VERIFIED:
        uow.emit("identity_verified", data)
    else:
        uow.emit("identity_rejected", {**data, "mismatched_fields": list(result.mismatched_fields)})


def _defer(
    uow: UnitOfWork,
    retry: RetryPolicy,
    verification: Verification,
    result: domain.CheckResult,
    answer: domain.IdmsAnswer,
    now: datetime,
) -> None:
    delay = domain.next_attempt_delay(verification.attempts, retry.base_seconds, retry.max_seconds)
    verification.next_attempt_at = now + timedelta(seconds=delay)
    verification.waiting_for_idms = answer.idms_down
    _announce_deferral(uow, verification, result.reason, now)
    if answer.idms_down:
        _hold_queue_behind(uow, verification, now)


def _announce_deferral(
    uow: UnitOfWork, verification: Verification, reason: str, now: datetime
) -> None:
    verification.reason = reason
    verification.deferred_at = verification.deferred_at or now
    _audit(uow, "check_deferred", verification, outcome=domain.Outcome.UNAVAILABLE.value)
    uow.emit(
        "identity_check_deferred",
        {
            "verification_id": verification.id,
            "application_id": verification.application_id,
            "outcome": domain.Outcome.UNAVAILABLE.value,
            "reason": reason,
            "attempts": verification.attempts,
            "next_attempt_at": verification.next_attempt_at,
        },
    )


def _hold_queue_behind(uow: UnitOfWork, head: Verification, now: datetime) -> None:
    """Every other pending check waits until the head is tried again; the ones that
    were not yet told they are deferred are told now."""
    waiting = uow.session.scalars(
        select(Verification)
        .where(
            Verification.status == PENDING,
            Verification.id != head.id,
            or_(Verification.lease_until.is_(None), Verification.lease_until < now),
            or_(
                Verification.next_attempt_at.is_(None),
                Verification.next_attempt_at < head.next_attempt_at,
            ),
        )
        .order_by(Verification.created_at, Verification.id)
    )
    for verification in waiting:
        verification.next_attempt_at = head.next_attempt_at
        verification.waiting_for_idms = True
        if verification.deferred_at is None:
            _announce_deferral(uow, verification, head.reason or "", now)


# -- the audit log ------------------------------------------------------------------------


def _audit(
    uow: UnitOfWork,
    action: str,
    verification: Verification,
    *,
    requested_by: str | None = None,
    outcome: str | None = None,
    transaction_id: str | None = None,
    latency_ms: float | None = None,
    detail: str | None = None,
) -> None:
    uow.session.add(
        CheckAuditEntry(
            at=utc_now(),
            action=action,
            verification_id=verification.id,
            application_id=verification.application_id,
            requested_by=requested_by or verification.requested_by,
            purpose=PURPOSE.format(application_id=verification.application_id),
            outcome=outcome,
            transaction_id=transaction_id,
            latency_ms=latency_ms,
            detail=detail,
        )
    )


def _audit_call(
    uow: UnitOfWork,
    verification: Verification,
    answer: domain.IdmsAnswer,
    result: domain.CheckResult,
) -> None:
    action = "idms_called" if answer.calls else "idms_not_called"
    detail = f"http requests: {answer.calls}"
    if answer.detail:
        detail += f"; {answer.detail}"
    _audit(
        uow,
        action,
        verification,
        outcome=result.outcome.value,
        transaction_id=answer.transaction_id,
        latency_ms=answer.latency_ms,
        detail=detail,
    )


# -- queries ------------------------------------------------------------------------------


def checks_for_application(uow: UnitOfWork, application_id: str) -> dict[str, Any]:
    """Every check for an application with its audit trail; no personal data."""
    try:
        application_id = str(uuid.UUID(application_id))
    except (ValueError, TypeError, AttributeError):
        raise InvalidInput({"application_id": ["must be a UUID"]}) from None
    verifications = uow.session.scalars(
        select(Verification)
        .where(Verification.application_id == application_id)
        .order_by(Verification.created_at)
    ).all()
    entries = uow.session.scalars(
        select(CheckAuditEntry)
        .where(CheckAuditEntry.application_id == application_id)
        .order_by(CheckAuditEntry.id)
    ).all()
    checks = []
    for verification in verifications:
        check = VerificationSchema().dump(verification)
        own = [entry for entry in entries if entry.verification_id == verification.id]
        check["audit"] = AuditEntrySchema(many=True).dump(own)
        checks.append(check)
    return {"application_id": application_id, "checks": checks}


def get(uow: UnitOfWork, verification_id: str) -> dict[str, Any]:
    verification = uow.session.get(Verification, verification_id)
    if verification is None:
        raise NotFound("no such verification", verification_id=verification_id)
    return VerificationSchema().dump(verification)
