"""Validation of JSON payloads into typed models. Pure: no I/O.

Every validator collects all problems as ``{"<field path>": ["reason", ...]}`` and raises
:class:`ValidationError` if there is any, so that callers can report them all at once.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, TypeVar

from national_idms.models import (
    DOCUMENT_STATUSES,
    DOCUMENT_TYPES,
    REPORT_TYPES,
    SEXES,
    AuthRequest,
    Demographics,
    Document,
    DocumentStatusChange,
    NewPerson,
    PersonPatch,
    Report,
)

FieldErrors = dict[str, list[str]]
T = TypeVar("T")

AUTH_REQUEST_ID = "wpis.identity.auth"
AUTH_VERSION = "1.0"
ID_TYPES = ("PASSPORT",)

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_COUNTRY_RE = re.compile(r"[A-Z]{3}")
_DOCUMENT_NUMBER_RE = re.compile(r"[A-Z0-9]{1,20}")
_MAX_NAME_LENGTH = 200
_MISSING = object()

PERSON_FIELDS = frozenset(
    {"given_names", "surname", "date_of_birth", "sex", "nationality", "documents", "entry_ban"}
)
DOCUMENT_FIELDS = frozenset({"type", "number", "issuing_country", "expiry_date", "status"})
PATCH_FIELDS = frozenset({"entry_ban", "documents"})
PATCH_DOCUMENT_FIELDS = frozenset({"number", "issuing_country", "status"})
REPORT_FIELDS = frozenset({"report", "document"})
REPORT_DOCUMENT_FIELDS = frozenset({"number", "issuing_country"})
MAX_FEED_LIMIT = 500


class ValidationError(Exception):
    """A payload failed validation; ``errors`` maps field paths to reasons."""

    def __init__(self, errors: FieldErrors) -> None:
        super().__init__(f"{len(errors)} invalid field(s)")
        self.errors = errors


def join_path(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


class _Checker:
    """Reads typed fields from JSON objects, recording a reason for each bad one."""

    def __init__(self) -> None:
        self.errors: FieldErrors = {}

    def add(self, path: str, reason: str) -> None:
        self.errors.setdefault(path, []).append(reason)

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)

    def reject_unknown(self, obj: Mapping[str, Any], allowed: frozenset[str], prefix: str) -> None:
        for key in sorted(set(obj) - allowed):
            self.add(join_path(prefix, key), "unknown field")

    def value(self, obj: Mapping[str, Any], key: str, prefix: str) -> Any:
        raw = obj.get(key)
        if raw is None:
            self.add(join_path(prefix, key), "is required")
            return _MISSING
        return raw

    def string(
        self, obj: Mapping[str, Any], key: str, prefix: str = "", *, allow_empty: bool = False
    ) -> str | None:
        raw = self.value(obj, key, prefix)
        if raw is _MISSING:
            return None
        path = join_path(prefix, key)
        if not isinstance(raw, str):
            self.add(path, "must be a string")
            return None
        text = raw.strip()
        if not text and not allow_empty:
            self.add(path, "must not be empty")
            return None
        if len(text) > _MAX_NAME_LENGTH:
            self.add(path, f"must be at most {_MAX_NAME_LENGTH} characters")
            return None
        return text

    def date(self, obj: Mapping[str, Any], key: str, prefix: str = "") -> date | None:
        text = self.string(obj, key, prefix)
        if text is None:
            return None
        if _DATE_RE.fullmatch(text):
            try:
                return date.fromisoformat(text)
            except ValueError:
                pass
        self.add(join_path(prefix, key), "must be a valid date in the form YYYY-MM-DD")
        return None

    def choice(
        self, obj: Mapping[str, Any], key: str, choices: tuple[str, ...], prefix: str = ""
    ) -> str | None:
        text = self.string(obj, key, prefix)
        if text is None:
            return None
        if text not in choices:
            self.add(join_path(prefix, key), f"must be one of: {', '.join(choices)}")
            return None
        return text

    def country(self, obj: Mapping[str, Any], key: str, prefix: str = "") -> str | None:
        text = self.string(obj, key, prefix)
        if text is None:
            return None
        code = text.upper()
        if not _COUNTRY_RE.fullmatch(code):
            self.add(join_path(prefix, key), "must be an ISO 3166-1 alpha-3 country code")
            return None
        return code

    def document_number(self, obj: Mapping[str, Any], key: str, prefix: str = "") -> str | None:
        text = self.string(obj, key, prefix)
        if text is None:
            return None
        number = text.upper()
        if not _DOCUMENT_NUMBER_RE.fullmatch(number):
            self.add(join_path(prefix, key), "must be 1 to 20 letters or digits")
            return None
        return number

    def boolean(self, obj: Mapping[str, Any], key: str, prefix: str = "") -> bool | None:
        raw = self.value(obj, key, prefix)
        if raw is _MISSING:
            return None
        if not isinstance(raw, bool):
            self.add(join_path(prefix, key), "must be true or false")
            return None
        return raw

    def obj(self, raw: Any, path: str) -> Mapping[str, Any] | None:
        if raw is None and path:
            self.add(path, "is required")
            return None
        if not isinstance(raw, dict):
            self.add(path or "body", "must be a JSON object")
            return None
        return raw

    def non_empty_list(self, obj: Mapping[str, Any], key: str) -> list[Any] | None:
        raw = self.value(obj, key, "")
        if raw is _MISSING:
            return None
        if not isinstance(raw, list) or not raw:
            self.add(key, "must be a non-empty list")
            return None
        return raw


# --- admin: create person ------------------------------------------------------------------


def parse_new_person(payload: Any, today: date) -> NewPerson:
    """Validate a POST /admin/persons body."""
    checker = _Checker()
    body = checker.obj(payload, "")
    checker.raise_if_any()
    assert body is not None
    checker.reject_unknown(body, PERSON_FIELDS, "")
    given_names = checker.string(body, "given_names", allow_empty=True)
    surname = checker.string(body, "surname")
    date_of_birth = checker.date(body, "date_of_birth")
    if date_of_birth is not None and date_of_birth > today:
        checker.add("date_of_birth", "must not be in the future")
    sex = checker.choice(body, "sex", SEXES)
    nationality = checker.country(body, "nationality")
    documents = _parse_documents(checker, body)
    entry_ban = checker.boolean(body, "entry_ban") if "entry_ban" in body else False
    checker.raise_if_any()
    return NewPerson(
        given_names=_present(given_names),
        surname=_present(surname),
        date_of_birth=_present(date_of_birth),
        sex=_present(sex),
        nationality=_present(nationality),
        documents=tuple(documents),
        entry_ban=bool(entry_ban),
    )


def _parse_documents(checker: _Checker, body: Mapping[str, Any]) -> list[Document]:
    raw_documents = checker.non_empty_list(body, "documents")
    documents: list[Document] = []
    seen: set[tuple[str, str]] = set()
    for index, raw in enumerate(raw_documents or []):
        prefix = f"documents[{index}]"
        document = _parse_document(checker, raw, prefix)
        if document is None:
            continue
        key = (document.number, document.issuing_country)
        if key in seen:
            checker.add(prefix, "duplicate of an earlier document in this request")
        seen.add(key)
        documents.append(document)
    return documents


def _parse_document(checker: _Checker, raw: Any, prefix: str) -> Document | None:
    obj = checker.obj(raw, prefix)
    if obj is None:
        return None
    checker.reject_unknown(obj, DOCUMENT_FIELDS, prefix)
    doc_type = checker.choice(obj, "type", DOCUMENT_TYPES, prefix)
    number = checker.document_number(obj, "number", prefix)
    issuing_country = checker.country(obj, "issuing_country", prefix)
    expiry_date = checker.date(obj, "expiry_date", prefix)
    status = checker.choice(obj, "status", DOCUMENT_STATUSES, prefix)
    if None in (doc_type, number, issuing_country, expiry_date, status):
        return None
    return Document(
        type=_present(doc_type),
        number=_present(number),
        issuing_country=_present(issuing_country),
        expiry_date=_present(expiry_date),
        status=_present(status),
    )


# --- admin: patch person -------------------------------------------------------------------


def parse_person_patch(payload: Any) -> PersonPatch:
    """Validate a PATCH /admin/persons/<id> body."""
    checker = _Checker()
    body = checker.obj(payload, "")
    checker.raise_if_any()
    assert body is not None
    checker.reject_unknown(body, PATCH_FIELDS, "")
    if not PATCH_FIELDS & set(body):
        checker.add("body", "must set entry_ban and/or documents")
    entry_ban = checker.boolean(body, "entry_ban") if "entry_ban" in body else None
    changes: list[DocumentStatusChange] = []
    if "documents" in body:
        for index, raw in enumerate(checker.non_empty_list(body, "documents") or []):
            change = _parse_status_change(checker, raw, f"documents[{index}]")
            if change is not None:
                changes.append(change)
    checker.raise_if_any()
    return PersonPatch(entry_ban=entry_ban, documents=tuple(changes))


def _parse_status_change(checker: _Checker, raw: Any, prefix: str) -> DocumentStatusChange | None:
    obj = checker.obj(raw, prefix)
    if obj is None:
        return None
    checker.reject_unknown(obj, PATCH_DOCUMENT_FIELDS, prefix)
    number = checker.document_number(obj, "number", prefix)
    issuing_country = checker.country(obj, "issuing_country", prefix)
    status = checker.choice(obj, "status", DOCUMENT_STATUSES, prefix)
    if number is None or issuing_country is None or status is None:
        return None
    return DocumentStatusChange(number=number, issuing_country=issuing_country, status=status)


# --- admin: reports (stolen, lost, revoked, entry ban, death) -----------------------------


def parse_report(payload: Any) -> Report:
    """Validate a POST /admin/reports body: what happened, and the holder's document."""
    checker = _Checker()
    body = checker.obj(payload, "")
    checker.raise_if_any()
    assert body is not None
    checker.reject_unknown(body, REPORT_FIELDS, "")
    event_type = checker.choice(body, "report", REPORT_TYPES)
    document = checker.obj(body.get("document"), "document")
    number = issuing_country = None
    if document is not None:
        checker.reject_unknown(document, REPORT_DOCUMENT_FIELDS, "document")
        number = checker.document_number(document, "number", "document")
        issuing_country = checker.country(document, "issuing_country", "document")
    checker.raise_if_any()
    return Report(_present(event_type), _present(number), _present(issuing_country))


FAULT_FIELDS = frozenset({"status", "delay_ms", "count"})


def parse_fault(payload: Any) -> tuple[int, int, int | None]:
    """Validate a PUT /admin/faults body: (status, delay_ms, count or None for until cleared)."""
    checker = _Checker()
    body = checker.obj(payload, "")
    checker.raise_if_any()
    assert body is not None
    checker.reject_unknown(body, FAULT_FIELDS, "")
    limits = {"status": (200, 599, 503), "delay_ms": (0, 60_000, 0), "count": (1, 10**6, None)}
    values: dict[str, int | None] = {}
    for name, (low, high, default) in limits.items():
        raw = body.get(name, default)
        if raw is not None and (isinstance(raw, bool) or not isinstance(raw, int)):
            checker.add(name, "must be a whole number")
        elif raw is not None and not low <= raw <= high:
            checker.add(name, f"must be from {low} to {high}")
        values[name] = raw
    checker.raise_if_any()
    return _present(values["status"]), _present(values["delay_ms"]), values["count"]


def parse_feed_query(args: Mapping[str, str]) -> tuple[int, int]:
    """``after`` (a sequence number, default 0) and ``limit`` (1..500, default 100)."""
    checker = _Checker()
    values = {}
    for name, default, low, high in (("after", 0, 0, 2**62), ("limit", 100, 1, MAX_FEED_LIMIT)):
        raw = args.get(name, str(default))
        if not raw.isdigit() or not low <= int(raw) <= high:
            checker.add(name, f"must be a whole number from {low} to {high}")
            continue
        values[name] = int(raw)
    checker.raise_if_any()
    return values["after"], values["limit"]


# --- identity authentication request -------------------------------------------------------


def parse_auth_request(payload: Any) -> AuthRequest:
    """Validate a POST /v1/auth body. A missing ``consent`` is read as no consent."""
    checker = _Checker()
    body = checker.obj(payload, "")
    checker.raise_if_any()
    assert body is not None
    request_id = checker.choice(body, "id", (AUTH_REQUEST_ID,))
    version = checker.choice(body, "version", (AUTH_VERSION,))
    transaction_id = _transaction_id(checker, body)
    _request_time(checker, body)
    consent = checker.boolean(body, "consent") if body.get("consent") is not None else False
    individual_id = checker.document_number(body, "individualId")
    id_type = checker.choice(body, "individualIdType", ID_TYPES)
    issuing_country = checker.country(body, "issuingCountry")
    _requested_auth(checker, body)
    demographics = _demographics(checker, body)
    checker.raise_if_any()
    return AuthRequest(
        id=_present(request_id),
        version=_present(version),
        transaction_id=_present(transaction_id),
        consent=bool(consent),
        individual_id=_present(individual_id),
        individual_id_type=_present(id_type),
        issuing_country=_present(issuing_country),
        demographics=_present(demographics),
    )


def _transaction_id(checker: _Checker, body: Mapping[str, Any]) -> str | None:
    text = checker.string(body, "transactionID")
    if text is None:
        return None
    try:
        uuid.UUID(text)
    except ValueError:
        checker.add("transactionID", "must be a UUID")
        return None
    return text


def _request_time(checker: _Checker, body: Mapping[str, Any]) -> None:
    text = checker.string(body, "requestTime")
    if text is None:
        return
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        checker.add("requestTime", "must be an ISO 8601 date-time with a time zone")


def _requested_auth(checker: _Checker, body: Mapping[str, Any]) -> None:
    requested = checker.obj(body.get("requestedAuth"), "requestedAuth")
    if requested is not None and requested.get("demo") is not True:
        checker.add("requestedAuth.demo", "must be true: only demographic auth is supported")


def _demographics(checker: _Checker, body: Mapping[str, Any]) -> Demographics | None:
    request = checker.obj(body.get("request"), "request")
    if request is None:
        return None
    prefix = "request.demographics"
    raw = checker.obj(request.get("demographics"), prefix)
    if raw is None:
        return None
    given_names = checker.string(raw, "givenNames", prefix, allow_empty=True)
    surname = checker.string(raw, "surname", prefix)
    date_of_birth = checker.date(raw, "dateOfBirth", prefix)
    sex = checker.choice(raw, "sex", SEXES, prefix)
    nationality = checker.country(raw, "nationality", prefix)
    if None in (given_names, surname, date_of_birth, sex, nationality):
        return None
    return Demographics(
        given_names=_present(given_names),
        surname=_present(surname),
        date_of_birth=_present(date_of_birth),
        sex=_present(sex),
        nationality=_present(nationality),
    )


def _present(value: T | None) -> T:
    """Narrow an optional that validation has already proven present."""
    assert value is not None
    return value
