"""statistics: entrypoints only. Rules in domain.py; event application in
projection.py; queries, export, charts and rebuild in their own modules."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date
from typing import Any

import eventlet
from nameko.extensions import DependencyProvider
from nameko.rpc import ClusterRpc, rpc

from wpis_common.config import setting
from wpis_common.consumers import consume_event
from wpis_common.db import UnitOfWork
from wpis_common.dependencies import Database, DatabaseHandle
from wpis_common.envelope import Envelope, utc_now
from wpis_common.errors import EXPECTED_ERRORS
from wpis_statistics import charts, domain, export, queries, replay
from wpis_statistics.models import MESSAGING
from wpis_statistics.projection import ProjectionSettings, apply_event
from wpis_statistics.schemas import EVENTS


class _Serialized:
    """A unit of work that holds the read model's writer lock while it is open."""

    def __init__(self, lock: threading.Lock, uow: UnitOfWork):
        self._lock, self._uow = lock, uow

    def __enter__(self) -> UnitOfWork:
        self._lock.acquire()
        try:
            return self._uow.__enter__()
        except BaseException:
            self._lock.release()
            raise

    def __exit__(self, *exc_info: Any) -> None:
        try:
            self._uow.__exit__(*exc_info)
        finally:
            self._lock.release()


class ReadModelHandle:
    """``self.db`` of the statistics service: the usual handle, with writers serialized."""

    def __init__(self, handle: DatabaseHandle, lock: threading.Lock):
        self._handle, self._lock = handle, lock

    def unit_of_work(self) -> Any:
        """For writers (event handlers, rebuild, publishing): one at a time, so
        that two events about one entity never derive its facts from stale rows."""
        return _Serialized(self._lock, self._handle.unit_of_work())

    def read(self) -> UnitOfWork:
        """For queries: no lock; they see the last committed state."""
        return self._handle.unit_of_work()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


class ReadModelDatabase(Database):
    def setup(self) -> None:
        super().setup()
        self.lock = threading.Lock()  # green under nameko run (monkey-patched)

    def get_dependency(self, worker_ctx: Any) -> ReadModelHandle:
        return ReadModelHandle(super().get_dependency(worker_ctx), self.lock)


class StatisticsSettings(DependencyProvider):
    def setup(self) -> None:
        self.projection = ProjectionSettings(
            deadline_days=int(setting("STATISTICS_DECISION_DEADLINE_DAYS", 30))
        )
        self.threshold = int(setting("STATISTICS_SUPPRESSION_THRESHOLD", 5))
        self.grace_days = int(setting("STATISTICS_EXPORT_GRACE_DAYS", 3))
        producers = setting(
            "STATISTICS_PRODUCERS", "applications,identity_gateway,permits,contracts"
        )
        self.producers = [p.strip() for p in str(producers).split(",") if p.strip()]
        self.page_size = int(setting("STATISTICS_REPLAY_PAGE_SIZE", 500))
        self.rpc_timeout = float(setting("STATISTICS_REPLAY_RPC_TIMEOUT", 30))

    def get_dependency(self, worker_ctx: Any) -> StatisticsSettings:
        return self


def _consumer(source: str, event_type: str) -> Callable:
    """A thin handler for one public event: apply it to the read model."""

    def handler(self: StatisticsService, event: Envelope, uow: UnitOfWork) -> None:
        apply_event(uow.session, event, self.settings.projection)

    handler.__name__ = handler.__qualname__ = f"on_{event_type}"
    return consume_event(source, event_type)(handler)


class StatisticsService:
    name = "statistics"

    db = ReadModelDatabase(MESSAGING, EVENTS)
    settings = StatisticsSettings()
    producers = ClusterRpc()

    # Every public event the figures use (projection.APPLIERS lists the same).
    on_application_submitted = _consumer("applications", "application_submitted")
    on_application_approved = _consumer("applications", "application_approved")
    on_application_rejected = _consumer("applications", "application_rejected")
    on_application_withdrawn = _consumer("applications", "application_withdrawn")
    on_identity_verified = _consumer("identity_gateway", "identity_verified")
    on_identity_rejected = _consumer("identity_gateway", "identity_rejected")
    on_identity_check_deferred = _consumer("identity_gateway", "identity_check_deferred")
    on_permit_issued = _consumer("permits", "permit_issued")
    on_permit_extended = _consumer("permits", "permit_extended")
    on_permit_amended = _consumer("permits", "permit_amended")
    on_permit_suspended = _consumer("permits", "permit_suspended")
    on_permit_reinstated = _consumer("permits", "permit_reinstated")
    on_permit_revoked = _consumer("permits", "permit_revoked")
    on_permit_cancelled = _consumer("permits", "permit_cancelled")
    on_permit_expired = _consumer("permits", "permit_expired")
    on_permit_flagged = _consumer("permits", "permit_flagged")
    on_contract_registered = _consumer("contracts", "contract_registered")
    on_contract_terminated = _consumer("contracts", "contract_terminated")

    @rpc(expected_exceptions=EXPECTED_ERRORS)
    def catalog(self) -> dict[str, Any]:
        return queries.catalog()

    @rpc(expected_exceptions=EXPECTED_ERRORS)
    def query(self, measure: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        parsed = domain.parse_query(measure, params or {}, date.today())
        with self.db.read() as uow:
            return queries.run_query(uow.session, parsed)

    @rpc(expected_exceptions=EXPECTED_ERRORS)
    def export(self, month_from: str | None = None, month_to: str | None = None) -> dict:
        with self.db.unit_of_work() as uow:  # publishing freezes months: a writer
            return export.open_data(
                uow.session,
                self.settings.threshold,
                date.today(),
                self.settings.grace_days,
                utc_now(),
                month_from,
                month_to,
            )

    @rpc(expected_exceptions=EXPECTED_ERRORS)
    def export_csv(self, month_from: str | None = None, month_to: str | None = None) -> str:
        return export.to_csv(self.export(month_from, month_to)["rows"])

    @rpc
    def dictionary(self) -> dict[str, Any]:
        return export.dictionary(self.settings.threshold, self.settings.grace_days)

    @rpc
    def dashboard(self) -> str:
        with self.db.read() as uow:
            return charts.dashboard(uow.session, date.today(), utc_now())

    @rpc
    def rebuild(self) -> dict[str, Any]:
        """Empty the read model and replay every producer's event log."""
        with self.db.unit_of_work() as uow:
            return replay.rebuild(
                uow.session,
                uow.tables.inbox,
                self._fetch_events,
                self.settings.producers,
                self.settings.projection,
                service=self.name,
                page_size=self.settings.page_size,
            )

    def _fetch_events(self, producer: str, after: int, limit: int) -> list[dict[str, Any]]:
        with eventlet.Timeout(self.settings.rpc_timeout):
            return self.producers[producer].events_after(after=after, limit=limit)
