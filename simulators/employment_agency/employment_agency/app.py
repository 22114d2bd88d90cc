"""The agency's HTTP API: WPIS asks for a labour-market test, then polls its answer.

| method and path | what it does |
|---|---|
| ``POST /v1/labour-market-tests`` | ask for a test; idempotent per ``application_id`` |
| ``GET /v1/labour-market-tests/{id}`` | the answer: ``pending``, ``consent`` or ``refusal`` |
| ``POST /v1/labour-market-tests/{id}/answer`` | an agency officer answers by hand |
| ``GET /health`` | liveness |

How it answers on its own (the rules an agency officer would follow, sped up):
after ``answer_after`` seconds a request for an ISCO code with registered local
jobseekers is refused, one for a "silent" code is never answered (so WPIS's
deadline timer applies its default), and anything else gets consent.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

log = logging.getLogger("employment_agency")
REQUIRED = ("application_id", "employer_tax_id", "isco_code", "region")
OUTCOMES = ("consent", "refusal")


@dataclass(frozen=True)
class Rules:
    answer_after: float = 2.0
    local_candidates: frozenset[str] = frozenset({"8153", "9313"})
    silent: frozenset[str] = frozenset({"9999"})


@dataclass
class TestRequest:
    request_id: str
    application_id: str
    isco_code: str
    received: float
    details: dict[str, Any]
    status: str = "pending"
    reason: str | None = None
    answered_by: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "application_id": self.application_id,
            "isco_code": self.isco_code,
            "status": self.status,
            "reason": self.reason,
            "answered_by": self.answered_by,
        }


@dataclass
class Register:
    """In memory: a simulator's register lives as long as its process."""

    rules: Rules
    by_id: dict[str, TestRequest] = field(default_factory=dict)
    by_application: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def request(self, details: dict[str, Any]) -> tuple[TestRequest, bool]:
        with self.lock:
            existing = self.by_application.get(details["application_id"])
            if existing:
                return self.by_id[existing], False
            test = TestRequest(
                request_id=f"LMT-{uuid.uuid4().hex[:12].upper()}",
                application_id=details["application_id"],
                isco_code=details["isco_code"],
                received=time.monotonic(),
                details=details,
            )
            self.by_id[test.request_id] = test
            self.by_application[test.application_id] = test.request_id
            return test, True

    def look_up(self, request_id: str) -> TestRequest:
        with self.lock:
            test = self.by_id.get(request_id)
            if test is None:
                raise NotFound(f"no labour-market test {request_id}")
            self._answer_if_due(test)
            return test

    def answer(self, request_id: str, outcome: str, reason: str | None) -> TestRequest:
        with self.lock:
            test = self.by_id.get(request_id)
            if test is None:
                raise NotFound(f"no labour-market test {request_id}")
            test.status, test.reason, test.answered_by = outcome, reason, "officer"
            return test

    def _answer_if_due(self, test: TestRequest) -> None:
        if test.status != "pending" or test.isco_code in self.rules.silent:
            return
        if time.monotonic() - test.received < self.rules.answer_after:
            return
        if test.isco_code in self.rules.local_candidates:
            test.status = "refusal"
            test.reason = f"registered local jobseekers match ISCO {test.isco_code}"
        else:
            test.status = "consent"
            test.reason = "no suitable local candidate registered"
        test.answered_by = "rules"


class AgencyApp:
    def __init__(self, register: Register):
        self.register = register
        self.routes = Map(
            [
                Rule("/health", endpoint="health", methods=["GET"]),
                Rule("/v1/labour-market-tests", endpoint="create", methods=["POST"]),
                Rule("/v1/labour-market-tests/<request_id>", endpoint="get", methods=["GET"]),
                Rule(
                    "/v1/labour-market-tests/<request_id>/answer",
                    endpoint="answer",
                    methods=["POST"],
                ),
            ]
        )

    def __call__(self, environ: Any, start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        started = time.monotonic()
        try:
            endpoint, args = self.routes.bind_to_environ(environ).match()
            response = getattr(self, f"on_{endpoint}")(request, **args)
        except HTTPException as error:
            response = _json(error.code or 500, {"error": error.name, "message": error.description})
        log.info(
            "%s %s %s %.0fms",
            request.method, request.path, response.status_code,
            (time.monotonic() - started) * 1000,
        )  # fmt: skip
        return response(environ, start_response)

    def on_health(self, request: Request) -> Response:
        return _json(200, {"status": "ok", "tests": len(self.register.by_id)})

    def on_create(self, request: Request) -> Response:
        body, errors = _body(request)
        if body is not None:
            errors = {name: ["required"] for name in REQUIRED if not body.get(name)}
        if errors:
            return _json(422, {"error": "invalid_request", "errors": errors})
        test, created = self.register.request(body)
        return _json(201 if created else 200, test.to_json())

    def on_get(self, request: Request, request_id: str) -> Response:
        return _json(200, self.register.look_up(request_id).to_json())

    def on_answer(self, request: Request, request_id: str) -> Response:
        body, errors = _body(request)
        if body is not None and body.get("outcome") not in OUTCOMES:
            errors = {"outcome": [f"must be one of: {', '.join(OUTCOMES)}"]}
        if errors:
            return _json(422, {"error": "invalid_request", "errors": errors})
        test = self.register.answer(request_id, body["outcome"], body.get("reason"))
        return _json(200, test.to_json())


def _body(request: Request) -> tuple[Any, dict[str, list[str]]]:
    try:
        body = json.loads(request.get_data() or b"null")
    except ValueError:
        return None, {"body": ["is not valid JSON"]}
    if not isinstance(body, dict):
        return None, {"body": ["must be a JSON object"]}
    return body, {}


def _json(status: int, body: Any) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")
