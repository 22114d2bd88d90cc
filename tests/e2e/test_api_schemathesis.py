"""schemathesis against the live OpenAPI document of a running suite: for every
documented operation, generated requests (valid, then invalid) never get a 5xx,
and every answer has a documented content type and matches its schema.

Bounded and repeatable: ``MAX_EXAMPLES`` per operation and mode, hypothesis
derandomised (a fixed seed), no deadline, no stored example database. Every
operation runs even when one fails; the test lists every failure at the end.
(schemathesis' own pytest plugin, ``from_fixture``, does not run on pytest 9.)
"""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from wpis_common.suite import Suite
from wpis_common.testing import api_auth_headers, login, wait_for

pytestmark = pytest.mark.e2e

MAX_EXAMPLES = 15
# Logging out revokes the token the run uses: every later call would only get a 401.
UNFUZZED = frozenset({"/api/v1/auth/logout"})
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)


def run_operation(operation, mode: GenerationMode, base_url: str, headers: dict) -> None:
    @SETTINGS
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case) -> None:
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=30)

    check()


def test_live_api_conforms_to_its_openapi_document(suite: Suite):
    url = f"{suite.gateway_url}/api/v1/openapi.json"
    assert requests.get(url, timeout=10).status_code == 200
    schema = schemathesis.openapi.from_url(url)
    # A token of its own: the other tests' cached tokens stay out of its way.
    headers = {"Authorization": f"Bearer {login(suite.gateway_url, 'officer')['access_token']}"}
    failures, ran, seconds = [], 0, {}
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in UNFUZZED:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            ran += 1
            started = time.monotonic()
            try:
                run_operation(operation, mode, suite.gateway_url, headers)
            except Unsatisfiable:  # nothing invalid to send: no parameters and no body
                pass
            except (Exception, BaseExceptionGroup) as error:  # report every operation
                failures.append(f"{operation.label} [{mode}]: {error}")
            seconds[f"{operation.label} [{mode}]"] = time.monotonic() - started
    slowest = sorted(seconds.items(), key=lambda item: -item[1])[:8]
    print(f"\nschemathesis: {ran} runs in {sum(seconds.values()):.0f} s; slowest:")
    print("\n".join(f"  {seconds_:6.1f} s  {label}" for label, seconds_ in slowest))
    assert ran >= 80
    assert not failures, "\n\n".join(failures)


def error_of(response: requests.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code and error["message"] and isinstance(error["fields"], dict)
    return error


def test_errors_and_limits_answer_with_the_error_body(suite: Suite):
    api = f"{suite.gateway_url}/api/v1"
    employer = api_auth_headers("employer", "02563412", suite.gateway_url)
    supervisor = api_auth_headers("supervisor", "supervisor.lilit", suite.gateway_url)
    error_of(requests.get(f"{api}/no-such-thing", timeout=10), 404, "not_found")
    error_of(requests.put(f"{api}/applications", timeout=10), 405, "method_not_allowed")
    error_of(
        requests.post(f"{api}/applications", data=b"{", headers=employer, timeout=10),
        400,
        "malformed_request",
    )
    too_big = requests.post(
        f"{api}/applications", data=b"x" * (1024 * 1024 + 1), headers=employer, timeout=30
    )
    assert error_of(too_big, 413, "payload_too_large")["fields"] == {
        "body": ["larger than the limit of 1048576 bytes"]
    }
    deep = requests.post(
        f"{api}/applications", data="[" * 21 + "]" * 21, headers=employer, timeout=10
    )
    assert "body" in error_of(deep, 422, "too_deeply_nested")["fields"]
    page = requests.get(f"{api}/events?producer=permits&limit=1001", headers=supervisor, timeout=10)
    body = page.json()
    assert error_of(page, 422, "invalid_request")["fields"] == {"limit": ["must be at most 1000"]}
    assert body["errors"] == body["error"]["fields"]  # the compatibility copy
    invalid = requests.post(f"{api}/applications", json={}, headers=employer, timeout=10)
    assert {"employer", "worker"} <= set(error_of(invalid, 422, "invalid_request")["fields"])


def test_the_spec_and_its_docs_page_are_served(suite: Suite):
    spec = requests.get(f"{suite.gateway_url}/api/v1/openapi.json", timeout=10)
    assert spec.status_code == 200 and spec.json()["openapi"].startswith("3.")
    docs = requests.get(f"{suite.gateway_url}/api/v1/docs", timeout=10)
    assert docs.status_code == 200 and docs.headers["Content-Type"].startswith("text/html")
    assert 'id="post_applications"' in docs.text and "openapi.json" in docs.text


def filed_application() -> dict:
    start = date.today() + timedelta(days=45)
    return {
        "employer": {"tax_id": "02563412", "name": "Ararat Build LLC",
                     "email": "hr@ararat.example"},
        "worker": {
            "given_names": "Ravi", "surname": "Kumar", "date_of_birth": "1990-04-12", "sex": "M",
            "nationality": "IND", "email": "ravi@example.org",
            "passport": {"number": "Z1234567", "issuing_country": "IND",
                         "expiry_date": "2031-01-01"},
        },
        "job": {"title": "Welder", "isco_code": "7212", "region": "AM-ER",
                "monthly_salary": 450000, "currency": "AMD"},
        "contract": {"start_date": start.isoformat(),
                     "end_date": (start + timedelta(days=300)).isoformat()},
    }  # fmt: skip


def test_answers_about_a_real_case_match_their_documented_schemas(suite: Suite):
    """Generated requests mostly meet 404s; this walks a real case to its permit and
    checks each 2xx answer against the document."""
    api = f"{suite.gateway_url}/api/v1"
    schema = schemathesis.openapi.from_url(f"{api}/openapi.json")
    employer = api_auth_headers("employer", "02563412", suite.gateway_url)
    officer = api_auth_headers("decision_officer", "officer.anna", suite.gateway_url)

    def conforms(method: str, template: str, url: str, response: requests.Response) -> dict:
        assert response.status_code < 300, (url, response.text)
        schema[template][method].validate_response(response)
        return response.json()

    created = requests.post(
        f"{api}/applications", json=filed_application(), headers=employer, timeout=10
    )
    case = conforms("POST", "/api/v1/applications", f"{api}/applications", created)
    case_url = f"{api}/applications/{case['id']}"

    def in_review() -> bool:
        return requests.get(case_url, headers=officer, timeout=10).json()["status"] == "in_review"

    wait_for(in_review, timeout=30, what="identity check")
    decided = requests.post(
        f"{case_url}/decision", json={"decision": "approve", "reason": "ok"}, headers=officer,
        timeout=10,
    )  # fmt: skip
    conforms("POST", "/api/v1/applications/{application_id}/decision", case_url, decided)

    def issued() -> dict | None:
        answer = requests.get(case_url, headers=officer, timeout=10).json()
        return answer if answer.get("permit_number") and answer.get("contract_id") else None

    done = wait_for(issued, timeout=30, what="permit and contract")
    number, contract = done["permit_number"], done["contract_id"]
    app_id = "/api/v1/applications/{application_id}"
    reads = [
        (app_id, case_url),
        (f"{app_id}/history", f"{case_url}/history"),
        (f"{app_id}/documents", f"{case_url}/documents"),
        (f"{app_id}/identity-checks", f"{case_url}/identity-checks"),
        (f"{app_id}/notifications", f"{case_url}/notifications"),
        ("/api/v1/applications", f"{api}/applications?limit=5"),
        ("/api/v1/application-rules", f"{api}/application-rules"),
        ("/api/v1/permits/{number}", f"{api}/permits/{number}"),
        ("/api/v1/verify/{number}", f"{api}/verify/{number}"),
        ("/api/v1/contracts/{contract_id}", f"{api}/contracts/{contract}"),
        ("/api/v1/contracts/{contract_id}/history", f"{api}/contracts/{contract}/history"),
        ("/api/v1/employers/{tax_id}/contracts", f"{api}/employers/02563412/contracts"),
        ("/api/v1/events", f"{api}/events?producer=applications&after=0&limit=5"),
        ("/api/v1/notifications", f"{api}/notifications?limit=5"),
        ("/api/v1/notifications/webhooks", f"{api}/notifications/webhooks"),
        ("/api/v1/statistics", f"{api}/statistics"),
        ("/healthz", f"{suite.gateway_url}/healthz"),
    ]
    auditor = api_auth_headers("auditor", "auditor.aram", suite.gateway_url)
    read_by_auditor = {"/api/v1/events", "/api/v1/notifications/webhooks"}
    for template, url in reads:
        headers = auditor if template in read_by_auditor else officer
        conforms("GET", template, url, requests.get(url, headers=headers, timeout=10))
