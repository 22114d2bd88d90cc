"""A RabbitMQ node of a test's own, so that the test may restart it.

Restarting the shared broker would break every other test and process using it;
a private node (its own name, ports and data directory, with the management
plugin) can be stopped and started at will. It needs the ``rabbitmq-server``
and ``rabbitmqctl`` of a local RabbitMQ installation; :func:`unavailable_reason`
says why one cannot be started here, so a test can skip with that reason.

    with private_rabbitmq(tmp_path) as broker:
        ... broker.amqp_uri, broker.api_uri ...
        broker.restart()
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from wpis_common.suite import free_port
from wpis_common.testing import wait_for

START_TIMEOUT = 120.0
# The server script re-executes itself as this user when started by root.
SERVICE_USER = "rabbitmq"


@dataclass
class PrivateBroker:
    node: str
    amqp_uri: str
    api_uri: str
    env: dict[str, str]

    def ctl(self, *args: str, timeout: float = 120) -> None:
        subprocess.run(
            ["rabbitmqctl", "-n", self.node, *args],
            check=True,
            capture_output=True,
            timeout=timeout,
            env=self.env,
        )

    def answers(self) -> bool:
        try:
            response = requests.get(f"{self.api_uri}/overview", auth=("guest", "guest"), timeout=5)
        except requests.RequestException:
            return False
        return response.status_code == 200

    def restart(self) -> None:
        """Stop and start the broker application: every connection to it is dropped."""
        self.ctl("stop_app")
        self.ctl("start_app")
        wait_for(self.answers, timeout=START_TIMEOUT, interval=0.5, what="RabbitMQ to be back")


def unavailable_reason() -> str | None:
    for command in ("rabbitmq-server", "rabbitmqctl"):
        if shutil.which(command) is None:
            return f"{command} is not installed (a private RabbitMQ node needs it)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVICE_USER)
        except KeyError:
            return f"running as root, but there is no {SERVICE_USER!r} user to run RabbitMQ as"
    return None


@contextmanager
def private_rabbitmq() -> Iterator[PrivateBroker]:
    reason = unavailable_reason()
    if reason:
        raise RuntimeError(reason)
    home = Path(tempfile.mkdtemp(prefix="wpis-rabbitmq-"))
    amqp_port, api_port, dist_port = free_port(), free_port(), free_port()
    (home / "rabbitmq.conf").write_text(
        f"listeners.tcp.default = {amqp_port}\n"
        f"management.tcp.port = {api_port}\n"
        "management.tcp.ip = 127.0.0.1\n"
        "loopback_users = none\n"
    )
    (home / "enabled_plugins").write_text("[rabbitmq_management].\n")
    node = f"wpis-{uuid.uuid4().hex[:8]}@localhost"
    env = {
        **os.environ,
        "RABBITMQ_NODENAME": node,
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(amqp_port),
        "RABBITMQ_DIST_PORT": str(dist_port),
        "RABBITMQ_CONFIG_FILE": str(home / "rabbitmq.conf"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(home / "enabled_plugins"),
        "RABBITMQ_MNESIA_BASE": str(home / "mnesia"),
        "RABBITMQ_LOG_BASE": str(home / "log"),
        "RABBITMQ_PID_FILE": str(home / "rabbitmq.pid"),
    }
    if os.geteuid() == 0:
        account = pwd.getpwnam(SERVICE_USER)
        for path in (home, *home.iterdir()):
            os.chown(path, account.pw_uid, account.pw_gid)
    broker = PrivateBroker(
        node=node,
        amqp_uri=f"amqp://guest:guest@127.0.0.1:{amqp_port}/",
        api_uri=f"http://127.0.0.1:{api_port}/api",
        env=env,
    )
    with open(home / "server.out", "wb") as output:
        server = subprocess.Popen(
            ["rabbitmq-server"], env=env, stdout=output, stderr=subprocess.STDOUT
        )

    def started() -> bool:
        if server.poll() is not None:
            log = (home / "server.out").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the private RabbitMQ node {node} exited:\n{log}")
        return broker.answers()

    try:
        wait_for(started, timeout=START_TIMEOUT, interval=0.5, what=f"RabbitMQ node {node}")
        yield broker
    finally:
        try:
            broker.ctl("stop", timeout=60)
        except (subprocess.SubprocessError, OSError):
            server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(home, ignore_errors=True)
