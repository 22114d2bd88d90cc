"""End-to-end: start the real server process, call it over HTTP, stop it with SIGTERM."""

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
import uuid
from pathlib import Path
from typing import Any

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
PARTNER_KEY = "server-test-key"
STARTUP_DEADLINE_S = 20.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_health(base: str, proc: subprocess.Popen[str]) -> dict[str, Any]:
    deadline = time.monotonic() + STARTUP_DEADLINE_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"server exited early: {proc.communicate()}"
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=1) as response:
                health: dict[str, Any] = json.load(response)
                return health
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.05)
    raise AssertionError("server did not become healthy before the deadline")


def auth_request(base: str) -> dict[str, Any]:
    body = {
        "id": "wpis.identity.auth",
        "version": "1.0",
        "transactionID": str(uuid.uuid4()),
        "requestTime": "2026-12-01T10:00:00Z",
        "consent": True,
        "individualId": "Z1234567",
        "individualIdType": "PASSPORT",
        "issuingCountry": "IND",
        "requestedAuth": {"demo": True},
        "request": {
            "demographics": {
                "givenNames": "Ravi",
                "surname": "Kumar",
                "dateOfBirth": "1990-04-12",
                "sex": "M",
                "nationality": "IND",
            }
        },
    }
    request = urllib.request.Request(
        f"{base}/v1/auth",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "X-Partner-Key": PARTNER_KEY},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200
        result: dict[str, Any] = json.load(response)
        return result


def stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """SIGTERM the server and collect its output; kill it if it does not exit in time."""
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise


def test_real_server_process(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "IDMS_PARTNER_KEY": PARTNER_KEY}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "national_idms", "--port", str(port), "--db", ":memory:"]
    proc = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_for_health(base, proc)["persons"] >= 11
        result = auth_request(base)
        assert result["response"]["authStatus"] is True
        assert result["errors"] == []
    finally:
        stdout, stderr = stop(proc)
    assert proc.returncode == 0, stderr
    assert f"national_idms listening on http://127.0.0.1:{port}" in stdout
    assert "POST /v1/auth 200" in stderr
    assert "Kumar" not in stderr
    assert not (tmp_path / "var").exists()
