"""Use cases: learn a case's contacts, log the notices each event calls for."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from notifications import domain
from notifications.models import CaseContacts, Delivery
from notifications.schemas import DeliverySchema
from wpis_common.db import UnitOfWork
from wpis_common.envelope import Envelope, utc_now


def remember_contacts(uow: UnitOfWork, data: dict[str, Any]) -> CaseContacts:
    contacts = CaseContacts(
        application_id=data["application_id"],
        employer_email=data["employer"]["email"],
        worker_email=data["worker"]["email"],
        worker_name=domain.full_name(data["worker"]),
    )
    return uow.session.merge(contacts)


def notify(uow: UnitOfWork, event: Envelope, contacts: CaseContacts | None) -> list[Delivery]:
    application_id = event.data["application_id"]
    if contacts is None:
        contacts = uow.session.get(CaseContacts, application_id)
    worker_name = contacts.worker_name if contacts else None
    deliveries = []
    for notice in domain.notices_for(event.event_type, event.data, worker_name):
        address = _address(contacts, notice.recipient_role)
        delivery = Delivery(
            id=str(uuid.uuid4()),
            event_id=event.event_id,
            event_type=event.event_type,
            application_id=application_id,
            recipient_role=notice.recipient_role,
            recipient=address or "",
            channel="email",
            template=notice.template,
            subject=notice.subject,
            body=notice.body,
            status="logged" if address else "no_address",
            created_at=utc_now(),
        )
        uow.session.add(delivery)
        deliveries.append(delivery)
    return deliveries


def _address(contacts: CaseContacts | None, role: str) -> str | None:
    if contacts is None:
        return None
    return contacts.employer_email if role == "employer" else contacts.worker_email


def for_application(uow: UnitOfWork, application_id: str) -> list[dict[str, Any]]:
    rows = uow.session.scalars(
        select(Delivery)
        .where(Delivery.application_id == application_id)
        .order_by(Delivery.created_at)
    )
    return DeliverySchema(many=True).dump(rows)
