"""Public verification answered from the gateway's read model (ADR-014), end to
end: every change of a permit in the register reaches the public answer, which
then equals the register's own answer; checks are logged by the gateway and
no longer reach the register; bad input gets a 422 naming the field."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
import requests
from nameko import config as nameko_config
from nameko.standalone.rpc import ClusterRpcClient
from sqlalchemy import column, create_engine, func, select, table

from wpis_common.e2e import act_on_permit, api, issue_permit
from wpis_common.permit_rules import permit_number
from wpis_common.suite import Suite, running_suite
from wpis_common.testing import wait_for

pytestmark = pytest.mark.e2e

# This module polls the public check: lift the per-client rate limit.
UNLIMITED = {"VERIFY_RATE_PER_MINUTE": "1000000", "VERIFY_RATE_BURST": "100000"}
PARITY_CLIENT = "parity-check"


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    with running_suite(Path(tmp_path_factory.mktemp("suite")), extra_env=UNLIMITED) as running:
        yield running


def public(suite: Suite, number: str, **params: str) -> requests.Response:
    return requests.get(api(suite, f"/verify/{number}"), params=params, timeout=10)


def register_answer(suite: Suite, number: str) -> dict:
    """The permits service's own answer, over RPC (logged there as PARITY_CLIENT)."""
    with nameko_config.patch({"AMQP_URI": suite.amqp_uri}), ClusterRpcClient() as cluster:
        return cluster.permits.verify(number, {"client": PARITY_CLIENT})


def without_time(answer: dict) -> dict:
    return {key: value for key, value in answer.items() if key != "checked_at"}


def agrees_with_register(suite: Suite, number: str) -> dict | None:
    answer = public(suite, number).json()
    same = without_time(answer) == without_time(register_answer(suite, number))
    return answer if same else None


def logged_checks(suite: Suite, service: str, log_table: str, number: str, client: str) -> int:
    log = table(log_table, column("permit_number"), column("client"))
    engine = create_engine(suite.database_urls[service])
    try:
        with engine.connect() as connection:
            return connection.execute(
                select(func.count())
                .select_from(log)
                .where(log.c.permit_number == number, log.c.client == client)
            ).scalar_one()
    finally:
        engine.dispose()


def gateway_checks(suite: Suite, number: str) -> int:
    return logged_checks(suite, "gateway", "verification_checks", number, "127.0.0.1")


def register_checks(suite: Suite, number: str) -> int:
    return logged_checks(suite, "permits", "verification_log", number, "127.0.0.1")


def held_by_read_model(suite: Suite, number: str) -> None:
    """Once the gateway logs a check of its own, its read model holds the permit."""
    wait_for(lambda: public(suite, number).ok and gateway_checks(suite, number), timeout=20,
             interval=0.2, what="a check answered and logged by the gateway")  # fmt: skip


def test_every_change_reaches_the_public_answer_as_the_register_gives_it(suite: Suite):
    number = issue_permit(suite, date.today())
    held_by_read_model(suite, number)
    asked_of_register = register_checks(suite, number)

    later = (date.today() + timedelta(days=400)).isoformat()
    cancel_from = (date.today() + timedelta(days=30)).isoformat()
    steps = [
        ("suspend", {"reason": "inquiry"}, ("not_valid", "suspended")),
        ("reinstate", {"reason": "inquiry closed"}, ("valid", None)),
        ("extend", {"valid_until": later, "reason": "project"}, ("valid", None)),
        ("amend", {"changes": {"title": "Senior welder"}, "reason": "promoted"}, ("valid", None)),
        ("cancel", {"reason": "moving", "cancelled_on": cancel_from}, ("valid", None)),
    ]
    for action, payload, expected in steps:
        assert act_on_permit(suite, number, action, payload).status_code == 200, action
        answer = wait_for(lambda: agrees_with_register(suite, number), timeout=10, interval=0.1,
                          what=f"the public answer after {action}")  # fmt: skip
        assert (answer["result"], answer["reason"]) == expected, action

    assert answer["job_title"] == "Senior welder"
    assert answer["valid_until"] == (date.fromisoformat(cancel_from) - timedelta(1)).isoformat()
    assert register_checks(suite, number) == asked_of_register  # the gateway answered alone
    wait_for(lambda: gateway_checks(suite, number) >= 6, timeout=10, what="the gateway's log")


def test_a_revocation_is_seen_by_the_public_within_moments(suite: Suite):
    number = issue_permit(suite, date.today())
    held_by_read_model(suite, number)
    assert public(suite, number).json()["result"] == "valid"

    revoked_at = time.monotonic()
    assert act_on_permit(suite, number, "revoke", {"reason": "fraud"}).status_code == 200
    wait_for(lambda: public(suite, number).json()["reason"] == "revoked", timeout=10,
             interval=0.02, what="the revocation")  # fmt: skip
    print(f"revocation visible to the public after {time.monotonic() - revoked_at:.3f}s")
    assert without_time(public(suite, number).json()) == without_time(
        register_answer(suite, number)
    )


def test_the_second_factor_unknown_numbers_and_bad_input(suite: Suite):
    number = issue_permit(suite, date.today())
    held_by_read_model(suite, number)

    assert public(suite, number, date_of_birth="1990-04-12").json()["result"] == "valid"
    wrong = public(suite, number, date_of_birth="1990-04-13").json()
    assert (wrong["result"], wrong["message"], wrong["valid_from"]) == (
        "unknown",
        "no permit matches",
        None,
    )  # the same answer as a number never issued: no oracle for birth dates

    bad = public(suite, number, date_of_birth="1990-13-45")
    assert bad.status_code == 422
    assert list(bad.json()["error"]["fields"]) == ["date_of_birth"]

    never_issued = public(suite, permit_number(1999, 1)).json()  # asked of the register
    assert (never_issued["result"], never_issued["message"]) == ("unknown", "no permit matches")
    mistyped = public(suite, number[:-1] + ("A" if number[-1] != "A" else "B")).json()
    assert (mistyped["result"], mistyped["reason"]) == ("unknown", "malformed_number")


def test_a_gateway_added_later_fills_its_read_model_from_the_register_log(suite: Suite):
    number = issue_permit(suite, date.today())
    assert act_on_permit(suite, number, "suspend", {"reason": "inquiry"}).status_code == 200
    wait_for(lambda: public(suite, number).json()["reason"] == "suspended", timeout=10,
             interval=0.1, what="the suspension")  # fmt: skip
    url = suite.database_urls["gateway"]
    entries = table("verification_entries", column("number"), column("status"))
    engine = create_engine(url)
    try:
        with engine.begin() as connection:  # a gateway database that starts empty
            connection.execute(entries.delete())

        rebuilt = subprocess.run(
            [sys.executable, "-m", "gateway.admin_cli", "--database-url", url,
             "rebuild-verification", "--amqp-uri", suite.amqp_uri],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert rebuilt.returncode == 0, rebuilt.stderr
        assert "permit events applied" in rebuilt.stdout
        with engine.connect() as connection:
            held = dict(connection.execute(select(entries.c.number, entries.c.status)).all())
    finally:
        engine.dispose()
    assert held[number] == "suspended"
    assert len(held) >= 4  # every permit this module issued
