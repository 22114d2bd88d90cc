"""applications: entrypoints only. Rules live in domain.py, use cases in casework.py."""

from __future__ import annotations

from datetime import date
from typing import Any

from nameko.rpc import rpc

from applications import casework
from applications.models import MESSAGING
from applications.schemas import EVENTS
from wpis_common.consumers import consume_event
from wpis_common.db import UnitOfWork
from wpis_common.dependencies import Database
from wpis_common.envelope import Envelope
from wpis_common.errors import EXPECTED_ERRORS


class ApplicationsService:
    name = "applications"

    db = Database(MESSAGING, EVENTS)

    @rpc(expected_exceptions=EXPECTED_ERRORS)
    def submit(self, payload: Any) -> dict[str, Any]:
        with self.db.unit_of_work() as uow:
            return casework.submit(uow, payload, date.today())

    @rpc(expected_exceptions=EXPECTED_ERRORS)
    def get(self, application_id: str) -> dict[str, Any]:
        with self.db.unit_of_work() as uow:
            return casework.view(casework.get(uow, application_id))

    @rpc(expected_exceptions=EXPECTED_ERRORS)
    def list(self, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        with self.db.unit_of_work() as uow:
            return casework.list_applications(uow, status, limit)

    @rpc(expected_exceptions=EXPECTED_ERRORS)
    def decide(self, application_id: str, payload: Any) -> dict[str, Any]:
        with self.db.unit_of_work() as uow:
            return casework.decide(uow, application_id, payload)

    @consume_event("identity_gateway", "identity_verified")
    def on_identity_verified(self, event: Envelope, uow: UnitOfWork) -> None:
        casework.identity_checked(uow, event.event_type, event.data)

    @consume_event("identity_gateway", "identity_rejected")
    def on_identity_rejected(self, event: Envelope, uow: UnitOfWork) -> None:
        casework.identity_checked(uow, event.event_type, event.data)

    @consume_event("identity_gateway", "identity_check_deferred")
    def on_identity_deferred(self, event: Envelope, uow: UnitOfWork) -> None:
        casework.identity_checked(uow, event.event_type, event.data)

    @consume_event("permits", "permit_issued")
    def on_permit_issued(self, event: Envelope, uow: UnitOfWork) -> None:
        casework.permit_issued(uow, event.data)

    @consume_event("contracts", "contract_registered")
    def on_contract_registered(self, event: Envelope, uow: UnitOfWork) -> None:
        casework.contract_registered(uow, event.data)
