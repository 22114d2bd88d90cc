"""The wpis CLI as a subprocess against a running suite: list, show, decide,
show and verify the permit, replay events, export."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
import requests

from wpis_common.suite import Suite
from wpis_common.testing import api_auth_headers, wait_for

pytestmark = pytest.mark.e2e

WPIS = str(Path(sys.executable).with_name("wpis"))


def application(passport: str) -> dict:
    start = date.today() + timedelta(days=45)
    return {
        "employer": {"tax_id": "02563412", "name": "Ararat Build LLC",
                     "email": "hr@ararat.example"},
        "worker": {
            "given_names": "Ravi", "surname": "Kumar", "date_of_birth": "1990-04-12", "sex": "M",
            "nationality": "IND", "email": "ravi@example.org",
            "passport": {"number": passport, "issuing_country": "IND", "expiry_date": "2031-01-01"},
        },
        "job": {"title": "Welder", "isco_code": "7212", "region": "AM-ER",
                "monthly_salary": 450000, "currency": "AMD"},
        "contract": {"start_date": start.isoformat(),
                     "end_date": (start + timedelta(days=300)).isoformat()},
    }  # fmt: skip


def wpis(suite: Suite, tmp_path: Path, *args: str, user: str = "officer", password: str = ""):
    """Run the CLI as a demo account (each account keeps its own config directory)."""
    env = {**os.environ, "WPIS_CONFIG_DIR": str(tmp_path / f"cli-{user}"), "COLUMNS": "220"}
    if password:
        env["WPIS_PASSWORD"] = password
    return subprocess.run(
        [WPIS, "--url", suite.gateway_url, *args],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip


def log_in(suite: Suite, tmp_path: Path, user: str) -> None:
    wrong = wpis(suite, tmp_path, "login", "--username", user, user=user, password="wrong")
    assert wrong.returncode != 0 and "401" in wrong.stderr
    done = wpis(suite, tmp_path, "login", "--username", user, user=user, password=f"demo-{user}")
    assert done.returncode == 0, done.stderr
    stored = next((tmp_path / f"cli-{user}").iterdir())
    assert stored.stat().st_mode & 0o077 == 0  # the token file is the user's alone


def case_status(suite: Suite, application_id: str) -> dict:
    url = f"{suite.gateway_url}/api/v1/applications/{application_id}"
    headers = api_auth_headers("decision_officer", "officer.anna", suite.gateway_url)
    return requests.get(url, headers=headers, timeout=10).json()


def test_an_officer_works_a_case_with_the_cli(suite: Suite, tmp_path: Path):
    employer = api_auth_headers("employer", "02563412", suite.gateway_url)
    created = requests.post(
        f"{suite.gateway_url}/api/v1/applications",
        json=application("Z1234567"), headers=employer, timeout=10,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    case_id = created.json()["id"]
    wait_for(
        lambda: case_status(suite, case_id)["status"] == "in_review",
        timeout=30, what="identity check",
    )  # fmt: skip

    log_in(suite, tmp_path, "officer")
    log_in(suite, tmp_path, "auditor")
    listed = wpis(suite, tmp_path, "cases", "list", "--status", "in_review")
    assert listed.returncode == 0, listed.stderr
    assert case_id[:8] in listed.stdout and "Ararat Build LLC" in listed.stdout

    shown = wpis(suite, tmp_path, "--json", "cases", "show", case_id)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["status"] == "in_review"
    table = wpis(suite, tmp_path, "cases", "show", case_id)
    assert "Ravi Kumar, IND" in table.stdout and "History" in table.stdout

    refused = wpis(suite, tmp_path, "cases", "decide", case_id, "reject")
    assert refused.returncode == 1
    assert "error 422 invalid_request" in refused.stderr and "reason:" in refused.stderr

    decided = wpis(suite, tmp_path, "cases", "decide", case_id, "approve", "--reason", "in order")
    assert decided.returncode == 0, decided.stderr
    assert "now approved" in decided.stdout

    number = wait_for(
        lambda: case_status(suite, case_id).get("permit_number"), timeout=30, what="permit"
    )
    permit = wpis(suite, tmp_path, "permits", "show", number)
    assert permit.returncode == 0, permit.stderr
    assert number in permit.stdout and "Welder" in permit.stdout
    # The contract starts in 45 days: the permit is issued but not valid yet (exit 3).
    checked = wpis(suite, tmp_path, "permits", "verify", number)
    assert checked.returncode == 3, checked.stdout + checked.stderr
    assert "not_valid" in checked.stdout and "not yet valid" in checked.stdout
    as_json = wpis(suite, tmp_path, "--json", "permits", "verify", number)
    assert json.loads(as_json.stdout)["number"] == number
    unknown = wpis(suite, tmp_path, "permits", "verify", "WP-0000-000000")
    assert unknown.returncode in (1, 3)

    events = wpis(
        suite, tmp_path, "events", "replay", "--producer", "applications", "--from", "0",
        user="auditor",
    )  # fmt: skip
    assert events.returncode == 0, events.stderr
    assert "applications.application_submitted" in events.stdout
    assert case_id in events.stdout

    exported = wpis(suite, tmp_path, "export", "cases", "--format", "csv")
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert any(row["id"] == case_id and row["permit_number"] == number for row in rows)
