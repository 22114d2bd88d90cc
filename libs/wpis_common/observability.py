"""Health probes and Prometheus metrics for every service, on a small HTTP port.

The ``Database`` provider composes :class:`Observability`, so every service
that has a database (all of them) gets, with no code of its own:

- ``GET /livez``: 200 while the process's event loop answers.
- ``GET /readyz``: 200 when the service can do its work: its broker consumers
  are connected (or, with none, the broker answers), its database answers and
  its migrations are at head, and it is not draining for shutdown; else 503.
  The body says which check failed.
- ``GET /metrics``: Prometheus text format: per entrypoint calls, errors and
  duration; running workers; outbox backlog and relay lag; the depth of every
  queue the service consumes (consumer lag, asked of the broker at scrape
  time); plus anything registered on the process registry (see
  :func:`histogram`, :func:`gauge`, :func:`counter`: the identity service's
  IDMS latency and circuit-breaker state) and the process's own figures.

Config: ``HEALTH_PORT`` (config key, or env ``<SERVICE>_HEALTH_PORT`` then
``HEALTH_PORT``; default per service, see :data:`DEFAULT_HEALTH_PORTS`;
``0`` picks a free port; ``-1`` turns the server off) and ``HEALTH_ADDRESS``
(default ``0.0.0.0``).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import suppress
from typing import Any

import eventlet
from eventlet import wsgi
from nameko import config
from nameko.constants import AMQP_URI_CONFIG_KEY
from nameko.extensions import Extension
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import Engine, func, inspect, select, text

from wpis_common import logs
from wpis_common.graceful import consumed_queues, consumers_of
from wpis_common.tables import MessagingTables

log = logging.getLogger(__name__)
disable_created_metrics()  # no *_created series: they double the output for nothing

DEFAULT_HEALTH_PORTS = {
    "applications": 8201,
    "identity_gateway": 8202,
    "permits": 8203,
    "contracts": 8204,
    "notifications": 8205,
    "gateway": 8206,
    "statistics": 8207,
}
FALLBACK_HEALTH_PORT = 8290
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
BROKER_TIMEOUT = 2.0


# -- the process registry hook ----------------------------------------------------

_process_metrics: dict[str, Any] = {}


def _get_or_create(kind: type, name: str, documentation: str, **kwargs: Any) -> Any:
    """One metric per name in the process registry, however often it is asked for."""
    existing = _process_metrics.get(name)
    if existing is None:
        existing = _process_metrics[name] = kind(name, documentation, **kwargs)
    return existing


def histogram(
    name: str,
    documentation: str,
    labelnames: Sequence[str] = (),
    buckets: Sequence[float] = DURATION_BUCKETS,
) -> Histogram:
    """A histogram on the process registry, served on every ``/metrics`` of this process.

    E.g. the identity service: ``histogram("wpis_idms_request_seconds",
    "IDMS call latency", ["outcome"]).labels("ok").observe(0.12)``.
    """
    return _get_or_create(Histogram, name, documentation, labelnames=labelnames, buckets=buckets)


def gauge(name: str, documentation: str, labelnames: Sequence[str] = ()) -> Gauge:
    """A gauge on the process registry (e.g. ``wpis_idms_breaker_open``: 0 or 1)."""
    return _get_or_create(Gauge, name, documentation, labelnames=labelnames)


def counter(name: str, documentation: str, labelnames: Sequence[str] = ()) -> Counter:
    """A counter on the process registry."""
    return _get_or_create(Counter, name, documentation, labelnames=labelnames)


def health_port(service: str) -> int:
    """The configured health port: config, ``<SERVICE>_HEALTH_PORT``, ``HEALTH_PORT``."""
    for key in ("HEALTH_PORT",):
        value = config.get(key)
        if value not in (None, ""):
            return int(value)
    for key in (f"{service.upper()}_HEALTH_PORT", "HEALTH_PORT"):
        value = os.environ.get(key)
        if value not in (None, ""):
            return int(value)
    return DEFAULT_HEALTH_PORTS.get(service, FALLBACK_HEALTH_PORT)


def entrypoint_kind(entrypoint: Any) -> str:
    name = type(entrypoint).__name__.lower()
    for kind in ("rpc", "event", "timer", "http"):
        if kind in name:
            return kind
    return name


# -- the extension --------------------------------------------------------------


class Observability(Extension):
    """Health server and metrics of one service container (composed by ``Database``)."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.tables: MessagingTables | None = None
        self.port: int | None = None
        self._server: Any = None
        self._started_at: dict[Any, float] = {}
        super().__init__()

    def attach(self, engine: Engine, tables: MessagingTables) -> None:
        """Called by ``Database.setup`` with the service's engine and messaging tables."""
        self.engine, self.tables = engine, tables

    def setup(self) -> None:
        service = self.container.service_name
        self.service = service
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ["service", "entrypoint", "kind"]
        self.calls = Counter(
            "wpis_entrypoint_calls", "Worker runs per entrypoint", labels, registry=self.registry
        )
        self.errors = Counter(
            "wpis_entrypoint_errors",
            "Worker runs that raised, by error type (expected: a refusal the caller gets)",
            [*labels, "error", "expected"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "wpis_entrypoint_duration_seconds",
            "Worker run time per entrypoint",
            labels,
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.active = Gauge(
            "wpis_workers_active", "Workers running now", ["service"], registry=self.registry
        )
        self.registry.register(_ScrapeTimeCollector(self))
        package = self.container.service_cls.__module__.split(".")[0]  # e.g. wpis_statistics
        self._script_heads = _migration_heads(package)

    def start(self) -> None:
        port = health_port(self.service)
        if port < 0:
            return
        address = config.get("HEALTH_ADDRESS") or os.environ.get("HEALTH_ADDRESS", "0.0.0.0")
        try:
            sock = eventlet.listen((address, port))
        except OSError as error:
            log.error(
                "health server not started: cannot listen on %s:%s (%s)", address, port, error
            )
            return
        self.port = sock.getsockname()[1]
        self._server = self.container.spawn_managed_thread(
            lambda: wsgi.server(
                sock, self.wsgi_app, log_output=False, keepalive=False, socket_timeout=10
            ),
            identifier="health_server",
        )
        log.info("health server on %s:%s (/livez /readyz /metrics)", address, self.port)

    def stop(self) -> None:
        if self._server is not None:
            self._server.kill()
            self._server = None

    def kill(self) -> None:
        self.stop()

    # -- worker hooks (called by Database) ---------------------------------------
    def worker_setup(self, worker_ctx: Any) -> None:
        self._started_at[worker_ctx] = time.perf_counter()
        self.active.labels(self.service).inc()
        logs.bind_worker(
            self.service, worker_ctx.entrypoint.method_name, worker_ctx.call_id_stack or []
        )

    def worker_result(self, worker_ctx: Any, result: Any = None, exc_info: Any = None) -> None:
        entrypoint = worker_ctx.entrypoint
        labels = (self.service, entrypoint.method_name, entrypoint_kind(entrypoint))
        started = self._started_at.pop(worker_ctx, None)
        if started is not None:
            self.duration.labels(*labels).observe(time.perf_counter() - started)
        self.calls.labels(*labels).inc()
        if exc_info is not None:
            expected = isinstance(exc_info[1], entrypoint.expected_exceptions or ())
            error = type(exc_info[1]).__name__
            self.errors.labels(*labels, error, str(expected).lower()).inc()

    def worker_teardown(self, worker_ctx: Any) -> None:
        self._started_at.pop(worker_ctx, None)
        self.active.labels(self.service).dec()
        logs.unbind_worker()

    # -- checks --------------------------------------------------------------------
    @property
    def draining(self) -> bool:
        return any(consumer.draining for consumer in consumers_of(self.container))

    def readiness(self) -> dict[str, Any]:
        checks = {
            "broker": self._check_broker(),
            "database": self._check_database(),
            "migrations": self._check_migrations(),
        }
        if self.draining:
            checks["shutdown"] = "draining: not taking new work"
        ready = all(value == "ok" for value in checks.values())
        return {"service": self.service, "ready": ready, "checks": checks}

    def _check_broker(self) -> str:
        consumers = consumers_of(self.container)
        if consumers:
            down = sum(1 for consumer in consumers if not consumer.connected)
            return "ok" if not down else f"{down} of {len(consumers)} consumers not connected"
        return _ping_broker(config.get(AMQP_URI_CONFIG_KEY))

    def _check_database(self) -> str:
        if self.engine is None:
            return "not set up"
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as error:
            return f"unreachable: {type(error).__name__}"
        return "ok"

    def _check_migrations(self) -> str:
        if self._script_heads is None:
            return "ok"  # not a WPIS service package: nothing to compare
        if self.engine is None:
            return "not set up"
        try:
            current = _database_heads(self.engine)
        except Exception as error:
            return f"cannot read the schema version: {type(error).__name__}"
        if current == self._script_heads:
            return "ok"
        return (
            f"database at {sorted(current) or 'nothing'}, code needs {sorted(self._script_heads)}"
        )

    # -- HTTP ------------------------------------------------------------------------
    def wsgi_app(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return _respond(start_response, 405, {"error": "method not allowed"})
        if path == "/livez":
            return _respond(start_response, 200, {"service": self.service, "alive": True})
        if path == "/readyz":
            report = self.readiness()
            return _respond(start_response, 200 if report["ready"] else 503, report)
        if path == "/metrics":
            body = self.metrics_text().encode()
            start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
            return [body]
        return _respond(start_response, 404, {"error": "not found", "paths": PATHS})

    def metrics_text(self) -> str:
        return generate_latest(self.registry).decode() + generate_latest(REGISTRY).decode()


PATHS = ["/livez", "/readyz", "/metrics"]


def _respond(start_response: Callable, status: int, body: dict[str, Any]) -> list[bytes]:
    reason = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}
    start_response(f"{status} {reason[status]}", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]


class _ScrapeTimeCollector:
    """Figures read at scrape time: outbox backlog and lag, queue depths."""

    def __init__(self, observability: Observability):
        self.obs = observability

    def describe(self) -> list:
        return []  # computed at scrape time; nothing to check up front

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from self._outbox()
        yield from self._queues()

    def _outbox(self) -> Iterator[GaugeMetricFamily]:
        engine, tables = self.obs.engine, self.obs.tables
        if engine is None or tables is None:
            return
        outbox = tables.outbox
        try:
            with engine.connect() as connection:
                backlog, oldest = connection.execute(
                    select(func.count(), func.min(outbox.c.occurred_at)).where(
                        outbox.c.published_at.is_(None)
                    )
                ).one()
        except Exception as error:
            log.warning("metrics: cannot read the outbox: %s", type(error).__name__)
            return
        service = self.obs.service
        backlog_family = GaugeMetricFamily(
            "wpis_outbox_backlog", "Committed events not yet published", labels=["service"]
        )
        backlog_family.add_metric([service], backlog)
        yield backlog_family
        lag = GaugeMetricFamily(
            "wpis_outbox_relay_lag_seconds",
            "Age of the oldest committed event not yet published (0: none waiting)",
            labels=["service"],
        )
        lag.add_metric([service], _age_seconds(oldest))
        yield lag

    def _queues(self) -> Iterator[GaugeMetricFamily]:
        queues = consumed_queues(self.obs.container)
        if not queues:
            return
        depths = _queue_depths(config.get(AMQP_URI_CONFIG_KEY), queues)
        if depths is None:
            return
        ready = GaugeMetricFamily(
            "wpis_queue_messages_ready",
            "Messages waiting in a queue this service consumes (consumer lag)",
            labels=["service", "queue"],
        )
        consumers = GaugeMetricFamily(
            "wpis_queue_consumers",
            "Consumers on a queue (all instances)",
            labels=["service", "queue"],
        )
        for name, (messages, consumer_count) in depths.items():
            ready.add_metric([self.obs.service, name], messages)
            consumers.add_metric([self.obs.service, name], consumer_count)
        yield ready
        yield consumers


def _age_seconds(oldest: Any) -> float:
    if oldest is None:
        return 0.0
    from datetime import UTC, datetime

    if oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return max((datetime.now(UTC) - oldest).total_seconds(), 0.0)


def _queue_depths(amqp_uri: str, queues: list[str]) -> dict[str, tuple[int, int]] | None:
    """Ask the broker (passive declares) how deep each queue is and who consumes it."""
    from kombu import Connection

    depths: dict[str, tuple[int, int]] = {}
    try:
        with Connection(amqp_uri, connect_timeout=BROKER_TIMEOUT) as connection:
            for name in queues:
                channel = connection.channel()
                try:
                    _, messages, consumers = channel.queue_declare(name, passive=True)
                    depths[name] = (messages, consumers)
                except Exception:
                    pass  # not declared (yet): nothing to report for it
                finally:
                    _close_quietly(channel)
    except Exception as error:
        log.warning("metrics: broker unreachable for queue depths: %s", type(error).__name__)
        return None
    return depths


def _close_quietly(channel: Any) -> None:
    with suppress(Exception):
        channel.close()


def _ping_broker(amqp_uri: str | None) -> str:
    from kombu import Connection

    if not amqp_uri:
        return "AMQP_URI not set"
    try:
        with Connection(amqp_uri, connect_timeout=BROKER_TIMEOUT) as connection:
            connection.ensure_connection(max_retries=1)
    except Exception as error:
        return f"unreachable: {type(error).__name__}"
    return "ok"


def _migration_heads(package: str) -> set[str] | None:
    """The head revision(s) of a service package's migrations; None if it has none."""
    from alembic.script import ScriptDirectory

    from wpis_common.migrate import alembic_config

    try:
        return set(ScriptDirectory.from_config(alembic_config(package, "")).get_heads())
    except Exception:
        return None


def _database_heads(engine: Engine) -> set[str]:
    """The revisions recorded in the database (none before the first migration)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return set()
        return set(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
