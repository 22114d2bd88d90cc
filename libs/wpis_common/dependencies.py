"""Nameko dependency providers shared by every service."""

from __future__ import annotations

import logging
from typing import Any

from nameko import config
from nameko.constants import AMQP_URI_CONFIG_KEY, MAX_WORKERS_CONFIG_KEY
from nameko.extensions import DependencyProvider
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from wpis_common.config import DATABASE_URL_KEY, required_setting, setting
from wpis_common.db import UnitOfWork, create_db_engine, make_session_factory
from wpis_common.envelope import EventCatalog
from wpis_common.graceful import install as install_graceful_consumers
from wpis_common.observability import Observability
from wpis_common.outbox import AmqpEventPublisher, OutboxRelay
from wpis_common.tables import MessagingTables

log = logging.getLogger(__name__)

# Every RPC/event entrypoint drains on SIGTERM instead of dropping its acks.
install_graceful_consumers()


class DatabaseHandle:
    """What a worker sees as ``self.db``: opens units of work."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        tables: MessagingTables,
        producer: str,
        catalog: EventCatalog,
        relay: OutboxRelay | None,
    ):
        self.session_factory = session_factory
        self.tables = tables
        self.producer = producer
        self.catalog = catalog
        self.relay = relay

    def unit_of_work(self) -> UnitOfWork:
        on_commit = self.relay.wake if self.relay else (lambda: None)
        return UnitOfWork(self.session_factory, self.tables, self.producer, self.catalog, on_commit)


class Database(DependencyProvider):
    """The service's own database, with its outbox relay running beside the workers.

    Config: ``DATABASE_URL``; ``OUTBOX_POLL_INTERVAL`` (seconds, default 1) is
    how often the relay looks for events besides being woken by commits.

    It composes :class:`~wpis_common.observability.Observability` (health
    probes, metrics, worker context in the JSON logs): Nameko calls the worker
    hooks of a service's dependency providers only, so they are forwarded.
    """

    def __init__(self, tables: MessagingTables, catalog: EventCatalog, **kwargs: Any):
        self.tables = tables
        self.catalog = catalog
        self.engine: Engine | None = None
        self.relay: OutboxRelay | None = None
        self.observability = Observability()
        super().__init__(**kwargs)

    def setup(self) -> None:
        max_workers = int(setting(MAX_WORKERS_CONFIG_KEY, 10))
        self.engine = create_db_engine(
            required_setting(DATABASE_URL_KEY), pool_size=max_workers + 5
        )
        self.session_factory = make_session_factory(self.engine)
        self.observability.attach(self.engine, self.tables)
        producer = self.container.service_name
        self.relay = OutboxRelay(
            self.session_factory,
            self.tables,
            producer,
            AmqpEventPublisher(config[AMQP_URI_CONFIG_KEY], producer),
            poll_interval=float(setting("OUTBOX_POLL_INTERVAL", 1.0)),
        )

    def start(self) -> None:
        assert self.relay is not None
        self.container.spawn_managed_thread(self.relay.run, identifier="outbox_relay")
        self.relay.wake()  # publish whatever a previous run committed but did not send

    def stop(self) -> None:
        if self.relay:
            self.relay.stop()
        if self.engine:
            self.engine.dispose()

    def kill(self) -> None:
        self.stop()

    def worker_setup(self, worker_ctx: Any) -> None:
        self.observability.worker_setup(worker_ctx)

    def worker_result(self, worker_ctx: Any, result: Any = None, exc_info: Any = None) -> None:
        self.observability.worker_result(worker_ctx, result, exc_info)

    def worker_teardown(self, worker_ctx: Any) -> None:
        self.observability.worker_teardown(worker_ctx)

    def get_dependency(self, worker_ctx: Any) -> DatabaseHandle:
        return DatabaseHandle(
            self.session_factory, self.tables, self.container.service_name, self.catalog, self.relay
        )
