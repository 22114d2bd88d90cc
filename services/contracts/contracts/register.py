"""Use cases of the contract register: register with a permit, amend, terminate,
follow the permit's amendments, and flag overdue termination reports."""

from __future__ import annotations

import logging
import uuid
from datetime import date, datetime
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from contracts import domain
from contracts.models import Contract, ContractVersion
from contracts.policy import ContractPolicy
from contracts.schemas import (
    AmendRequestSchema,
    ContractSchema,
    EmploymentEndedRequestSchema,
    HistoryEntrySchema,
    TerminateRequestSchema,
)
from wpis_common.db import UnitOfWork
from wpis_common.errors import Conflict, InvalidInput, NotFound, flatten_errors

log = logging.getLogger(__name__)
OVERDUE_BATCH = 500


# -- registration ----------------------------------------------------------------------


def register_for_permit(
    uow: UnitOfWork, permit: dict[str, Any], policy: ContractPolicy, now: datetime
) -> Contract | None:
    """Register the contract a newly issued permit carries; once per permit."""
    existing = uow.session.scalar(
        select(Contract).where(Contract.permit_number == permit["permit_number"])
    )
    if existing is not None:
        return existing
    terms = permit["contract_terms"]
    start, end = date.fromisoformat(terms["start_date"]), date.fromisoformat(terms["end_date"])
    valid_until = date.fromisoformat(permit["valid_until"])
    problems = _registration_problems(permit, start, end, policy)
    if problems:
        uow.emit(
            "contract_registration_refused",
            {
                "permit_number": permit["permit_number"],
                "application_id": permit["application_id"],
                "reason": domain.refusal_reason(problems),
                "errors": problems,
            },
        )
        return None
    contract = _new_contract(permit, start, end, valid_until, policy, now)
    uow.session.add(contract)
    _record(uow, contract, "registered", {}, "permits", "permit issued", now)
    uow.emit("contract_registered", registered_event(contract))
    return contract


def _weekly_hours(permit: dict[str, Any], rules: domain.ContractRules) -> int:
    stated = permit["job"].get("weekly_hours") or permit["contract_terms"].get("weekly_hours")
    return int(stated) if stated else rules.default_weekly_hours


def _registration_problems(
    permit: dict[str, Any], start: date, end: date, policy: ContractPolicy
) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    try:
        domain.check_terms_within_permit(
            start,
            end,
            date.fromisoformat(permit["valid_from"]),
            date.fromisoformat(permit["valid_until"]),
        )
    except domain.ContractRefused as refused:
        problems["contract_terms"] = [str(refused)]
    job = permit["job"]
    terms = domain.Terms(
        job_title=job["title"],
        isco_code=job["isco_code"],
        region=job["region"],
        monthly_salary=job["monthly_salary"],
        currency=job["currency"],
        weekly_hours=_weekly_hours(permit, policy.rules),
    )
    problems.update(domain.terms_problems(terms, policy.rules, policy.unit_groups))
    return problems


def _new_contract(
    permit: dict[str, Any],
    start: date,
    end: date,
    valid_until: date,
    policy: ContractPolicy,
    now: datetime,
) -> Contract:
    holder, job = permit["holder"], permit["job"]
    return Contract(
        id=str(uuid.uuid4()),
        permit_number=permit["permit_number"],
        application_id=permit["application_id"],
        status=domain.ContractStatus.REGISTERED,
        employer_tax_id=permit["employer"]["tax_id"],
        employer_name=permit["employer"]["name"],
        worker={
            "given_names": holder["given_names"],
            "surname": holder["surname"],
            "nationality": holder["nationality"],
        },
        job={
            key: job[key] for key in ("title", "isco_code", "region", "monthly_salary", "currency")
        },
        weekly_hours=_weekly_hours(permit, policy.rules),
        permit_coverage={
            "job_title": job["title"],
            "isco_code": job["isco_code"],
            "region": job["region"],
        },
        permit_mismatches=[],
        start_date=start,
        end_date=end,
        registered_until=domain.registered_until(end, valid_until),
        registered_at=now,
        version=1,
    )


def registered_event(contract: Contract) -> dict[str, Any]:
    return {
        "contract_id": contract.id,
        "permit_number": contract.permit_number,
        "application_id": contract.application_id,
        "employer_tax_id": contract.employer_tax_id,
        "employer_name": contract.employer_name,
        "job_title": contract.job["title"],
        "isco_code": contract.job["isco_code"],
        "region": contract.job["region"],
        "monthly_salary": contract.job["monthly_salary"],
        "currency": contract.job["currency"],
        "weekly_hours": contract.weekly_hours,
        "start_date": contract.start_date,
        "end_date": contract.end_date,
        "registered_until": contract.registered_until,
        "registered_at": contract.registered_at,
    }


# -- reading ---------------------------------------------------------------------------


def terms_of(contract: Contract) -> dict[str, Any]:
    return {
        "job_title": contract.job["title"],
        "isco_code": contract.job["isco_code"],
        "region": contract.job["region"],
        "monthly_salary": contract.job["monthly_salary"],
        "currency": contract.job["currency"],
        "weekly_hours": contract.weekly_hours,
    }


def allowed_actions(contract: Contract) -> list[str]:
    if contract.status != domain.ContractStatus.REGISTERED:
        return []
    return ["amend", "terminate", "record_employment_end"]


def _dump(contract: Contract) -> dict[str, Any]:
    answer = ContractSchema().dump(contract)
    answer["allowed_actions"] = allowed_actions(contract)
    return answer


def _load(uow: UnitOfWork, contract_id: str) -> Contract:
    contract = uow.session.get(Contract, contract_id)
    if contract is None:
        raise NotFound("no such contract", contract_id=contract_id)
    return contract


def get(uow: UnitOfWork, contract_id: str) -> dict[str, Any]:
    return _dump(_load(uow, contract_id))


def list_for_employer(uow: UnitOfWork, employer_tax_id: str) -> list[dict[str, Any]]:
    contracts = uow.session.scalars(
        select(Contract)
        .where(Contract.employer_tax_id == employer_tax_id)
        .order_by(Contract.registered_at.desc())
    )
    return [_dump(contract) for contract in contracts]


def history(uow: UnitOfWork, contract_id: str) -> list[dict[str, Any]]:
    _load(uow, contract_id)
    entries = uow.session.scalars(
        select(ContractVersion)
        .where(ContractVersion.contract_id == contract_id)
        .order_by(ContractVersion.version)
    )
    return HistoryEntrySchema(many=True).dump(entries)


# -- amending --------------------------------------------------------------------------


def amend(
    uow: UnitOfWork,
    contract_id: str,
    payload: Any,
    policy: ContractPolicy,
    now: datetime,
) -> dict[str, Any]:
    contract = _load(uow, contract_id)
    request = _parse(AmendRequestSchema(), payload)
    _check_state(contract, domain.check_amendable)
    expected = request.get("expected_version")
    if expected is not None and expected != contract.version:
        raise Conflict(
            "the contract changed since you read it; reload and retry",
            version=contract.version,
            expected_version=expected,
        )
    current = terms_of(contract)
    requested = {name: request[name] for name in AmendRequestSchema.TERMS if name in request}
    changes = domain.changed_fields(current, requested)
    if not changes:
        raise InvalidInput({"_schema": ["nothing to change: the values are the current ones"]})
    proposed = domain.Terms(**{**current, **{name: c["to"] for name, c in changes.items()}})
    problems = domain.terms_problems(proposed, policy.rules, policy.unit_groups)
    if problems:
        raise InvalidInput(problems)
    _apply_terms(contract, proposed)
    _record(uow, contract, "amended", changes, request["amended_by"], request["reason"], now)
    uow.emit(
        "contract_amended",
        {
            **_ref(contract),
            "version": contract.version,
            "changes": changes,
            "reason": request["reason"],
            "amended_by": request["amended_by"],
            "amended_at": now,
        },
    )
    if set(changes) & set(domain.COVERED_BY_PERMIT):
        _recheck_coverage(uow, contract, "contract_amended", now)
    _flush(uow)
    return _dump(contract)


def _apply_terms(contract: Contract, terms: domain.Terms) -> None:
    # A new dict: SQLAlchemy does not see in-place changes to a JSON value.
    contract.job = {
        **contract.job,
        "title": terms.job_title,
        "isco_code": terms.isco_code,
        "region": terms.region,
        "monthly_salary": terms.monthly_salary,
    }
    contract.weekly_hours = terms.weekly_hours


def _recheck_coverage(uow: UnitOfWork, contract: Contract, cause: str, now: datetime) -> None:
    """Store where the contract and its permit now differ; tell officers of a new mismatch."""
    mismatches = domain.permit_mismatches(terms_of(contract), contract.permit_coverage)
    previous = contract.permit_mismatches
    contract.permit_mismatches = mismatches
    if (
        mismatches
        and mismatches != previous
        and contract.status == domain.ContractStatus.REGISTERED
    ):
        uow.emit(
            "contract_permit_mismatch",
            {
                **_ref(contract),
                "employer_tax_id": contract.employer_tax_id,
                "cause": cause,
                "mismatches": mismatches,
                "detected_at": now,
            },
        )


def apply_permit_amendment(uow: UnitOfWork, data: dict[str, Any], now: datetime) -> None:
    """Follow ``permits.permit_amended``: update the copy of what the permit covers."""
    contract = uow.session.scalar(
        select(Contract).where(Contract.permit_number == data["permit_number"])
    )
    if contract is None:
        log.info("permit %s amended but no contract is registered for it", data["permit_number"])
        return
    changes = data.get("changes") or {}
    renamed = {"title": "job_title", "job_title": "job_title", "isco_code": "isco_code",
               "region": "region"}  # fmt: skip
    new_coverage = {
        renamed[key]: value for key, value in changes.items() if key in renamed and value
    }
    if not new_coverage:
        return
    coverage_changes = {
        name: {"from": contract.permit_coverage.get(name), "to": value}
        for name, value in new_coverage.items()
        if contract.permit_coverage.get(name) != value
    }
    if not coverage_changes:
        return
    contract.permit_coverage = {**contract.permit_coverage, **new_coverage}
    _record(uow, contract, "permit_amended", coverage_changes, "permits", data.get("reason"), now)
    _recheck_coverage(uow, contract, "permit_amended", now)


# -- termination and the duty to report it ---------------------------------------------


def terminate(
    uow: UnitOfWork,
    contract_id: str,
    payload: Any,
    policy: ContractPolicy,
    now: datetime,
    today: date,
) -> dict[str, Any]:
    contract = _load(uow, contract_id)
    request = _parse(TerminateRequestSchema(), payload)
    terminated_on = request["terminated_on"]
    try:
        domain.check_termination(
            contract.status, terminated_on, contract.start_date, contract.end_date
        )
    except domain.IllegalTransition as illegal:
        raise _conflict(contract, illegal) from None
    except domain.ContractRefused as refused:
        raise InvalidInput({"terminated_on": [str(refused)]}) from None
    contract.status = domain.ContractStatus.TERMINATED
    contract.terminated_on = terminated_on
    contract.termination_reason = request["reason"]
    contract.terminated_by = request["terminated_by"]
    contract.reported_at = now
    contract.report_due_on = domain.report_due_on(terminated_on, policy.rules, policy.calendar)
    contract.reported_late = domain.is_reported_late(
        terminated_on, today, policy.rules, policy.calendar
    )
    changes = {"status": {"from": "registered", "to": "terminated"}}
    _record(uow, contract, "terminated", changes, request["terminated_by"], request["reason"], now)
    uow.emit("contract_terminated", terminated_event(contract))
    _flush(uow)
    return _dump(contract)


def terminated_event(contract: Contract) -> dict[str, Any]:
    return {
        **_ref(contract),
        "employer_tax_id": contract.employer_tax_id,
        "terminated_on": contract.terminated_on,
        "reason": contract.termination_reason,
        "terminated_by": contract.terminated_by,
        "reported_at": contract.reported_at,
    }


def record_employment_end(
    uow: UnitOfWork,
    contract_id: str,
    payload: Any,
    policy: ContractPolicy,
    now: datetime,
    today: date,
) -> dict[str, Any]:
    """An officer records that the employment ended; the reporting clock starts then."""
    contract = _load(uow, contract_id)
    request = _parse(EmploymentEndedRequestSchema(), payload)
    ended_on = request["employment_ended_on"]
    if contract.status != domain.ContractStatus.REGISTERED:
        raise _conflict(contract, domain.IllegalTransition(f"the contract is {contract.status}"))
    if ended_on > today or ended_on < contract.start_date:
        raise InvalidInput(
            {"employment_ended_on": [f"must be from {contract.start_date} to today ({today})"]}
        )
    changes = {"employment_ended_on": {"from": contract.employment_ended_on, "to": ended_on}}
    contract.employment_ended_on = ended_on
    contract.report_due_on = domain.report_due_on(ended_on, policy.rules, policy.calendar)
    _record(
        uow, contract, "employment_ended", changes, request["recorded_by"], request["reason"], now
    )
    _flush(uow)
    return _dump(contract)


def flag_overdue_reports(
    uow: UnitOfWork, policy: ContractPolicy, today: date, now: datetime
) -> list[str]:
    """Flag every contract whose employment ended and whose termination the employer
    has not reported by the deadline; once each. Returns the flagged contract ids."""
    candidates = uow.session.scalars(
        select(Contract)
        .where(
            Contract.status == domain.ContractStatus.REGISTERED,
            Contract.report_overdue_at.is_(None),
            or_(Contract.employment_ended_on.is_not(None), Contract.end_date < today),
        )
        .order_by(Contract.end_date)
        .limit(OVERDUE_BATCH)
    ).all()
    flagged = []
    for contract in candidates:
        ended_on = domain.employment_end(contract.end_date, contract.employment_ended_on, today)
        if not domain.is_report_overdue(ended_on, today, policy.rules, policy.calendar):
            continue
        assert ended_on is not None
        _flag_overdue(uow, contract, ended_on, policy, now)
        flagged.append(contract.id)
    return flagged


def _flag_overdue(
    uow: UnitOfWork, contract: Contract, ended_on: date, policy: ContractPolicy, now: datetime
) -> None:
    contract.report_due_on = domain.report_due_on(ended_on, policy.rules, policy.calendar)
    contract.report_overdue_at = now
    changes = {"report_overdue": {"from": False, "to": True}}
    reason = f"employment ended {ended_on}; no termination report by {contract.report_due_on}"
    _record(uow, contract, "report_overdue", changes, "contracts", reason, now)
    uow.emit(
        "contract_report_overdue",
        {
            **_ref(contract),
            "employer_tax_id": contract.employer_tax_id,
            "employment_ended_on": ended_on,
            "report_due_on": contract.report_due_on,
            "flagged_at": now,
        },
    )


# -- shared ----------------------------------------------------------------------------


def _ref(contract: Contract) -> dict[str, Any]:
    return {
        "contract_id": contract.id,
        "permit_number": contract.permit_number,
        "application_id": contract.application_id,
    }


def _parse(schema: Any, payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise InvalidInput({"_schema": ["the request must be a JSON object"]})
    try:
        return schema.load(payload)
    except ValidationError as error:
        raise InvalidInput(flatten_errors(error.messages)) from None


def _check_state(contract: Contract, check: Any) -> None:
    try:
        check(contract.status)
    except domain.IllegalTransition as illegal:
        raise _conflict(contract, illegal) from None


def _conflict(contract: Contract, illegal: Exception) -> Conflict:
    return Conflict(str(illegal), status=contract.status, allowed_actions=allowed_actions(contract))


def _record(
    uow: UnitOfWork,
    contract: Contract,
    change: str,
    changes: dict[str, Any],
    actor: str,
    reason: str | None,
    now: datetime,
) -> None:
    """Add a history entry and move the contract to its next version."""
    if change != "registered":
        contract.version += 1
    uow.session.add(
        ContractVersion(
            contract_id=contract.id,
            version=contract.version,
            change=change,
            changes=_jsonable(changes),
            terms=terms_of(contract),
            actor=actor,
            reason=reason,
            at=now,
        )
    )


def _jsonable(changes: dict[str, Any]) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        return value.isoformat() if isinstance(value, date) else value

    return {
        name: {"from": plain(change["from"]), "to": plain(change["to"])}
        for name, change in changes.items()
    }


def _flush(uow: UnitOfWork) -> None:
    """Write now, so a concurrent change to the same contract is a clear 409."""
    try:
        uow.session.flush()
    except (StaleDataError, IntegrityError):
        raise Conflict("the contract was changed by someone else at the same time; retry") from None
