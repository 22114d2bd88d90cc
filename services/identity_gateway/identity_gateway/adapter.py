"""The IDMS adapter: one interface, and the HTTP implementation used against
the national IDMS in production and against the simulator in development.

Any failure to get an answer (connection refused, timeout, 5xx, an answer we
cannot read) is ``unavailable``: never a refusal and never an approval.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import requests

from identity_gateway.domain import IdmsAnswer, IdmsError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IdentityQuery:
    given_names: str
    surname: str
    date_of_birth: str
    sex: str
    nationality: str
    passport_number: str
    issuing_country: str


class IdmsAdapter(Protocol):
    def authenticate(self, query: IdentityQuery, purpose: str) -> IdmsAnswer: ...


class HttpIdmsAdapter:
    def __init__(
        self, base_url: str, partner_key: str, connect_timeout: float, read_timeout: float
    ):
        self._url = base_url.rstrip("/") + "/v1/auth"
        self._partner_key = partner_key
        self._timeouts = (connect_timeout, read_timeout)
        self._session = requests.Session()

    def authenticate(self, query: IdentityQuery, purpose: str) -> IdmsAnswer:
        transaction_id = str(uuid.uuid4())
        started = time.monotonic()
        answer = self._call(transaction_id, query)
        log.info(
            "idms auth transaction=%s purpose=%s outcome=%s latency_ms=%.0f",
            transaction_id,
            purpose,
            "unavailable" if answer.unavailable else ("ok" if answer.auth_status else "failed"),
            (time.monotonic() - started) * 1000,
        )
        return answer

    def _call(self, transaction_id: str, query: IdentityQuery) -> IdmsAnswer:
        try:
            response = self._session.post(
                self._url,
                json=auth_request(transaction_id, query),
                headers={"X-Partner-Key": self._partner_key},
                timeout=self._timeouts,
            )
        except requests.RequestException as error:
            return IdmsAnswer(False, unavailable=True, detail=type(error).__name__)
        if response.status_code != 200:
            return IdmsAnswer(False, unavailable=True, detail=f"HTTP {response.status_code}")
        try:
            return parse_auth_response(response.json())
        except (ValueError, KeyError, TypeError) as error:
            return IdmsAnswer(False, unavailable=True, detail=f"unreadable answer: {error}")


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
