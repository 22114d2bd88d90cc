"""permits: entrypoints only. Rules in domain.py; use cases in register.py (issue,
look up), lifecycle.py (later changes), verification.py (public checks) and
document.py (the PDF certificate)."""

from __future__ import annotations

import base64
from typing import Any

from nameko.extensions import DependencyProvider
from nameko.rpc import rpc

from permits import document, lifecycle, register, verification
from permits.dependencies import Clock, Credentials, configured_timer
from permits.domain import ValidityRules
from permits.models import MESSAGING
from permits.schemas import EVENTS, ContractTerminatedSchema, IdentityStatusChangedSchema
from wpis_common import replay
from wpis_common.caller import (
    AUDITOR,
    AUTH_ERRORS,
    DECISION_OFFICER,
    INTAKE_OFFICER,
    SUPERVISOR,
    Caller,
    CallerProvider,
)
from wpis_common.config import setting
from wpis_common.consumers import consume_event
from wpis_common.db import UnitOfWork
from wpis_common.dependencies import Database
from wpis_common.envelope import Envelope
from wpis_common.errors import EXPECTED_ERRORS
from wpis_common.signing import load_key_ring

ERRORS = (*EXPECTED_ERRORS, *AUTH_ERRORS)
READERS = (INTAKE_OFFICER, DECISION_OFFICER, SUPERVISOR, AUDITOR)
# Who may act on a permit (the access token's role; docs/security.md). Verification is public.
ACTION_ROLES = {
    "extend": (DECISION_OFFICER, SUPERVISOR),
    "amend": (DECISION_OFFICER, SUPERVISOR),
    "cancel": (DECISION_OFFICER, SUPERVISOR),
    "suspend": (SUPERVISOR,),
    "reinstate": (SUPERVISOR,),
    "revoke": (SUPERVISOR,),
    "expire_due": (SUPERVISOR,),
}


class IssuingPolicy(DependencyProvider):
    """The attestation key ring (the keys accepted by key id) and the validity rules.

    ``ATTESTATION_PUBLIC_KEYS``: comma-separated PEM files, directories of ``*.pub.pem``
    or ``env:NAME``; ``ATTESTATION_PUBLIC_KEY`` (one file) still works, and both add up.
    """

    def setup(self) -> None:
        self.key_ring = load_key_ring(
            setting("ATTESTATION_PUBLIC_KEYS"), setting("ATTESTATION_PUBLIC_KEY")
        )
        self.rules = ValidityRules(
            max_months=int(setting("PERMIT_MAX_MONTHS", 12)),
            passport_margin_days=int(setting("PASSPORT_MARGIN_DAYS", 30)),
        )

    def get_dependency(self, worker_ctx: Any) -> IssuingPolicy:
        return self


class PermitsService(replay.EventLog):
    name = "permits"

    db = Database(MESSAGING, EVENTS)
    policy = IssuingPolicy()
    clock = Clock()
    credentials = Credentials()
    caller = CallerProvider()

    @consume_event("applications", "application_approved")
    def on_application_approved(self, event: Envelope, uow: UnitOfWork) -> None:
        register.apply_approval(uow, event.data, self.policy.key_ring, self.policy.rules)

    @consume_event("identity_gateway", "identity_status_changed")
    def on_identity_status_changed(self, event: Envelope, uow: UnitOfWork) -> None:
        change = IdentityStatusChangedSchema().load(event.data, unknown="exclude")
        lifecycle.flag_for_identity_change(uow, change, self.clock.now(), self.clock.today())

    @consume_event("contracts", "contract_terminated")
    def on_contract_terminated(self, event: Envelope, uow: UnitOfWork) -> None:
        termination = ContractTerminatedSchema().load(event.data, unknown="exclude")
        lifecycle.cancel_for_terminated_contract(uow, termination, self.clock.now())

    @configured_timer("EXPIRY_CHECK_INTERVAL", 60.0)
    def expire_permits(self) -> None:
        self.expire_due()

    @rpc(expected_exceptions=ERRORS)
    def get(self, number: str) -> dict[str, Any]:
        self.caller.require(*READERS, what="read the permit register")
        with self.db.unit_of_work() as uow:
            return register.get(uow, number)

    @rpc(expected_exceptions=ERRORS)
    def verify(self, number: str, options: dict | None = None) -> dict[str, Any]:
        """Public check by number; options: ``date_of_birth``, ``client`` (its address)."""
        with self.db.unit_of_work() as uow:
            return verification.by_number(
                uow, number, options, self.credentials.verification, self.clock.today()
            )

    @rpc(expected_exceptions=ERRORS)
    def verify_token(self, token: str, options: dict | None = None) -> dict[str, Any]:
        with self.db.unit_of_work() as uow:
            return verification.by_token(uow, token, options, self.clock.today())

    @rpc
    def credential_key(self) -> dict[str, str]:
        """The public key offline verifiers check credentials with."""
        return self.credentials.public_key_info()

    @rpc(expected_exceptions=ERRORS)
    def document(self, number: str) -> dict[str, str]:
        """The PDF certificate, base64 (RPC payloads are JSON)."""
        self.caller.require(*READERS, what="read the permit register")
        with self.db.unit_of_work() as uow:
            permit = lifecycle.find(uow, number)
            pdf = document.render(
                permit, self.credentials.signing_key, self.credentials.document, self.clock.now()
            )
        return {"filename": f"{permit.number}.pdf", "pdf_base64": base64.b64encode(pdf).decode()}

    @rpc(expected_exceptions=ERRORS)
    def extend(self, number: str, payload: Any) -> dict[str, Any]:
        payload = _acting(
            self.caller.require(*ACTION_ROLES["extend"], what="extend permits"), payload
        )
        with self.db.unit_of_work() as uow:
            permit = lifecycle.extend(uow, number, payload, self.policy.rules, self.clock.now())
            return register.describe(uow, permit)

    @rpc(expected_exceptions=ERRORS)
    def amend(self, number: str, payload: Any) -> dict[str, Any]:
        payload = _acting(
            self.caller.require(*ACTION_ROLES["amend"], what="amend permits"), payload
        )
        with self.db.unit_of_work() as uow:
            return register.describe(uow, lifecycle.amend(uow, number, payload, self.clock.now()))

    @rpc(expected_exceptions=ERRORS)
    def suspend(self, number: str, payload: Any) -> dict[str, Any]:
        payload = _acting(
            self.caller.require(*ACTION_ROLES["suspend"], what="suspend permits"), payload
        )
        with self.db.unit_of_work() as uow:
            permit = lifecycle.suspend(uow, number, payload, self.clock.now())
            return register.describe(uow, permit)

    @rpc(expected_exceptions=ERRORS)
    def reinstate(self, number: str, payload: Any) -> dict[str, Any]:
        payload = _acting(
            self.caller.require(*ACTION_ROLES["reinstate"], what="reinstate permits"), payload
        )
        with self.db.unit_of_work() as uow:
            permit = lifecycle.reinstate(uow, number, payload, self.clock.now())
            return register.describe(uow, permit)

    @rpc(expected_exceptions=ERRORS)
    def revoke(self, number: str, payload: Any) -> dict[str, Any]:
        payload = _acting(
            self.caller.require(*ACTION_ROLES["revoke"], what="revoke permits"), payload
        )
        with self.db.unit_of_work() as uow:
            now, today = self.clock.now(), self.clock.today()
            return register.describe(uow, lifecycle.revoke(uow, number, payload, now, today))

    @rpc(expected_exceptions=ERRORS)
    def cancel(self, number: str, payload: Any) -> dict[str, Any]:
        payload = _acting(
            self.caller.require(*ACTION_ROLES["cancel"], what="cancel permits"), payload
        )
        with self.db.unit_of_work() as uow:
            now, today = self.clock.now(), self.clock.today()
            return register.describe(uow, lifecycle.cancel(uow, number, payload, now, today))

    @rpc(expected_exceptions=ERRORS)
    def expire_due(self, today: str | None = None) -> dict[str, Any]:
        """Expire every permit whose validity ended before ``today`` (ISO date; default:
        the authority's today). The timer calls it; tests and ops may too."""
        self.caller.require(*ACTION_ROLES["expire_due"], what="expire permits")
        day = lifecycle.parse_day(today) if today else self.clock.today()
        expired: list[str] = []
        while True:
            with self.db.unit_of_work() as uow:
                batch = lifecycle.expire_due(uow, day, self.clock.now())
            expired += batch
            if len(batch) < lifecycle.EXPIRY_BATCH:
                return {"today": day.isoformat(), "expired": expired}


def _acting(caller: Caller, payload: Any) -> Any:
    """The request, with ``by`` set to the caller's username (never self-declared)."""
    if isinstance(payload, dict) and not caller.is_system:
        return {**payload, "by": caller.username}
    return payload
