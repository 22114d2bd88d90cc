"""Use cases of the permit register: issue on approval, look up.

Later changes are in lifecycle.py, public verification in verification.py."""

from __future__ import annotations

import logging
import secrets
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from permits import domain, lifecycle
from permits.lifecycle import find
from permits.models import Permit, PermitCounter, PermitStatusChange
from permits.schemas import HistoryEntrySchema, PermitSchema
from wpis_common.db import UnitOfWork
from wpis_common.envelope import utc_now
from wpis_common.errors import WpisError
from wpis_common.signing import as_key_ring, document_fingerprint

log = logging.getLogger(__name__)


def issue_for_approval(
    uow: UnitOfWork, approval: dict[str, Any], keys: Any, rules: domain.ValidityRules
) -> Permit | None:
    """Issue the permit an approval calls for: once per application, never
    without a valid attestation. Returns None when it was refused."""
    application_id = approval["application_id"]
    existing = uow.session.scalar(select(Permit).where(Permit.application_id == application_id))
    if existing is not None:
        log.info("permit %s already issued for application; not issuing again", existing.number)
        return existing
    now = utc_now()
    try:
        valid_from, valid_until = _check_and_period(approval, keys, rules, now)
    except domain.PermitRefused as refused:
        log.warning("permit refused for application %s: %s", application_id, refused)
        uow.emit(
            "permit_issuance_refused", {"application_id": application_id, "reason": str(refused)}
        )
        return None
    try:
        permit = _new_permit(uow, approval, valid_from, valid_until, now)
        uow.session.flush()
    except IntegrityError:
        # A concurrent issuer for the same application committed first. Rolling
        # back also returns the sequence number this attempt took: no gap.
        uow.session.rollback()
        winner = uow.session.scalar(select(Permit).where(Permit.application_id == application_id))
        if winner is None:
            raise
        log.info("permit %s was issued concurrently; not issuing again", winner.number)
        return winner
    uow.emit("permit_issued", issued_event(permit))
    return permit


# Fields of an approved amendment's job that the permit takes over.
AMENDABLE_JOB_FIELDS = ("title", "isco_code", "region", "monthly_salary", "currency")


def apply_approval(
    uow: UnitOfWork, approval: dict[str, Any], keys: Any, rules: domain.ValidityRules
) -> Permit | None:
    """What an approved case asks of the register: a new permit, or a change to the
    valid permit an extension or amendment names."""
    if approval.get("kind", "new") == "new":
        return issue_for_approval(uow, approval, keys, rules)
    return change_for_approval(uow, approval, keys, rules)


def change_for_approval(
    uow: UnitOfWork, approval: dict[str, Any], keys: Any, rules: domain.ValidityRules
) -> Permit | None:
    """Extend or amend the named permit, after the same attestation check as an issue.
    A change the register refuses (permit not valid, not the worker's, nothing to
    change) is published as ``permit_issuance_refused``; the case is closed with it."""
    application_id, kind = approval["application_id"], approval["kind"]
    now = utc_now()
    by = approval["decided_by"]
    reason = f"{kind} application {application_id} approved by {by}"
    try:
        _check_attestation(approval, keys, now)
        permit = find(uow, approval["permit_number"])
        _check_same_holder(permit, approval["worker"])
        if kind == "extension":
            request = {"valid_until": approval["contract"]["end_date"], "reason": reason, "by": by}
            return lifecycle.extend(uow, permit.number, request, rules, now, application_id)
        job = {key: approval["job"][key] for key in AMENDABLE_JOB_FIELDS if key in approval["job"]}
        request = {"changes": job, "reason": reason, "by": by}
        return lifecycle.amend(uow, permit.number, request, now, application_id)
    except (domain.PermitRefused, WpisError) as refused:
        uow.session.rollback()
        log.warning("%s refused for application %s: %s", kind, application_id, refused)
        uow.emit(
            "permit_issuance_refused",
            {"application_id": application_id, "reason": _refusal_text(refused)},
        )
        return None


def _check_same_holder(permit: Permit, worker: dict[str, Any]) -> None:
    holder = permit.holder
    same = (holder["date_of_birth"], holder["nationality"]) == (
        worker["date_of_birth"],
        worker["nationality"],
    )
    if not same:
        raise domain.PermitRefused(f"the worker is not the holder of permit {permit.number}")


def _refusal_text(refused: Exception) -> str:
    if isinstance(refused, WpisError):
        errors = refused.details.get("errors") or {}
        parts = [f"{name}: {', '.join(map(str, why))}" for name, why in errors.items()]
        return "; ".join(parts) or refused.message
    return str(refused)


def _check_attestation(approval: dict[str, Any], keys: Any, now: datetime) -> None:
    """``keys``: the KeyRing of accepted attestation keys (or one public key)."""
    attestation = approval.get("attestation") or {}
    passport = approval["worker"]["passport"]
    ring = as_key_ring(keys)
    domain.check_attestation(
        attestation.get("payload") or {},
        ring.verify(attestation),
        approval["application_id"],
        passport["issuing_country"],
        passport["number"],
        now,
        key_known=ring.knows(attestation.get("key_id")),
    )


def _check_and_period(
    approval: dict[str, Any], keys: Any, rules: domain.ValidityRules, now: datetime
) -> tuple[date, date]:
    _check_attestation(approval, keys, now)
    passport = approval["worker"]["passport"]
    return domain.validity_period(
        date.fromisoformat(approval["contract"]["start_date"]),
        date.fromisoformat(approval["contract"]["end_date"]),
        date.fromisoformat(passport["expiry_date"]),
        rules,
    )


def _new_permit(
    uow: UnitOfWork, approval: dict[str, Any], valid_from: date, valid_until: date, now: datetime
) -> Permit:
    worker, passport = approval["worker"], approval["worker"]["passport"]
    number = domain.permit_number(now.year, _next_sequence(uow, now.year))
    permit = Permit(
        number=number,
        application_id=approval["application_id"],
        status=domain.PermitStatus.ISSUED,
        holder={
            "given_names": worker["given_names"],
            "surname": worker["surname"],
            "date_of_birth": worker["date_of_birth"],
            "sex": worker["sex"],
            "nationality": worker["nationality"],
            "passport_number": passport["number"],
            "passport_country": passport["issuing_country"],
        },
        document_fingerprint=document_fingerprint(passport["issuing_country"], passport["number"]),
        passport_expiry=date.fromisoformat(passport["expiry_date"]),
        employer={"tax_id": approval["employer"]["tax_id"], "name": approval["employer"]["name"]},
        job=approval["job"],
        contract_terms=approval["contract"],
        valid_from=valid_from,
        valid_until=valid_until,
        attestation_id=approval["attestation"]["payload"]["attestation_id"],
        verification_token=secrets.token_urlsafe(32),
        issued_at=now,
    )
    uow.session.add(permit)
    uow.session.add(
        PermitStatusChange(
            permit_number=number,
            action="issue",
            from_status=None,
            to_status=domain.PermitStatus.ISSUED,
            actor="permits",
            reason="application approved",
            at=now,
        )
    )
    return permit


def _next_sequence(uow: UnitOfWork, year: int) -> int:
    """Take the next number for ``year`` under a row lock held until commit.

    Run last in the unit of work: on SQLite the write lock is taken here.
    """
    session = uow.session
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(PermitCounter).values(year=year, last_sequence=0).on_conflict_do_nothing()
    )
    return session.execute(
        update(PermitCounter)
        .where(PermitCounter.year == year)
        .values(last_sequence=PermitCounter.last_sequence + 1)
        .returning(PermitCounter.last_sequence)
    ).scalar_one()


def issued_event(permit: Permit) -> dict[str, Any]:
    return {
        "permit_number": permit.number,
        "application_id": permit.application_id,
        "status": permit.status,
        "holder": permit.holder,
        "employer": permit.employer,
        "job": permit.job,
        "contract_terms": permit.contract_terms,
        "valid_from": permit.valid_from,
        "valid_until": permit.valid_until,
        "issued_at": permit.issued_at,
    }


def get(uow: UnitOfWork, number: str) -> dict[str, Any]:
    return describe(uow, find(uow, number))


def describe(uow: UnitOfWork, permit: Permit) -> dict[str, Any]:
    """The register entry for officers: the permit, its history and what may be done."""
    history = uow.session.scalars(
        select(PermitStatusChange)
        .where(PermitStatusChange.permit_number == permit.number)
        .order_by(PermitStatusChange.id)
    ).all()
    entry = PermitSchema().dump(permit)
    entry["allowed_actions"] = domain.allowed_actions(permit.status)
    entry["history"] = HistoryEntrySchema(many=True).dump(history)
    return entry
