"""identity_gateway: entrypoints only. Rules in domain.py, use cases in checks.py."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from nameko.extensions import DependencyProvider
from nameko.rpc import rpc
from nameko.timer import timer

from identity_gateway import checks
from identity_gateway.adapter import HttpIdmsAdapter
from identity_gateway.models import MESSAGING
from identity_gateway.schemas import EVENTS
from wpis_common.config import required_setting, setting
from wpis_common.consumers import consume_event
from wpis_common.db import UnitOfWork
from wpis_common.dependencies import Database
from wpis_common.envelope import Envelope
from wpis_common.errors import EXPECTED_ERRORS
from wpis_common.signing import load_private_key


class Idms(DependencyProvider):
    """The HTTP adapter to the national IDMS, configured from IDMS_* settings."""

    def setup(self) -> None:
        self.adapter = HttpIdmsAdapter(
            required_setting("IDMS_URL"),
            required_setting("IDMS_PARTNER_KEY"),
            float(setting("IDMS_CONNECT_TIMEOUT", 2.0)),
            float(setting("IDMS_READ_TIMEOUT", 5.0)),
        )

    def get_dependency(self, worker_ctx: Any) -> HttpIdmsAdapter:
        return self.adapter


class Attestations(DependencyProvider):
    """The attestation signing key and lifetime."""

    def setup(self) -> None:
        self.attester = checks.Attester(
            load_private_key(required_setting("ATTESTATION_PRIVATE_KEY")),
            timedelta(hours=float(setting("ATTESTATION_TTL_HOURS", 720))),
        )
        self.retry = checks.RetryPolicy(
            float(setting("RETRY_INTERVAL", 5)), float(setting("RETRY_MAX_BACKOFF", 300))
        )

    def get_dependency(self, worker_ctx: Any) -> Attestations:
        return self


class IdentityGatewayService:
    name = "identity_gateway"

    db = Database(MESSAGING, EVENTS)
    idms = Idms()
    attestations = Attestations()

    @consume_event("applications", "application_submitted")
    def on_application_submitted(self, event: Envelope, uow: UnitOfWork) -> None:
        checks.start_check(
            uow,
            self.idms,
            self.attestations.attester,
            self.attestations.retry,
            event.data["application_id"],
            event.data["worker"],
        )

    @timer(interval=1)
    def retry_deferred(self) -> None:
        checks.retry_due(
            self.db.unit_of_work, self.idms, self.attestations.attester, self.attestations.retry
        )

    @rpc(expected_exceptions=EXPECTED_ERRORS)
    def get_verification(self, verification_id: str) -> dict[str, Any]:
        with self.db.unit_of_work() as uow:
            return checks.get(uow, verification_id)

    @rpc
    def public_key(self) -> str:
        """The attestation verification key (PEM), for permits and agencies."""
        public = self.attestations.attester.private_key.public_key()
        return public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()
