"""SIGTERM mid-burst: the service stops taking work, finishes its running
workers, acks nothing unfinished, exits cleanly; after a restart every
request has been done exactly once and every event it committed goes out."""

from __future__ import annotations

import signal
import time

import pytest

from wpis_common.suite import Suite
from wpis_common.testing import wait_for

pytestmark = pytest.mark.e2e

BURST = 300


def test_sigterm_mid_burst_loses_nothing_and_does_nothing_twice(suite: Suite, ops):
    before = ops.count_rows(suite, "applications", "SELECT count(*) FROM applications")
    with ops.suite_rpc(suite) as rpc:
        calls = [
            rpc.applications.submit.call_async(ops.application_payload(n)) for n in range(BURST)
        ]
        calls[10].result()  # the burst is under way: SIGTERM now

        started = time.monotonic()
        exit_code = suite.stop("applications", signal.SIGTERM, timeout=30)
        stop_seconds = time.monotonic() - started
        done_before_stop = (
            ops.count_rows(suite, "applications", "SELECT count(*) FROM applications") - before
        )

        suite.start("applications")
        suite.wait_ready()
        replies = [call.result() for call in calls]  # the rest waited in the queue

    assert exit_code == 0, suite.log_tail("applications")
    assert stop_seconds < 10
    assert 0 < done_before_stop < BURST, "SIGTERM did not land mid-burst"
    ids = {reply["id"] for reply in replies}
    assert len(ids) == BURST
    stored = ops.count_rows(suite, "applications", "SELECT count(*) FROM applications") - before
    assert stored == BURST  # nothing lost, nothing done twice
    wait_for(
        lambda: (
            ops.count_rows(
                suite,
                "applications",
                "SELECT count(*) FROM outbox WHERE event_type = 'application_submitted'"
                " AND published_at IS NOT NULL",
            )
            >= stored
        ),
        timeout=30,
        what="every committed application_submitted event to be published",
    )
