"""Use cases that change a permit after issue: extend, amend, suspend, reinstate,
revoke, cancel, expire, and flag for review on an identity change.

Each change checks the state machine (``domain.TRANSITIONS``), writes a history
row and emits its event in the caller's unit of work, so the change and its
event commit together. Two concurrent changes to one permit cannot both apply:
the permit's ``version`` column makes the second one's UPDATE match no row.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from marshmallow import Schema, ValidationError
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from permits import domain
from permits.models import Permit, PermitStatusChange
from permits.schemas import (
    AmendRequestSchema,
    CancelRequestSchema,
    ExtendRequestSchema,
    ReasonedRequestSchema,
)
from wpis_common.db import UnitOfWork
from wpis_common.errors import Conflict, InvalidInput, NotFound, flatten_errors

log = logging.getLogger(__name__)

EXPIRY_BATCH = 500


def load_request(schema: type[Schema], payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise InvalidInput({"_schema": ["send a JSON object"]})
    try:
        return schema().load(payload)
    except ValidationError as error:
        raise InvalidInput(flatten_errors(error.messages)) from None


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        raise InvalidInput({"today": ["not a date (YYYY-MM-DD)"]}) from None


def find(uow: UnitOfWork, number: str) -> Permit:
    """The permit with this number; a malformed number fails before any query."""
    number = number.strip().upper()
    if not domain.is_well_formed_number(number):
        raise InvalidInput({"number": ["not a valid permit number (format or check character)"]})
    permit = uow.session.get(Permit, number)
    if permit is None:
        raise NotFound("no such permit", number=number)
    return permit


def ensure_allowed(permit: Permit, action: domain.Action) -> domain.PermitStatus:
    """The status after ``action``, or a 409 naming the actions that are allowed."""
    try:
        return domain.next_status(permit.status, action)
    except domain.IllegalTransition as illegal:
        raise Conflict(
            str(illegal), status=illegal.status, allowed_actions=illegal.allowed
        ) from None


def apply(
    uow: UnitOfWork,
    permit: Permit,
    action: domain.Action,
    actor: str,
    reason: str | None,
    now: datetime,
    details: dict[str, Any] | None = None,
) -> None:
    """Move the permit through ``action`` and record it in its history."""
    to_status = ensure_allowed(permit, action)
    uow.session.add(
        PermitStatusChange(
            permit_number=permit.number,
            action=str(action),
            from_status=permit.status,
            to_status=str(to_status),
            actor=actor,
            reason=reason,
            details=details,
            at=now,
        )
    )
    permit.status = str(to_status)


def save(uow: UnitOfWork) -> None:
    """Write now, so a concurrent change surfaces here as a 409, not at commit."""
    try:
        uow.session.flush()
    except StaleDataError:
        uow.session.rollback()
        raise Conflict("the permit was changed meanwhile; reload it and retry") from None


def _ref(permit: Permit, application_id: str | None = None) -> dict[str, Any]:
    return {
        "permit_number": permit.number,
        "application_id": application_id or permit.application_id,
    }


def extend(
    uow: UnitOfWork,
    number: str,
    payload: Any,
    rules: domain.ValidityRules,
    now: datetime,
    application_id: str | None = None,
) -> Permit:
    """``application_id``: the extension case that asked for it (the event names it so
    that case can move on); by default the permit's own application."""
    request = load_request(ExtendRequestSchema, payload)
    permit = find(uow, number)
    ensure_allowed(permit, domain.Action.EXTEND)
    previous = permit.valid_until
    try:
        new_until = domain.extended_until(
            previous, request["valid_until"], permit.passport_expiry, rules
        )
    except domain.ChangeRefused as refused:
        raise InvalidInput({refused.field: [refused.reason]}) from None
    details = {"previous_valid_until": previous.isoformat(), "valid_until": new_until.isoformat()}
    apply(uow, permit, domain.Action.EXTEND, request["by"], request["reason"], now, details)
    permit.valid_until = new_until
    save(uow)
    uow.emit(
        "permit_extended",
        {
            **_ref(permit, application_id),
            "valid_from": permit.valid_from,
            "valid_until": new_until,
            "previous_valid_until": previous,
            "reason": request["reason"],
        },
    )
    return permit


def amend(
    uow: UnitOfWork, number: str, payload: Any, now: datetime, application_id: str | None = None
) -> Permit:
    request = load_request(AmendRequestSchema, payload)
    permit = find(uow, number)
    ensure_allowed(permit, domain.Action.AMEND)
    try:
        changes = domain.job_changes(permit.job, request["changes"])
    except domain.ChangeRefused as refused:
        raise InvalidInput({refused.field: [refused.reason]}) from None
    details = {"changes": changes, "before": {key: permit.job.get(key) for key in changes}}
    apply(uow, permit, domain.Action.AMEND, request["by"], request["reason"], now, details)
    permit.job = {**permit.job, **changes}
    save(uow)
    event = {**_ref(permit, application_id), "changes": changes, "reason": request["reason"]}
    uow.emit("permit_amended", event)
    return permit


def suspend(uow: UnitOfWork, number: str, payload: Any, now: datetime) -> Permit:
    return _suspension(uow, number, payload, now, domain.Action.SUSPEND, "permit_suspended")


def reinstate(uow: UnitOfWork, number: str, payload: Any, now: datetime) -> Permit:
    return _suspension(uow, number, payload, now, domain.Action.REINSTATE, "permit_reinstated")


def _suspension(
    uow: UnitOfWork,
    number: str,
    payload: Any,
    now: datetime,
    action: domain.Action,
    event_type: str,
) -> Permit:
    request = load_request(ReasonedRequestSchema, payload)
    permit = find(uow, number)
    apply(uow, permit, action, request["by"], request["reason"], now)
    save(uow)
    uow.emit(event_type, {**_ref(permit), "reason": request["reason"], "by": request["by"]})
    return permit


def revoke(uow: UnitOfWork, number: str, payload: Any, now: datetime, today: date) -> Permit:
    request = load_request(ReasonedRequestSchema, payload)
    permit = find(uow, number)
    details = {"revoked_on": today.isoformat()}
    apply(uow, permit, domain.Action.REVOKE, request["by"], request["reason"], now, details)
    permit.ends_on = today
    save(uow)
    uow.emit(
        "permit_revoked",
        {
            **_ref(permit),
            "reason": request["reason"],
            "revoked_by": request["by"],
            "revoked_on": today,
        },
    )
    return permit


def cancel(uow: UnitOfWork, number: str, payload: Any, now: datetime, today: date) -> Permit:
    """Cancel on the employer's (or an officer's) request, from a date (default today)."""
    request = load_request(CancelRequestSchema, payload)
    permit = find(uow, number)
    return _cancel(
        uow, permit, request["cancelled_on"] or today, request["reason"], request["by"], now
    )


def _cancel(
    uow: UnitOfWork, permit: Permit, cancelled_on: date, reason: str, by: str, now: datetime
) -> Permit:
    details = {"cancelled_on": cancelled_on.isoformat()}
    apply(uow, permit, domain.Action.CANCEL, by, reason, now, details)
    permit.ends_on = cancelled_on
    save(uow)
    uow.emit(
        "permit_cancelled",
        {**_ref(permit), "cancelled_on": cancelled_on, "reason": reason, "cancelled_by": by},
    )
    return permit


def cancel_for_terminated_contract(
    uow: UnitOfWork, termination: dict[str, Any], now: datetime
) -> Permit | None:
    """contracts' ``contract_terminated``: cancel the permit from the termination date.
    A permit already ended (revoked, cancelled, expired) stays as it is."""
    number = str(termination["permit_number"]).strip().upper()
    permit = uow.session.get(Permit, number) if domain.is_well_formed_number(number) else None
    if permit is None:
        log.warning("contract_terminated names no permit in the register: %s", number)
        return None
    if (permit.status, domain.Action.CANCEL) not in domain.TRANSITIONS:
        log.info("permit %s is %s; termination changes nothing", number, permit.status)
        return None
    reason = f"employment contract terminated: {termination['reason']}"
    return _cancel(
        uow, permit, termination["terminated_on"], reason, termination["terminated_by"], now
    )


def flag_for_identity_change(
    uow: UnitOfWork, change: dict[str, Any], now: datetime, today: date
) -> list[Permit]:
    """identity_gateway's ``identity_status_changed``: flag every valid permit whose
    holder's document is the subject, for an officer to review."""
    candidates = uow.session.scalars(
        select(Permit)
        .where(Permit.document_fingerprint == change["subject"])
        .order_by(Permit.number)
    ).all()
    flagged = []
    for permit in candidates:
        if not domain.is_flaggable(permit.status, permit.valid_until, today):
            continue
        details = {"change": change["change"]}
        apply(uow, permit, domain.Action.FLAG, "identity_gateway", change["change"], now, details)
        permit.flagged_at, permit.flag_reason = now, change["change"]
        flagged.append(permit)
    save(uow)
    for permit in flagged:
        uow.emit("permit_flagged", {**_ref(permit), "reason": change["change"], "flagged_at": now})
    if not flagged:
        log.info("identity change %s concerns no valid permit", change["change"])
    return flagged


def expire_due(uow: UnitOfWork, today: date, now: datetime) -> list[str]:
    """Expire permits whose last valid day is before ``today`` (one batch)."""
    due = uow.session.scalars(
        select(Permit)
        .where(
            Permit.status.in_([domain.PermitStatus.ISSUED, domain.PermitStatus.SUSPENDED]),
            Permit.valid_until < today,
        )
        .order_by(Permit.valid_until, Permit.number)
        .limit(EXPIRY_BATCH)
    ).all()
    for permit in due:
        apply(uow, permit, domain.Action.EXPIRE, "timer", "end of validity", now)
    save(uow)
    for permit in due:
        uow.emit("permit_expired", {**_ref(permit), "expired_on": permit.valid_until})
    return [permit.number for permit in due]
