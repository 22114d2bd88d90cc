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
from wpis_common.testing import api_auth_headers

pytestmark = pytest.mark.e2e

MAX_EXAMPLES = 15
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
    headers = api_auth_headers("decision_officer", "officer.schemathesis", suite.gateway_url)
    failures, ran, seconds = [], 0, {}
    for result in schema.get_all_operations():
        operation = result.ok()
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
    officer = api_auth_headers("decision_officer", "officer.anna", suite.gateway_url)
    error_of(requests.get(f"{api}/no-such-thing", timeout=10), 404, "not_found")
    error_of(requests.put(f"{api}/applications", timeout=10), 405, "method_not_allowed")
    error_of(
        requests.post(f"{api}/applications", data=b"{", headers=officer, timeout=10),
        400,
        "malformed_request",
    )
    too_big = requests.post(
        f"{api}/applications", data=b"x" * (1024 * 1024 + 1), headers=officer, timeout=30
    )
    assert error_of(too_big, 413, "payload_too_large")["fields"] == {
        "body": ["larger than the limit of 1048576 bytes"]
    }
    deep = requests.post(
        f"{api}/applications", data="[" * 21 + "]" * 21, headers=officer, timeout=10
    )
    assert "body" in error_of(deep, 422, "too_deeply_nested")["fields"]
    page = requests.get(f"{api}/events?producer=permits&limit=1001", headers=officer, timeout=10)
    body = page.json()
    assert error_of(page, 422, "invalid_request")["fields"] == {"limit": ["must be at most 1000"]}
    assert body["errors"] == body["error"]["fields"]  # the compatibility copy
    invalid = requests.post(f"{api}/applications", json={}, headers=officer, timeout=10)
    assert {"employer", "worker"} <= set(error_of(invalid, 422, "invalid_request")["fields"])


def test_the_spec_and_its_docs_page_are_served(suite: Suite):
    spec = requests.get(f"{suite.gateway_url}/api/v1/openapi.json", timeout=10)
    assert spec.status_code == 200 and spec.json()["openapi"].startswith("3.")
    docs = requests.get(f"{suite.gateway_url}/api/v1/docs", timeout=10)
    assert docs.status_code == 200 and docs.headers["Content-Type"].startswith("text/html")
    assert 'id="post_applications"' in docs.text and "openapi.json" in docs.text
