"""Helpers for tests and benchmarks that drive the simulator from outside: start it as a
real process on a free port, and call its admin endpoints. Standard library only."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class AdminClient:
    """The simulator's admin API (never exposed in production)."""

    base_url: str

    def _call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base_url.rstrip("/") + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:
            return error.code, json.load(error)

    def create_person(self, person: dict[str, Any]) -> str:
        status, body = self._call("POST", "/admin/persons", person)
        assert status == 201, body
        return str(body["person_id"])

    def report(self, report: str, number: str, issuing_country: str) -> dict[str, Any]:
        document = {"number": number, "issuing_country": issuing_country}
        status, body = self._call(
            "POST", "/admin/reports", {"report": report, "document": document}
        )
        assert status == 201, body
        return dict(body)

    def set_fault(self, status: int = 503, delay_ms: int = 0, count: int | None = None) -> None:
        fault: dict[str, Any] = {"status": status, "delay_ms": delay_ms}
        if count is not None:
            fault["count"] = count
        code, body = self._call("PUT", "/admin/faults", fault)
        assert code == 200, body

    def clear_fault(self) -> None:
        self._call("DELETE", "/admin/faults")

    def requests_received(self, endpoint: str = "auth") -> int:
        _, body = self._call("GET", "/admin/stats")
        return int(body["requests"].get(endpoint, 0))

    def healthy(self) -> bool:
        try:
            return self._call("GET", "/health")[0] == 200
        except OSError:
            return False


@contextmanager
def running_idms(
    partner_key: str, port: int | None = None, db: str = ":memory:", workdir: Path | None = None
) -> Iterator[AdminClient]:
    """The simulator as a real process on 127.0.0.1; stopped with SIGTERM on exit."""
    port = port or free_port()
    env = {**os.environ, "IDMS_PARTNER_KEY": partner_key}
    command = [sys.executable, "-m", "national_idms", "--port", str(port), "--db", db]
    process = subprocess.Popen(
        command,
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    admin = AdminClient(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 20
        while not admin.healthy():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the IDMS simulator did not start on port {port}")
            time.sleep(0.05)
        yield admin
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
