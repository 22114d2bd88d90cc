"""The WSGI application: routing, JSON in/out, partner-key check and request logging."""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from national_idms import auth
from national_idms.models import AuthRequest, IdentityEvent
from national_idms.store import DuplicateDocumentError, Store, UnknownDocumentError
from national_idms.validation import (
    ValidationError,
    parse_auth_request,
    parse_fault,
    parse_feed_query,
    parse_new_person,
    parse_person_patch,
    parse_report,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

PARTNER_KEY_HEADER = "X-Partner-Key"
BAD_PARTNER_KEY = "IDMS-AUT-001"
MALFORMED_JSON = "IDMS-REQ-001"
INVALID_FIELD = "IDMS-REQ-002"
MAX_BODY_BYTES = 64 * 1024
NOT_JSON = {"body": ["is not valid JSON"]}

logger = logging.getLogger("national_idms")

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Fault:
    """An injected failure of the partner API (``/v1/*``): status, delay, how many more."""

    status: int
    delay_ms: int
    remaining: int | None

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "delay_ms": self.delay_ms, "remaining": self.remaining}


class PartnerApiControl:
    """Fault injection and request counters for the partner API; shared by server threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.fault: Fault | None = None
        self.received: Counter[str] = Counter()

    def arrived(self, endpoint: str) -> Fault | None:
        """Count a request that reached the IDMS; return the fault it must suffer, if any."""
        with self._lock:
            self.received[endpoint] += 1
            fault = self.fault
            if fault is not None and fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.fault = None
            return fault

    def set_fault(self, fault: Fault | None) -> None:
        with self._lock:
            self.fault = fault

    def stats(self) -> dict[str, Any]:
        with self._lock:
            fault = self.fault.to_json() if self.fault else None
            return {"requests": dict(self.received), "fault": fault}


class JsonRequest(Request):
    max_content_length = MAX_BODY_BYTES


class MalformedJson(Exception):
    """The request body is not valid JSON."""


def json_response(payload: Any, status: int = 200) -> Response:
    body = json.dumps(payload, ensure_ascii=False)
    return Response(body, status=status, mimetype="application/json")


def error_list_response(status: int, code: str, message: str) -> Response:
    return json_response({"errors": [{"errorCode": code, "errorMessage": message}]}, status)


def http_error_response(exc: HTTPException) -> Response:
    code = exc.code or 500
    response = error_list_response(code, f"IDMS-HTTP-{code}", (exc.name or "error").lower())
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        response.headers["Allow"] = ", ".join(sorted(exc.valid_methods))
    return response


def field_errors_as_list(errors: dict[str, list[str]]) -> list[dict[str, Any]]:
    return [
        {
            "errorCode": INVALID_FIELD,
            "errorMessage": f"{path}: {'; '.join(reasons)}",
            "fields": [path],
        }
        for path, reasons in errors.items()
    ]


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class IdmsApp:
    """WSGI application serving the simulated IDMS API."""

    def __init__(self, store: Store, partner_key: str, clock: Clock = utc_now) -> None:
        self.store = store
        self.partner_key = partner_key
        self.clock = clock
        self.control = PartnerApiControl()
        self.url_map = Map(
            [
                Rule("/v1/auth", endpoint="auth", methods=["POST"]),
                Rule("/v1/events", endpoint="events", methods=["GET"]),
                Rule("/admin/reports", endpoint="report", methods=["POST"]),
                Rule("/admin/faults", endpoint="set_fault", methods=["PUT"]),
                Rule("/admin/faults", endpoint="clear_fault", methods=["DELETE"]),
                Rule("/admin/stats", endpoint="stats", methods=["GET"]),
                Rule("/admin/persons", endpoint="create_person", methods=["POST"]),
                Rule("/admin/persons/<person_id>", endpoint="get_person", methods=["GET"]),
                Rule("/admin/persons/<person_id>", endpoint="patch_person", methods=["PATCH"]),
                Rule("/health", endpoint="health", methods=["GET"]),
            ],
            strict_slashes=False,
            merge_slashes=False,
        )

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        response = self.dispatch(JsonRequest(environ))
        return response(environ, start_response)

    def dispatch(self, request: JsonRequest) -> Response:
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
            handler: Callable[..., Response] = getattr(self, f"on_{endpoint}")
            return handler(request, **args)
        except HTTPException as exc:
            return http_error_response(exc)
        except Exception:
            logger.exception("unhandled error")
            return error_list_response(500, "IDMS-HTTP-500", "internal server error")

    # --- identity authentication -------------------------------------------------------

    def _injected_failure(self, endpoint: str) -> Response | None:
        fault = self.control.arrived(endpoint)
        if fault is None:
            return None
        if fault.delay_ms:
            time.sleep(fault.delay_ms / 1000)
        if fault.status == 200:  # a slow but otherwise normal answer
            return None
        return error_list_response(fault.status, f"IDMS-HTTP-{fault.status}", "injected fault")

    def on_auth(self, request: JsonRequest) -> Response:
        failure = self._injected_failure("auth")
        if failure is not None:
            return failure
        if not self._partner_key_ok(request):
            return error_list_response(401, BAD_PARTNER_KEY, "invalid partner key")
        try:
            auth_request = parse_auth_request(read_json(request))
        except MalformedJson:
            return error_list_response(400, MALFORMED_JSON, "request body is not valid JSON")
        except ValidationError as exc:
            return json_response({"errors": field_errors_as_list(exc.errors)}, 400)
        return json_response(self._authenticate(auth_request))

    def _partner_key_ok(self, request: JsonRequest) -> bool:
        presented = request.headers.get(PARTNER_KEY_HEADER, "")
        return hmac.compare_digest(presented.encode(), self.partner_key.encode())

    def _authenticate(self, req: AuthRequest) -> dict[str, Any]:
        now = self.clock()
        if not req.consent:
            return self._auth_body(req, now, [auth.consent_error()], token=None)
        found = self.store.find_by_document(req.individual_id, req.issuing_country)
        if found is None:
            return self._auth_body(req, now, [auth.document_not_found_error()], token=None)
        person, document = found
        errors = auth.evaluate(person, document, req.demographics, now.astimezone(UTC).date())
        token = auth.person_token(self.partner_key, person.person_id)
        return self._auth_body(req, now, errors, token=token)

    @staticmethod
    def _auth_body(
        req: AuthRequest, now: datetime, errors: list[auth.AuthError], token: str | None
    ) -> dict[str, Any]:
        result: dict[str, Any] = {"authStatus": not errors}
        if token is not None:
            result["personToken"] = token
        return {
            "id": req.id,
            "version": req.version,
            "transactionID": req.transaction_id,
            "responseTime": format_time(now),
            "response": result,
            "errors": [error.to_json() for error in errors],
        }

    # --- identity events feed ----------------------------------------------------------

    def on_events(self, request: JsonRequest) -> Response:
        failure = self._injected_failure("events")
        if failure is not None:
            return failure
        if not self._partner_key_ok(request):
            return error_list_response(401, BAD_PARTNER_KEY, "invalid partner key")
        try:
            after, limit = parse_feed_query(request.args)
        except ValidationError as exc:
            return json_response({"errors": field_errors_as_list(exc.errors)}, 400)
        events, last = self.store.events_after(after, limit)
        body = {"events": [self._event_json(event) for event in events], "lastSequence": last}
        return json_response(body)

    def _event_json(self, event: IdentityEvent) -> dict[str, Any]:
        document = None
        if event.document_number is not None:
            document = {
                "individualId": event.document_number,
                "individualIdType": "PASSPORT",
                "issuingCountry": event.issuing_country,
            }
        return {
            "sequence": event.sequence,
            "eventId": event.event_id,
            "eventType": event.event_type,
            "occurredAt": event.occurred_at,
            "personToken": auth.person_token(self.partner_key, event.person_id),
            "document": document,
        }

    # --- admin -------------------------------------------------------------------------

    def on_report(self, request: JsonRequest) -> Response:
        try:
            report = parse_report(read_json(request))
        except MalformedJson:
            return json_response({"errors": NOT_JSON}, 400)
        except ValidationError as exc:
            return json_response({"errors": exc.errors}, 400)
        recorded = self.store.report(report, self.clock())
        if recorded is None:
            return json_response({"errors": {"document": ["no one holds this document"]}}, 404)
        event, person = recorded
        body = {
            "sequence": event.sequence,
            "event_id": event.event_id,
            "event_type": event.event_type,
            "person": person.to_json(),
        }
        return json_response(body, 201)

    def on_set_fault(self, request: JsonRequest) -> Response:
        try:
            status, delay_ms, count = parse_fault(read_json(request))
        except MalformedJson:
            return json_response({"errors": NOT_JSON}, 400)
        except ValidationError as exc:
            return json_response({"errors": exc.errors}, 400)
        self.control.set_fault(Fault(status, delay_ms, count))
        return json_response(self.control.stats())

    def on_clear_fault(self, request: JsonRequest) -> Response:
        self.control.set_fault(None)
        return json_response(self.control.stats())

    def on_stats(self, request: JsonRequest) -> Response:
        return json_response(self.control.stats())

    def on_create_person(self, request: JsonRequest) -> Response:
        try:
            new = parse_new_person(read_json(request), self.clock().astimezone(UTC).date())
            person_id = self.store.create_person(new)
        except MalformedJson:
            return json_response({"errors": NOT_JSON}, 400)
        except ValidationError as exc:
            return json_response({"errors": exc.errors}, 400)
        except DuplicateDocumentError as exc:
            return json_response({"errors": exc.errors}, 409)
        return json_response({"person_id": person_id}, 201)

    def on_get_person(self, request: JsonRequest, person_id: str) -> Response:
        person = self.store.get_person(person_id)
        if person is None:
            raise NotFound()
        return json_response(person.to_json())

    def on_patch_person(self, request: JsonRequest, person_id: str) -> Response:
        try:
            patch = parse_person_patch(read_json(request))
            person = self.store.update_person(person_id, patch, self.clock())
        except MalformedJson:
            return json_response({"errors": NOT_JSON}, 400)
        except (ValidationError, UnknownDocumentError) as exc:
            return json_response({"errors": exc.errors}, 400)
        if person is None:
            raise NotFound()
        return json_response(person.to_json())

    def on_health(self, request: JsonRequest) -> Response:
        return json_response({"status": "ok", "persons": self.store.count_persons()})


def read_json(request: JsonRequest) -> Any:
    """The parsed JSON body; raises MalformedJson if it cannot be parsed."""
    try:
        return json.loads(request.get_data(cache=False))
    except (ValueError, RecursionError) as exc:
        raise MalformedJson() from exc


def printable(text: str, limit: int = 200) -> str:
    """Text safe for a one-line log entry: control characters escaped, length capped."""
    safe = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text[:limit])
    return safe + ("..." if len(text) > limit else "")


class RequestLogMiddleware:
    """Logs one line per request: method, path, status, duration. Never bodies or queries."""

    def __init__(self, app: WSGIApplication, log: logging.Logger = logger) -> None:
        self.app = app
        self.log = log

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        status = ["-"]

        def capture(status_line: str, headers: Any, exc_info: Any = None) -> Any:
            status[0] = status_line.split(" ", 1)[0]
            return start_response(status_line, headers, exc_info)

        try:
            return self.app(environ, capture)
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            method = environ.get("REQUEST_METHOD", "-")
            path = printable(environ.get("PATH_INFO", "-"))
            self.log.info("%s %s %s %.1fms", method, path, status[0], elapsed_ms)
