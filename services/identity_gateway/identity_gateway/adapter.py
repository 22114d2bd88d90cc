"""The IDMS adapter: one interface, and the HTTP implementation used against
the national IDMS in production and against the simulator in development.

Each HTTP call goes through a circuit breaker (pybreaker) so a dead IDMS is
not hammered, and transient failures (connection errors, timeouts, 429, 502,
503, 504) are retried a few times with exponential backoff and jitter
(tenacity). Any failure to get an answer is ``unavailable``: never a refusal
and never an approval. Every call carries a transaction id and is logged with
its purpose, outcome and latency; never with personal data.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import pybreaker
import requests
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from identity_gateway.domain import IdentityEvent, IdmsAnswer, IdmsError
from wpis_common.observability import counter, gauge, histogram

log = logging.getLogger(__name__)

# Served on the service's /metrics (wpis_common.observability).
REQUEST_SECONDS = histogram(
    "wpis_idms_request_seconds", "One HTTP request to the IDMS", ["endpoint", "result"]
)
REQUESTS_SENT = counter(
    "wpis_idms_requests_sent",
    "HTTP requests sent to the IDMS, by the breaker's state when sent "
    "(half_open: the trial call; never open)",
    ["endpoint", "breaker_state"],
)
BREAKER_REFUSED = counter(
    "wpis_idms_breaker_refused_calls", "Calls answered by the open breaker, without a request"
)
BREAKER_OPEN = gauge("wpis_idms_breaker_open", "1 while the IDMS circuit breaker is open")

TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})
PARTNER_KEY_HEADER = "X-Partner-Key"
TRANSACTION_HEADER = "X-Transaction-ID"


@dataclass(frozen=True)
class IdentityQuery:
    given_names: str
    surname: str
    date_of_birth: str
    sex: str
    nationality: str
    passport_number: str
    issuing_country: str


@dataclass(frozen=True)
class IdmsSettings:
    base_url: str
    partner_key: str
    connect_timeout: float = 2.0
    read_timeout: float = 5.0
    attempts: int = 3
    backoff_initial: float = 0.2
    backoff_max: float = 2.0
    breaker_fail_max: int = 5
    breaker_reset_timeout: float = 30.0


@dataclass(frozen=True)
class FeedPage:
    events: list[IdentityEvent]
    last_sequence: int


class IdmsUnavailable(Exception):
    """No usable answer from the IDMS. ``idms_down``: it is unreachable or failing."""

    def __init__(self, detail: str, idms_down: bool = True, calls: int = 0):
        super().__init__(detail)
        self.detail, self.idms_down, self.calls = detail, idms_down, calls


class TransientIdmsError(Exception):
    """Worth another try soon: the network or a temporarily overloaded IDMS."""


class IdmsServerError(Exception):
    """The IDMS failed (5xx other than the transient ones, or an unreadable answer)."""


class IdmsRefusedRequest(Exception):
    """The IDMS refused our request (4xx): our credentials or request are at fault, not it."""


class IdmsAdapter(Protocol):
    def authenticate(self, query: IdentityQuery, purpose: str) -> IdmsAnswer: ...

    def identity_events(self, after: int, limit: int) -> FeedPage: ...


class HttpIdmsAdapter:
    def __init__(self, settings: IdmsSettings, session: requests.Session | None = None):
        self.settings = settings
        self._base = settings.base_url.rstrip("/")
        self._timeouts = (settings.connect_timeout, settings.read_timeout)
        self._session = session or requests.Session()
        self.breaker = pybreaker.CircuitBreaker(
            fail_max=settings.breaker_fail_max,
            reset_timeout=settings.breaker_reset_timeout,
            exclude=[IdmsRefusedRequest],
            name="idms",
        )
        self.calls_sent = 0  # HTTP requests that left this process
        self.calls_refused_by_breaker = 0

    # -- public API ------------------------------------------------------------------

    def authenticate(self, query: IdentityQuery, purpose: str) -> IdmsAnswer:
        transaction_id = str(uuid.uuid4())
        started = time.monotonic()
        body = auth_request(transaction_id, query)
        try:
            payload, calls = self._call("POST", "/v1/auth", transaction_id, json=body)
            answer = parse_auth_response(payload)
        except IdmsUnavailable as error:
            answer = IdmsAnswer(
                False, unavailable=True, detail=error.detail, idms_down=error.idms_down
            )
            calls = error.calls
        except (ValueError, KeyError, TypeError) as error:
            answer = IdmsAnswer(False, unavailable=True, detail=f"unreadable answer: {error}")
            calls = 1
        latency_ms = (time.monotonic() - started) * 1000
        log.info(
            "idms auth transaction=%s purpose=%s outcome=%s calls=%d latency_ms=%.0f%s",
            transaction_id,
            purpose,
            _summary(answer),
            calls,
            latency_ms,
            f" detail={answer.detail}" if answer.detail else "",
        )
        return IdmsAnswer(
            answer.auth_status,
            answer.person_token,
            answer.errors,
            answer.unavailable,
            answer.detail,
            answer.idms_down,
            transaction_id=transaction_id,
            latency_ms=latency_ms,
            calls=calls,
        )

    def identity_events(self, after: int, limit: int) -> FeedPage:
        """The IDMS identity events after sequence ``after``; raises IdmsUnavailable."""
        transaction_id = str(uuid.uuid4())
        params = {"after": after, "limit": limit}
        payload, _ = self._call("GET", "/v1/events", transaction_id, params=params)
        try:
            return parse_feed(payload)
        except (ValueError, KeyError, TypeError) as error:
            raise IdmsUnavailable(f"unreadable events feed: {error}") from error

    @property
    def breaker_state(self) -> str:
        return str(self.breaker.current_state)

    # -- one logical call: retries around a breaker-guarded HTTP request ---------------

    def _call(self, method: str, path: str, transaction_id: str, **kwargs: Any) -> tuple[Any, int]:
        sent = [0]  # requests of this logical call that left the process
        retrying = Retrying(
            stop=stop_after_attempt(self.settings.attempts),
            wait=wait_exponential_jitter(
                multiplier=self.settings.backoff_initial,
                max=self.settings.backoff_max,
                jitter=self.settings.backoff_initial,
            ),
            retry=retry_if_exception_type(TransientIdmsError),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    response = self.breaker.call(
                        self._send, method, path, transaction_id, sent, **kwargs
                    )
        except pybreaker.CircuitBreakerError:
            BREAKER_OPEN.set(1)
            if not sent[0]:
                self.calls_refused_by_breaker += 1  # answered without asking the IDMS
                BREAKER_REFUSED.inc()
            raise IdmsUnavailable("circuit breaker open", calls=sent[0]) from None
        except (TransientIdmsError, IdmsServerError) as error:
            raise IdmsUnavailable(str(error), calls=sent[0]) from None
        except IdmsRefusedRequest as error:
            log.error(
                "the IDMS refused our request (%s); check IDMS_PARTNER_KEY and the API", error
            )
            raise IdmsUnavailable(str(error), idms_down=False, calls=sent[0]) from None
        return response, sent[0]

    def _send(
        self, method: str, path: str, transaction_id: str, sent: list[int], **kwargs: Any
    ) -> Any:
        headers = {
            PARTNER_KEY_HEADER: self.settings.partner_key,
            TRANSACTION_HEADER: transaction_id,
        }
        endpoint = path.rsplit("/", 1)[-1]
        state = str(self.breaker.current_state).replace("-", "_")
        self.calls_sent += 1
        sent[0] += 1
        REQUESTS_SENT.labels(endpoint, state).inc()
        started = time.monotonic()
        result = "ok"
        try:
            return self._request(method, path, headers, **kwargs)
        except Exception as error:
            result = type(error).__name__
            raise
        finally:
            REQUEST_SECONDS.labels(endpoint, result).observe(time.monotonic() - started)

    def _request(self, method: str, path: str, headers: dict[str, str], **kwargs: Any) -> Any:
        try:
            response = self._session.request(
                method, self._base + path, headers=headers, timeout=self._timeouts, **kwargs
            )
        except (requests.ConnectionError, requests.Timeout) as error:
            raise TransientIdmsError(type(error).__name__) from None
        except requests.RequestException as error:
            raise IdmsServerError(type(error).__name__) from None
        status = response.status_code
        if status in TRANSIENT_STATUSES:
            raise TransientIdmsError(f"HTTP {status}")
        if status >= 500:
            raise IdmsServerError(f"HTTP {status}")
        if status >= 400:
            raise IdmsRefusedRequest(f"HTTP {status}")
        try:
            return response.json()
        except ValueError:
            raise IdmsServerError("the answer is not JSON") from None


def _summary(answer: IdmsAnswer) -> str:
    if answer.unavailable:
        return "unavailable"
    return "ok" if answer.auth_status and not answer.errors else "failed"


def auth_request(transaction_id: str, query: IdentityQuery) -> dict[str, Any]:
    return {
        "id": "wpis.identity.auth",
        "version": "1.0",
        "transactionID": transaction_id,
        "requestTime": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "consent": True,
        "individualId": query.passport_number,
        "individualIdType": "PASSPORT",
        "issuingCountry": query.issuing_country,
        "requestedAuth": {"demo": True},
        "request": {
            "demographics": {
                "givenNames": query.given_names,
                "surname": query.surname,
                "dateOfBirth": query.date_of_birth,
                "sex": query.sex,
                "nationality": query.nationality,
            }
        },
    }


def parse_auth_response(body: Any) -> IdmsAnswer:
    if not isinstance(body, dict):
        raise TypeError("the IDMS answer is not a JSON object")
    response = body.get("response") or {}
    errors = tuple(
        IdmsError(
            code=error["errorCode"],
            message=error.get("errorMessage", ""),
            fields=tuple(error.get("fields") or ()),
            document_status=error.get("documentStatus"),
        )
        for error in body.get("errors") or ()
    )
    return IdmsAnswer(
        auth_status=bool(response["authStatus"]),
        person_token=response.get("personToken"),
        errors=errors,
    )


def parse_feed(body: Any) -> FeedPage:
    if not isinstance(body, dict):
        raise TypeError("the events feed is not a JSON object")
    events = []
    for raw in body["events"]:
        document = raw.get("document") or {}
        events.append(
            IdentityEvent(
                sequence=int(raw["sequence"]),
                event_id=str(raw["eventId"]),
                change=str(raw["eventType"]),
                occurred_at=str(raw["occurredAt"]),
                person_token=raw.get("personToken"),
                document_country=document.get("issuingCountry"),
                document_number=document.get("individualId"),
            )
        )
    return FeedPage(events, int(body["lastSequence"]))
