"""The OpenAPI document: up to date with the schemas, and in step with the routes."""

from __future__ import annotations

import json
import re

from nameko.web.handlers import HttpRequestHandler

from gateway.api.meta import render_docs
from gateway.openapi import SPEC_FILE, openapi_path, render_spec
from gateway.service import GatewayService

REGENERATE = "run `make openapi` (scripts/gen_openapi.py) and commit the file"
METHODS = ("get", "post", "put", "patch", "delete")


# The console's HTML pages and forms (docs/console.md) are not the API.
NOT_API = ("/console", "/")


def gateway_routes() -> set[tuple[str, str]]:
    """(METHOD, OpenAPI path) of every Nameko http entrypoint on GatewayService,
    the console's pages aside."""
    routes = set()
    for name in dir(GatewayService):
        for entrypoint in getattr(getattr(GatewayService, name), "nameko_entrypoints", ()):
            if isinstance(entrypoint, HttpRequestHandler):
                path = openapi_path(entrypoint.url)
                if path == "/" or path.startswith(NOT_API[0]):
                    continue
                for method in entrypoint.method.split(","):
                    routes.add((method.upper(), path))
    return routes


def committed_spec() -> dict:
    return json.loads(SPEC_FILE.read_text(encoding="utf-8"))


def spec_routes(spec: dict) -> set[tuple[str, str]]:
    return {(m.upper(), path) for path, item in spec["paths"].items() for m in item if m in METHODS}


def test_the_committed_spec_is_up_to_date():
    assert SPEC_FILE.read_text(encoding="utf-8") == render_spec(), REGENERATE


def test_every_route_is_in_the_spec_and_every_spec_path_is_a_route():
    routes, documented = gateway_routes(), spec_routes(committed_spec())
    assert len(routes) > 40
    assert routes - documented == set(), "routes missing from the OpenAPI document"
    assert documented - routes == set(), "documented operations the gateway does not serve"


def test_werkzeug_rules_become_openapi_paths():
    assert openapi_path("/a/<string:x>/b/<y>") == "/a/{x}/b/{y}"


def test_every_operation_documents_its_errors_with_the_error_schema():
    spec = committed_spec()
    for path, item in spec["paths"].items():
        for method, op in item.items():
            statuses = {int(s) for s in op["responses"]}
            assert any(s < 400 for s in statuses), (method, path)
            errors = {s for s in statuses if s >= 400}
            assert {500, 502, 503, 504} <= errors, (method, path)
            for status in errors:
                ref = op["responses"][str(status)]["$ref"]
                response = spec["components"]["responses"][ref.split("/")[-1]]
                if "text/html" in response["content"]:  # a page's own 429 is a page
                    assert status == 429 and "text/html" in op["responses"]["200"]["content"]
                    continue
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}
            if "{" in path:
                assert 404 in errors, (method, path)
            if "requestBody" in op:
                assert {413, 422} <= errors, (method, path)


def test_path_parameters_are_declared():
    for path, item in committed_spec()["paths"].items():
        for method, op in item.items():
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == set(re.findall(r"{([^}]+)}", path)), (
                method,
                path,
            )


def test_bearer_security_scheme_and_error_schema():
    spec = committed_spec()
    assert spec["openapi"].startswith("3.")
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    error = spec["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    detail = spec["components"]["schemas"]["ErrorDetail"]
    assert set(detail["required"]) == {"code", "message", "fields"}


def test_request_bodies_come_from_the_services_schemas():
    spec = committed_spec()
    submit = spec["paths"]["/api/v1/applications"]["post"]
    ref = submit["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    submitted = spec["components"]["schemas"][ref.split("/")[-1]]
    assert {"employer", "worker", "job", "contract"} <= set(submitted["required"])


def test_the_docs_page_lists_every_operation():
    spec = committed_spec()
    page = render_docs(spec)
    for _path, item in spec["paths"].items():
        for op in item.values():
            assert f'id="{op["operationId"]}"' in page
    assert "<script" not in page
