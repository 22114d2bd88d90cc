"""Use cases of the contract register."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import select

from contracts import domain
from contracts.models import Contract
from contracts.schemas import ContractSchema
from wpis_common.db import UnitOfWork
from wpis_common.envelope import utc_now
from wpis_common.errors import NotFound


def register_for_permit(uow: UnitOfWork, permit: dict[str, Any]) -> Contract | None:
    """Register the contract a newly issued permit carries; once per permit."""
    existing = uow.session.scalar(
        select(Contract).where(Contract.permit_number == permit["permit_number"])
    )
    if existing is not None:
        return existing
    terms = permit["contract_terms"]
    start, end = date.fromisoformat(terms["start_date"]), date.fromisoformat(terms["end_date"])
    valid_from = date.fromisoformat(permit["valid_from"])
    valid_until = date.fromisoformat(permit["valid_until"])
    try:
        domain.check_terms_within_permit(start, end, valid_from, valid_until)
    except domain.ContractRefused as refused:
        uow.emit(
            "contract_registration_refused",
            {
                "permit_number": permit["permit_number"],
                "application_id": permit["application_id"],
                "reason": str(refused),
            },
        )
        return None
    contract = _new_contract(permit, start, end, valid_until)
    uow.session.add(contract)
    uow.emit("contract_registered", registered_event(contract))
    return contract


def _new_contract(permit: dict[str, Any], start: date, end: date, valid_until: date) -> Contract:
    holder = permit["holder"]
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
        job=permit["job"],
        start_date=start,
        end_date=end,
        registered_until=domain.registered_until(end, valid_until),
        registered_at=utc_now(),
        version=1,
    )


def registered_event(contract: Contract) -> dict[str, Any]:
    return {
        "contract_id": contract.id,
        "permit_number": contract.permit_number,
        "application_id": contract.application_id,
        "employer_tax_id": contract.employer_tax_id,
        "employer_name": contract.employer_name,
        "isco_code": contract.job["isco_code"],
        "region": contract.job["region"],
        "monthly_salary": contract.job["monthly_salary"],
        "currency": contract.job["currency"],
        "start_date": contract.start_date,
        "end_date": contract.end_date,
        "registered_until": contract.registered_until,
        "registered_at": contract.registered_at,
    }


def get(uow: UnitOfWork, contract_id: str) -> dict[str, Any]:
    contract = uow.session.get(Contract, contract_id)
    if contract is None:
        raise NotFound("no such contract", contract_id=contract_id)
    return ContractSchema().dump(contract)


def list_for_employer(uow: UnitOfWork, employer_tax_id: str) -> list[dict[str, Any]]:
    contracts = uow.session.scalars(
        select(Contract)
        .where(Contract.employer_tax_id == employer_tax_id)
        .order_by(Contract.registered_at.desc())
    )
    return ContractSchema(many=True).dump(contracts)
