"""Use cases: plan the deliveries an event calls for, send them, keep the log.

Planning runs inside the consuming unit of work (with the inbox entry), so an
event is planned once whatever the redelivery; the unique (event, channel,
recipient) constraint backs that up. Sending is three steps, never holding a
transaction open across network I/O: claim the delivery (one short unit of
work), send it, record the outcome (another). A claim is a lease: if the
process dies mid-send, the delivery becomes due again when the lease lapses.
Deliveries sent together are claimed together and recorded together
(:func:`send_all`).
"""

from __future__ import annotations

import json
import logging
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select, update

from notifications import domain
from notifications.channels import Channels, Outgoing, SendError
from notifications.models import CaseContacts, Delivery, HeldEvent, WebhookEndpoint
from notifications.schemas import (
    DeliveryQuerySchema,
    DeliverySchema,
    EndpointSchema,
    RegisteredEndpointSchema,
    RegisterEndpointSchema,
)
from notifications.templates import render
from wpis_common.db import UnitOfWork
from wpis_common.envelope import Envelope, utc_now
from wpis_common.errors import InvalidInput, NotFound, flatten_errors

log = logging.getLogger(__name__)
UnitOfWorkFactory = Callable[[], UnitOfWork]


@dataclass(frozen=True)
class SendingPolicy:
    """``group_size``: how many deliveries :func:`send_all` claims in one unit of work
    (and records in the next); a crash resends at most that many."""

    retry: domain.RetryPolicy
    claim_seconds: float
    batch_size: int = 50
    group_size: int = 10

    @property
    def renew_after(self) -> float:
        """Seconds into a group's lease after which its unsent claims are renewed before
        the next send, so each send starts with (nearly) a whole lease ahead of it."""
        return min(1.0, self.claim_seconds / 10)


@dataclass(frozen=True)
class Claimed:
    outgoing: Outgoing
    attempt: int


@dataclass(frozen=True)
class SendOutcome:
    delivery_id: str
    attempt: int
    error: str | None  # None: it went out
    at: datetime


# -- planning -------------------------------------------------------------------


def remember_contacts(uow: UnitOfWork, data: dict[str, Any]) -> domain.Contacts:
    contacts = domain.contacts_from_submission(data)
    employer, worker = contacts.employer, contacts.worker
    uow.session.merge(
        CaseContacts(
            application_id=contacts.application_id,
            employer_name=employer.name,
            employer_email=employer.email or "",
            employer_phone=employer.phone,
            employer_language=employer.language,
            worker_name=worker.name,
            worker_email=worker.email or "",
            worker_phone=worker.phone,
            worker_language=worker.language,
        )
    )
    return contacts


def contacts_for(uow: UnitOfWork, application_id: str) -> domain.Contacts | None:
    row = uow.session.get(CaseContacts, application_id)
    if row is None:
        return None
    return domain.Contacts(
        application_id=row.application_id,
        employer=domain.Person(
            domain.EMPLOYER,
            row.employer_name or "",
            row.employer_email or None,
            row.employer_phone,
            domain.language_or_default(row.employer_language),
        ),
        worker=domain.Person(
            domain.WORKER,
            row.worker_name,
            row.worker_email or None,
            row.worker_phone,
            domain.language_or_default(row.worker_language),
        ),
    )


def plan_for_event(
    uow: UnitOfWork, event: Envelope, contacts: domain.Contacts | None = None
) -> list[str]:
    """Record the deliveries ``event`` calls for; returns their ids (to send after commit).

    Notices to people whose contacts are not known yet are held until they are.
    """
    ids = plan_webhooks(uow, event)
    if not domain.calls_for_notices(event.event_type, event.data):
        return ids
    contacts = contacts or contacts_for(uow, event.data["application_id"])
    if contacts is None:
        hold(uow, event)
        return ids
    return ids + plan_person_notices(uow, event, contacts)


def plan_person_notices(uow: UnitOfWork, event: Envelope, contacts: domain.Contacts) -> list[str]:
    now = utc_now()
    ids = []
    for notice in domain.plan_notices(event.event_type, event.data, contacts):
        facts = domain.template_facts(event.data, contacts, notice.role)
        rendered = render(notice.template, notice.language, facts)
        delivery = _new_delivery(
            event,
            now,
            recipient_role=notice.role,
            recipient_key=notice.role,
            recipient=notice.address,
            channel=notice.channel,
            template=notice.template,
            language=rendered.language,
            subject=rendered.subject[:200],
            body=rendered.body if notice.channel == domain.EMAIL else rendered.sms,
        )
        uow.session.add(delivery)
        ids.append(delivery.id)
    return ids


def plan_webhooks(uow: UnitOfWork, event: Envelope) -> list[str]:
    endpoints = uow.session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.active))
    body = json.dumps(event.to_message(), ensure_ascii=False, separators=(",", ":"))
    now = utc_now()
    ids = []
    for endpoint in endpoints:
        if not domain.endpoint_wants(endpoint.event_types, event.event_type):
            continue
        delivery = _new_delivery(
            event,
            now,
            recipient_role=domain.AGENCY,
            recipient_key=endpoint.id,
            recipient=endpoint.url,
            channel=domain.WEBHOOK,
            template="webhook",
            language=domain.DEFAULT_LANGUAGE,
            subject=event.event_type,
            body=body,
        )
        uow.session.add(delivery)
        ids.append(delivery.id)
    return ids


def _new_delivery(event: Envelope, now: datetime, **fields: Any) -> Delivery:
    return Delivery(
        id=str(uuid.uuid4()),
        event_id=event.event_id,
        event_type=event.event_type,
        application_id=event.data.get("application_id", ""),
        status=domain.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        **fields,
    )


def hold(uow: UnitOfWork, event: Envelope) -> None:
    log.info("holding %s %s until the case's contacts arrive", event.event_type, event.event_id)
    uow.session.add(
        HeldEvent(
            event_id=event.event_id,
            event_type=event.event_type,
            application_id=event.data["application_id"],
            envelope=event.to_message(),
            held_at=utc_now(),
        )
    )


def release_held(new_uow: UnitOfWorkFactory, limit: int = 100) -> list[str]:
    """Plan the held events whose case contacts have arrived since; returns delivery ids."""
    ids: list[str] = []
    with new_uow() as uow:
        held_events = uow.session.scalars(
            select(HeldEvent)
            .join(CaseContacts, CaseContacts.application_id == HeldEvent.application_id)
            .order_by(HeldEvent.held_at)
            .limit(limit)
        ).all()
        for held in held_events:
            event = Envelope.parse(held.envelope)
            contacts = contacts_for(uow, held.application_id)
            assert contacts is not None  # joined above
            ids += plan_person_notices(uow, event, contacts)
            uow.session.delete(held)
    return ids


# -- sending --------------------------------------------------------------------


def send(
    new_uow: UnitOfWorkFactory, channels: Channels, policy: SendingPolicy, delivery_id: str
) -> str | None:
    """Claim, send and record one delivery; returns its new status (None: not ours to send)."""
    with new_uow() as uow:
        claimed = claim(uow, delivery_id, utc_now(), policy.claim_seconds)
    if claimed is None:
        return None
    outgoing, attempt = claimed
    error = _deliver(channels, outgoing)
    with new_uow() as uow:
        return _record(uow, delivery_id, attempt, error, policy)


def _deliver(channels: Channels, outgoing: Outgoing) -> str | None:
    """Send one message; the error text, or None when it went out."""
    try:
        channels.sender(outgoing.channel).send(outgoing)
        return None
    except Exception as failure:  # any failure to deliver is retried, never lost
        if not isinstance(failure, SendError):
            log.exception("unexpected error sending delivery %s", outgoing.delivery_id)
        return str(failure) or type(failure).__name__


def _record(
    uow: UnitOfWork, delivery_id: str, attempt: int, error: str | None, policy: SendingPolicy
) -> str | None:
    return _record_outcome(uow, SendOutcome(delivery_id, attempt, error, utc_now()), policy)


def _record_outcome(uow: UnitOfWork, outcome: SendOutcome, policy: SendingPolicy) -> str | None:
    if outcome.error is None:
        return record_sent(uow, outcome.delivery_id, outcome.attempt, outcome.at)
    return record_failure(
        uow, outcome.delivery_id, outcome.attempt, outcome.error, policy.retry, outcome.at
    )


def record_all(uow: UnitOfWork, outcomes: list[SendOutcome], policy: SendingPolicy) -> int:
    """Record the outcomes of a group's sends; returns how many were still ours."""
    return sum(_record_outcome(uow, outcome, policy) is not None for outcome in outcomes)


def claim(
    uow: UnitOfWork, delivery_id: str, now: datetime, claim_seconds: float
) -> tuple[Outgoing, int] | None:
    """Take the delivery for one attempt if it is due; None if another sender has it."""
    claimed = uow.session.execute(
        update(Delivery)
        .where(
            Delivery.id == delivery_id,
            Delivery.status.in_(domain.SENDABLE),
            Delivery.next_attempt_at <= now,
        )
        .values(
            status=domain.SENDING,
            attempts=Delivery.attempts + 1,
            next_attempt_at=now + timedelta(seconds=claim_seconds),
        )
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return None
    delivery = uow.session.get_one(Delivery, delivery_id)
    secret = None
    if delivery.channel == domain.WEBHOOK:
        endpoint = uow.session.get(WebhookEndpoint, delivery.recipient_key)
        if endpoint is None or not endpoint.active:
            delivery.status, delivery.next_attempt_at = domain.CANCELLED, None
            delivery.last_error = "the webhook endpoint was removed"
            return None
        secret = endpoint.secret
    outgoing = Outgoing(
        delivery_id=delivery.id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        channel=delivery.channel,
        recipient=delivery.recipient,
        subject=delivery.subject,
        body=delivery.body,
        language=delivery.language,
        secret=secret,
    )
    return outgoing, delivery.attempts


def _still_claimed(delivery_id: str, attempt: int) -> Any:
    return (
        (Delivery.id == delivery_id)
        & (Delivery.status == domain.SENDING)
        & (Delivery.attempts == attempt)
    )


def record_sent(uow: UnitOfWork, delivery_id: str, attempt: int, now: datetime) -> str | None:
    result = uow.session.execute(
        update(Delivery)
        .where(_still_claimed(delivery_id, attempt))
        .values(status=domain.SENT, sent_at=now, next_attempt_at=None, last_error=None)
        .execution_options(synchronize_session=False)
    )
    return domain.SENT if result.rowcount == 1 else None


def record_failure(
    uow: UnitOfWork,
    delivery_id: str,
    attempt: int,
    error: str,
    retry: domain.RetryPolicy,
    now: datetime,
) -> str | None:
    outcome = domain.after_failure(attempt, retry, now)
    result = uow.session.execute(
        update(Delivery)
        .where(_still_claimed(delivery_id, attempt))
        .values(status=outcome.status, next_attempt_at=outcome.next_attempt_at, last_error=error)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return None
    log.warning(
        "delivery %s attempt %d failed (%s): %s", delivery_id, attempt, outcome.status, error
    )
    if outcome.status == domain.FAILED:
        delivery = uow.session.get_one(Delivery, delivery_id)
        uow.emit(
            "notification_failed",
            {
                "delivery_id": delivery.id,
                "event_id": delivery.event_id,
                "event_type": delivery.event_type,
                "application_id": delivery.application_id,
                "channel": delivery.channel,
                "recipient_role": delivery.recipient_role,
                "attempts": attempt,
                "last_error": error,
                "failed_at": now,
            },
        )
    return outcome.status


def due_ids(uow: UnitOfWork, now: datetime, limit: int) -> list[str]:
    return list(
        uow.session.scalars(
            select(Delivery.id)
            .where(Delivery.status.in_(domain.SENDABLE), Delivery.next_attempt_at <= now)
            .order_by(Delivery.next_attempt_at)
            .limit(limit)
        )
    )


def send_all(
    new_uow: UnitOfWorkFactory,
    channels: Channels,
    policy: SendingPolicy,
    ids: list[str],
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Claim, send and record the deliveries, a group at a time: one unit of work
    claims up to ``policy.group_size`` of them, they are sent with no transaction
    open, and the next unit of work records their outcomes and claims the next group
    (groups + 1 commits for N deliveries, not 2N). A crash resends at most the group
    on the wire, once its claims lapse. A slow group renews the claims of its unsent
    deliveries (recording what went out so far) once ``policy.renew_after`` of the
    lease has passed, so no send starts on a lease about to lapse."""
    remaining = list(ids)
    outcomes: list[SendOutcome] = []
    recorded = 0
    while remaining or outcomes:
        leased_at = clock()
        with new_uow() as uow:
            recorded += record_all(uow, outcomes, policy)
            group = claim_group(uow, remaining, utc_now(), policy)
        sent_before, outcomes = _send_group(new_uow, channels, policy, group, leased_at, clock)
        recorded += sent_before
    return recorded


def claim_group(
    uow: UnitOfWork, remaining: list[str], now: datetime, policy: SendingPolicy
) -> list[Claimed]:
    """Claim up to a group's worth of ``remaining`` (taken off it in order); the ones
    another sender has, or that are no longer due, are skipped."""
    group: list[Claimed] = []
    while remaining and len(group) < policy.group_size:
        claimed = claim(uow, remaining.pop(0), now, policy.claim_seconds)
        if claimed is not None:
            group.append(Claimed(*claimed))
    return group


def _send_group(
    new_uow: UnitOfWorkFactory,
    channels: Channels,
    policy: SendingPolicy,
    group: list[Claimed],
    leased_at: float,
    clock: Callable[[], float],
) -> tuple[int, list[SendOutcome]]:
    """Send a claimed group; returns how many outcomes a renewal recorded on the way,
    and the outcomes still to record."""
    recorded = 0
    outcomes: list[SendOutcome] = []
    unsent = list(group)
    renewed = False  # at most one renewal per send, however short the lease
    while unsent:
        if not renewed and clock() - leased_at > policy.renew_after:
            leased_at, renewed = clock(), True
            with new_uow() as uow:
                recorded += record_all(uow, outcomes, policy)
                unsent = renew_claims(uow, unsent, utc_now(), policy.claim_seconds)
            outcomes = []
            continue
        renewed = False
        claimed = unsent.pop(0)
        delivery_id, error = claimed.outgoing.delivery_id, _deliver(channels, claimed.outgoing)
        outcomes.append(SendOutcome(delivery_id, claimed.attempt, error, utc_now()))
    return recorded, outcomes


def renew_claims(
    uow: UnitOfWork, claims: list[Claimed], now: datetime, claim_seconds: float
) -> list[Claimed]:
    """Extend the leases of claims still held; returns those (a lapsed one that another
    sender took since is theirs now)."""
    kept = []
    for claimed in claims:
        result = uow.session.execute(
            update(Delivery)
            .where(_still_claimed(claimed.outgoing.delivery_id, claimed.attempt))
            .values(next_attempt_at=now + timedelta(seconds=claim_seconds))
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            kept.append(claimed)
    return kept


def send_due(
    new_uow: UnitOfWorkFactory, channels: Channels, policy: SendingPolicy, max_batches: int = 10
) -> int:
    """Send what is due (new, to retry, or claimed by a sender that died), in batches."""
    attempted = 0
    for _ in range(max_batches):
        with new_uow() as uow:
            ids = due_ids(uow, utc_now(), policy.batch_size)
        if not ids:
            break
        attempted += send_all(new_uow, channels, policy, ids)
    return attempted


# -- the delivery log -------------------------------------------------------------


def for_application(uow: UnitOfWork, application_id: str) -> list[dict[str, Any]]:
    """The notices to the employer and the worker about one case, oldest first."""
    rows = uow.session.scalars(
        select(Delivery)
        .where(
            Delivery.application_id == application_id,
            Delivery.recipient_role.in_(domain.BOTH),
        )
        .order_by(Delivery.created_at, Delivery.id)
    )
    return DeliverySchema(many=True).dump(rows)


def query(uow: UnitOfWork, filters: dict[str, Any]) -> list[dict[str, Any]]:
    """The delivery log, newest first, filtered by case, status, channel or event type."""
    try:
        loaded = DeliveryQuerySchema().load(filters)
    except ValidationError as error:
        raise InvalidInput(flatten_errors(error.messages)) from None
    statement = select(Delivery)
    for name in ("application_id", "status", "channel", "event_type"):
        if name in loaded:
            statement = statement.where(getattr(Delivery, name) == loaded[name])
    statement = statement.order_by(Delivery.created_at.desc(), Delivery.id).limit(loaded["limit"])
    return DeliverySchema(many=True).dump(uow.session.scalars(statement))


# -- webhook endpoints --------------------------------------------------------------


def register_endpoint(uow: UnitOfWork, payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise InvalidInput({"_schema": ["the body must be a JSON object"]})
    try:
        loaded = RegisterEndpointSchema().load(payload)
    except ValidationError as error:
        raise InvalidInput(flatten_errors(error.messages)) from None
    endpoint = WebhookEndpoint(
        id=str(uuid.uuid4()),
        agency=loaded["agency"].strip(),
        url=loaded["url"],
        secret=secrets.token_urlsafe(32),
        event_types=sorted(set(loaded["event_types"])),
        active=True,
        created_at=utc_now(),
        removed_at=None,
    )
    uow.session.add(endpoint)
    return RegisteredEndpointSchema().dump(endpoint)


def list_endpoints(uow: UnitOfWork) -> list[dict[str, Any]]:
    rows = uow.session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.active)
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    )
    return EndpointSchema(many=True).dump(rows)


def remove_endpoint(uow: UnitOfWork, endpoint_id: str) -> dict[str, Any]:
    """Stop calling an endpoint; what was still owed to it is cancelled."""
    endpoint = uow.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or not endpoint.active:
        raise NotFound("no such webhook endpoint", endpoint_id=endpoint_id)
    endpoint.active = False
    endpoint.removed_at = utc_now()
    uow.session.execute(
        update(Delivery)
        .where(
            Delivery.channel == domain.WEBHOOK,
            Delivery.recipient_key == endpoint_id,
            Delivery.status.in_((domain.PENDING, domain.RETRYING)),
        )
        .values(status=domain.CANCELLED, next_attempt_at=None, last_error="endpoint removed")
        .execution_options(synchronize_session=False)
    )
    return EndpointSchema().dump(endpoint)
