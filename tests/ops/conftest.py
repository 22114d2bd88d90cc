"""Helpers for the operations tests: a valid application, RPC into the suite,
per-process metrics, and counting rows in a service's own database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import pytest
import requests
from nameko import config
from nameko.standalone.rpc import ClusterRpcClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from wpis_common.db import create_db_engine
from wpis_common.signing import AUTH_KEY_STEM, load_private_key
from wpis_common.suite import Suite
from wpis_common.testing import caller_context


def application_payload(index: int = 0) -> dict[str, Any]:
    """A valid application for the IDMS simulator's seeded worker (Ravi Kumar)."""
    start = date.today() + timedelta(days=45 + index % 30)
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


@contextmanager
def suite_rpc(suite: Suite, username: str = "ararat", role: str = "employer") -> Iterator[Any]:
    """A standalone RPC client on the suite's vhost, calling as a demo account (its token,
    signed with the suite's key, travels in the worker context: docs/security.md)."""
    key = load_private_key(suite.base_dir / "keys" / f"{AUTH_KEY_STEM}.pem")
    tax_id = "02563412" if role == "employer" else None
    context = caller_context(key, username, role, tax_id)
    with (
        config.patch({"AMQP_URI": suite.amqp_uri}),
        ClusterRpcClient(context_data=context) as client,
    ):
        yield client


def metric_samples(suite: Suite, process: str) -> dict[tuple[str, frozenset], float]:
    """Every sample a process serves on /metrics, by (name, labels)."""
    body = requests.get(suite.health_url(process, "/metrics"), timeout=10).text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


def entrypoint_calls(suite: Suite, process: str, entrypoint: str) -> float:
    """How many workers of ``entrypoint`` one process has run."""
    for (name, labels), value in metric_samples(suite, process).items():
        if name == "wpis_entrypoint_calls_total" and ("entrypoint", entrypoint) in labels:
            return value
    return 0.0


def count_rows(suite: Suite, service: str, sql: str) -> int:
    engine = create_db_engine(suite.database_urls[service], pool_size=1)
    try:
        with engine.connect() as connection:
            return connection.execute(text(sql)).scalar_one()
    finally:
        engine.dispose()


def get_json(url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = requests.get(url, headers=headers or {}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


class OpsHelpers:
    """The helpers above, for test modules (conftest modules are not importable)."""

    application_payload = staticmethod(application_payload)
    suite_rpc = staticmethod(suite_rpc)
    metric_samples = staticmethod(metric_samples)
    entrypoint_calls = staticmethod(entrypoint_calls)
    count_rows = staticmethod(count_rows)
    get_json = staticmethod(get_json)


@pytest.fixture
def ops() -> type[OpsHelpers]:
    return OpsHelpers
