"""Use cases: load a case, apply the domain rules, store the result and its events.

Called from the thin entrypoints in service.py with an open unit of work.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select

from applications import domain
from applications.domain import Action, Status
from applications.models import Application, StatusChange
from applications.schemas import ApplicationSchema, DecisionSchema, SubmitApplicationSchema
from wpis_common.db import UnitOfWork
from wpis_common.envelope import utc_now
from wpis_common.errors import Conflict, InvalidInput, NotFound, flatten_errors


def load_payload(schema: Any, payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise InvalidInput({"_schema": ["the request body must be a JSON object"]})
    try:
        return schema.load(payload)
    except ValidationError as error:
        raise InvalidInput(flatten_errors(error.messages)) from None


def submit(uow: UnitOfWork, payload: Any, today: date) -> dict[str, Any]:
    data = load_payload(SubmitApplicationSchema(), payload)
    date_errors = domain.submission_date_errors(
        data["worker"]["date_of_birth"],
        data["worker"]["passport"]["expiry_date"],
        data["contract"]["start_date"],
        today,
    )
    if date_errors:
        raise InvalidInput(date_errors)
    dumped = SubmitApplicationSchema().dump(data)
    now = utc_now()
    application = Application(
        id=str(uuid.uuid4()),
        status=Status.IDENTITY_CHECK_PENDING,
        employer_tax_id=dumped["employer"]["tax_id"],
        employer=dumped["employer"],
        worker=dumped["worker"],
        job=dumped["job"],
        contract=dumped["contract"],
        created_at=now,
        updated_at=now,
    )
    _record(application, None, Status.IDENTITY_CHECK_PENDING, "submit", "employer", None, now)
    uow.session.add(application)
    uow.emit("application_submitted", {**_case_facts(application), "submitted_at": now})
    return view(application)


def get(uow: UnitOfWork, application_id: str) -> Application:
    application = uow.session.get(Application, application_id)
    if application is None:
        raise NotFound("no such application", application_id=application_id)
    return application


def list_applications(uow: UnitOfWork, status: str | None, limit: int) -> list[dict[str, Any]]:
    query = select(Application).order_by(Application.created_at.desc()).limit(min(limit, 500))
    if status:
        query = query.where(Application.status == status)
    return [view(app, with_history=False) for app in uow.session.scalars(query)]


def decide(uow: UnitOfWork, application_id: str, payload: Any) -> dict[str, Any]:
    data = load_payload(DecisionSchema(), payload)
    application = get(uow, application_id)
    action = domain.decision_action(data["decision"])
    now = utc_now()
    _transition(application, action, data["officer"], data["reason"] or None, now)
    application.decision = data["decision"]
    application.decision_reason = data["reason"] or None
    application.decided_by = data["officer"]
    application.decided_at = now
    if action == Action.APPROVE:
        uow.emit(
            "application_approved",
            {
                **_case_facts(application),
                "submitted_at": application.created_at,
                "attestation": application.attestation,
                "decided_by": data["officer"],
                "decided_at": now,
            },
        )
    else:
        _emit_rejected(uow, application, data["reason"], data["officer"], now)
    return view(application)


def identity_checked(uow: UnitOfWork, event_type: str, data: dict[str, Any]) -> None:
    application = get(uow, data["application_id"])
    now = utc_now()
    application.identity_verification_id = data["verification_id"]
    application.identity_outcome = data["outcome"]
    application.identity_reason = data.get("reason")
    application.identity_checked_at = now
    if event_type == "identity_verified":
        application.attestation = data["attestation"]
        _transition(application, Action.IDENTITY_VERIFIED, "identity_gateway", None, now)
    elif event_type == "identity_rejected":
        reason = domain.identity_refusal_reason(data["outcome"], data.get("reason") or "")
        _transition(application, Action.IDENTITY_REJECTED, "identity_gateway", reason, now)
        application.decision = "reject"
        application.decision_reason = reason
        application.decided_by = "identity_gateway"
        application.decided_at = now
        _emit_rejected(uow, application, reason, "identity_gateway", now)
    else:
        reason = data.get("reason")
        _transition(application, Action.IDENTITY_DEFERRED, "identity_gateway", reason, now)


def permit_issued(uow: UnitOfWork, data: dict[str, Any]) -> None:
    application = get(uow, data["application_id"])
    application.permit_number = data["permit_number"]
    _transition(application, Action.PERMIT_ISSUED, "permits", data["permit_number"], utc_now())


def contract_registered(uow: UnitOfWork, data: dict[str, Any]) -> None:
    application = get(uow, data["application_id"])
    application.contract_id = data["contract_id"]
    application.updated_at = utc_now()


def view(application: Application, with_history: bool = True) -> dict[str, Any]:
    status = Status(application.status)
    data = {
        "id": application.id,
        "status": application.status,
        "employer": application.employer,
        "worker": application.worker,
        "job": application.job,
        "contract": application.contract,
        "identity": {
            "verification_id": application.identity_verification_id,
            "outcome": application.identity_outcome,
            "reason": application.identity_reason,
            "checked_at": application.identity_checked_at,
        },
        "decision": application.decision,
        "decision_reason": application.decision_reason,
        "permit_number": application.permit_number,
        "contract_id": application.contract_id,
        "allowed_actions": domain.allowed_actions(status, domain.Actor.OFFICER),
        "created_at": application.created_at,
        "updated_at": application.updated_at,
    }
    if with_history:
        data["history"] = [_history_view(entry) for entry in application.history]
    return ApplicationSchema().dump(data)


def _history_view(entry: StatusChange) -> dict[str, Any]:
    return {
        "from_status": entry.from_status,
        "to_status": entry.to_status,
        "action": entry.action,
        "actor": entry.actor,
        "reason": entry.reason,
        "at": entry.at,
    }


def _transition(
    application: Application, action: Action, actor: str, reason: str | None, now: Any
) -> None:
    current = Status(application.status)
    try:
        target = domain.next_status(current, action)
    except domain.TransitionRefused as refused:
        raise Conflict(
            str(refused),
            status=current.value,
            allowed_actions=domain.allowed_actions(current, domain.Actor.OFFICER),
        ) from None
    _record(application, current, target, action.value, actor, reason, now)
    application.status = target
    application.updated_at = now


def _record(
    application: Application,
    source: Status | None,
    target: Status,
    action: str,
    actor: str,
    reason: str | None,
    now: Any,
) -> None:
    application.history.append(
        StatusChange(
            from_status=source.value if source else None,
            to_status=target.value,
            action=action,
            actor=actor,
            reason=reason,
            at=now,
        )
    )


def _case_facts(application: Application) -> dict[str, Any]:
    return {
        "application_id": application.id,
        "employer": application.employer,
        "worker": application.worker,
        "job": application.job,
        "contract": application.contract,
    }


def _emit_rejected(
    uow: UnitOfWork, application: Application, reason: str, rejected_by: str, now: Any
) -> None:
    uow.emit(
        "application_rejected",
        {
            "application_id": application.id,
            "employer": application.employer,
            "worker_email": application.worker["email"],
            "reason": reason,
            "rejected_by": rejected_by,
            "decided_at": now,
        },
    )
