"""identity_gateway: entrypoints only. Rules in domain.py, use cases in checks.py
(the queue of checks) and recheck.py (the IDMS identity events feed)."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from nameko.extensions import DependencyProvider
from nameko.rpc import rpc
from nameko.timer import timer

from identity_gateway import checks, recheck
from identity_gateway.adapter import HttpIdmsAdapter, IdmsSettings
from identity_gateway.models import MESSAGING
from identity_gateway.schemas import EVENTS
from wpis_common import replay
from wpis_common.config import required_setting, setting
from wpis_common.consumers import consume_event
from wpis_common.db import UnitOfWork
from wpis_common.dependencies import Database
from wpis_common.envelope import Envelope
from wpis_common.errors import EXPECTED_ERRORS
from wpis_common.signing import load_signing_key

# How often the queue of checks is looked at; a new check waits at most this long.
QUEUE_INTERVAL = 0.25


def idms_settings() -> IdmsSettings:
    return IdmsSettings(
        base_url=required_setting("IDMS_URL"),
        partner_key=required_setting("IDMS_PARTNER_KEY"),
        connect_timeout=float(setting("IDMS_CONNECT_TIMEOUT", 2.0)),
        read_timeout=float(setting("IDMS_READ_TIMEOUT", 5.0)),
        attempts=int(setting("IDMS_ATTEMPTS", 3)),
        backoff_initial=float(setting("IDMS_BACKOFF_INITIAL", 0.2)),
        backoff_max=float(setting("IDMS_BACKOFF_MAX", 2.0)),
        breaker_fail_max=int(setting("IDMS_BREAKER_FAIL_MAX", 5)),
        breaker_reset_timeout=float(setting("IDMS_BREAKER_RESET_TIMEOUT", 30.0)),
    )


class Idms(DependencyProvider):
    """The HTTP adapter to the national IDMS, configured from IDMS_* settings. One per
    container, so its circuit breaker sees every call the service makes."""

    def setup(self) -> None:
        self.adapter = HttpIdmsAdapter(idms_settings())

    def get_dependency(self, worker_ctx: Any) -> HttpIdmsAdapter:
        return self.adapter


class Attestations(DependencyProvider):
    """The attestation signing key and lifetime, the retry policy, the feed poll interval."""

    def setup(self) -> None:
        self.attester = checks.Attester(
            load_signing_key(required_setting("ATTESTATION_PRIVATE_KEY")),
            timedelta(hours=float(setting("ATTESTATION_TTL_HOURS", 720))),
        )
        self.retry = checks.RetryPolicy(
            float(setting("RETRY_INTERVAL", 5)),
            float(setting("RETRY_MAX_BACKOFF", 300)),
            float(setting("CHECK_LEASE_SECONDS", 60)),
            int(setting("CHECK_CONCURRENCY", 4)),
        )
        self.events_poll_interval = float(setting("IDMS_EVENTS_POLL_INTERVAL", 2.0))
        self.events_polled_at = 0.0

    def get_dependency(self, worker_ctx: Any) -> Attestations:
        return self


class IdentityGatewayService(replay.EventLog):
    name = "identity_gateway"

    db = Database(MESSAGING, EVENTS)
    idms = Idms()
    attestations = Attestations()

    @consume_event("applications", "application_submitted")
    def on_application_submitted(self, event: Envelope, uow: UnitOfWork) -> None:
        employer = (event.data.get("employer") or {}).get("tax_id")
        requested_by = f"{event.producer} for employer {employer}" if employer else event.producer
        checks.request_check(uow, event.data["application_id"], event.data["worker"], requested_by)

    @timer(interval=QUEUE_INTERVAL)
    def run_checks(self) -> None:
        checks.run_due(
            self.db.unit_of_work, self.idms, self.attestations.attester, self.attestations.retry
        )

    @timer(interval=1)
    def poll_identity_events(self) -> None:
        now = time.monotonic()
        if now - self.attestations.events_polled_at < self.attestations.events_poll_interval:
            return
        self.attestations.events_polled_at = now
        recheck.poll_identity_events(self.db.unit_of_work, self.idms)

    @rpc(expected_exceptions=EXPECTED_ERRORS)
    def get_verification(self, verification_id: str) -> dict[str, Any]:
        with self.db.unit_of_work() as uow:
            return checks.get(uow, verification_id)

    @rpc(expected_exceptions=EXPECTED_ERRORS)
    def checks_for_application(self, application_id: str) -> dict[str, Any]:
        """Every identity check of an application, with its audit trail (for auditors)."""
        with self.db.unit_of_work() as uow:
            return checks.checks_for_application(uow, application_id)

    @rpc
    def public_key(self) -> dict[str, str]:
        """The current attestation verification key (PEM) and its key id."""
        public = self.attestations.attester.private_key.public_key()
        pem = public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()
        return {"key_id": self.attestations.attester.key_id, "public_key": pem}

    @rpc
    def idms_status(self) -> dict[str, Any]:
        """The circuit breaker's state and call counters of this instance (for ops)."""
        adapter = self.idms
        return {
            "breaker": adapter.breaker_state,
            "calls_sent": adapter.calls_sent,
            "calls_refused_by_breaker": adapter.calls_refused_by_breaker,
        }
