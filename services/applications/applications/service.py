"""applications: entrypoints only. Rules live in domain.py, use cases in casework.py.

Who calls comes from the access token in the worker context (``self.caller``,
wpis_common.caller), never from an argument: the role is checked against the
transition table, an employer sees its own tax id's cases only (another's case is
"not found"), and the agency and admin roles have no access. Event handlers and
timers act as ``system``.
"""

from __future__ import annotations

import logging
from typing import Any

import eventlet
from nameko.exceptions import RemoteError, UnknownService
from nameko.rpc import ServiceRpc, rpc

from applications import casework
from applications.config import Clock, ConfiguredTimer, Documents, StateServices, WorkflowPolicy
from applications.errors import APPLICATION_ERRORS
from applications.models import MESSAGING
from applications.schemas import EVENTS
from wpis_common import replay
from wpis_common.caller import (
    AUDITOR,
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

log = logging.getLogger(__name__)
OFFICERS_AND_AUDITOR = (INTAKE_OFFICER, DECISION_OFFICER, SUPERVISOR, AUDITOR)
CASE_ROLES = (EMPLOYER, *OFFICERS_AND_AUDITOR)
timer = ConfiguredTimer.decorator


class ApplicationsService(replay.EventLog):
    name = "applications"

    db = Database(MESSAGING, EVENTS)
    clock = Clock()
    policy = WorkflowPolicy()
    documents = Documents()
    state = StateServices()
    permits = ServiceRpc("permits")
    caller = CallerProvider()

    # -- filing and reading --------------------------------------------------------

    @rpc(expected_exceptions=APPLICATION_ERRORS)
    def submit(self, payload: Any) -> dict[str, Any]:
        actor = self._who()
        now = self.clock.now()
        data = casework.parse_submission(payload, now.date())
        verdict = self._verify_permit(data["permit_number"]) if data["permit_number"] else None
        with self.db.unit_of_work() as uow:
            return casework.create(uow, data, actor, self.policy, now, verdict)

    @rpc(expected_exceptions=APPLICATION_ERRORS)
    def submit_draft(self, application_id: str) -> dict[str, Any]:
        actor = self._who()
        with self.db.unit_of_work() as uow:
            return casework.submit_draft(uow, application_id, actor, self.policy, self.clock.now())

    @rpc(expected_exceptions=APPLICATION_ERRORS)
    def get(self, application_id: str) -> dict[str, Any]:
        actor = self._who()
        with self.db.unit_of_work() as uow:
            return casework.get_view(uow, application_id, actor, self.policy, self.clock.now())

    @rpc(expected_exceptions=APPLICATION_ERRORS)
    def history(self, application_id: str) -> list[dict[str, Any]]:
        actor = self._who()
        with self.db.unit_of_work() as uow:
            return casework.history(uow, application_id, actor)

    @rpc(expected_exceptions=APPLICATION_ERRORS)
    def list(self, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        self.caller.require(*OFFICERS_AND_AUDITOR, what="list every application")
        with self.db.unit_of_work() as uow:
            return casework.list_applications(uow, status, limit, self.clock.now())

    @rpc(expected_exceptions=APPLICATION_ERRORS)
    def search(self, filters: Any = None) -> dict[str, Any]:
        actor = self._who()
        with self.db.unit_of_work() as uow:
            return casework.list_page(uow, filters, actor, self.clock.now())

    @rpc(expected_exceptions=APPLICATION_ERRORS)
    def rules(self) -> dict[str, Any]:
        return casework.rules(self.policy)

    # -- acting on a case ----------------------------------------------------------

    @rpc(expected_exceptions=APPLICATION_ERRORS)
    def decide(self, application_id: str, payload: Any) -> dict[str, Any]:
        actor = self._who()
        with self.db.unit_of_work() as uow:
            return casework.decide(uow, application_id, payload, actor, self.policy, self._now())

    @rpc(expected_exceptions=APPLICATION_ERRORS)
    def send_back(self, application_id: str, payload: Any) -> dict[str, Any]:
        actor = self._who()
        with self.db.unit_of_work() as uow:
            return casework.send_back(uow, application_id, payload, actor, self.policy, self._now())

    @rpc(expected_exceptions=APPLICATION_ERRORS)
    def resubmit(self, application_id: str, payload: Any) -> dict[str, Any]:
        actor = self._who()
        with self.db.unit_of_work() as uow:
            return casework.resubmit(uow, application_id, payload, actor, self.policy, self._now())

    @rpc(expected_exceptions=APPLICATION_ERRORS)
    def withdraw(self, application_id: str, payload: Any = None) -> dict[str, Any]:
        actor = self._who()
        with self.db.unit_of_work() as uow:
            return casework.withdraw(uow, application_id, payload, actor, self.policy, self._now())

    @rpc(expected_exceptions=APPLICATION_ERRORS)
    def close(self, application_id: str, payload: Any) -> dict[str, Any]:
        actor = self._who()
        with self.db.unit_of_work() as uow:
            return casework.close(uow, application_id, payload, actor, self.policy, self._now())

    @rpc(expected_exceptions=APPLICATION_ERRORS)
    def assign(self, application_id: str, payload: Any) -> dict[str, Any]:
        actor = self._who()
        with self.db.unit_of_work() as uow:
            return casework.assign(uow, application_id, payload, actor, self.policy, self._now())

    @rpc(expected_exceptions=APPLICATION_ERRORS)
    def pay_fee(self, application_id: str, payload: Any) -> dict[str, Any]:
        actor = self._who()
        with self.db.unit_of_work() as uow:  # another employer's case: not found, whatever the body
            casework.ensure_visible(uow, application_id, actor)
        reference = casework.parse_fee_reference(payload)
        confirmation = self.state.payments.confirmation(reference)  # no transaction open
        with self.db.unit_of_work() as uow:
            return casework.record_fee(
                uow, application_id, reference, confirmation, actor, self.policy, self._now()
            )

    # -- documents -----------------------------------------------------------------

    @rpc(expected_exceptions=APPLICATION_ERRORS)
    def add_document(self, application_id: str, payload: Any) -> dict[str, Any]:
        actor = self._who()
        data, content = casework.parse_upload(payload, self.policy)
        stored: list[str] = []
        try:
            with self.db.unit_of_work() as uow:
                return casework.add_document(
                    uow, self.documents, application_id, data, content, actor, self._now(), stored
                )
        except BaseException:
            for key in stored:  # the case refused it or the commit failed: keep no orphan
                self.documents.delete(key)
            raise

    @rpc(expected_exceptions=APPLICATION_ERRORS)
    def documents_of(self, application_id: str) -> list[dict[str, Any]]:
        actor = self._who()
        with self.db.unit_of_work() as uow:
            return casework.list_documents(uow, application_id, actor)

    @rpc(expected_exceptions=APPLICATION_ERRORS)
    def document(self, application_id: str, document_id: str) -> dict[str, Any]:
        actor = self._who()
        with self.db.unit_of_work() as uow:
            return casework.read_document(uow, self.documents, application_id, document_id, actor)

    # -- events from other services ------------------------------------------------

    @consume_event("identity_gateway", "identity_verified")
    def on_identity_verified(self, event: Envelope, uow: UnitOfWork) -> None:
        casework.identity_checked(uow, event.event_type, event.data, self._now())

    @consume_event("identity_gateway", "identity_rejected")
    def on_identity_rejected(self, event: Envelope, uow: UnitOfWork) -> None:
        casework.identity_checked(uow, event.event_type, event.data, self._now())

    @consume_event("identity_gateway", "identity_check_deferred")
    def on_identity_deferred(self, event: Envelope, uow: UnitOfWork) -> None:
        casework.identity_checked(uow, event.event_type, event.data, self._now())

    @consume_event("permits", "permit_issued")
    def on_permit_issued(self, event: Envelope, uow: UnitOfWork) -> None:
        casework.permit_issued(uow, event.data, self._now())

    @consume_event("permits", "permit_extended")
    def on_permit_extended(self, event: Envelope, uow: UnitOfWork) -> None:
        casework.permit_issued(uow, event.data, self._now())

    @consume_event("permits", "permit_amended")
    def on_permit_amended(self, event: Envelope, uow: UnitOfWork) -> None:
        casework.permit_issued(uow, event.data, self._now())

    @consume_event("permits", "permit_issuance_refused")
    def on_permit_refused(self, event: Envelope, uow: UnitOfWork) -> None:
        casework.permit_not_issued(uow, event.data, self._now())

    @consume_event("contracts", "contract_registered")
    def on_contract_registered(self, event: Envelope, uow: UnitOfWork) -> None:
        casework.contract_registered(uow, event.data, self._now())

    # -- timers ----------------------------------------------------------------------

    @timer(interval=5)
    def tick(self) -> dict[str, int]:
        """Labour-market tests and statutory deadlines. The clock is injectable:
        a test replaces it and calls ``tick`` (no real waiting)."""
        now = self._now()
        asked = self._request_labour_market_tests(now)
        answered = self._collect_labour_market_answers(now)
        with self.db.unit_of_work() as uow:
            defaulted = casework.lmt_deadlines(uow, self.policy, now)
        with self.db.unit_of_work() as uow:
            signalled = casework.deadline_signals(uow, self.policy, now)
        return {"asked": asked, "answered": answered, "defaulted": defaulted,
                "signalled": signalled}  # fmt: skip

    def _request_labour_market_tests(self, now: Any) -> int:
        with self.db.unit_of_work() as uow:
            waiting = casework.lmt_cases(uow, requested=False)
        asked = 0
        for case in waiting:
            request_id = self.state.agency.request_test(
                {key: value for key, value in case.items() if key != "request_id"}
            )
            if request_id is None:
                break  # the agency is unavailable: try again next tick
            with self.db.unit_of_work() as uow:
                casework.lmt_requested(uow, case["application_id"], request_id, self.policy, now)
            asked += 1
        return asked

    def _collect_labour_market_answers(self, now: Any) -> int:
        with self.db.unit_of_work() as uow:
            asked = casework.lmt_cases(uow, requested=True)
        answered = 0
        for case in asked:
            answer = self.state.agency.answer(case["request_id"])
            if answer is None:
                break
            if answer["status"] == "pending":
                continue
            with self.db.unit_of_work() as uow:
                casework.lmt_answered(uow, case["application_id"], answer, now)
            answered += 1
        return answered

    # -- helpers ---------------------------------------------------------------------

    def _who(self) -> casework.Who:
        return casework.who_from(self.caller.require(*CASE_ROLES, what="work with applications"))

    def _now(self) -> Any:
        return self.clock.now()

    def _verify_permit(self, number: str) -> dict[str, Any] | None:
        """permits.verify, bounded: None when the register does not answer."""
        try:
            with eventlet.Timeout(float(setting("PERMITS_RPC_TIMEOUT", 5))):
                return self.permits.verify(number)
        except (eventlet.Timeout, UnknownService, RemoteError) as error:
            log.warning("permits.verify(%s) failed: %s", number, type(error).__name__)
            return None
