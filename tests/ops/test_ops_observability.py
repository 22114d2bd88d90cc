"""Health probes, metrics and JSON logs of a real service container, and its
graceful drain on stop: the plumbing every service gets from ``Database``."""

from __future__ import annotations

import io
import json
import logging

import eventlet
import pytest
import requests
from kombu import Connection
from nameko.rpc import rpc
from nameko.standalone.rpc import ClusterRpcClient
from nameko.testing.services import entrypoint_hook
from prometheus_client.parser import text_string_to_metric_families

from contracts.models import MESSAGING
from contracts.schemas import EVENTS
from contracts.service import ContractsService
from wpis_common import observability
from wpis_common.dependencies import Database
from wpis_common.errors import NotFound
from wpis_common.graceful import GracefulConsumer, consumers_of
from wpis_common.logs import JsonFormatter
from wpis_common.testing import fresh_database, wait_for

pytestmark = pytest.mark.integration

log = logging.getLogger("wpis.test.probe")
HEALTH = {"HEALTH_PORT": 0, "HEALTH_ADDRESS": "127.0.0.1", "OUTBOX_POLL_INTERVAL": 0.2}


class ProbeService:
    """A stand-in service with the contracts schema: logs, fails and sleeps on request."""

    name = "contracts"
    db = Database(MESSAGING, EVENTS)
    finished: list[int] = []

    @rpc
    def shout(self, message: str) -> str:
        log.info("probe says %s", message)
        return message

    @rpc
    def slow(self, number: int, seconds: float) -> int:
        eventlet.sleep(seconds)
        ProbeService.finished.append(number)
        return number


def observability_of(container) -> observability.Observability:
    (provider,) = [dep for dep in container.dependencies if isinstance(dep, Database)]
    return provider.observability


def scrape(container) -> dict[tuple[str, frozenset], float]:
    """Every sample on /metrics, by (name, labels)."""
    text = requests.get(health_url(container, "/metrics"), timeout=5).text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def health_url(container, path: str) -> str:
    return f"http://127.0.0.1:{observability_of(container).port}{path}"


@pytest.fixture
def contracts(container_factory, rabbit_config, make_database, callers):
    container = container_factory(
        ContractsService, {"DATABASE_URL": make_database("contracts"), **HEALTH, **callers.config}
    )
    container.start()
    container.callers = callers
    return container


def test_live_and_ready_when_broker_database_and_migrations_are_fine(contracts):
    assert requests.get(health_url(contracts, "/livez"), timeout=5).status_code == 200

    response = requests.get(health_url(contracts, "/readyz"), timeout=5)

    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {"broker": "ok", "database": "ok", "migrations": "ok"}


def test_metrics_count_calls_errors_and_duration_per_entrypoint(contracts):
    officer = contracts.callers.context("decision_officer")
    with entrypoint_hook(contracts, "list_for_employer", context_data=officer) as list_for_employer:
        list_for_employer("02563412")
    officer = contracts.callers.context(
        "decision_officer"
    )  # fresh: nameko adds its call stack to the dict
    with entrypoint_hook(contracts, "get", context_data=officer) as get, pytest.raises(NotFound):
        get("no-such-contract")

    samples = scrape(contracts)

    rpc = {"service": "contracts", "kind": "rpc"}
    assert (
        samples[("wpis_entrypoint_calls_total", frozenset({**rpc, "entrypoint": "get"}.items()))]
        == 1
    )
    not_found = {**rpc, "entrypoint": "get", "error": "NotFound", "expected": "true"}
    assert samples[("wpis_entrypoint_errors_total", frozenset(not_found.items()))] == 1
    listed = frozenset({**rpc, "entrypoint": "list_for_employer"}.items())
    assert samples[("wpis_entrypoint_duration_seconds_count", listed)] == 1
    service = frozenset({"service": "contracts"}.items())
    assert samples[("wpis_outbox_backlog", service)] == 0
    assert samples[("wpis_outbox_relay_lag_seconds", service)] == 0
    rpc_queue = frozenset({"service": "contracts", "queue": "rpc-contracts"}.items())
    assert samples[("wpis_queue_messages_ready", rpc_queue)] == 0
    assert samples[("wpis_queue_consumers", rpc_queue)] == 1
    text = requests.get(health_url(contracts, "/metrics"), timeout=5).text
    assert "process_resident_memory_bytes" in text  # the process's own figures too


def test_identity_service_can_expose_its_own_metrics_through_the_registry_hook(contracts):
    latency = observability.histogram("wpis_test_idms_request_seconds", "test", ["outcome"])
    assert observability.histogram("wpis_test_idms_request_seconds", "test", ["outcome"]) is latency
    latency.labels("ok").observe(0.2)
    observability.gauge("wpis_test_idms_breaker_open", "test").set(1)

    text = requests.get(health_url(contracts, "/metrics"), timeout=5).text

    assert 'wpis_test_idms_request_seconds_count{outcome="ok"} 1.0' in text
    assert "wpis_test_idms_breaker_open 1.0" in text


def test_not_ready_when_migrations_are_not_at_head(container_factory, rabbit_config, tmp_path):
    with fresh_database(tmp_path, "contracts_empty") as url:  # never migrated
        container = container_factory(ContractsService, {"DATABASE_URL": url, **HEALTH})
        container.start()

        response = requests.get(health_url(container, "/readyz"), timeout=5)

        assert response.status_code == 503
        checks = response.json()["checks"]
        assert checks["migrations"].startswith("database at nothing, code needs")
        assert checks["broker"] == "ok" and checks["database"] == "ok"
        container.kill()


def test_not_ready_when_the_database_is_unreachable(container_factory, rabbit_config):
    closed_port_url = "postgresql+psycopg://wpis@127.0.0.1:9/contracts"
    container = container_factory(ContractsService, {"DATABASE_URL": closed_port_url, **HEALTH})
    container.start()

    response = requests.get(health_url(container, "/readyz"), timeout=10)

    assert response.status_code == 503
    assert response.json()["checks"]["database"].startswith("unreachable")
    assert requests.get(health_url(container, "/livez"), timeout=5).status_code == 200


def test_worker_log_lines_are_json_with_entrypoint_and_call_ids_and_no_email(
    container_factory, rabbit_config, make_database
):
    container = container_factory(
        ProbeService, {"DATABASE_URL": make_database("contracts"), **HEALTH}
    )
    container.start()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        with entrypoint_hook(container, "shout") as shout:
            shout("write to ravi@example.org")
    finally:
        log.removeHandler(handler)

    (line,) = stream.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["service"] == "contracts"
    assert entry["entrypoint"] == "contracts.shout"
    assert entry["level"] == "INFO"
    assert entry["call_id"] == entry["call_id_stack"][-1]
    assert entry["call_id"].startswith("contracts.shout.")
    assert "ravi@example.org" not in line
    assert entry["message"] == "probe says write to <redacted>"


def test_stop_finishes_running_workers_acks_them_and_leaves_the_rest_queued(
    container_factory, rabbit_config, make_database, amqp_uri
):
    ProbeService.finished = []
    container = container_factory(
        ProbeService, {"DATABASE_URL": make_database("contracts"), **HEALTH}
    )
    container.start()
    (consumer,) = consumers_of(container)
    assert isinstance(consumer, GracefulConsumer)
    with ClusterRpcClient() as client:
        running = [client.contracts.slow.call_async(n, 1.5) for n in range(4)]
        wait_for(lambda: consumer.unsettled == 4, what="four workers running")
        stopper = eventlet.spawn(container.stop)
        wait_for(lambda: consumer.draining, what="draining")
        ready = requests.get(health_url(container, "/readyz"), timeout=5)
        late = client.contracts.slow.call_async(99, 0)  # arrives while draining
        stopper.wait()

        assert sorted(call.result() for call in running) == [0, 1, 2, 3]
        assert ready.status_code == 503 and "shutdown" in ready.json()["checks"]
        assert ProbeService.finished == [0, 1, 2, 3]  # the late call did not run here
        # only the late call waits in the queue: nothing that was done is redelivered
        assert queue_depth(amqp_uri, "rpc-contracts") == 1

        second = container_factory(
            ProbeService, {"DATABASE_URL": make_database("contracts"), **HEALTH}
        )
        second.start()
        assert late.result() == 99
    assert ProbeService.finished == [0, 1, 2, 3, 99]


def queue_depth(amqp_uri: str, queue: str) -> int:
    with Connection(amqp_uri) as connection:
        return connection.default_channel.queue_declare(queue, passive=True).message_count
