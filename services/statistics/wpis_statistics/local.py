"""A read model opened directly on its database, outside a Nameko worker: for
the benchmark, for tests, and for operators' one-off scripts. The service
itself goes through ``service.py``; both use the same projection and queries."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from wpis_common.db import UnitOfWork, create_db_engine, make_session_factory
from wpis_common.envelope import Envelope
from wpis_statistics import domain, queries
from wpis_statistics.models import MESSAGING
from wpis_statistics.projection import (
    ProjectionSettings,
    apply_event,
    apply_to_entities,
    rebuild_cells,
    refresh_facts,
)
from wpis_statistics.schemas import EVENTS


class LocalReadModel:
    def __init__(self, url: str, settings: ProjectionSettings | None = None, pool_size: int = 5):
        self.engine = create_db_engine(url, pool_size=pool_size)
        self.sessions = make_session_factory(self.engine)
        self.settings = settings or ProjectionSettings()

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.sessions, MESSAGING, "statistics", EVENTS)

    def apply(self, events: Iterable[dict[str, Any]], batch: int = 1) -> None:
        """Apply events as the live handlers do (no inbox), ``batch`` per transaction."""
        pending = list(events)
        for start in range(0, len(pending), batch):
            with self.unit_of_work() as uow:
                for body in pending[start : start + batch]:
                    apply_event(uow.session, Envelope.parse(body), self.settings)

    def load(self, events: Iterable[dict[str, Any]]) -> None:
        """Apply events in bulk, as a rebuild does: entities first, then each
        touched entity's facts once, then every cell recounted from the facts."""
        with self.unit_of_work() as uow:
            dirty: set[str] = set()
            for body in events:
                dirty |= apply_to_entities(uow.session, Envelope.parse(body))
            for key in sorted(dirty):
                refresh_facts(uow.session, key, self.settings)
            rebuild_cells(uow.session)

    def ask(self, measure: str, today: date, **params: str) -> dict[str, Any]:
        with self.unit_of_work() as uow:
            query = domain.parse_query(measure, params, today)
            return queries.run_query(uow.session, query)

    def close(self) -> None:
        self.engine.dispose()
