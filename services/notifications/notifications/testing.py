"""Test helpers (not used at run time): real local servers on free ports, each in a
process of its own, so that no eventlet-patched test process has to host them.

- :func:`smtp_server`: aiosmtpd storing what it receives in a Maildir.
- :func:`sms_gateway`: the SMS gateway simulator (simulators/sms_gateway).
- :func:`webhook_receiver`: an agency's webhook endpoint that verifies signatures
  the way docs/notifications.md tells agencies to, and lists what it received.
  ``python -m notifications.testing --secret S [--fail-first N]`` runs it.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import json
import mailbox
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

STARTUP_SECONDS = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listened on port {port} in {STARTUP_SECONDS}s")


@contextlib.contextmanager
def _process(command: list[str], **kwargs: Any) -> Iterator[subprocess.Popen]:
    process = subprocess.Popen(command, **kwargs)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class SmtpServer:
    host: str
    port: int
    maildir: Path

    def messages(self) -> list[Message]:
        box = mailbox.Maildir(self.maildir, factory=None, create=False)
        return [_parse(box.get_bytes(key)) for key in box.iterkeys()]


def _parse(raw: bytes) -> Message:
    from email import message_from_bytes

    return message_from_bytes(raw, policy=default_policy)


@contextlib.contextmanager
def smtp_server(
    maildir: Path, cert: Path | None = None, key: Path | None = None
) -> Iterator[SmtpServer]:
    """aiosmtpd on a free port; with ``cert``/``key`` it offers (and requires) STARTTLS."""
    port = free_port()
    command = [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}"]
    if cert and key:
        command += ["--tlscert", str(cert), "--tlskey", str(key)]
    command += ["-c", "aiosmtpd.handlers.Mailbox", str(maildir)]
    mailbox.Maildir(maildir, create=True)
    with _process(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as process:
        _wait_for_port(port, process)
        yield SmtpServer("127.0.0.1", port, maildir)


@contextlib.contextmanager
def sms_gateway(api_key: str) -> Iterator[str]:
    """The SMS gateway simulator on a free port; yields its base URL."""
    port = free_port()
    command = [sys.executable, "-m", "sms_gateway", "--host", "127.0.0.1", "--port", str(port)]
    env = {**os.environ, "SMS_GATEWAY_API_KEY": api_key}
    with _process(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as p:
        _wait_for_port(port, p)
        yield f"http://127.0.0.1:{port}"


# -- the agency's webhook receiver ---------------------------------------------------------


def verify_wpis_signature(
    secret: str, headers: Any, body: bytes, tolerance: int = 300, now: float | None = None
) -> bool:
    """What an agency runs on each request (the snippet in docs/notifications.md)."""
    timestamp = headers.get("X-WPIS-Timestamp", "")
    given = headers.get("X-WPIS-Signature", "")
    if not timestamp.isdigit():
        return False
    if abs((now if now is not None else time.time()) - int(timestamp)) > tolerance:
        return False  # too old (or from the future): a replay
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest(given, "sha256=" + expected.hexdigest())


class _Receiver:
    def __init__(self, secret: str, fail_first: int, delay: float):
        self.secret = secret
        self.fail_left = fail_first
        self.delay = delay
        self.lock = threading.Lock()
        self.received: list[dict[str, Any]] = []

    def handle(self, headers: Any, body: bytes) -> int:
        time.sleep(self.delay)  # a slow agency
        valid = verify_wpis_signature(self.secret, headers, body)
        with self.lock:
            failing = valid and self.fail_left > 0
            if failing:
                self.fail_left -= 1
            status = 401 if not valid else (503 if failing else 200)
            self.received.append(
                {
                    "valid": valid,
                    "status": status,
                    "delivery": headers.get("X-WPIS-Delivery"),
                    "event_type": headers.get("X-WPIS-Event-Type"),
                    "event": json.loads(body) if valid else None,
                }
            )
        return status


def serve_receiver(secret: str, fail_first: int, port: int, delay: float = 0.0) -> None:
    receiver = _Receiver(secret, fail_first, delay)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self._answer(receiver.handle(self.headers, body), {})

        def do_GET(self) -> None:
            with receiver.lock:
                self._answer(200, receiver.received)

        def _answer(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


@dataclass
class WebhookReceiver:
    url: str

    def received(self) -> list[dict[str, Any]]:
        return requests.get(self.url, timeout=5).json()


@contextlib.contextmanager
def webhook_receiver(
    secret: str, fail_first: int = 0, delay: float = 0.0, port: int | None = None
) -> Iterator[WebhookReceiver]:
    """The receiver on ``port`` (default: a free one); its URL is :func:`receiver_url`."""
    port = port or free_port()
    # "--secret=..." in one argument: a secret may start with "-" (token_urlsafe)
    command = [sys.executable, "-m", "notifications.testing", f"--secret={secret}"]
    command += ["--fail-first", str(fail_first), "--port", str(port), "--delay", str(delay)]
    with _process(command, stdout=subprocess.DEVNULL) as process:
        _wait_for_port(port, process)
        yield WebhookReceiver(receiver_url(port))


def receiver_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/hooks/wpis"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A webhook receiver that checks signatures.")
    parser.add_argument("--secret", required=True)
    parser.add_argument("--fail-first", type=int, default=0, help="answer 503 to the first N")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before answering")
    args = parser.parse_args(argv)
    serve_receiver(args.secret, args.fail_first, args.port, args.delay)
    return 0


if __name__ == "__main__":
    sys.exit(main())
