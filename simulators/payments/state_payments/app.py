"""The payment service's HTTP API.

- ``POST /v1/payments``: pay, as the payer's bank would (amount, currency, purpose,
  payer); ``201`` with the ``reference``.
- ``GET /v1/payments/{reference}``: the confirmation WPIS asks for (status, amount,
  currency, paid_at); ``404`` if unknown.
- ``GET /health``: liveness.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

log = logging.getLogger("state_payments")
CURRENCIES = ("AMD", "USD", "EUR")


class Ledger:
    """In memory: a simulator's ledger lives as long as its process."""

    def __init__(self) -> None:
        self.payments: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()

    def pay(self, amount: int, currency: str, purpose: str, payer: str) -> dict[str, Any]:
        with self.lock:
            reference = f"TRX-{secrets.token_hex(5).upper()}"
            payment = {
                "reference": reference,
                "status": "confirmed",
                "amount": amount,
                "currency": currency,
                "purpose": purpose,
                "payer": payer,
                "paid_at": datetime.now(UTC).isoformat(),
            }
            self.payments[reference] = payment
            return payment

    def get(self, reference: str) -> dict[str, Any]:
        with self.lock:
            payment = self.payments.get(reference)
        if payment is None:
            raise NotFound(f"no payment with reference {reference}")
        return payment


def payment_errors(body: Any) -> dict[str, list[str]]:
    if not isinstance(body, dict):
        return {"body": ["must be a JSON object"]}
    errors: dict[str, list[str]] = {}
    amount = body.get("amount")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 1:
        errors["amount"] = ["must be a whole number, 1 or more"]
    if body.get("currency") not in CURRENCIES:
        errors["currency"] = [f"must be one of: {', '.join(CURRENCIES)}"]
    for name in ("purpose", "payer"):
        if not isinstance(body.get(name), str) or not body[name].strip():
            errors[name] = ["required"]
    return errors


class PaymentsApp:
    def __init__(self, ledger: Ledger):
        self.ledger = ledger
        self.routes = Map(
            [
                Rule("/health", endpoint="health", methods=["GET"]),
                Rule("/v1/payments", endpoint="pay", methods=["POST"]),
                Rule("/v1/payments/<reference>", endpoint="get", methods=["GET"]),
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
        return _json(200, {"status": "ok"})

    def on_pay(self, request: Request) -> Response:
        try:
            body = json.loads(request.get_data() or b"null")
        except ValueError:
            return _json(400, {"error": "malformed_request", "message": "not valid JSON"})
        errors = payment_errors(body)
        if errors:
            return _json(422, {"error": "invalid_request", "errors": errors})
        payment = self.ledger.pay(body["amount"], body["currency"], body["purpose"], body["payer"])
        return _json(201, payment)

    def on_get(self, request: Request, reference: str) -> Response:
        return _json(200, self.ledger.get(reference))


def _json(status: int, body: Any) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")
