"""contracts: entrypoints only. Rules in domain.py, use cases in register.py."""

from __future__ import annotations

from typing import Any

from nameko.rpc import rpc

from contracts import register
from contracts.models import MESSAGING
from contracts.schemas import EVENTS
from wpis_common.consumers import consume_event
from wpis_common.db import UnitOfWork
from wpis_common.dependencies import Database
from wpis_common.envelope import Envelope
from wpis_common.errors import EXPECTED_ERRORS


class ContractsService:
    name = "contracts"

    db = Database(MESSAGING, EVENTS)

    @consume_event("permits", "permit_issued")
    def on_permit_issued(self, event: Envelope, uow: UnitOfWork) -> None:
        register.register_for_permit(uow, event.data)

    @rpc(expected_exceptions=EXPECTED_ERRORS)
    def get(self, contract_id: str) -> dict[str, Any]:
        with self.db.unit_of_work() as uow:
            return register.get(uow, contract_id)

    @rpc(expected_exceptions=EXPECTED_ERRORS)
    def list_for_employer(self, employer_tax_id: str) -> list[dict[str, Any]]:
        with self.db.unit_of_work() as uow:
            return register.list_for_employer(uow, employer_tax_id)
