"""The OpenAPI 3 description of the gateway's HTTP API, built with apispec and its
marshmallow plugin from the schemas the services validate and answer with.

``scripts/gen_openapi.py`` (``make openapi``) writes it to
``gateway/static/openapi.json``, which the gateway serves at
``/api/v1/openapi.json`` (and renders at ``/api/v1/docs``). Building it imports
every service's ``schemas`` module, so the gateway process itself only reads the
file: it stays deployable without the other services' packages. Tests check the
file against a fresh build and against the gateway's routes.

Each operation below names its request and answer schemas (``"package.schemas:Class"``)
and the error statuses it can answer with; every error uses ``Error``
(docs/api.md).
"""

from __future__ import annotations

import importlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

API = "/api/v1"
SPEC_FILE = Path(__file__).resolve().parent / "static" / "openapi.json"
TITLE = "WPIS HTTP API"
VERSION = "1.0.0"
ERROR_REF = {"$ref": "#/components/schemas/Error"}
# Every operation that calls a service may answer with these.
UPSTREAM_ERRORS = (500, 502, 503, 504)
ERROR_TEXT = {
    400: "the body is not JSON (code `malformed_request`)",
    401: "no valid access token (code `unauthenticated`; see `WWW-Authenticate`)",
    403: "the role may not do this (code `forbidden`; `error.details.allowed_roles`)",
    404: "no such resource or path",
    409: "not allowed in the resource's current state",
    413: "the body is larger than the limit (code `payload_too_large`)",
    422: "a field is invalid, JSON nests too deeply or `limit` is too large (`error.fields`)",
    429: "too many requests (checks or logins) from this address; see `Retry-After`",
    500: "the gateway failed (code `internal_error`)",
    502: "a service failed to answer (code `upstream_error`)",
    503: "a service is not running (code `service_unavailable`)",
    504: "a service did not answer in time (code `timeout`)",
}
SCHEMA_PREFIX = {
    "applications": "Applications",
    "permits": "Permits",
    "contracts": "Contracts",
    "notifications": "Notifications",
    "identity_gateway": "Identity",
}


@dataclass(frozen=True)
class Param:
    name: str
    description: str = ""
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})
    where: str = "query"
    required: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "in": self.where,
            "required": self.required or self.where == "path",
            "description": self.description,
            "schema": self.schema,
        }


@dataclass(frozen=True)
class Op:
    """One operation: ``body``/``answer`` are ``"module:Class"`` schema names, a dict
    (inline JSON Schema) or None; ``many`` makes the answer an array of ``answer``."""

    method: str
    path: str
    tag: str
    summary: str
    body: str | dict[str, Any] | None = None
    body_required: bool = True
    answer: str | dict[str, Any] | None = None
    many: bool = False
    status: int = 200
    media: str = "application/json"
    params: tuple[Param, ...] = ()
    errors: tuple[int, ...] = ()
    auth: bool = True
    headers: dict[str, Any] = field(default_factory=dict)
    also: tuple[str, ...] = ()  # other media types of the success answer (text)


OBJECT = {"type": "object"}
LOGIN = {
    "type": "object",
    "required": ["username", "password"],
    "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
}
REFRESH = {"type": "object", "properties": {"refresh_token": {"type": "string"}}}
TOKENS = {
    "type": "object",
    "required": ["access_token", "refresh_token", "token_type"],
    "properties": {
        "access_token": {"type": "string"},
        "refresh_token": {"type": "string"},
        "token_type": {"type": "string"},
        "expires_in": {"type": "integer"},
        "role": {"type": "string"},
        "username": {"type": "string"},
    },
}
NEW_ACCOUNT = {
    "type": "object",
    "required": ["username", "password", "role"],
    "properties": {
        "username": {"type": "string"},
        "password": {"type": "string"},
        "role": {"type": "string"},
        "tax_id": {"type": "string"},
        "display_name": {"type": "string"},
        "language": {"type": "string", "enum": ["en", "hy", "ru"]},
    },
}
ROLE_ERRORS = (403, 404, 409, 422)
BODY_ERRORS = (400, 413, 422)
LIMIT = Param("limit", "page size", {"type": "integer", "minimum": 1, "maximum": 500})
PERMIT_ACTIONS = ("amend", "cancel", "extend", "reinstate", "revoke", "suspend")
A = "applications.schemas:"
P = "permits.schemas:"
C = "contracts.schemas:"
N = "notifications.schemas:"
I = "identity_gateway.schemas:"  # noqa: E741
G = "gateway.schemas:"
APP = f"{A}ApplicationSchema"
APPLICATION_LIST_PARAMS = (
    Param("status", "comma-separated statuses", {"type": "string"}),
    Param("kind", "new, extension or amendment", {"type": "string"}),
    Param("employer", "8-digit tax id", {"type": "string"}),
    Param("nationality", "ISO 3166-1 alpha-3", {"type": "string"}),
    Param("submitted_from", "YYYY-MM-DD", {"type": "string", "format": "date"}),
    Param("submitted_to", "YYYY-MM-DD", {"type": "string", "format": "date"}),
    Param("overdue", "true or false", {"type": "boolean"}),
    Param("assigned_to", "officer", {"type": "string"}),
    Param("q", "search text (at least 2 characters)", {"type": "string"}),
    LIMIT,
    Param("cursor", "from the X-Next-Cursor header of the previous page", {"type": "string"}),
)
NEXT_PAGE_HEADERS = {
    "X-Next-Cursor": {"description": "cursor of the next page", "schema": {"type": "string"}},
    "Link": {"description": 'the next page, rel="next"', "schema": {"type": "string"}},
}


def _case(method: str, action: str, summary: str, body: str | None, required: bool = True) -> Op:
    path = f"{API}/applications/{{application_id}}/{action}"
    errors = ROLE_ERRORS + BODY_ERRORS
    return Op(method, path, "applications", summary, body=body, body_required=required,
              answer=APP, errors=errors)  # fmt: skip


OPERATIONS: tuple[Op, ...] = (
    # -- pages and probes
    Op("GET", "/healthz", "pages", "liveness: the broker is reachable",
       answer=f"{G}HealthSchema", errors=(503,), auth=False),
    Op("GET", "/verify", "pages", "public permit check page (HTML)", media="text/html",
       params=(Param("number", "permit number"), Param("date_of_birth", "YYYY-MM-DD")),
       errors=(429,), auth=False),
    Op("GET", "/verify/token/{token}", "pages", "public permit check page for a QR token (HTML)",
       media="text/html", errors=(429,), auth=False),
    Op("GET", "/statistics", "pages", "statistics page with charts (HTML)", media="text/html"),
    Op("GET", f"{API}/openapi.json", "meta", "this OpenAPI description", answer=OBJECT,
       auth=False),
    Op("GET", f"{API}/docs", "meta", "the API reference, rendered (HTML)", media="text/html",
       auth=False),
    # -- accounts, tokens and the audit trail (docs/security.md)
    Op("POST", f"{API}/auth/login", "auth", "log in: an access and a refresh token",
       body=LOGIN, answer=TOKENS, errors=(401, 422, 429), auth=False),
    Op("POST", f"{API}/auth/refresh", "auth", "new tokens for a refresh token (used up)",
       body=REFRESH, answer=TOKENS, errors=(401, 422), auth=False),
    Op("POST", f"{API}/auth/logout", "auth", "revoke the access token and the refresh token",
       body=REFRESH, body_required=False, answer=OBJECT, errors=(401, 422)),
    Op("GET", f"{API}/auth/me", "auth", "the caller", answer=OBJECT, errors=(401,)),
    Op("POST", f"{API}/accounts", "auth", "create an account (admin)", body=NEW_ACCOUNT,
       answer=OBJECT, status=201, errors=(401, 403, 409, 422)),
    Op("GET", f"{API}/accounts", "auth", "every account (admin)", answer=OBJECT, many=True,
       errors=(401, 403)),
    Op("POST", f"{API}/accounts/{{username}}/deactivate", "auth", "deactivate an account (admin)",
       body_required=False, answer=OBJECT, errors=(401, 403, 404, 409)),
    Op("GET", f"{API}/audit", "auth", "the audit trail (auditor, supervisor, admin)",
       answer=OBJECT, many=True, errors=(401, 403, 422),
       params=(Param("actor"), Param("role"), Param("method"), Param("subject"), Param("path"),
               Param("status", "HTTP status", {"type": "integer"}),
               Param("from", "from this time (ISO 8601)"), Param("to", "up to this time"),
               Param("before_id", "page before this entry", {"type": "integer"}), LIMIT)),
    # -- applications
    Op("POST", f"{API}/applications", "applications", "file an application",
       body=f"{A}SubmitApplicationSchema", answer=APP, status=201,
       errors=(403, 409, *BODY_ERRORS)),
    Op("GET", f"{API}/applications", "applications", "list and search applications (a queue)",
       answer=APP, many=True, params=APPLICATION_LIST_PARAMS, errors=(403, 422),
       headers=NEXT_PAGE_HEADERS),
    Op("GET", f"{API}/applications/{{application_id}}", "applications", "one application",
       answer=APP, errors=(403, 404, 422)),
    Op("GET", f"{API}/applications/{{application_id}}/history", "applications",
       "an application's status history", answer=f"{A}HistoryEntrySchema", many=True,
       errors=(403, 404, 422)),
    Op("GET", f"{API}/application-rules", "applications",
       "rules a client needs (document types and size, reason codes, ...)", answer=OBJECT),
    Op("GET", f"{API}/applications/{{application_id}}/notifications", "notifications",
       "notifications sent about an application", answer=f"{N}DeliverySchema", many=True,
       errors=(404, 422)),
    _case("POST", "decision", "approve or reject", f"{A}DecisionSchema"),
    _case("POST", "send-back", "send back to the employer for corrections", f"{A}SendBackSchema"),
    _case("POST", "resubmit", "resubmit with corrections", f"{A}ResubmitSchema", False),
    _case("POST", "withdraw", "withdraw (employer)", f"{A}ReasonSchema", False),
    _case("POST", "close", "close a case", f"{A}CloseSchema"),
    _case("POST", "assignment", "assign to an officer (or unassign)", f"{A}AssignmentSchema"),
    _case("POST", "fee", "record the fee payment", f"{A}FeePaymentSchema"),
    _case("POST", "submit", "submit a draft", None, False),
    Op("GET", f"{API}/applications/{{application_id}}/documents", "applications",
       "an application's documents", answer=f"{A}DocumentSchema", many=True,
       errors=(403, 404, 422)),
    Op("POST", f"{API}/applications/{{application_id}}/documents", "applications",
       "upload a document (multipart/form-data: file, document_type)",
       body={"multipart": True}, answer=f"{A}DocumentSchema", status=201,
       errors=ROLE_ERRORS + BODY_ERRORS),
    Op("GET", f"{API}/applications/{{application_id}}/documents/{{document_id}}", "applications",
       "download a document (its own media type)", media="application/octet-stream",
       errors=(403, 404, 422)),
    Op("GET", f"{API}/applications/{{application_id}}/identity-checks", "identity",
       "identity checks made for an application, with their audit trail",
       answer=f"{G}IdentityChecksSchema", errors=(404, 422)),
    # -- permits
    Op("GET", f"{API}/permits/{{number}}", "permits", "a permit in the register",
       answer=f"{P}PermitSchema", errors=(404, 422)),
    Op("POST", f"{API}/permits/{{number}}/{{action}}", "permits",
       "act on a permit: extend, amend, suspend, reinstate, revoke, cancel",
       body={"oneOf": [f"{P}ExtendRequestSchema", f"{P}AmendRequestSchema",
                       f"{P}ReasonedRequestSchema", f"{P}CancelRequestSchema"]},
       answer=f"{P}PermitSchema", errors=(404, 409, *BODY_ERRORS),
       params=(Param("action", "what to do", {"type": "string", "enum": list(PERMIT_ACTIONS)},
                     where="path"),)),
    Op("GET", f"{API}/permits/{{number}}/document", "permits", "the permit certificate (PDF)",
       media="application/pdf", errors=(404, 409, 422)),
    # -- public verification
    Op("GET", f"{API}/verify/keys", "verification", "the public key of permit QR credentials",
       answer=OBJECT, auth=False),
    Op("GET", f"{API}/verify/{{number}}", "verification", "is this permit valid? (public)",
       answer=f"{P}PublicVerificationSchema", auth=False, errors=(404, 422, 429),
       params=(Param("date_of_birth", "YYYY-MM-DD: also check the holder",
                     {"type": "string", "format": "date"}),)),
    Op("GET", f"{API}/verify/token/{{token}}", "verification",
       "is the permit behind this QR token valid? (public)",
       answer=f"{P}PublicVerificationSchema", auth=False, errors=(404, 422, 429),
       params=(Param("date_of_birth", "YYYY-MM-DD", {"type": "string", "format": "date"}),)),
    # -- contracts
    Op("GET", f"{API}/contracts/{{contract_id}}", "contracts", "an employment contract",
       answer=f"{C}ContractSchema", errors=(404, 422)),
    Op("PATCH", f"{API}/contracts/{{contract_id}}/amend", "contracts", "amend a contract",
       body=f"{C}AmendRequestSchema", answer=f"{C}ContractSchema",
       errors=(404, 409, *BODY_ERRORS)),
    Op("POST", f"{API}/contracts/{{contract_id}}/amend", "contracts",
       "amend a contract (POST form of PATCH)", body=f"{C}AmendRequestSchema",
       answer=f"{C}ContractSchema", errors=(404, 409, *BODY_ERRORS)),
    Op("POST", f"{API}/contracts/{{contract_id}}/terminate", "contracts", "terminate a contract",
       body=f"{C}TerminateRequestSchema", answer=f"{C}ContractSchema",
       errors=(404, 409, *BODY_ERRORS)),
    Op("POST", f"{API}/contracts/{{contract_id}}/employment-ended", "contracts",
       "record that the employment ended", body=f"{C}EmploymentEndedRequestSchema",
       answer=f"{C}ContractSchema", errors=(404, 409, *BODY_ERRORS)),
    Op("GET", f"{API}/contracts/{{contract_id}}/history", "contracts", "a contract's history",
       answer=f"{C}HistoryEntrySchema", many=True, errors=(404, 422)),
    Op("GET", f"{API}/employers/{{tax_id}}/contracts", "contracts", "an employer's contracts",
       answer=f"{C}ContractSchema", many=True, errors=(422,)),
    # -- events, notifications, statistics
    Op("GET", f"{API}/events", "events", "replay a producer's events after a sequence number",
       answer=f"{G}EventPageSchema", errors=(422,),
       params=(Param("producer", "which service's events", {"type": "string", "enum": [
           "applications", "identity_gateway", "permits", "contracts", "notifications"]},
           required=True),
           Param("after", "sequence number to read after",
                 {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}),
           Param("limit", "page size", {"type": "integer", "minimum": 1, "maximum": 1000}))),
    Op("GET", f"{API}/notifications", "notifications", "the delivery log, newest first",
       answer=f"{N}DeliverySchema", many=True, errors=(422,),
       params=(Param("application_id"), Param("status"), Param("channel"),
               Param("event_type"), LIMIT)),
    Op("POST", f"{API}/notifications/webhooks", "notifications",
       "register an agency's webhook endpoint (the answer shows its signing secret once)",
       body=f"{N}RegisterEndpointSchema", answer=f"{N}RegisteredEndpointSchema", status=201,
       errors=BODY_ERRORS),
    Op("GET", f"{API}/notifications/webhooks", "notifications", "registered webhook endpoints",
       answer=f"{N}EndpointSchema", many=True),
    Op("DELETE", f"{API}/notifications/webhooks/{{endpoint_id}}", "notifications",
       "remove a webhook endpoint", answer=f"{N}EndpointSchema", errors=(404, 409, 422)),
    Op("GET", f"{API}/statistics", "statistics", "measures, dimensions and parameters",
       answer=OBJECT),
    Op("GET", f"{API}/statistics/{{measure}}", "statistics",
       "a measure, grouped and filtered (group_by=a,b&from=&to=&on=&<dimension>=v1,v2)",
       answer=OBJECT, errors=(404, 422),
       params=(Param("group_by", "comma-separated dimensions"), Param("from", "YYYY-MM"),
               Param("to", "YYYY-MM"), Param("on", "YYYY-MM-DD"))),
    Op("GET", f"{API}/statistics/export/{{fmt}}", "statistics",
       "open-data export: csv, json or the data dictionary",
       answer={"oneOf": [{"type": "object"}, {"type": "array"}]}, errors=(404, 422),
       also=("text/csv",), params=(
           Param("fmt", "csv, json or dictionary",
                 {"type": "string", "enum": ["csv", "json", "dictionary"]}, where="path"),
           Param("from", "YYYY-MM"), Param("to", "YYYY-MM"))),
)  # fmt: skip


def openapi_path(werkzeug_rule: str) -> str:
    """``/a/<string:x>/<y>`` -> ``/a/{x}/{y}``."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", werkzeug_rule)


def _schema_class(name: str) -> type:
    module, _, cls = name.partition(":")
    return getattr(importlib.import_module(module), cls)


def schema_name(schema: Any) -> str:
    """Component name of a marshmallow schema: its service, then its class name."""
    cls = schema if isinstance(schema, type) else type(schema)
    prefix = SCHEMA_PREFIX.get(cls.__module__.split(".")[0], "")
    name = cls.__name__.removesuffix("Schema")
    if prefix and name.startswith(prefix.rstrip("s")):
        return name
    return f"{prefix}{name}"


def build_spec() -> dict[str, Any]:
    """The OpenAPI document as a dict (imports every service's schemas)."""
    from apispec import APISpec
    from apispec.ext.marshmallow import MarshmallowPlugin

    plugin = MarshmallowPlugin(schema_name_resolver=schema_name)
    spec = APISpec(
        title=TITLE,
        version=VERSION,
        openapi_version="3.0.3",
        plugins=[plugin],
        info={
            "description": (
                "The WPIS HTTP API: file and decide work-permit applications, the permit "
                "and contract registers, public verification, event replay, statistics. "
                "Every error answers with the `Error` body. See docs/api.md."
            )
        },
        servers=[{"url": "/"}],
    )
    spec.components.security_scheme(
        "bearer", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    spec.components.schema("Error", schema=_schema_class(f"{G}ErrorSchema"))
    for status, text in ERROR_TEXT.items():
        spec.components.response(
            f"E{status}",
            {"description": text, "content": {"application/json": {"schema": ERROR_REF}}},
        )
    page = {"text/html": {"schema": {"type": "string"}}}
    spec.components.response("E429Page", {"description": ERROR_TEXT[429], "content": page})
    converter = plugin.converter
    assert converter is not None

    def ref(name: str | dict[str, Any]) -> dict[str, Any]:
        if isinstance(name, dict):
            if "oneOf" in name:
                return {"oneOf": [ref(n) for n in name["oneOf"]]}
            return name
        cls = _schema_class(name)
        return converter.resolve_nested_schema(cls)

    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        operation: dict[str, Any] = {
            "operationId": _operation_id(op),
            "summary": op.summary,
            "tags": [op.tag],
            "responses": {},
        }
        path_params = re.findall(r"{([^}]+)}", op.path)
        explicit = {p.name for p in op.params}
        parameters = [
            Param(name, f"the {name.replace('_', ' ')}", where="path").to_dict()
            for name in path_params
            if name not in explicit
        ] + [p.to_dict() for p in op.params]
        if parameters:
            operation["parameters"] = parameters
        if op.body == {"multipart": True}:
            operation["requestBody"] = {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "required": ["file", "document_type"],
                            "properties": {
                                "file": {"type": "string", "format": "binary"},
                                "document_type": {"type": "string"},
                            },
                        }
                    }
                },
            }
        elif op.body is not None:
            operation["requestBody"] = {
                "required": op.body_required,
                "content": {"application/json": {"schema": ref(op.body)}},
            }
        success: dict[str, Any] = {"description": "OK" if op.status == 200 else "created"}
        if op.media == "application/json" and op.answer is not None:
            schema = ref(op.answer)
            if op.many:
                schema = {"type": "array", "items": schema}
            success["content"] = {"application/json": {"schema": schema}}
        elif op.media != "application/json":
            fmt = {} if op.media.startswith("text/") else {"format": "binary"}
            success["content"] = {op.media: {"schema": {"type": "string", **fmt}}}
        for media in op.also:
            success.setdefault("content", {})[media] = {"schema": {"type": "string"}}
        if op.headers:
            success["headers"] = op.headers
        operation["responses"][str(op.status)] = success
        errors = set(op.errors) | set(UPSTREAM_ERRORS) | ({401, 403} if op.auth else set())
        if op.body is not None or op.method in ("POST", "PATCH", "PUT", "DELETE"):
            errors |= {413}
        if path_params:
            errors |= {404}
        for status in sorted(errors):
            name = f"E{status}Page" if op.media == "text/html" and status == 429 else f"E{status}"
            operation["responses"][str(status)] = {"$ref": f"#/components/responses/{name}"}
        operation["security"] = [{"bearer": []}] if op.auth else []
        paths.setdefault(op.path, {})[op.method.lower()] = operation
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def _operation_id(op: Op) -> str:
    words = re.sub(r"[{}]", "", op.path.removeprefix(API)).strip("/").replace("-", "_")
    return f"{op.method.lower()}_{re.sub(r'[^A-Za-z0-9]+', '_', words) or 'root'}"


def render_spec() -> str:
    """The committed text of ``static/openapi.json``."""
    return json.dumps(build_spec(), indent=1, sort_keys=True) + "\n"
