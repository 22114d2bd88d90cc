"""Start the whole WPIS suite as real processes on this machine (for end-to-end
tests and benchmarks): the IDMS simulator, every service, and the gateway,
each with its own database, on a RabbitMQ vhost of their own.

``make run`` uses honcho and deploy/Procfile instead; this does the same steps
(keys, migrations, topology, processes) with throwaway paths and free ports.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import requests

from wpis_common.migrate import SERVICES_WITH_DATABASES, upgrade
from wpis_common.signing import AUTH_KEY_STEM, generate_key_pair
from wpis_common.testing import fresh_database, wait_for
from wpis_common.topology import all_subscriptions, declare

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICES = (
    "applications",
    "identity_gateway",
    "permits",
    "contracts",
    "notifications",
    "gateway",
    "wpis_statistics",  # the statistics service (package name: stdlib has `statistics`)
)
RPC_SERVICES = (
    "applications",
    "identity_gateway",
    "permits",
    "contracts",
    "notifications",
    "statistics",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Suite:
    base_dir: Path
    amqp_uri: str
    vhost: str
    gateway_url: str
    idms_url: str
    database_urls: dict[str, str]
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    commands: dict[str, list[str]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    admin: RabbitAdmin | None = None
    health_ports: dict[str, int] = field(default_factory=dict)

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Every process up, healthy, and consuming its queues."""
        assert self.admin is not None
        _wait_ready(self, self.admin, timeout)

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Stop one process (SIGTERM: graceful; SIGKILL: a crash); returns its exit code."""
        process = self.processes[name]
        if process.poll() is None:
            process.send_signal(sig)
            process.wait(timeout=timeout)
        return process.returncode

    def start(self, name: str) -> None:
        """Start a stopped process again with the same command and environment."""
        if self.processes[name].poll() is None:
            raise RuntimeError(f"{name} is still running")
        _start(self, name, self.commands[name], self.env)

    def start_instance(self, service: str, timeout: float = 60.0, wait: bool = True) -> str:
        """Start one more instance of ``service`` (same queues, same database);
        returns its process name (``permits-2``, ...) once it is ready (or at
        once with ``wait=False``)."""
        number = 2
        while f"{service}-{number}" in self.processes:
            number += 1
        name = f"{service}-{number}"
        _start(self, name, self.commands[service], self.env)
        if not wait:
            return name
        wait_for(
            lambda: _http_ok(self.health_url(name, "/readyz"), self.processes[name]),
            timeout=timeout,
            interval=0.2,
            what=f"{name} to be ready",
        )
        return name

    def health_url(self, name: str, path: str = "") -> str:
        """The health/metrics server of one service process (``/livez /readyz /metrics``)."""
        return f"http://127.0.0.1:{self.health_ports[name]}{path}"

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.base_dir / "logs" / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def all_logs(self, lines: int = 30) -> str:
        return "\n".join(f"--- {name}\n{self.log_tail(name, lines)}" for name in self.processes)


class RabbitAdmin:
    """The bits of the RabbitMQ management API the suite needs."""

    def __init__(self, amqp_uri: str, api_uri: str | None = None):
        parts = urlsplit(amqp_uri)
        self.user, self.password = parts.username or "guest", parts.password or "guest"
        self.api = (api_uri or f"http://{parts.hostname or '127.0.0.1'}:15672/api").rstrip("/")
        self.amqp_parts = parts

    def _call(self, method: str, path: str, **kwargs) -> requests.Response:
        response = requests.request(
            method, f"{self.api}{path}", auth=(self.user, self.password), timeout=10, **kwargs
        )
        response.raise_for_status()
        return response

    def create_vhost(self, vhost: str) -> str:
        self._call("PUT", f"/vhosts/{quote(vhost, safe='')}")
        permissions = {"configure": ".*", "write": ".*", "read": ".*"}
        self._call("PUT", f"/permissions/{quote(vhost, safe='')}/{self.user}", json=permissions)
        return urlunsplit(self.amqp_parts._replace(path="/" + quote(vhost, safe="")))

    def delete_vhost(self, vhost: str) -> None:
        self._call("DELETE", f"/vhosts/{quote(vhost, safe='')}")

    def queues(self, vhost: str) -> list[dict]:
        return self._call("GET", f"/queues/{quote(vhost, safe='')}").json()


def _service_env(suite: Suite, keys_dir: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.endswith("_DATABASE_URL")}
    env.update(
        AMQP_URI=suite.amqp_uri,
        IDMS_URL=suite.idms_url,
        IDENTITY_SIGNING_KEY=str(keys_dir / "identity_signing_key.pem"),
        IDENTITY_VERIFY_KEY=str(keys_dir / "identity_signing_key.pub.pem"),
        AUTH_SIGNING_KEY=str(keys_dir / f"{AUTH_KEY_STEM}.pem"),
        AUTH_PUBLIC_KEYS=str(keys_dir / f"{AUTH_KEY_STEM}.pub.pem"),
        ACCESS_TOKEN_TTL="3600",  # a test module outlives the default 15 minutes
        GATEWAY_PORT=urlsplit(suite.gateway_url).port and str(urlsplit(suite.gateway_url).port),
        GATEWAY_ADDRESS="127.0.0.1",
        OUTBOX_POLL_INTERVAL="0.5",
        HEALTH_ADDRESS="127.0.0.1",
        IDENTITY_RETRY_INTERVAL="1",
        IDENTITY_RETRY_MAX_BACKOFF="4",
        IDMS_BREAKER_RESET_TIMEOUT="2",
        IDMS_EVENTS_POLL_INTERVAL="0.5",
        PYTHONUNBUFFERED="1",
        NOTIFICATIONS_OUTBOX_DIR=str(suite.base_dir / "outbox"),  # not the repo's var/
    )
    for service, url in suite.database_urls.items():
        env[f"{service.upper()}_DATABASE_URL"] = url
    return env


def _demo_accounts(gateway_url: str | None) -> None:
    """The demo accounts `make run` seeds (password demo-<username>), for logging in."""
    if gateway_url is None:
        return
    from gateway.accounts import seed_demo_accounts  # the gateway owns accounts

    seed_demo_accounts(gateway_url)


def _start(suite: Suite, name: str, command: list[str], env: dict[str, str]) -> None:
    log_dir = suite.base_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = open(log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
    suite.commands[name] = command
    # a new port at every start: while a process is down another may take its old one
    port = suite.health_ports[name] = free_port()
    suite.processes[name] = subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        env={**env, "HEALTH_PORT": str(port)},
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )


def _http_ok(url: str, process: subprocess.Popen | None = None) -> bool:
    if process is not None and process.poll() is not None:
        raise RuntimeError(f"{url}: the process exited with {process.returncode}")
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def _wait_ready(suite: Suite, admin: RabbitAdmin, timeout: float) -> None:
    def consumers_ready() -> bool:
        consumed = {q["name"] for q in admin.queues(suite.vhost) if q.get("consumers", 0) > 0}
        wanted = {f"rpc-{name}" for name in RPC_SERVICES}
        wanted |= {sub.queue_name for sub in all_subscriptions()}
        return wanted <= consumed

    def ready() -> bool:
        for name, process in suite.processes.items():
            if process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {process.returncode}:\n{suite.log_tail(name)}"
                )
        services_ready = all(
            _http_ok(suite.health_url(name, "/readyz"))
            for name in suite.processes
            if name.rsplit("-", 1)[0] in SERVICES  # a service or another instance of one
        )
        return (
            _http_ok(f"{suite.idms_url}/health")
            and _http_ok(f"{suite.gateway_url}/healthz")
            and services_ready
            and (consumers_ready())
        )

    try:
        wait_for(ready, timeout=timeout, interval=0.2, what="the suite to be ready")
    except AssertionError as error:
        raise AssertionError(f"{error}\n{suite.all_logs()}") from None


def _stop(suite: Suite) -> None:
    for process in suite.processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for process in suite.processes.values():
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def running_suite(
    base_dir: Path,
    amqp_uri: str | None = None,
    ready_timeout: float = 90.0,
    extra_env: dict[str, str] | None = None,
    api_uri: str | None = None,
) -> Iterator[Suite]:
    """Run the suite for the duration of the ``with`` block, then stop it and clean up.

    ``extra_env`` adds to (or overrides) every process's environment, e.g. an SMTP
    server for notifications: ``{"SMTP_HOST": "127.0.0.1", "SMTP_PORT": "2525"}``.
    ``amqp_uri`` / ``api_uri``: another broker and its management API (a private node).
    """
    amqp_uri = amqp_uri or os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")
    admin = RabbitAdmin(amqp_uri, api_uri or os.environ.get("RABBIT_API_URI"))
    vhost = f"wpis_suite_{uuid.uuid4().hex[:10]}"
    with ExitStack() as stack:
        vhost_uri = admin.create_vhost(vhost)
        stack.callback(admin.delete_vhost, vhost)
        urls = {
            name: stack.enter_context(fresh_database(base_dir, name))
            for name in SERVICES_WITH_DATABASES
        }
        suite = Suite(
            base_dir=base_dir,
            amqp_uri=vhost_uri,
            vhost=vhost,
            gateway_url=f"http://127.0.0.1:{free_port()}",
            idms_url=f"http://127.0.0.1:{free_port()}",
            database_urls=urls,
            admin=admin,
        )
        for name, url in urls.items():
            upgrade(name, url)
        keys_dir = base_dir / "keys"
        generate_key_pair(keys_dir)
        generate_key_pair(keys_dir, AUTH_KEY_STEM)
        _demo_accounts(urls.get("gateway"))
        declare(vhost_uri, all_subscriptions(), SERVICES)
        env = suite.env = _service_env(suite, keys_dir)
        env.update(extra_env or {})
        stack.callback(_stop, suite)
        idms_port = str(urlsplit(suite.idms_url).port)
        idms_db = str(base_dir / "national_idms.db")
        _start(suite, "idms", [sys.executable, "-m", "national_idms", "--host", "127.0.0.1",
                               "--port", idms_port, "--db", idms_db], env)  # fmt: skip
        for name in SERVICES:
            _start(suite, name, [sys.executable, "-m", "wpis_common.runner", name], env)
        suite.wait_ready(ready_timeout)
        yield suite


def main() -> int:
    """``python -m wpis_common.suite``: run a throwaway suite until Ctrl-C."""
    import tempfile

    with tempfile.TemporaryDirectory() as base, running_suite(Path(base)) as suite:
        print(json.dumps({"gateway": suite.gateway_url, "idms": suite.idms_url}), flush=True)
        with suppress(KeyboardInterrupt):
            signal.pause()
    return 0


if __name__ == "__main__":
    sys.exit(main())
