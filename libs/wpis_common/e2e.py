"""Steps through the one window that end-to-end tests share (over HTTP, as the
demo accounts): file an application, let the identity check pass, approve,
wait for the permit."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import requests

from wpis_common.testing import auth_headers, wait_for


def api(suite: Any, path: str) -> str:
    return f"{suite.gateway_url}/api/v1{path}"


def application(start: date, passport: str = "Z1234567") -> dict:
    return {
        "employer": {"tax_id": "02563412", "name": "Ararat Build LLC", "email": "hr@a.example"},
        "worker": {
            "given_names": "Ravi", "surname": "Kumar", "date_of_birth": "1990-04-12",
            "sex": "M", "nationality": "IND", "email": "ravi@example.org",
            "passport": {"number": passport, "issuing_country": "IND",
                         "expiry_date": "2031-01-01"},
        },
        "job": {"title": "Welder", "isco_code": "7212", "region": "AM-ER",
                "monthly_salary": 450000, "currency": "AMD"},
        "contract": {"start_date": start.isoformat(),
                     "end_date": (start + timedelta(days=300)).isoformat()},
    }  # fmt: skip


def issue_permit(suite: Any, start: date) -> str:
    """Through the one window: file, identity check, approve, permit; its number."""
    created = requests.post(
        api(suite, "/applications"),
        json=application(start),
        timeout=10,
        headers=auth_headers(suite, "ararat"),
    )
    assert created.status_code == 201, created.text
    case_url = api(suite, f"/applications/{created.json()['id']}")

    def case_in(*statuses: str) -> dict | None:
        case = requests.get(case_url, timeout=10, headers=auth_headers(suite, "officer")).json()
        return case if case["status"] in statuses else None

    wait_for(lambda: case_in("in_review"), timeout=30, what="identity check")
    decision = requests.post(
        f"{case_url}/decision",
        json={"decision": "approve"},
        timeout=10,
        headers=auth_headers(suite, "officer"),
    )
    assert decision.status_code == 200, decision.text
    issued = wait_for(lambda: case_in("permit_issued"), timeout=30, what="permit")
    return issued["permit_number"]


def act_on_permit(suite: Any, number: str, action: str, payload: dict) -> requests.Response:
    """A register action (extend, amend, suspend, ...) as a supervisor."""
    return requests.post(
        api(suite, f"/permits/{number}/{action}"),
        json=payload,
        timeout=10,
        headers=auth_headers(suite, "supervisor"),
    )
