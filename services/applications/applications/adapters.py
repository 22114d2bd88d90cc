"""Adapters to the state systems a case depends on: the employment agency
(labour-market test) and the state payment service (fee confirmation).

Both speak HTTP/JSON; in development and tests they point at the simulators
under ``simulators/``. Any failure to get an answer is ``None`` ("unavailable"):
never a consent, a refusal or a confirmed payment. Callers retry on the next
timer tick or ask the user to retry.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import requests

log = logging.getLogger(__name__)


class EmploymentAgency(Protocol):
    def request_test(self, request: dict[str, Any]) -> str | None: ...

    def answer(self, request_id: str) -> dict[str, Any] | None: ...


class Payments(Protocol):
    def confirmation(self, reference: str) -> dict[str, Any] | None: ...


class _JsonHttp:
    def __init__(self, base_url: str, connect_timeout: float = 2.0, read_timeout: float = 5.0):
        self.base_url = base_url.rstrip("/")
        self.timeouts = (connect_timeout, read_timeout)
        self.session = requests.Session()

    def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any] | None:
        try:
            response = self.session.request(
                method, f"{self.base_url}{path}", timeout=self.timeouts, **kwargs
            )
            body = response.json() if response.content else None
        except (requests.RequestException, ValueError) as error:
            log.warning(
                "%s %s%s unavailable: %s", method, self.base_url, path, type(error).__name__
            )
            return None
        return response.status_code, body


class HttpEmploymentAgency(_JsonHttp):
    """``POST /v1/labour-market-tests`` then ``GET /v1/labour-market-tests/{id}``."""

    def request_test(self, request: dict[str, Any]) -> str | None:
        answer = self.call("POST", "/v1/labour-market-tests", json=request)
        if answer is None or answer[0] not in (200, 201) or not isinstance(answer[1], dict):
            return None
        request_id = answer[1].get("request_id")
        return str(request_id) if request_id else None

    def answer(self, request_id: str) -> dict[str, Any] | None:
        answer = self.call("GET", f"/v1/labour-market-tests/{request_id}")
        if answer is None or answer[0] != 200 or not isinstance(answer[1], dict):
            return None
        status = answer[1].get("status")
        if status not in ("pending", "consent", "refusal"):
            return None
        return {"status": status, "reason": answer[1].get("reason")}


class HttpPayments(_JsonHttp):
    """``GET /v1/payments/{reference}``: the state payment service's confirmation."""

    def confirmation(self, reference: str) -> dict[str, Any] | None:
        answer = self.call("GET", f"/v1/payments/{reference}")
        if answer is None:
            return None
        status, body = answer
        if status == 404:
            return {"status": "unknown"}
        if status != 200 or not isinstance(body, dict):
            return None
        return {
            "status": body.get("status"),
            "amount": body.get("amount"),
            "currency": body.get("currency"),
            "paid_at": body.get("paid_at"),
        }
