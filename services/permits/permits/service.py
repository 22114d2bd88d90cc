"""permits: entrypoints only. Rules in domain.py, use cases in register.py."""

from __future__ import annotations

from datetime import date
from typing import Any

from nameko.extensions import DependencyProvider
from nameko.rpc import rpc

from permits import register
from permits.domain import ValidityRules
from permits.models import MESSAGING
from permits.schemas import EVENTS
from wpis_common.config import required_setting, setting
from wpis_common.consumers import consume_event
from wpis_common.db import UnitOfWork
from wpis_common.dependencies import Database
from wpis_common.envelope import Envelope
from wpis_common.errors import EXPECTED_ERRORS
from wpis_common.signing import load_public_key


class IssuingPolicy(DependencyProvider):
    """The attestation verification key and the validity rules, from config."""

    def setup(self) -> None:
        self.public_key = load_public_key(required_setting("ATTESTATION_PUBLIC_KEY"))
        self.rules = ValidityRules(
            max_months=int(setting("PERMIT_MAX_MONTHS", 12)),
            passport_margin_days=int(setting("PASSPORT_MARGIN_DAYS", 30)),
        )

    def get_dependency(self, worker_ctx: Any) -> IssuingPolicy:
        return self


class PermitsService:
    name = "permits"

    db = Database(MESSAGING, EVENTS)
    policy = IssuingPolicy()

    @consume_event("applications", "application_approved")
    def on_application_approved(self, event: Envelope, uow: UnitOfWork) -> None:
        register.issue_for_approval(uow, event.data, self.policy.public_key, self.policy.rules)

    @rpc(expected_exceptions=EXPECTED_ERRORS)
    def get(self, number: str) -> dict[str, Any]:
        with self.db.unit_of_work() as uow:
            return register.get(uow, number)

    @rpc(expected_exceptions=EXPECTED_ERRORS)
    def verify(self, number: str) -> dict[str, Any]:
        with self.db.unit_of_work() as uow:
            return register.verify_public(uow, number, date.today())
