"""Use cases: load a case, apply the domain rules, store the result and its events.

Called from the thin entrypoints in service.py with an open unit of work. No
network I/O happens in here while a transaction is open: the service asks the
permits service, the employment agency or the payment service first and
passes their answers in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select

from applications import domain, listing
from applications.documents import DocumentStore
from applications.domain import Action, Kind, Policy, Role, Status
from applications.errors import Forbidden
from applications.models import Application, Document, StatusChange
from applications.schemas import (
    ApplicationSchema,
    AssignmentSchema,
    CloseSchema,
    DecisionSchema,
    DocumentSchema,
    DocumentUploadSchema,
    FeePaymentSchema,
    HistoryEntrySchema,
    ListFiltersSchema,
    ReasonSchema,
    ResubmitSchema,
    SendBackSchema,
    SubmitApplicationSchema,
)
from wpis_common.caller import Caller
from wpis_common.db import UnitOfWork
from wpis_common.errors import Conflict, InvalidInput, NotFound, flatten_errors

# Built once: a marshmallow schema costs more to build than to dump a case with.
APPLICATION_VIEW = ApplicationSchema()


@dataclass(frozen=True)
class Who:
    """Who is acting: a role (checked against the transition table), a name, and for an
    employer its tax id (it sees and acts on its own cases only)."""

    role: Role
    actor: str
    tax_id: str | None = None


def system(actor: str) -> Who:
    return Who(Role.SYSTEM, actor)


def who_from(caller: Caller) -> Who:
    """The acting role and name from the verified caller (wpis_common.caller)."""
    if caller.is_system:
        return system(caller.username)
    try:
        role = Role(caller.role)
    except ValueError:
        raise Forbidden(
            f"a {caller.role} has no access to applications",
            allowed_roles=sorted(r.value for r in domain.HUMAN_ROLES),
        ) from None
    return Who(role, caller.username, caller.tax_id if role == Role.EMPLOYER else None)


def load_payload(schema: Any, payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise InvalidInput({"_schema": ["the request body must be a JSON object"]})
    try:
        return schema.load(payload)
    except ValidationError as error:
        raise InvalidInput(flatten_errors(error.messages)) from None


# -- filing ---------------------------------------------------------------------------


def parse_submission(payload: Any, today: date) -> dict[str, Any]:
    """Validate a new application; raises InvalidInput with every field's reason."""
    data = load_payload(SubmitApplicationSchema(), payload)
    date_errors = domain.submission_date_errors(
        data["worker"]["date_of_birth"],
        data["worker"]["passport"]["expiry_date"],
        data["contract"]["start_date"],
        today,
    )
    if date_errors:
        raise InvalidInput(date_errors)
    return data


def create(
    uow: UnitOfWork,
    data: dict[str, Any],
    who: Who,
    policy: Policy,
    now: datetime,
    permit_verdict: dict[str, Any] | None,
) -> dict[str, Any]:
    """File a case: a draft, or submitted at once (the W1 one-shot flow)."""
    _require_role(who, {Role.EMPLOYER}, "file an application")
    kind = Kind(data["kind"])
    problem = domain.permit_reference_problem(kind, permit_verdict)
    if problem:
        raise Conflict(problem, field="permit_number", permit_number=data["permit_number"])
    dumped = SubmitApplicationSchema().dump(data)
    if who.tax_id != dumped["employer"]["tax_id"]:
        raise Forbidden("an employer files applications under its own tax id only")
    application = _new_application(dumped, kind, policy, now)
    _record(application, None, Status.DRAFT, "create", who, None, now)
    uow.session.add(application)
    if not data["draft"]:
        _submit(uow, application, who, policy, now)
    return view(application, who.role, now, policy)


def _new_application(
    dumped: dict[str, Any], kind: Kind, policy: Policy, now: datetime
) -> Application:
    worker, job = dumped["worker"], dumped["job"]
    exemption = domain.lmt_exemption(
        policy.lmt, kind, job["isco_code"], worker["nationality"], dumped.get("exemption_claim")
    )
    return Application(
        id=str(uuid.uuid4()),
        kind=kind.value,
        status=Status.DRAFT,
        employer_tax_id=dumped["employer"]["tax_id"],
        employer=dumped["employer"],
        worker=worker,
        job=job,
        contract=dumped["contract"],
        referenced_permit=dumped.get("permit_number"),
        worker_search=domain.search_text(
            worker["given_names"], worker["surname"], worker["passport"]["number"]
        ),
        passport_number=worker["passport"]["number"],
        nationality=worker["nationality"],
        vacancy_reference=dumped.get("vacancy_reference"),
        exemption_claim=dumped.get("exemption_claim"),
        exemption=exemption,
        lmt_required=exemption is None,
        fee_amount=policy.fees.amounts[kind.value],
        fee_currency=policy.fees.currency,
        created_at=now,
        updated_at=now,
    )


def submit_draft(
    uow: UnitOfWork, application_id: str, who: Who, policy: Policy, now: datetime
) -> dict[str, Any]:
    application = _owned(uow, application_id, who)
    _submit(uow, application, who, policy, now)
    return view(application, who.role, now, policy)


def _submit(
    uow: UnitOfWork, application: Application, who: Who, policy: Policy, now: datetime
) -> None:
    facts = domain.CaseFacts(missing_documents=_missing_if_enforced(application, policy))
    _move(uow, application, Action.SUBMIT, who, None, now, facts)
    application.submitted_at = now
    application.due_at = domain.statutory_due(now, Kind(application.kind), policy.deadlines)
    uow.emit(
        "application_submitted",
        {**_case_facts(application), "submitted_at": now, "due_at": application.due_at},
    )
    _move(uow, application, Action.REQUEST_IDENTITY_CHECK, system("applications"), None, now)


def _missing_if_enforced(application: Application, policy: Policy) -> tuple[str, ...]:
    if not policy.require_documents:
        return ()
    return _missing_documents(application, policy)


def _missing_documents(application: Application, policy: Policy) -> tuple[str, ...]:
    checklist = policy.checklist.get(application.kind, ())
    return domain.missing_documents(checklist, (d.document_type for d in application.documents))


# -- reading --------------------------------------------------------------------------


def get(uow: UnitOfWork, application_id: str) -> Application:
    application = uow.session.get(Application, application_id)
    if application is None:
        raise NotFound("no such application", application_id=application_id)
    return application


def get_view(uow: UnitOfWork, application_id: str, who: Who, policy: Policy, now: datetime) -> dict:
    application = _owned(uow, application_id, who)
    return view(application, who.role, now, policy)


def history(uow: UnitOfWork, application_id: str, who: Who) -> list[dict[str, Any]]:
    application = _owned(uow, application_id, who)
    return [HistoryEntrySchema().dump(_history_view(entry)) for entry in application.history]


def list_page(uow: UnitOfWork, payload: Any, who: Who, now: datetime) -> dict[str, Any]:
    filters = load_payload(ListFiltersSchema(), payload if payload is not None else {})
    if filters.get("cursor"):
        try:
            filters["after"] = domain.decode_cursor(filters["cursor"])
        except ValueError as error:
            raise InvalidInput({"cursor": [str(error)]}) from None
    if who.role == Role.EMPLOYER:
        if filters.get("employer") not in (None, who.tax_id):
            raise Forbidden("an employer lists its own cases only")
        filters["employer"] = who.tax_id
    rows, cursor = listing.page(uow.session, filters, now)
    items = [view(app, who.role, now, with_history=False) for app in rows]
    return {"items": items, "next_cursor": cursor}


def list_applications(uow: UnitOfWork, status: str | None, limit: int, now: datetime) -> list:
    """The W1 listing: newest first, optionally by one status."""
    payload = {"limit": min(max(limit, 1), 500), **({"status": [status]} if status else {})}
    return list_page(uow, payload, Who(Role.DECISION_OFFICER, "officer"), now)["items"]


def view(
    application: Application,
    role: Role = Role.DECISION_OFFICER,
    now: datetime | None = None,
    policy: Policy | None = None,
    with_history: bool = True,
) -> dict[str, Any]:
    status = Status(application.status)
    overdue = bool(
        now and application.due_at and status in domain.CLOCK_RUNNING and now > application.due_at
    )
    data = {
        "id": application.id,
        "kind": application.kind,
        "status": application.status,
        "employer": application.employer,
        "worker": application.worker,
        "job": application.job,
        "contract": application.contract,
        "referenced_permit": application.referenced_permit,
        "identity": {
            "verification_id": application.identity_verification_id,
            "outcome": application.identity_outcome,
            "reason": application.identity_reason,
            "checked_at": application.identity_checked_at,
        },
        "labour_market_test": {
            "required": application.lmt_required,
            "exemption": application.exemption,
            "request_id": application.lmt_request_id,
            "outcome": application.lmt_outcome,
            "reason": application.lmt_reason,
            "requested_at": application.lmt_requested_at,
            "due_at": application.lmt_due_at,
            "answered_at": application.lmt_answered_at,
        },
        "fee": {
            "required": bool(policy and policy.fees.required),
            "amount": application.fee_amount,
            "currency": application.fee_currency,
            "reference": application.fee_reference,
            "paid_at": application.fee_paid_at,
        },
        "decision": application.decision,
        "decision_reason": application.decision_reason,
        "reason_code": application.reason_code,
        "correction_request": application.correction_request,
        "permit_number": application.permit_number,
        "contract_id": application.contract_id,
        "assigned_to": application.assigned_to,
        "submitted_at": application.submitted_at,
        "due_at": application.due_at,
        "overdue": overdue,
        "allowed_actions": domain.allowed_actions(status, role),
        "created_at": application.created_at,
        "updated_at": application.updated_at,
    }
    if with_history:
        data["history"] = [_history_view(entry) for entry in application.history]
        checklist = list(policy.checklist.get(application.kind, ())) if policy else []
        data["documents"] = {
            "checklist": checklist,
            "missing": list(domain.missing_documents(checklist, _uploaded_types(application))),
            "uploaded": len(application.documents),
            "required_before_submission": bool(policy and policy.require_documents),
        }
    return APPLICATION_VIEW.dump(data)


def _uploaded_types(application: Application) -> list[str]:
    return [document.document_type for document in application.documents]


def _history_view(entry: StatusChange) -> dict[str, Any]:
    return {
        "from_status": entry.from_status,
        "to_status": entry.to_status,
        "action": entry.action,
        "actor": entry.actor,
        "role": entry.role,
        "reason": entry.reason,
        "at": entry.at,
    }


# -- officers' and employers' actions -------------------------------------------------


def decide(
    uow: UnitOfWork, application_id: str, payload: Any, who: Who, policy: Policy, now: datetime
) -> dict[str, Any]:
    data = load_payload(DecisionSchema(), payload)
    if who.actor == who.role.value and data["officer"] != "officer":
        who = Who(who.role, data["officer"])  # W1 clients name the officer in the body
    application = _owned(uow, application_id, who)
    action = domain.decision_action(data["decision"])
    reason = data["reason"] or None
    facts = domain.CaseFacts(
        fee_required=policy.fees.required, fee_paid=application.fee_paid_at is not None
    )
    _move(uow, application, action, who, reason, now, facts)
    application.decision = data["decision"]
    application.decision_reason = reason
    application.decided_by = who.actor
    application.decided_at = now
    if action == Action.APPROVE:
        uow.emit("application_approved", _approved_event(application, who, now))
    else:
        application.reason_code = data["reason_code"] or "other"
        _emit_rejected(uow, application, data["reason"], who.actor, now)
    return view(application, who.role, now, policy)


def _approved_event(application: Application, who: Who, now: datetime) -> dict[str, Any]:
    return {
        **_case_facts(application),
        "submitted_at": application.submitted_at or application.created_at,
        "due_at": application.due_at,
        "attestation": application.attestation,
        "decided_by": who.actor,
        "decided_at": now,
        "exemption": application.exemption,
        "fee_reference": application.fee_reference,
    }


def send_back(
    uow: UnitOfWork, application_id: str, payload: Any, who: Who, policy: Policy, now: datetime
) -> dict[str, Any]:
    data = load_payload(SendBackSchema(), payload)
    application = _owned(uow, application_id, who)
    _move(uow, application, Action.SEND_BACK, who, data["reason"], now)
    application.correction_request = {"reason": data["reason"], "fix": data["fix"], "by": who.actor}
    application.clock_paused_at = now
    uow.emit(
        "application_returned",
        {
            **_ref(application),
            "employer": application.employer,
            "worker_email": application.worker["email"],
            "reason": data["reason"],
            "fix": data["fix"],
            "returned_by": who.actor,
            "at": now,
        },
    )
    return view(application, who.role, now, policy)


def resubmit(
    uow: UnitOfWork, application_id: str, payload: Any, who: Who, policy: Policy, now: datetime
) -> dict[str, Any]:
    data = load_payload(ResubmitSchema(), payload)
    application = _owned(uow, application_id, who)
    if "employer" in data and data["employer"]["tax_id"] != application.employer_tax_id:
        raise InvalidInput({"employer.tax_id": ["the employer of a case cannot change"]})
    facts = domain.CaseFacts(missing_documents=_missing_if_enforced(application, policy))
    _move(uow, application, Action.RESUBMIT, who, data["note"] or None, now, facts)
    dumped = ResubmitSchema().dump(data)
    corrected = [section for section in ("employer", "job", "contract") if section in dumped]
    for section in corrected:
        setattr(application, section, dumped[section])
    if application.due_at and application.clock_paused_at:
        application.due_at = domain.resumed_due(
            application.due_at, application.clock_paused_at, now
        )
        if now < application.due_at - _warning(policy):
            application.deadline_warned_at = None
    application.clock_paused_at = None
    uow.emit(
        "application_resubmitted",
        {
            **_ref(application),
            "corrected": corrected,
            "note": data["note"] or None,
            "resubmitted_by": who.actor,
            "due_at": application.due_at,
            "at": now,
        },
    )
    return view(application, who.role, now, policy)


def _warning(policy: Policy) -> timedelta:
    return timedelta(days=policy.deadlines.warning_days)


def withdraw(
    uow: UnitOfWork, application_id: str, payload: Any, who: Who, policy: Policy, now: datetime
) -> dict[str, Any]:
    data = load_payload(ReasonSchema(), payload if payload is not None else {})
    application = _owned(uow, application_id, who)
    previous = application.status
    _move(uow, application, Action.WITHDRAW, who, data["reason"] or None, now)
    uow.emit(
        "application_withdrawn",
        {
            **_ref(application),
            "employer": application.employer,
            "worker_email": application.worker["email"],
            "previous_status": previous,
            "reason": data["reason"] or None,
            "withdrawn_by": who.actor,
            "at": now,
        },
    )
    return view(application, who.role, now, policy)


def close(
    uow: UnitOfWork, application_id: str, payload: Any, who: Who, policy: Policy, now: datetime
) -> dict[str, Any]:
    data = load_payload(CloseSchema(), payload)
    application = _owned(uow, application_id, who)
    _close(uow, application, Action.CLOSE, who, data["reason"], now)
    return view(application, who.role, now, policy)


def _close(
    uow: UnitOfWork, application: Application, action: Action, who: Who, reason: str, now: datetime
) -> None:
    _move(uow, application, action, who, reason, now)
    uow.emit(
        "application_closed",
        {**_ref(application), "reason": reason, "closed_by": who.actor, "at": now},
    )


def assign(
    uow: UnitOfWork, application_id: str, payload: Any, who: Who, policy: Policy, now: datetime
) -> dict[str, Any]:
    """A supervisor assigns anyone; an officer takes a case from the pool for itself."""
    data = load_payload(AssignmentSchema(), payload)
    officer = data["officer"].strip() if data["officer"] else None
    application = _owned(uow, application_id, who)
    _require_role(who, domain.OFFICERS, "assign cases")
    if who.role != Role.SUPERVISOR and (officer != who.actor or application.assigned_to):
        raise Forbidden(
            "an officer may only take an unassigned case for itself; a supervisor assigns others",
            allowed_roles=[Role.SUPERVISOR.value],
        )
    status = Status(application.status)
    if status in domain.TERMINAL or status == Status.DRAFT:
        raise Conflict(
            f"cannot assign an application that is {status.value}",
            status=status.value,
            allowed_actions=domain.allowed_actions(status, who.role),
        )
    previous, application.assigned_to = application.assigned_to, officer
    reason = f"assigned to {officer}" if officer else "returned to the unassigned pool"
    _record(application, status, status, "assign", who, reason, now)
    application.updated_at = now
    uow.emit(
        "application_assigned",
        {**_ref(application), "assigned_to": officer, "previous": previous,
         "assigned_by": who.actor, "at": now},
    )  # fmt: skip
    return view(application, who.role, now, policy)


# -- fees and documents -----------------------------------------------------------------


def parse_fee_reference(payload: Any) -> str:
    return load_payload(FeePaymentSchema(), payload)["reference"]


def record_fee(
    uow: UnitOfWork,
    application_id: str,
    reference: str,
    confirmation: dict[str, Any] | None,
    who: Who,
    policy: Policy,
    now: datetime,
) -> dict[str, Any]:
    application = _owned(uow, application_id, who)
    _require_role(who, {Role.EMPLOYER, Role.INTAKE_OFFICER, Role.SUPERVISOR}, "record a payment")
    status = Status(application.status)
    if application.fee_paid_at is not None:
        raise Conflict("the fee is already paid", reference=application.fee_reference)
    if status in domain.TERMINAL:
        raise Conflict(f"cannot pay for an application that is {status.value}", status=status.value)
    problem = domain.payment_problem(confirmation, application.fee_amount, application.fee_currency)
    if problem:
        raise Conflict(problem, field="reference", reference=reference)
    taken = uow.session.scalar(select(Application.id).where(Application.fee_reference == reference))
    if taken:
        raise Conflict("this payment already paid another application", field="reference")
    application.fee_reference = reference
    application.fee_paid_at = now
    application.updated_at = now
    _record(application, status, status, "pay_fee", who, f"payment {reference}", now)
    uow.emit(
        "application_fee_paid",
        {**_ref(application), "reference": reference, "amount": application.fee_amount,
         "currency": application.fee_currency, "paid_at": now},
    )  # fmt: skip
    return view(application, who.role, now, policy)


def parse_upload(payload: Any, policy: Policy) -> tuple[dict[str, Any], bytes]:
    """The upload's metadata and bytes; InvalidInput (nothing stored) when refused."""
    data = load_payload(DocumentUploadSchema(), payload)
    try:
        content = base64.b64decode(data["content"], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput({"file": ["the content is not valid base64"]}) from None
    errors = domain.document_problems(
        data["document_type"], len(content), data["content_type"], content[:16],
        policy.document_max_bytes,
    )  # fmt: skip
    if errors:
        raise InvalidInput(errors, message="document refused")
    return data, content


def add_document(
    uow: UnitOfWork,
    store: DocumentStore,
    application_id: str,
    data: dict[str, Any],
    content: bytes,
    who: Who,
    now: datetime,
    stored_keys: list[str],
) -> dict[str, Any]:
    application = _owned(uow, application_id, who)
    _require_role(who, {Role.EMPLOYER, Role.INTAKE_OFFICER}, "attach documents")
    status = Status(application.status)
    if status not in (Status.DRAFT, Status.RETURNED) and who.role == Role.EMPLOYER:
        raise Conflict(
            f"documents are attached to a draft or a case returned for correction, "
            f"not to one that is {status.value}",
            status=status.value,
        )
    if status in domain.TERMINAL:
        raise Conflict(f"the application is {status.value}", status=status.value)
    document = Document(
        id=str(uuid.uuid4()),
        application_id=application.id,
        document_type=data["document_type"],
        filename=data["filename"],
        media_type=domain.sniff_media_type(content[:16]) or "application/octet-stream",
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        uploaded_by=who.actor,
        uploaded_role=who.role.value,
        uploaded_at=now,
    )
    document.storage_key = f"{application.id}/{document.id}"
    store.put(document.storage_key, content)
    stored_keys.append(document.storage_key)
    application.documents.append(document)
    application.updated_at = now
    uow.emit(
        "application_document_added",
        {**_ref(application), "document_id": document.id, "document_type": document.document_type,
         "media_type": document.media_type, "size": document.size, "sha256": document.sha256,
         "uploaded_by": who.actor, "at": now},
    )  # fmt: skip
    return DocumentSchema().dump(document)


def list_documents(uow: UnitOfWork, application_id: str, who: Who) -> list[dict[str, Any]]:
    application = _owned(uow, application_id, who)
    _require_document_viewer(who)
    return [DocumentSchema().dump(document) for document in application.documents]


def read_document(
    uow: UnitOfWork, store: DocumentStore, application_id: str, document_id: str, who: Who
) -> dict[str, Any]:
    application = _owned(uow, application_id, who)
    _require_document_viewer(who)
    document = uow.session.get(Document, document_id)
    if document is None or document.application_id != application.id:
        raise NotFound("no such document", document_id=document_id)
    content = store.get(document.storage_key)
    return {**DocumentSchema().dump(document), "content": base64.b64encode(content).decode()}


def _require_document_viewer(who: Who) -> None:
    if not domain.may_see_documents(who.role):
        raise Forbidden(
            f"a {who.role.value} may not see documents",
            allowed_roles=sorted(r.value for r in domain.DOCUMENT_VIEWERS),
        )


# -- what other services tell us ------------------------------------------------------


def identity_checked(uow: UnitOfWork, event_type: str, data: dict[str, Any], now: datetime) -> None:
    application = get(uow, data["application_id"])
    application.identity_verification_id = data["verification_id"]
    application.identity_outcome = data["outcome"]
    application.identity_reason = data.get("reason")
    application.identity_checked_at = now
    if application.status != Status.IDENTITY_CHECK_PENDING:
        return  # withdrawn meanwhile: keep the result, move nothing
    identity = system("identity_gateway")
    if event_type == "identity_verified":
        application.attestation = data["attestation"]
        _move(uow, application, Action.IDENTITY_VERIFIED, identity, None, now)
        if not application.lmt_required:
            reason = f"exempt: {application.exemption}"
            _move(uow, application, Action.LMT_NOT_REQUIRED, system("applications"), reason, now)
    elif event_type == "identity_rejected":
        reason = domain.identity_refusal_reason(data["outcome"], data.get("reason") or "")
        _move(uow, application, Action.IDENTITY_REJECTED, identity, reason, now)
        application.decision = "reject"
        application.decision_reason = reason
        application.reason_code = "identity_check_failed"
        application.decided_by = "identity_gateway"
        application.decided_at = now
        _emit_rejected(uow, application, reason, "identity_gateway", now)
    else:
        _move(uow, application, Action.IDENTITY_DEFERRED, identity, data.get("reason"), now)


def permit_issued(uow: UnitOfWork, data: dict[str, Any], now: datetime) -> None:
    application = uow.session.get(Application, data["application_id"])
    if application is None or application.status != Status.APPROVED:
        return  # not ours to move (e.g. a permit event about an older case)
    application.permit_number = data["permit_number"]
    _move(uow, application, Action.PERMIT_ISSUED, system("permits"), data["permit_number"], now)


def permit_not_issued(uow: UnitOfWork, data: dict[str, Any], now: datetime) -> None:
    application = uow.session.get(Application, data["application_id"])
    if application is None or application.status != Status.APPROVED:
        return
    reason = f"the permit register refused: {data.get('reason', 'no reason given')}"
    _close(uow, application, Action.PERMIT_REFUSED, system("permits"), reason, now)


def contract_registered(uow: UnitOfWork, data: dict[str, Any], now: datetime) -> None:
    application = uow.session.get(Application, data["application_id"])
    if application is None:
        return
    application.contract_id = data["contract_id"]
    application.updated_at = now


# -- timers: the labour-market test and the statutory clock -----------------------------


def lmt_cases(uow: UnitOfWork, requested: bool, limit: int = 100) -> list[dict[str, Any]]:
    """Cases waiting for the agency: not yet asked (requested=False) or asked."""
    sent = Application.lmt_request_id.is_not(None)
    query = (
        select(Application)
        .where(Application.status == Status.LMT_PENDING, sent if requested else ~sent)
        .order_by(Application.created_at)
        .limit(limit)
    )
    return [
        {
            "application_id": app.id,
            "request_id": app.lmt_request_id,
            "employer_tax_id": app.employer_tax_id,
            "employer_name": app.employer["name"],
            "isco_code": app.job["isco_code"],
            "job_title": app.job["title"],
            "region": app.job["region"],
            "vacancy_reference": app.vacancy_reference,
        }
        for app in uow.session.scalars(query)
    ]


def lmt_requested(
    uow: UnitOfWork, application_id: str, request_id: str, policy: Policy, now: datetime
) -> None:
    application = get(uow, application_id)
    if application.status != Status.LMT_PENDING or application.lmt_request_id:
        return
    due_day = domain.add_working_days(now.date(), policy.lmt.working_days, policy.holidays)
    application.lmt_request_id = request_id
    application.lmt_requested_at = now
    application.lmt_due_at = domain.end_of_day(due_day, now.tzinfo)
    application.updated_at = now
    uow.emit(
        "labour_market_test_requested",
        {**_ref(application), "request_id": request_id, "isco_code": application.job["isco_code"],
         "region": application.job["region"], "due_at": application.lmt_due_at},
    )  # fmt: skip


def lmt_answered(
    uow: UnitOfWork, application_id: str, answer: dict[str, Any], now: datetime
) -> None:
    application = get(uow, application_id)
    if application.status != Status.LMT_PENDING or answer["status"] not in domain.LMT_OUTCOMES:
        return
    _complete_lmt(uow, application, answer["status"], answer.get("reason"), "agency", now)


def lmt_deadlines(uow: UnitOfWork, policy: Policy, now: datetime) -> int:
    """Apply the configured outcome to cases whose agency deadline has passed."""
    query = select(Application).where(
        Application.status == Status.LMT_PENDING, Application.lmt_due_at < now
    )
    applied = 0
    for application in uow.session.scalars(query):
        reason = (
            f"the employment agency did not answer within {policy.lmt.working_days} working days"
        )
        _complete_lmt(uow, application, policy.lmt.default_outcome, reason, "deadline", now)
        applied += 1
    return applied


def _complete_lmt(
    uow: UnitOfWork,
    application: Application,
    outcome: str,
    reason: str | None,
    decided_by: str,
    now: datetime,
) -> None:
    application.lmt_outcome = outcome
    application.lmt_reason = reason
    application.lmt_answered_at = now
    uow.emit(
        "labour_market_test_completed",
        {**_ref(application), "outcome": outcome, "reason": reason, "decided_by": decided_by,
         "at": now},
    )  # fmt: skip
    actor = system("employment_agency" if decided_by == "agency" else "applications")
    if outcome == "consent":
        _move(uow, application, Action.LMT_CONSENTED, actor, reason, now)
    else:
        closing = f"labour-market test refused: {reason or 'a local candidate is available'}"
        _close(uow, application, Action.LMT_REFUSED, actor, closing, now)


def deadline_signals(uow: UnitOfWork, policy: Policy, now: datetime, limit: int = 500) -> int:
    """Announce cases due soon and overdue, once each."""
    horizon = now + _warning(policy)
    query = (
        select(Application)
        .where(
            Application.status.in_([s.value for s in domain.CLOCK_RUNNING]),
            Application.due_at <= horizon,
            Application.overdue_flagged_at.is_(None),
        )
        .order_by(Application.due_at)
        .limit(limit)
    )
    sent = 0
    for application in uow.session.scalars(query):
        signal = domain.deadline_signal(
            Status(application.status),
            application.due_at,
            now,
            policy.deadlines.warning_days,
            application.deadline_warned_at is not None,
            application.overdue_flagged_at is not None,
        )
        if signal is None:
            continue
        if signal == domain.DeadlineSignal.OVERDUE:
            application.overdue_flagged_at = now
        else:
            application.deadline_warned_at = now
        uow.emit(
            signal.value,
            {**_ref(application), "status": application.status, "due_at": application.due_at,
             "assigned_to": application.assigned_to, "at": now},
        )  # fmt: skip
        sent += 1
    return sent


def rules(policy: Policy) -> dict[str, Any]:
    """The policy as clients need it: checklist, limits, fees, deadlines."""
    return {
        "kinds": [kind.value for kind in Kind],
        "document_types": list(domain.DOCUMENT_TYPES),
        "document_media_types": list(domain.ALLOWED_MEDIA_TYPES),
        "document_max_bytes": policy.document_max_bytes,
        "checklist": {kind: list(docs) for kind, docs in policy.checklist.items()},
        "documents_required_before_submission": policy.require_documents,
        "fee_required_before_approval": policy.fees.required,
        "fees": {"currency": policy.fees.currency, **policy.fees.amounts},
        "labour_market_test_required": policy.lmt.required,
        "labour_market_test_working_days": policy.lmt.working_days,
        "deadline_days": dict(policy.deadlines.days_by_kind),
        "rejection_reason_codes": list(domain.REJECTION_CODES),
        "roles": [role.value for role in domain.HUMAN_ROLES_ORDERED],
    }


# -- the state machine, applied -----------------------------------------------------------


def _move(
    uow: UnitOfWork,
    application: Application,
    action: Action,
    who: Who,
    reason: str | None,
    now: datetime,
    facts: domain.CaseFacts | None = None,
) -> None:
    current = Status(application.status)
    try:
        target = domain.next_status(current, action, who.role)
    except domain.TransitionRefused as refused:
        raise Conflict(
            str(refused),
            status=current.value,
            allowed_actions=domain.allowed_actions(current, who.role),
            allowed_actions_any_role=domain.allowed_actions(current),
        ) from None
    except domain.RoleRefused as refused:
        raise Forbidden(str(refused), allowed_roles=refused.roles) from None
    blocked = domain.blockers(action, facts) if facts else []
    if blocked:
        raise Conflict(
            f"cannot {action.value} yet: " + "; ".join(blocked),
            status=current.value,
            blockers=blocked,
            missing_documents=list(facts.missing_documents) if facts else [],
        )
    _record(application, current, target, action.value, who, reason, now)
    application.status = target
    application.updated_at = now
    uow.emit(
        "application_status_changed",
        {**_ref(application), "from_status": current.value, "to_status": target.value,
         "action": action.value, "actor": who.actor, "role": who.role.value, "reason": reason,
         "at": now},
    )  # fmt: skip


def _record(
    application: Application,
    source: Status | None,
    target: Status,
    action: str,
    who: Who,
    reason: str | None,
    now: datetime,
) -> None:
    application.history.append(
        StatusChange(
            from_status=source.value if source else None,
            to_status=target.value,
            action=action,
            actor=who.actor,
            role=who.role.value,
            reason=reason,
            at=now,
        )
    )


def ensure_visible(uow: UnitOfWork, application_id: str, who: Who) -> None:
    """NotFound unless the case exists and ``who`` may know it does."""
    _owned(uow, application_id, who)


def _owned(uow: UnitOfWork, application_id: str, who: Who) -> Application:
    """The case, if ``who`` may know it exists: another employer's case is "not found"
    (an employer never learns that it exists)."""
    application = get(uow, application_id)
    if not domain.employer_owns(who.role, who.tax_id, application.employer_tax_id):
        raise NotFound("no such application", application_id=application_id)
    return application


def _require_role(who: Who, roles: set[Role] | frozenset[Role], what: str) -> None:
    if who.role not in roles:
        raise Forbidden(
            f"a {who.role.value} may not {what}", allowed_roles=sorted(r.value for r in roles)
        )


def _ref(application: Application) -> dict[str, Any]:
    return {"application_id": application.id, "kind": application.kind}


def _case_facts(application: Application) -> dict[str, Any]:
    return {
        "application_id": application.id,
        "employer": application.employer,
        "worker": application.worker,
        "job": application.job,
        "contract": application.contract,
        "kind": application.kind,
        "permit_number": application.referenced_permit,
    }


def _emit_rejected(
    uow: UnitOfWork, application: Application, reason: str, rejected_by: str, now: datetime
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
            "kind": application.kind,
            "reason_code": application.reason_code or "other",
        },
    )
