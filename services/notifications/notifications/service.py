"""notifications: entrypoints only. Rules in domain.py, use cases in deliveries.py.

Each event handler records the deliveries its event calls for (in the unit of
work that also records the event in the inbox) and asks the courier to send
them once that unit of work has committed; a timer sends whatever is still due:
retries, and deliveries whose sender died.
"""

from __future__ import annotations

import logging
from typing import Any

from nameko import config
from nameko.extensions import DependencyProvider
from nameko.rpc import rpc
from nameko.timer import Timer

from notifications import deliveries, domain
from notifications.channels import Channels, channels_from_settings
from notifications.models import MESSAGING
from notifications.schemas import EVENTS
from wpis_common import replay
from wpis_common.caller import (
    ADMIN,
    AGENCY,
    AUDITOR,
    AUTH_ERRORS,
    DECISION_OFFICER,
    INTAKE_OFFICER,
    SUPERVISOR,
    CallerProvider,
)
from wpis_common.config import setting
from wpis_common.consumers import consume_event
from wpis_common.db import UnitOfWork
from wpis_common.dependencies import Database, DatabaseHandle
from wpis_common.envelope import Envelope
from wpis_common.errors import EXPECTED_ERRORS

ERRORS = (*EXPECTED_ERRORS, *AUTH_ERRORS)
# Who may call (the access token in the worker context; docs/security.md).
READERS = (INTAKE_OFFICER, DECISION_OFFICER, SUPERVISOR, AUDITOR)

log = logging.getLogger(__name__)


class ConfiguredTimer(Timer):
    """A nameko timer whose interval comes from config (read at container setup)."""

    def __init__(self, key: str, default: float, **kwargs: Any):
        self.key, self.default = key, default
        super().__init__(default, **kwargs)

    def setup(self) -> None:
        self.interval = float(setting(self.key, self.default))
        super().setup()


every = ConfiguredTimer.decorator


class Courier(DependencyProvider):
    """The delivery channels and the sending policy, from config; sends a worker's
    new deliveries in a thread of their own once the worker's unit of work committed."""

    def setup(self) -> None:
        self.channels: Channels = channels_from_settings(dict(config))
        self.policy = deliveries.SendingPolicy(
            retry=domain.RetryPolicy(
                max_attempts=int(setting("RETRY_MAX_ATTEMPTS", 6)),
                base_seconds=float(setting("RETRY_BASE_SECONDS", 30)),
                max_seconds=float(setting("RETRY_MAX_BACKOFF", 3600)),
            ),
            claim_seconds=float(setting("CLAIM_SECONDS", 120)),
        )
        self._after_commit: dict[Any, tuple[DatabaseHandle, list[str]]] = {}
        for channel in ("email", "sms", "webhook"):
            log.info("%s: %s", channel, self.channels.sender(channel).describe())

    def get_dependency(self, worker_ctx: Any) -> CourierHandle:
        return CourierHandle(self, worker_ctx)

    def send_after_commit(self, worker_ctx: Any, db: DatabaseHandle, ids: list[str]) -> None:
        if ids:
            self._after_commit[worker_ctx] = (db, ids)

    def worker_result(self, worker_ctx: Any, result: Any = None, exc_info: Any = None) -> None:
        queued = self._after_commit.pop(worker_ctx, None)
        if queued is None or exc_info is not None:
            return
        db, ids = queued
        self.container.spawn_managed_thread(
            lambda: deliveries.send_all(db.unit_of_work, self.channels, self.policy, ids),
            identifier="send_new_deliveries",
        )

    def worker_teardown(self, worker_ctx: Any) -> None:
        self._after_commit.pop(worker_ctx, None)


class CourierHandle:
    def __init__(self, courier: Courier, worker_ctx: Any):
        self.courier = courier
        self.worker_ctx = worker_ctx
        self.channels = courier.channels
        self.policy = courier.policy

    def send_after_commit(self, db: DatabaseHandle, ids: list[str]) -> None:
        self.courier.send_after_commit(self.worker_ctx, db, ids)


class NotificationsService(replay.EventLog):
    name = "notifications"

    db = Database(MESSAGING, EVENTS)
    caller = CallerProvider()
    courier = Courier()

    def _plan(self, event: Envelope, uow: UnitOfWork) -> None:
        self.courier.send_after_commit(self.db, deliveries.plan_for_event(uow, event))

    # -- applications
    @consume_event("applications", "application_submitted")
    def on_application_submitted(self, event: Envelope, uow: UnitOfWork) -> None:
        contacts = deliveries.remember_contacts(uow, event.data)
        self.courier.send_after_commit(self.db, deliveries.plan_for_event(uow, event, contacts))

    @consume_event("applications", "application_approved")
    def on_application_approved(self, event: Envelope, uow: UnitOfWork) -> None:
        self._plan(event, uow)

    @consume_event("applications", "application_rejected")
    def on_application_rejected(self, event: Envelope, uow: UnitOfWork) -> None:
        self._plan(event, uow)

    # -- identity_gateway
    @consume_event("identity_gateway", "identity_check_deferred")
    def on_identity_check_deferred(self, event: Envelope, uow: UnitOfWork) -> None:
        self._plan(event, uow)

    # -- permits
    @consume_event("permits", "permit_issued")
    def on_permit_issued(self, event: Envelope, uow: UnitOfWork) -> None:
        self._plan(event, uow)

    @consume_event("permits", "permit_extended")
    def on_permit_extended(self, event: Envelope, uow: UnitOfWork) -> None:
        self._plan(event, uow)

    @consume_event("permits", "permit_amended")
    def on_permit_amended(self, event: Envelope, uow: UnitOfWork) -> None:
        self._plan(event, uow)

    @consume_event("permits", "permit_suspended")
    def on_permit_suspended(self, event: Envelope, uow: UnitOfWork) -> None:
        self._plan(event, uow)

    @consume_event("permits", "permit_reinstated")
    def on_permit_reinstated(self, event: Envelope, uow: UnitOfWork) -> None:
        self._plan(event, uow)

    @consume_event("permits", "permit_revoked")
    def on_permit_revoked(self, event: Envelope, uow: UnitOfWork) -> None:
        self._plan(event, uow)

    @consume_event("permits", "permit_cancelled")
    def on_permit_cancelled(self, event: Envelope, uow: UnitOfWork) -> None:
        self._plan(event, uow)

    @consume_event("permits", "permit_expired")
    def on_permit_expired(self, event: Envelope, uow: UnitOfWork) -> None:
        self._plan(event, uow)

    @consume_event("permits", "permit_flagged")
    def on_permit_flagged(self, event: Envelope, uow: UnitOfWork) -> None:
        self._plan(event, uow)

    # -- contracts
    @consume_event("contracts", "contract_registered")
    def on_contract_registered(self, event: Envelope, uow: UnitOfWork) -> None:
        self._plan(event, uow)

    @consume_event("contracts", "contract_terminated")
    def on_contract_terminated(self, event: Envelope, uow: UnitOfWork) -> None:
        self._plan(event, uow)

    # -- sending
    @every("SEND_INTERVAL", 1.0)
    def send_due(self) -> None:
        """Release held notices whose contacts arrived, then send everything due."""
        deliveries.release_held(self.db.unit_of_work)
        deliveries.send_due(self.db.unit_of_work, self.courier.channels, self.courier.policy)

    # -- queries and admin
    @rpc(expected_exceptions=ERRORS)
    def deliveries_for(self, application_id: str) -> list[dict[str, Any]]:
        self.caller.require(*READERS, what="read the delivery log")
        with self.db.unit_of_work() as uow:
            return deliveries.for_application(uow, application_id)

    @rpc(expected_exceptions=ERRORS)
    def list_deliveries(self, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        self.caller.require(*READERS, what="read the delivery log")
        with self.db.unit_of_work() as uow:
            return deliveries.query(uow, filters or {})

    @rpc(expected_exceptions=ERRORS)
    def register_endpoint(self, payload: dict[str, Any]) -> dict[str, Any]:
        self.caller.require(AGENCY, ADMIN, what="register webhooks")
        with self.db.unit_of_work() as uow:
            return deliveries.register_endpoint(uow, payload)

    @rpc(expected_exceptions=ERRORS)
    def list_endpoints(self) -> list[dict[str, Any]]:
        self.caller.require(AGENCY, ADMIN, AUDITOR, what="list webhooks")
        with self.db.unit_of_work() as uow:
            return deliveries.list_endpoints(uow)

    @rpc(expected_exceptions=ERRORS)
    def remove_endpoint(self, endpoint_id: str) -> dict[str, Any]:
        self.caller.require(AGENCY, ADMIN, what="remove webhooks")
        with self.db.unit_of_work() as uow:
            return deliveries.remove_endpoint(uow, endpoint_id)
