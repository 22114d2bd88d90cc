"""Two instances of one service on the local broker share its RPC and event
load (each gets some, none is processed twice), and two permits instances
keep the permit numbering gap-free."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import eventlet
import pytest
import requests

from wpis_common.suite import Suite
from wpis_common.testing import auth_headers, wait_for

pytestmark = pytest.mark.e2e

EVENT_BURST = 24
RPC_BURST = 30
PERMITS = 8


def test_two_identity_instances_share_the_events_and_none_is_processed_twice(suite: Suite, ops):
    second = suite.start_instance("identity_gateway")
    instances = ("identity_gateway", second)
    handler = "on_application_submitted"
    before = sum(ops.entrypoint_calls(suite, name, handler) for name in instances)

    with ops.suite_rpc(suite) as rpc:
        calls = [
            rpc.applications.submit.call_async(ops.application_payload(n))
            for n in range(EVENT_BURST)
        ]
        ids = [call.result()["id"] for call in calls]

    def handled() -> list[float]:
        counts = [ops.entrypoint_calls(suite, name, handler) for name in instances]
        return counts if sum(counts) - before >= EVENT_BURST else None

    counts = wait_for(handled, timeout=60, interval=0.5, what="every event to be handled")
    assert all(count > 0 for count in counts), counts  # both instances took a share
    assert sum(counts) - before == EVENT_BURST  # and no event went to both
    checks = ops.count_rows(suite, "identity_gateway", "SELECT count(*) FROM verifications")
    assert checks >= len(set(ids))
    suite.stop(second)


def test_two_applications_instances_share_the_rpc_calls_and_none_runs_twice(suite: Suite, ops):
    second = suite.start_instance("applications")
    instances = ("applications", second)
    before_calls = sum(ops.entrypoint_calls(suite, name, "submit") for name in instances)
    before_rows = ops.count_rows(suite, "applications", "SELECT count(*) FROM applications")

    with ops.suite_rpc(suite) as rpc:
        calls = [
            rpc.applications.submit.call_async(ops.application_payload(n)) for n in range(RPC_BURST)
        ]
        replies = [call.result() for call in calls]

    counts = [ops.entrypoint_calls(suite, name, "submit") for name in instances]
    assert all(count > 0 for count in counts), counts
    assert sum(counts) - before_calls == RPC_BURST
    assert len({reply["id"] for reply in replies}) == RPC_BURST
    stored = ops.count_rows(suite, "applications", "SELECT count(*) FROM applications")
    assert stored - before_rows == RPC_BURST
    suite.stop(second)


def test_two_permits_instances_keep_the_numbering_gap_free(suite: Suite, ops):
    second = suite.start_instance("permits")
    api = f"{suite.gateway_url}/api/v1"
    created = []
    for n in range(PERMITS):
        response = requests.post(
            f"{api}/applications",
            json=ops.application_payload(n),
            headers=auth_headers(suite, "ararat"),
            timeout=10,
        )
        assert response.status_code == 201, response.text
        created.append(response.json()["id"])

    def status_of(application_id: str) -> dict:
        return ops.get_json(f"{api}/applications/{application_id}", auth_headers(suite, "officer"))

    for application_id in created:
        wait_for(
            lambda a=application_id: status_of(a)["status"] == "in_review",
            timeout=120,  # behind the identity checks the tests above queued
            interval=0.2,
            what="the identity check",
        )
    pool = eventlet.GreenPool(PERMITS)
    decisions = pool.imap(
        lambda a: requests.post(
            f"{api}/applications/{a}/decision",
            json={"decision": "approve", "reason": "documents in order"},
            headers=auth_headers(suite, "officer"),
            timeout=20,
        ),
        created,
    )
    assert all(response.status_code == 200 for response in decisions)
    numbers = [
        wait_for(
            lambda a=application_id: status_of(a).get("permit_number"),
            timeout=60,
            interval=0.2,
            what="the permit",
        )
        for application_id in created
    ]

    sequences = sorted(int(number.split("-")[2]) for number in numbers)
    assert sequences == list(range(sequences[0], sequences[0] + PERMITS))  # no gap, no repeat
    handled = [
        ops.entrypoint_calls(suite, name, "on_application_approved") for name in ("permits", second)
    ]
    assert all(count > 0 for count in handled), handled  # both instances issued some


def test_the_scaling_benchmark_runs_and_prints_its_figures(suite: Suite, capsys):
    """bench/scaling.py in its smallest size, on this module's suite (it cannot rot)."""
    path = Path(__file__).resolve().parents[2] / "bench" / "scaling.py"
    spec = importlib.util.spec_from_file_location("bench_scaling", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)

    figures = bench.measure(suite, rpc_calls=6, events=3, concurrency=3)

    printed = capsys.readouterr().out
    assert printed.count("scaling: applications.submit instances=") == 2
    assert printed.count("scaling: identity_gateway.on_application_submitted instances=") == 2
    assert figures["rpc_submit_2"]["per_second"] > 0
    assert sum(figures["events_identity_2"]["shares"]) == 3
