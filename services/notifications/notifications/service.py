"""notifications: entrypoints only. Rules in domain.py, use cases in deliveries.py."""

from __future__ import annotations

from typing import Any

from nameko.rpc import rpc

from notifications import deliveries
from notifications.models import MESSAGING
from notifications.schemas import EVENTS
from wpis_common.consumers import consume_event
from wpis_common.db import UnitOfWork
from wpis_common.dependencies import Database
from wpis_common.envelope import Envelope


class NotificationsService:
    name = "notifications"

    db = Database(MESSAGING, EVENTS)

    @consume_event("applications", "application_submitted")
    def on_application_submitted(self, event: Envelope, uow: UnitOfWork) -> None:
        contacts = deliveries.remember_contacts(uow, event.data)
        deliveries.notify(uow, event, contacts)

    @consume_event("applications", "application_rejected")
    def on_application_rejected(self, event: Envelope, uow: UnitOfWork) -> None:
        deliveries.notify(uow, event, None)

    @consume_event("permits", "permit_issued")
    def on_permit_issued(self, event: Envelope, uow: UnitOfWork) -> None:
        deliveries.notify(uow, event, None)

    @rpc
    def deliveries_for(self, application_id: str) -> list[dict[str, Any]]:
        with self.db.unit_of_work() as uow:
            return deliveries.for_application(uow, application_id)
