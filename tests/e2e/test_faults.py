"""Faults in the middle of a burst of applications: a consumer service killed with
SIGKILL, the agency subscriber (a separate process, plain pika) killed too, and
RabbitMQ restarted. Afterwards every application has its permit and contract,
every event reached every subscriber exactly once (each consumer's inbox, the
agency's store, in sequence order per producer), no notice went out twice, and
nothing is parked.

The broker restart runs on a RabbitMQ node of the test's own (wpis_common.private_broker),
so that nothing else using the shared broker is disturbed; it is skipped, with the
reason, where no local RabbitMQ installation can start one.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from datetime import date, timedelta

import pytest
import requests
from sqlalchemy import create_engine, text

from wpis_common import dlq, private_broker
from wpis_common.private_broker import PrivateBroker
from wpis_common.suite import Suite, running_suite
from wpis_common.testing import auth_headers, wait_for
from wpis_common.topology import all_subscriptions, service_names

pytestmark = pytest.mark.e2e

BURST = int(os.environ.get("WPIS_FAULT_BURST", "200"))
# The broker restart stalls every process for its length: a shorter burst shows the same.
BROKER_RESTART_BURST = int(os.environ.get("WPIS_BROKER_RESTART_BURST", "100"))
CLIENTS = 6
AGENCY_BINDINGS = (
    "applications:application_submitted",
    "applications:application_approved",
    "identity_gateway:identity_verified",
    "permits:permit_issued",
    "contracts:contract_registered",
)


def application() -> dict:
    start = date.today() + timedelta(days=45)
    return {
        "employer": {
            "tax_id": "02563412",
            "name": "Ararat Build LLC",
            "email": "hr@ararat.example",
        },
        "worker": {
            "given_names": "Ravi",
            "surname": "Kumar",
            "date_of_birth": "1990-04-12",
            "sex": "M",
            "nationality": "IND",
            "email": "ravi@example.org",
            "passport": {
                "number": "Z1234567",
                "issuing_country": "IND",
                "expiry_date": "2031-01-01",
            },
        },
        "job": {
            "title": "Welder",
            "isco_code": "7212",
            "region": "AM-ER",
            "monthly_salary": 450000,
            "currency": "AMD",
        },
        "contract": {
            "start_date": start.isoformat(),
            "end_date": (start + timedelta(days=300)).isoformat(),
        },
    }


def api(suite: Suite, path: str) -> str:
    return f"{suite.gateway_url}/api/v1{path}"


class Agency:
    """The agency subscriber as an agency runs it: its own process."""

    def __init__(self, suite: Suite, name: str):
        self.suite = suite
        self.state = suite.base_dir / f"{name}.db"
        self.queue = f"agency.{name}"
        self.log = suite.base_dir / "logs" / f"{name}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "agency_subscriber", "--amqp-uri", self.suite.amqp_uri,
                   "--api-url", f"{self.suite.gateway_url}/api/v1", "--queue", self.queue,
                   "--state", str(self.state)]  # fmt: skip
        for binding in AGENCY_BINDINGS:
            command += ["--bind", binding]
        # The replay API wants an agency's token (docs/security.md); the env keeps it off `ps`.
        token = auth_headers(self.suite, "agency")["Authorization"].removeprefix("Bearer ")
        env = {**os.environ, "WPIS_API_TOKEN": token}
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)

    def wait_consuming(self) -> None:
        def consuming() -> bool:
            assert self.process is not None and self.process.poll() is None, self.tail()
            queues = self.suite.admin.queues(self.suite.vhost)
            return any(q["name"] == self.queue and q.get("consumers", 0) > 0 for q in queues)

        wait_for(consuming, timeout=30, interval=0.2, what="the agency subscriber to consume")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def received(self) -> list[tuple[str, int, str, str]]:
        """(producer, sequence, event_type, event_id) in the order they were handled."""
        with sqlite3.connect(self.state, timeout=30) as connection:
            try:
                rows = connection.execute(
                    "SELECT producer, sequence, event_type, event_id FROM received ORDER BY rowid"
                ).fetchall()
            except sqlite3.OperationalError:  # nothing handled yet
                return []
        return [tuple(row) for row in rows]

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])


@contextmanager
def running_agency(suite: Suite, name: str) -> Iterator[Agency]:
    subscriber = Agency(suite, name.split("[")[0].replace("test_", "")[:40])
    subscriber.start()
    try:
        subscriber.wait_consuming()
        yield subscriber
    finally:
        subscriber.stop()


@pytest.fixture
def agency(suite: Suite, request):
    with running_agency(suite, request.node.name) as subscriber:
        yield subscriber


# -- driving the burst --------------------------------------------------------


def retrying(call: Callable[[], requests.Response], deadline: float = 180) -> requests.Response:
    """Retry while the suite is briefly unavailable (a restart in progress)."""
    end = time.monotonic() + deadline
    while True:
        try:
            response = call()
            if response.status_code < 500 or time.monotonic() > end:
                return response
        except requests.RequestException:
            if time.monotonic() > end:
                raise
        time.sleep(0.5)


def burst(count: int, send: Callable[[int], str | None], fault: Callable[[], None]) -> list[str]:
    """Run ``send`` ``count`` times from a few clients; ``fault`` once half are done."""
    results: list[str] = []
    with ThreadPoolExecutor(CLIENTS) as pool:
        futures = [pool.submit(send, n) for n in range(count)]
        for done, future in enumerate(as_completed(futures), 1):
            if done == count // 2:
                fault()
            if (result := future.result()) is not None:
                results.append(result)
    return results


def submit_burst(suite: Suite, count: int, fault: Callable[[], None]) -> list[str]:
    def submit(_n: int) -> str | None:
        response = retrying(
            lambda: requests.post(
                api(suite, "/applications"),
                json=application(),
                timeout=30,
                headers=auth_headers(suite, "ararat"),
            )
        )
        return response.json()["id"] if response.status_code == 201 else None

    return burst(count, submit, fault)


def approve_burst(suite: Suite, ids: list[str], fault: Callable[[], None]) -> None:
    def approve(n: int) -> None:
        url = api(suite, f"/applications/{ids[n]}/decision")
        body = {"decision": "approve", "reason": "documents in order"}
        response = retrying(
            lambda: requests.post(
                url, json=body, timeout=30, headers=auth_headers(suite, "officer")
            )
        )
        # 409: a retried request whose first attempt went through
        assert response.status_code in (200, 409), response.text

    burst(len(ids), approve, fault)


def statuses(suite: Suite) -> dict[str, dict]:
    response = retrying(
        lambda: requests.get(
            api(suite, "/applications"),
            params={"limit": 500},
            timeout=30,
            headers=auth_headers(suite, "officer"),
        )
    )
    assert response.status_code == 200, response.text
    return {case["id"]: case for case in response.json()}


def wait_until_all(suite: Suite, ids: list[str], done: Callable[[dict], bool], what: str) -> None:
    def all_done() -> bool:
        cases = statuses(suite)
        return all(done(cases[i]) for i in ids if i in cases) and set(ids) <= set(cases)

    try:
        wait_for(all_done, timeout=240, interval=1, what=what)
    except AssertionError:
        cases = statuses(suite)
        stuck = Counter(cases[i]["status"] for i in ids if i in cases and not done(cases[i]))
        raise AssertionError(f"{what}: stuck {dict(stuck)}\n{suite.all_logs(15)}") from None


PHASE_STARTED = [time.monotonic()]


def phase(what: str) -> None:
    """Print how long each phase took (pytest -s shows it)."""
    now = time.monotonic()
    print(f"[faults] {what} after {now - PHASE_STARTED[0]:.1f}s", flush=True)
    PHASE_STARTED[0] = now


def run_burst_with_faults(
    suite: Suite, submit_fault, approve_fault, count: int = BURST
) -> list[str]:
    phase("start")
    ids = submit_burst(suite, count, submit_fault)
    phase("submitted")
    # A request the fault cut short may still have been stored: count what exists.
    ours = set(ids) | {i for i, c in statuses(suite).items() if c["status"] != "permit_issued"}
    ids = sorted(ours)
    wait_until_all(suite, ids, lambda c: c["status"] == "in_review", "every case to reach review")
    phase("in review")
    approve_burst(suite, ids, approve_fault)
    phase("approved")
    wait_until_all(
        suite,
        ids,
        lambda c: c["status"] == "permit_issued" and bool(c.get("contract_id")),
        "every case to get its permit and contract",
    )
    phase("permits and contracts")
    return ids


# -- what must hold afterwards ------------------------------------------------


def whole_log(suite: Suite, producer: str) -> list[dict]:
    events, after = [], 0
    while True:
        params = {"producer": producer, "after": after, "limit": 1000}
        response = retrying(
            lambda params=params: requests.get(
                api(suite, "/events"),
                params=params,
                timeout=30,
                headers=auth_headers(suite, "agency"),
            )
        )
        assert response.status_code == 200, response.text
        page = response.json()["events"]
        if not page:
            return events
        events += page
        after = page[-1]["sequence"]


def database_url(suite: Suite, service: str) -> str | None:
    """The service's database (its package's name: ``statistics`` is ``wpis_statistics``)."""
    return suite.database_urls.get(service) or suite.database_urls.get(f"wpis_{service}")


def inbox(suite: Suite, service: str) -> set[tuple[str, str]]:
    engine = create_engine(database_url(suite, service))
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT consumer, event_id FROM inbox")).all()
    finally:
        engine.dispose()
    return {(row.consumer, row.event_id) for row in rows}


def assert_exactly_once_everywhere(suite: Suite, ids: list[str], agency: Agency) -> None:
    producers = ("applications", "identity_gateway", "permits", "contracts")
    logs = {producer: whole_log(suite, producer) for producer in producers}
    for producer, events in logs.items():
        assert [e["sequence"] for e in events] == list(range(1, len(events) + 1)), producer

    # One permit and one contract per application: nothing applied twice.
    for producer, event_type in (
        ("permits", "permit_issued"),
        ("contracts", "contract_registered"),
    ):
        per_case = Counter(
            e["data"]["application_id"] for e in logs[producer] if e["event_type"] == event_type
        )
        assert {i: per_case[i] for i in ids} == dict.fromkeys(ids, 1), event_type

    # Every event reached every one of its consumers (each inbox holds it, once by its key).
    for sub in all_subscriptions():
        if sub.source not in logs or not database_url(suite, sub.service):
            continue
        sent = {e["event_id"] for e in logs[sub.source] if e["event_type"] == sub.event_type}
        consumer_name = f"{sub.service}.{sub.method}"

        def missing(sub=sub, sent=sent, consumer_name=consumer_name) -> set[str]:
            applied = {
                event_id
                for consumer, event_id in inbox(suite, sub.service)
                if consumer == consumer_name
            }
            return sent - applied

        wait_for(
            lambda missing=missing: not missing(), timeout=240, interval=1, what=sub.queue_name
        )

    # Nothing parked.
    counts = dlq.parked_counts(suite.amqp_uri, service_names())
    assert {name: n for name, n in counts.items() if n} == {}

    # The agency got each chosen event exactly once, in sequence order per producer.
    wanted = [tuple(b.split(":")) for b in AGENCY_BINDINGS]
    expected = {
        (e["producer"], e["sequence"], e["event_type"], e["event_id"])
        for producer, events in logs.items()
        for e in events
        if (producer, e["event_type"]) in wanted
    }
    wait_for(lambda: set(agency.received()) >= expected, timeout=60, what="the agency to catch up")
    received = agency.received()
    assert len(received) == len(set(received)) == len(expected), "an event handled twice"
    assert set(received) == expected
    for producer in {p for p, _ in wanted}:
        sequences = [seq for p, seq, _, _ in received if p == producer]
        assert sequences == sorted(sequences), f"{producer} events out of order"

    # No notice went out twice.
    for application_id in ids:
        url = api(suite, f"/applications/{application_id}/notifications")
        response = retrying(
            lambda url=url: requests.get(url, timeout=30, headers=auth_headers(suite, "officer"))
        )
        assert response.status_code == 200, response.text
        keys = Counter(
            (n.get("template"), n.get("recipient"), n.get("channel")) for n in response.json()
        )
        assert all(count == 1 for count in keys.values()), f"{application_id}: {keys}"


def restart(suite: Suite, name: str) -> Callable[[], None]:
    def crash_and_restart() -> None:
        assert suite.stop(name, signal.SIGKILL) == -signal.SIGKILL
        suite.start(name)

    return crash_and_restart


# The broker-restart test comes first in this module: its suite must not run beside the
# module's shared one (on PostgreSQL two suites' connection pools can exhaust the server).
@pytest.fixture
def broker_and_suite(tmp_path) -> Iterator[tuple[PrivateBroker, Suite]]:
    """A suite on a RabbitMQ node of its own, which the test may restart."""
    reason = private_broker.unavailable_reason()
    if reason:
        pytest.skip(reason)
    with (
        private_broker.private_rabbitmq() as broker,
        running_suite(tmp_path, amqp_uri=broker.amqp_uri, api_uri=broker.api_uri) as suite,
    ):
        yield broker, suite


def test_a_broker_restart_mid_burst_loses_and_repeats_nothing(broker_and_suite, request):
    broker, suite = broker_and_suite
    with running_agency(suite, request.node.name) as agency:

        def restart_broker() -> None:
            broker.restart()
            phase("broker restarted")

        ids = run_burst_with_faults(
            suite, submit_fault=restart_broker, approve_fault=restart_broker
        )
        suite.wait_ready(120)
        # every service survived the restarts: none had to be started again
        assert all(process.poll() is None for process in suite.processes.values())
        assert_exactly_once_everywhere(suite, ids, agency)


def test_a_consumer_and_the_agency_killed_mid_burst_lose_and_repeat_nothing(
    suite: Suite, agency: Agency
):
    def kill_identity_gateway_and_agency() -> None:
        restart(suite, "identity_gateway")()
        agency.kill()
        agency.start()

    ids = run_burst_with_faults(
        suite,
        submit_fault=kill_identity_gateway_and_agency,
        approve_fault=restart(suite, "permits"),
    )
    suite.wait_ready()
    assert len(ids) >= BURST
    assert_exactly_once_everywhere(suite, ids, agency)
