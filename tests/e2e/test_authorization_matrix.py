"""The authorization matrix: every gateway endpoint x every role and an anonymous caller.

The endpoints are enumerated from the gateway service's ``@http`` entrypoints, so a
new endpoint fails :func:`test_the_matrix_names_every_api_endpoint` until it has a
row in MATRIX. For each row and caller: an allowed caller gets anything but 401/403
(its request may still be invalid, unknown or in the wrong state: 4xx is fine), a
denied caller gets 401 (anonymous) or 403. An employer asking about another
employer's case gets 404: it never learns that the case exists.

Both the gateway (``@allow``) and the services (the token in the worker context)
enforce; the matrix sees their combined answer. docs/security.md explains the roles.
"""

from __future__ import annotations

import inspect
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
import requests
from nameko.web.handlers import HttpRequestHandler

from gateway.service import GatewayService
from wpis_common.suite import Suite
from wpis_common.testing import auth_headers, login

pytestmark = pytest.mark.e2e

# The demo accounts (wpis-admin demo-accounts) by role; None is the anonymous caller.
USERS = {
    "employer": "ararat",
    "intake_officer": "intake",
    "decision_officer": "officer",
    "supervisor": "supervisor",
    "auditor": "auditor",
    "agency": "agency",
    "admin": "admin",
}
OTHER_EMPLOYER = "sevan"  # another organisation: another employer's cases are "not found"
ANONYMOUS = "anonymous"
ALL = frozenset(USERS)
PUBLIC = ALL | {ANONYMOUS}
E, IO, DO, SV, AU, AG, AD = (
    "employer", "intake_officer", "decision_officer", "supervisor", "auditor", "agency", "admin",
)  # fmt: skip
OFFICERS = frozenset({IO, DO, SV})
READERS = OFFICERS | {AU}
CASE_READERS = READERS | {E}
PDF = b"%PDF-1.7\n" + b"0" * 2000
TIMEOUT = 20


@dataclass(frozen=True)
class Row:
    """One request: who may make it, its URL parameters and body."""

    allowed: frozenset[str]
    params: dict[str, str] | None = None  # URL rule parameters beyond the shared ones
    body: Any = None  # JSON body (None: no body); "multipart" for an upload
    fresh_case: bool = False  # a new draft for each caller (the request may change it)
    own_case: bool = False  # about an employer's case: another employer gets 404


def r(*allowed: str | frozenset[str], **options: Any) -> Row:
    roles: set[str] = set()
    for item in allowed:
        roles |= {item} if isinstance(item, str) else set(item)
    return Row(frozenset(roles), **options)


# endpoint method name -> its row(s). A method with several rows is checked with each.
MATRIX: dict[str, list[Row]] = {
    "healthz": [r(PUBLIC)],
    # applications
    "application_rules": [r(PUBLIC)],
    "submit_application": [r(E, body={})],
    "list_applications": [r(CASE_READERS)],
    "get_application": [r(CASE_READERS, own_case=True)],
    "application_history": [r(CASE_READERS, own_case=True)],
    "application_notifications": [r(READERS)],
    "identity_checks": [r(READERS)],
    "decide": [r(DO, SV, body={}, fresh_case=True, own_case=True)],
    "send_back": [r(OFFICERS, body={}, fresh_case=True, own_case=True)],
    "resubmit": [r(E, body={}, fresh_case=True, own_case=True)],
    "withdraw": [r(E, body={}, fresh_case=True, own_case=True)],
    "submit_draft": [r(E, body={}, fresh_case=True, own_case=True)],
    "close": [r(SV, body={}, fresh_case=True, own_case=True)],
    "assign": [r(OFFICERS, body="self", fresh_case=True, own_case=True)],
    "pay_fee": [r(E, IO, SV, body={}, fresh_case=True, own_case=True)],
    "list_documents": [r(E, OFFICERS, own_case=True)],
    "download_document": [r(E, OFFICERS, own_case=True)],
    "upload_document": [r(E, IO, body="multipart", fresh_case=True, own_case=True)],
    # permits and contracts
    "get_permit": [r(READERS)],
    "permit_document": [r(READERS)],
    "change_permit": [
        r(DO, SV, params={"action": "extend"}, body={}),
        r(DO, SV, params={"action": "amend"}, body={}),
        r(DO, SV, params={"action": "cancel"}, body={}),
        r(SV, params={"action": "revoke"}, body={}),
        r(SV, params={"action": "suspend"}, body={}),
        r(SV, params={"action": "reinstate"}, body={}),
    ],
    "get_contract": [r(READERS)],
    "contract_history": [r(READERS)],
    "amend_contract": [r(DO, SV, body={})],
    "amend_contract_by_post": [r(DO, SV, body={})],
    "terminate_contract": [r(DO, SV, body={})],
    "record_employment_end": [r(E, DO, SV, body={})],
    "employer_contracts": [r(CASE_READERS, own_case=True)],
    # public verification
    "verify_keys": [r(PUBLIC)],
    "verify_permit": [r(PUBLIC)],
    "verify_by_token": [r(PUBLIC)],
    "verify_page": [r(PUBLIC)],
    "verify_page_by_token": [r(PUBLIC)],
    # events, notifications, statistics
    "replay_events": [r(AG, AU, SV)],
    "notification_log": [r(READERS)],
    "register_webhook": [r(AG, AD, body={})],
    "list_webhooks": [r(AG, AD, AU)],
    "remove_webhook": [r(AG, AD)],
    "statistics_catalog": [r(READERS, AD)],
    "statistics_query": [r(READERS, AD)],
    "statistics_export": [r(PUBLIC)],
    "statistics_page": [r(PUBLIC)],
    "openapi": [r(PUBLIC)],
    "api_docs": [r(PUBLIC)],
    # accounts, tokens, audit
    "login": [r(PUBLIC, body={})],
    "refresh": [r(PUBLIC, body={})],
    "logout": [r(ALL)],
    "me": [r(ALL)],
    "create_account": [r(AD, body={})],
    "list_accounts": [r(AD)],
    "deactivate_account": [r(AD, params={"username": "nobody-here"})],
    "audit_trail": [r(AU, SV, AD)],
}


def http_endpoints() -> dict[str, tuple[str, str, Callable]]:
    """method name -> (HTTP method, URL rule, the route) for every @http entrypoint."""
    found = {}
    for name, member in inspect.getmembers(GatewayService, callable):
        for entrypoint in getattr(member, "nameko_entrypoints", ()):
            if isinstance(entrypoint, HttpRequestHandler):
                found[name] = (entrypoint.method, entrypoint.url, member)
    return found


def is_console(url: str) -> bool:
    return url == "/" or url.startswith("/console")


def test_the_matrix_names_every_api_endpoint():
    endpoints = http_endpoints()
    api = {name for name, (_, url, _) in endpoints.items() if not is_console(url)}
    assert api - set(MATRIX) == set(), "new endpoints: add them to MATRIX"
    assert set(MATRIX) - api == set(), "MATRIX names endpoints that no longer exist"


def test_every_route_declares_who_may_call_it():
    """The console's pages do their own redirects; still, each route says who it serves."""
    undeclared = [name for name, (_, _, route) in http_endpoints().items()
                  if not hasattr(route, "wpis_roles")]  # fmt: skip
    assert undeclared == []


# -- the matrix against the running suite ----------------------------------------------


class World:
    def __init__(self, suite: Suite):
        self.suite = suite
        self.api = f"{suite.gateway_url}/api/v1"
        self.shared_case = self.draft()
        upload = requests.post(
            f"{self.api}/applications/{self.shared_case}/documents",
            files={"file": ("passport.pdf", PDF, "application/pdf")},
            data={"document_type": "passport_copy"},
            headers=self.headers(E),
            timeout=TIMEOUT,
        )
        assert upload.status_code == 201, upload.text
        self.document = upload.json()["id"]

    def headers(self, role: str) -> dict[str, str]:
        if role == ANONYMOUS:
            return {}
        username = OTHER_EMPLOYER if role == "other_employer" else USERS[role]
        return auth_headers(self.suite, username)

    def draft(self) -> str:
        start = date.today() + timedelta(days=30)
        payload = {
            "draft": True,
            "employer": {"tax_id": "02563412", "name": "Ararat Build LLC",
                         "email": "hr@ararat.example"},
            "worker": {"given_names": "Ravi", "surname": "Kumar", "date_of_birth": "1990-04-12",
                       "sex": "M", "nationality": "IND", "email": "ravi@example.org",
                       "passport": {"number": "Z1234567", "issuing_country": "IND",
                                    "expiry_date": "2031-01-01"}},
            "job": {"title": "Welder", "isco_code": "7212", "region": "AM-ER",
                    "monthly_salary": 450000, "currency": "AMD"},
            "contract": {"start_date": start.isoformat(),
                         "end_date": (start + timedelta(days=300)).isoformat()},
        }  # fmt: skip
        created = requests.post(
            f"{self.api}/applications", json=payload, headers=self.headers(E), timeout=TIMEOUT
        )
        assert created.status_code == 201, created.text
        return created.json()["id"]

    def url(self, rule: str, row: Row, case_id: str) -> str:
        values = {
            "application_id": case_id,
            "document_id": self.document,
            "number": "WP-2026-999999-X",
            "contract_id": str(uuid.uuid4()),
            "tax_id": "02563412",
            "token": "not-a-token",
            "measure": "applications_received",
            "fmt": "json",
            "endpoint_id": str(uuid.uuid4()),
            **(row.params or {}),
        }
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: values[m.group(1)], rule)
        return f"{self.suite.gateway_url}{path}"

    def ask(self, name: str, method: str, rule: str, row: Row, role: str) -> requests.Response:
        case_id = self.draft() if row.fresh_case else self.shared_case
        headers = self.headers(role)
        if name == "logout" and role != ANONYMOUS:  # do not revoke the shared token
            headers = {"Authorization": f"Bearer {self._fresh_token(role)}"}
        kwargs: dict[str, Any] = {"headers": headers, "timeout": TIMEOUT}
        if row.body == "multipart":
            kwargs["files"] = {"file": ("scan.pdf", PDF, "application/pdf")}
            kwargs["data"] = {"document_type": "contract_draft"}
        elif row.body == "self":
            kwargs["json"] = {"officer": USERS.get(role, "someone")}
        elif row.body is not None:
            kwargs["json"] = row.body
        return requests.request(method, self.url(rule, row, case_id), **kwargs)

    def _fresh_token(self, role: str) -> str:
        return login(self.suite.gateway_url, USERS[role])["access_token"]


@pytest.fixture(scope="module")
def world(suite: Suite) -> World:
    return World(suite)


CASES = [
    (name, index, row)
    for name, rows in sorted(MATRIX.items())
    for index, row in enumerate(rows)
]  # fmt: skip


@pytest.mark.parametrize(("name", "index", "row"), CASES, ids=[f"{n}-{i}" for n, i, _ in CASES])
def test_each_caller_is_allowed_or_denied_as_the_matrix_says(world, name, index, row):
    method, rule, _ = http_endpoints()[name]
    wrong: list[str] = []
    for role in sorted(PUBLIC):
        answer = world.ask(name, method, rule, row, role)
        if role in row.allowed:
            if answer.status_code in (401, 403):
                wrong.append(f"{role} allowed but got {answer.status_code}: {answer.text[:200]}")
        elif answer.status_code not in ((401,) if role == ANONYMOUS else (401, 403)):
            wrong.append(f"{role} denied but got {answer.status_code}: {answer.text[:200]}")
    if row.own_case and E in row.allowed:
        answer = world.ask(name, method, rule, row, "other_employer")
        if answer.status_code != 404:
            wrong.append(f"another employer got {answer.status_code}, not 404: {answer.text[:200]}")
    assert wrong == [], f"{method} {rule}:\n" + "\n".join(wrong)
