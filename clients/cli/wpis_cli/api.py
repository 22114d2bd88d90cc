"""A thin client of the WPIS HTTP API: requests, the bearer token, and the
error body (``{"error": {"code", "message", "fields"}}``) turned into ApiError."""

from __future__ import annotations

from typing import Any

import requests

API = "/api/v1"


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, fields: dict[str, list[str]]):
        self.status, self.code, self.message, self.fields = status, code, message, fields
        super().__init__(f"{status} {code}: {message}")


def error_from_response(response: requests.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return ApiError(
            response.status_code,
            str(error.get("code", "error")),
            str(error.get("message", "")),
            dict(error.get("fields") or {}),
        )
    text = (response.text or response.reason or "").strip()[:300]
    return ApiError(response.status_code, "http_error", text, {})


class Client:
    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 30.0,
    ):
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Accept"] = "application/json"
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        self.session.headers.update(headers or {})
        self.timeout = timeout

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = f"{self.base_url}{API}{path}"
        try:
            response = self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.ConnectionError as error:
            raise ApiError(0, "unreachable", f"cannot reach {self.base_url}: {error}", {}) from None
        if response.status_code >= 400:
            raise error_from_response(response)
        return response

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=_clean(params)).json()

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.request("POST", path, json=body if body is not None else {}).json()

    # -- the calls the commands make ------------------------------------------------

    def login(self, username: str, password: str) -> dict[str, Any]:
        return self.post("/auth/login", {"username": username, "password": password})

    def list_cases(self, filters: dict[str, Any], all_pages: bool = False) -> list[dict]:
        params = dict(_clean(filters))
        items: list[dict] = []
        while True:
            response = self.request("GET", "/applications", params=params)
            items += response.json()
            cursor = response.headers.get("X-Next-Cursor")
            if not all_pages or not cursor:
                return items
            params["cursor"] = cursor

    def events(self, producer: str, after: int, limit: int) -> dict[str, Any]:
        return self.get("/events", {"producer": producer, "after": after, "limit": limit})


def _clean(params: dict[str, Any] | None) -> dict[str, Any]:
    cleaned = {}
    for key, value in (params or {}).items():
        if value is None or value == "" or value == []:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, list | tuple):
            value = ",".join(str(v) for v in value)
        cleaned[key] = value
    return cleaned
