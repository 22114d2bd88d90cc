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
