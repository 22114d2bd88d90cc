"""The SMS gateway's HTTP API as a WSGI app (werkzeug), with an in-memory message store.

``POST /v1/messages`` accepts a message (bearer key), ``GET /v1/messages`` lists what was
accepted, ``POST /_simulator/faults`` makes the next N sends fail, ``GET /health``.
A ``reference`` makes a send idempotent: the same reference returns the first message.
"""

from __future__ import annotations

import hmac
import json
import re
import threading
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
MAX_TEXT = 1600  # ten concatenated UCS-2 segments at most
MAX_BODY = 64 * 1024
GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)


def segments(text: str) -> int:
    """How many SMS segments carry ``text``: GSM-7 (160/153) or UCS-2 (70/67)."""
    single, multi = (160, 153) if set(text) <= GSM7 else (70, 67)
    return 1 if len(text) <= single else -(-len(text) // multi)


def validate_message(body: Any) -> dict[str, list[str]]:
    if not isinstance(body, dict):
        return {"_schema": ["the body must be a JSON object"]}
    errors: dict[str, list[str]] = {}
    to, text = body.get("to"), body.get("text")
    if not isinstance(to, str) or not E164.match(to):
        errors["to"] = ["must be an E.164 number, e.g. +37491234567"]
    if not isinstance(text, str) or not text.strip():
        errors["text"] = ["must be a non-empty string"]
    elif len(text) > MAX_TEXT:
        errors["text"] = [f"must be at most {MAX_TEXT} characters"]
    for optional in ("sender", "reference"):
        value = body.get(optional)
        if value is not None and (not isinstance(value, str) or not 1 <= len(value) <= 64):
            errors[optional] = ["must be a string of 1-64 characters"]
    return errors


@dataclass
class Message:
    id: str
    to: str
    text: str
    sender: str | None
    reference: str | None
    segments: int
    accepted_at: str


class Store:
    """Accepted messages and the fault plan; safe across the server's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[Message] = []
        self._fail_next = 0
        self._fail_status = 503

    def accept(self, body: dict[str, Any]) -> tuple[Message, bool]:
        """(message, created); an already seen reference returns the first message."""
        with self._lock:
            reference = body.get("reference")
            for message in self._messages:
                if reference and message.reference == reference:
                    return message, False
            message = Message(
                id=f"sms-{uuid.uuid4().hex[:16]}",
                to=body["to"],
                text=body["text"],
                sender=body.get("sender"),
                reference=reference,
                segments=segments(body["text"]),
                accepted_at=datetime.now(UTC).isoformat(),
            )
            self._messages.append(message)
            return message, True

    def messages(self, to: str | None = None) -> list[Message]:
        with self._lock:
            return [m for m in self._messages if to is None or m.to == to]

    def plan_faults(self, count: int, status: int) -> None:
        with self._lock:
            self._fail_next, self._fail_status = count, status

    def take_fault(self) -> int | None:
        """The status to fail this send with, if a fault is planned."""
        with self._lock:
            if self._fail_next <= 0:
                return None
            self._fail_next -= 1
            return self._fail_status


def json_response(status: int, body: Any) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status, mimetype="application/json")


class SmsGatewayApp:
    def __init__(self, store: Store, api_key: str):
        self.store = store
        self.api_key = api_key
        self.url_map = Map(
            [
                Rule("/health", endpoint="health", methods=["GET"]),
                Rule("/v1/messages", endpoint="send", methods=["POST"]),
                Rule("/v1/messages", endpoint="list", methods=["GET"]),
                Rule("/_simulator/faults", endpoint="faults", methods=["POST"]),
            ]
        )

    def __call__(self, environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        request.max_content_length = MAX_BODY
        try:
            endpoint, _ = self.url_map.bind_to_environ(environ).match()
            response = getattr(self, f"on_{endpoint}")(request)
        except NotFound:
            response = json_response(404, {"error": "not_found"})
        except HTTPException as error:
            response = json_response(error.code or 400, {"error": error.name.lower()})
        return response(environ, start_response)

    def _authorised(self, request: Request) -> bool:
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {self.api_key}".encode())

    def on_health(self, request: Request) -> Response:
        return json_response(200, {"status": "ok"})

    def on_send(self, request: Request) -> Response:
        if not self._authorised(request):
            return json_response(401, {"error": "unauthorized"})
        fault = self.store.take_fault()
        if fault is not None:
            return json_response(fault, {"error": "simulated_fault"})
        try:
            body = json.loads(request.get_data())
        except ValueError:
            return json_response(400, {"error": "malformed_request"})
        errors = validate_message(body)
        if errors:
            return json_response(400, {"error": "invalid_request", "errors": errors})
        message, created = self.store.accept(body)
        reply = {**asdict(message), "status": "accepted"}
        return json_response(202 if created else 200, reply)

    def on_list(self, request: Request) -> Response:
        if not self._authorised(request):
            return json_response(401, {"error": "unauthorized"})
        messages = self.store.messages(request.args.get("to"))
        return json_response(200, {"messages": [asdict(m) for m in messages]})

    def on_faults(self, request: Request) -> Response:
        try:
            body = json.loads(request.get_data())
            count, status = int(body.get("fail_next", 0)), int(body.get("status", 503))
        except (ValueError, TypeError, AttributeError):
            return json_response(400, {"error": "invalid_request"})
        if count < 0 or not 400 <= status <= 599:
            return json_response(400, {"error": "invalid_request"})
        self.store.plan_faults(count, status)
        return json_response(200, {"fail_next": count, "status": status})
