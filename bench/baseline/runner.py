"""Start the baseline chain as real processes (one per service, like WPIS)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

from baseline.chain import SERVICE_CLASSES
from wpis_common.suite import RabbitAdmin, free_port
from wpis_common.testing import wait_for

HERE = Path(__file__).resolve().parent


@dataclass
class Chain:
    gateway_url: str
    idms_url: str
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def pids(self) -> dict[str, int]:
        return {name: process.pid for name, process in self.processes.items()}


def _spawn(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        command,
        cwd=HERE,
        env=env,
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,
    )


def _stop(chain: Chain) -> None:
    for process in chain.processes.values():
        process.send_signal(signal.SIGTERM)
    for process in chain.processes.values():
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


@contextmanager
def running_baseline(base_dir: Path) -> Iterator[Chain]:
    amqp_uri = os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")
    admin = RabbitAdmin(amqp_uri, os.environ.get("RABBIT_API_URI"))
    vhost = f"wpis_baseline_{uuid.uuid4().hex[:8]}"
    with ExitStack() as stack:
        vhost_uri = admin.create_vhost(vhost)
        stack.callback(admin.delete_vhost, vhost)
        port, idms_port = free_port(), free_port()
        chain = Chain(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{idms_port}")
        stack.callback(_stop, chain)
        env = {
            **os.environ,
            "AMQP_URI": vhost_uri,
            "BASELINE_PORT": str(port),
            "BASELINE_DB_PREFIX": f"sqlite:///{base_dir}/",
            "BASELINE_IDMS_URL": chain.idms_url,
            "PYTHONPATH": str(HERE),
        }
        idms = [sys.executable, "-m", "national_idms", "--port", str(idms_port), "--db", ":memory:"]
        chain.processes["idms"] = _spawn(idms, env, base_dir / "idms.log")
        nameko = str(Path(sys.executable).with_name("nameko"))
        for name, target in SERVICE_CLASSES.items():
            command = [nameko, "run", "--config", str(HERE / "config.yaml"), target]
            chain.processes[name] = _spawn(command, env, base_dir / f"{name}.log")
        # generous: on a busy shared machine seven processes take long to import and connect
        wait_for(lambda: _ready(chain, admin, vhost), timeout=300, what="the baseline chain")
        yield chain


def _ready(chain: Chain, admin: RabbitAdmin, vhost: str) -> bool:
    queues = admin.queues(vhost)
    consuming = [q for q in queues if q.get("consumers", 0) > 0]
    try:
        requests.get(f"{chain.idms_url}/health", timeout=1).raise_for_status()
        requests.get(f"{chain.gateway_url}/case/none", timeout=2).raise_for_status()
    except requests.RequestException:
        return False
    # 8 event handler queues + rpc-bl_applications + rpc-bl_notifications
    return len(consuming) >= 10
