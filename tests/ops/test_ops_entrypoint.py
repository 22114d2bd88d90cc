"""Every service starts from the images' entrypoint script, run here without
Docker: it waits for the broker and the database, migrates, starts; the
service then answers its health probes and metrics, and stops cleanly on
SIGTERM. With no broker the script gives up after its bounded wait."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import requests

from wpis_common.migrate import SERVICES_WITH_DATABASES
from wpis_common.signing import AUTH_KEY_STEM, generate_key_pair
from wpis_common.suite import REPO_ROOT, RabbitAdmin, free_port
from wpis_common.testing import fresh_database, wait_for

pytestmark = pytest.mark.e2e

ENTRYPOINT = REPO_ROOT / "deploy" / "entrypoint.sh"
AMQP_URI = os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")


@pytest.fixture(scope="module")
def vhost_uri() -> Iterator[str]:
    admin = RabbitAdmin(AMQP_URI, os.environ.get("RABBIT_API_URI"))
    vhost = f"wpis_entrypoint_{uuid.uuid4().hex[:8]}"
    uri = admin.create_vhost(vhost)
    yield uri
    admin.delete_vhost(vhost)


def base_env(tmp_path: Path, amqp_uri: str) -> dict[str, str]:
    keys = tmp_path / "keys"
    generate_key_pair(keys)
    generate_key_pair(keys, AUTH_KEY_STEM)  # access tokens: the gateway signs, services verify
    env = {key: value for key, value in os.environ.items() if not key.endswith("_DATABASE_URL")}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        AMQP_URI=amqp_uri,
        HEALTH_ADDRESS="127.0.0.1",
        IDMS_URL=f"http://127.0.0.1:{free_port()}",  # not needed to start
        IDENTITY_SIGNING_KEY=str(keys / "identity_signing_key.pem"),
        IDENTITY_VERIFY_KEY=str(keys / "identity_signing_key.pub.pem"),
        AUTH_SIGNING_KEY=str(keys / f"{AUTH_KEY_STEM}.pem"),
        AUTH_PUBLIC_KEYS=str(keys / f"{AUTH_KEY_STEM}.pub.pem"),
        GATEWAY_ADDRESS="127.0.0.1",
        GATEWAY_PORT=str(free_port()),
        NOTIFICATIONS_OUTBOX_DIR=str(tmp_path / "outbox"),
        WPIS_WAIT_TIMEOUT="30",
        PYTHONUNBUFFERED="1",
    )
    return env


def start(service: str, env: dict[str, str], log_dir: Path) -> subprocess.Popen:
    log = open(log_dir / f"{service}.log", "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        ["sh", str(ENTRYPOINT), service],
        cwd=log_dir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def answers(url: str, process: subprocess.Popen) -> bool:
    assert process.poll() is None, f"exited with {process.returncode}"
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def test_every_service_starts_from_the_entrypoint_answers_probes_and_stops_on_sigterm(
    tmp_path: Path, vhost_uri: str
):
    env = base_env(tmp_path, vhost_uri)
    processes: dict[str, tuple[subprocess.Popen, int]] = {}
    with ExitStack() as stack:
        for service in SERVICES_WITH_DATABASES:
            url = stack.enter_context(fresh_database(tmp_path, service))  # empty: not migrated
            port = free_port()
            service_env = {**env, f"{service.upper()}_DATABASE_URL": url, "HEALTH_PORT": str(port)}
            processes[service] = (start(service, service_env, tmp_path), port)
        stack.callback(stop_all, [process for process, _ in processes.values()])

        for service, (process, port) in processes.items():
            log = tmp_path / f"{service}.log"
            ready = f"http://127.0.0.1:{port}/readyz"
            try:
                wait_for(
                    lambda u=ready, p=process: answers(u, p), timeout=120, interval=0.3, what=ready
                )
            except AssertionError as error:
                raise AssertionError(f"{service}: {error}\n{log.read_text()[-3000:]}") from None
            assert requests.get(f"http://127.0.0.1:{port}/livez", timeout=5).status_code == 200
            metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
            assert "wpis_outbox_backlog{" in metrics, service

        for service, (process, _) in processes.items():
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0, (tmp_path / f"{service}.log").read_text()[-3000:]
            assert time.monotonic() - started < 30
            output = (tmp_path / f"{service}.log").read_text()
            assert "migrating its database to head" in output
            assert f"{service}: migrated to head" in output
            log_lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
            assert log_lines, f"{service} wrote no JSON log line"
            assert all({"time", "level", "service", "message"} <= set(e) for e in log_lines)


def test_entrypoint_gives_up_when_the_broker_never_answers(tmp_path: Path):
    closed_port_uri = f"amqp://guest:guest@127.0.0.1:{free_port()}/"
    env = {
        **base_env(tmp_path, closed_port_uri),
        "WPIS_WAIT_TIMEOUT": "3",
        "WPIS_WAIT_INTERVAL": "1",
    }
    env["CONTRACTS_DATABASE_URL"] = f"sqlite:///{tmp_path / 'contracts.db'}"
    started = time.monotonic()

    result = subprocess.run(
        ["sh", str(ENTRYPOINT), "contracts"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1
    assert time.monotonic() - started < 30
    assert "preflight: gave up after 3s: broker" in result.stdout
    assert "migrating" not in result.stdout  # neither migrated nor started


def stop_all(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()
