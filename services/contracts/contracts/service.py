"""contracts: entrypoints only. Rules in domain.py, use cases in register.py."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from nameko.extensions import DependencyProvider
from nameko.rpc import rpc
from nameko.timer import Timer

from contracts import register
from contracts.models import MESSAGING
from contracts.policy import ContractPolicy, policy_from
from contracts.schemas import EVENTS
from wpis_common import replay
from wpis_common.caller import (
    AUDITOR,
    AUTH_ERRORS,
    DECISION_OFFICER,
    EMPLOYER,
    INTAKE_OFFICER,
    SUPERVISOR,
    CallerProvider,
)
from wpis_common.config import setting
from wpis_common.consumers import consume_event
from wpis_common.db import UnitOfWork
from wpis_common.dependencies import Database
from wpis_common.envelope import Envelope
from wpis_common.errors import EXPECTED_ERRORS, NotFound

ERRORS = (*EXPECTED_ERRORS, *AUTH_ERRORS)
# Who may call (the access token in the worker context; docs/security.md).
READERS = (INTAKE_OFFICER, DECISION_OFFICER, SUPERVISOR, AUDITOR)


class Policy(DependencyProvider):
    """Minimum wage, hours, reporting deadline, holiday calendar, ISCO-08: from config."""

    def setup(self) -> None:
        self.policy = policy_from(setting)

    def get_dependency(self, worker_ctx: Any) -> ContractPolicy:
        return self.policy


class Clock:
    """Now (UTC) and today in the authority's timezone. Tests inject their own."""

    def __init__(self, timezone: str = "Asia/Yerevan"):
        self.zone = ZoneInfo(timezone)

    def now(self) -> datetime:
        return datetime.now(UTC)

    def today(self) -> date:
        return datetime.now(self.zone).date()


class ClockProvider(DependencyProvider):
    def setup(self) -> None:
        self.clock = Clock(str(setting("AUTHORITY_TIMEZONE", "Asia/Yerevan")))

    def get_dependency(self, worker_ctx: Any) -> Clock:
        return self.clock


class ConfiguredTimer(Timer):
    """A timer whose interval (seconds) comes from config key ``key`` at setup."""

    def __init__(self, key: str, default: float, **kwargs: Any):
        self.key, self.default = key, default
        super().__init__(interval=default, **kwargs)

    def setup(self) -> None:
        self.interval = float(setting(self.key, self.default))
        super().setup()


class ContractsService(replay.EventLog):
    name = "contracts"

    db = Database(MESSAGING, EVENTS)
    caller = CallerProvider()
    policy = Policy()
    clock = ClockProvider()

    @consume_event("permits", "permit_issued")
    def on_permit_issued(self, event: Envelope, uow: UnitOfWork) -> None:
        register.register_for_permit(uow, event.data, self.policy, self.clock.now())

    @consume_event("permits", "permit_amended")
    def on_permit_amended(self, event: Envelope, uow: UnitOfWork) -> None:
        register.apply_permit_amendment(uow, event.data, self.clock.now())

    @ConfiguredTimer.decorator("OVERDUE_CHECK_INTERVAL", 3600.0)
    def check_overdue_reports(self) -> list[str]:
        with self.db.unit_of_work() as uow:
            return register.flag_overdue_reports(
                uow, self.policy, self.clock.today(), self.clock.now()
            )

    @rpc(expected_exceptions=ERRORS)
    def get(self, contract_id: str) -> dict[str, Any]:
        self.caller.require(*READERS, what="read the contract register")
        with self.db.unit_of_work() as uow:
            return register.get(uow, contract_id)

    @rpc(expected_exceptions=ERRORS)
    def list_for_employer(self, employer_tax_id: str) -> list[dict[str, Any]]:
        caller = self.caller.require(EMPLOYER, *READERS, what="list an employer's contracts")
        if caller.role == EMPLOYER and caller.tax_id != employer_tax_id:
            raise NotFound("no such employer", employer_tax_id=employer_tax_id)
        with self.db.unit_of_work() as uow:
            return register.list_for_employer(uow, employer_tax_id)

    @rpc(expected_exceptions=ERRORS)
    def history(self, contract_id: str) -> list[dict[str, Any]]:
        self.caller.require(*READERS, what="read the contract register")
        with self.db.unit_of_work() as uow:
            return register.history(uow, contract_id)

    @rpc(expected_exceptions=ERRORS)
    def amend(self, contract_id: str, payload: Any) -> dict[str, Any]:
        self.caller.require(DECISION_OFFICER, SUPERVISOR, what="amend contracts")
        with self.db.unit_of_work() as uow:
            return register.amend(uow, contract_id, payload, self.policy, self.clock.now())

    @rpc(expected_exceptions=ERRORS)
    def terminate(self, contract_id: str, payload: Any) -> dict[str, Any]:
        self.caller.require(DECISION_OFFICER, SUPERVISOR, what="terminate contracts")
        with self.db.unit_of_work() as uow:
            return register.terminate(
                uow, contract_id, payload, self.policy, self.clock.now(), self.clock.today()
            )

    @rpc(expected_exceptions=ERRORS)
    def record_employment_end(self, contract_id: str, payload: Any) -> dict[str, Any]:
        caller = self.caller.require(EMPLOYER, DECISION_OFFICER, SUPERVISOR,
                                     what="record the end of an employment")  # fmt: skip
        with self.db.unit_of_work() as uow:
            contract = register.get(uow, contract_id)  # NotFound for an unknown id
        if caller.role == EMPLOYER and contract.get("employer_tax_id") != caller.tax_id:
            raise NotFound("no such contract", contract_id=contract_id)
        with self.db.unit_of_work() as uow:
            return register.record_employment_end(
                uow, contract_id, payload, self.policy, self.clock.now(), self.clock.today()
            )
