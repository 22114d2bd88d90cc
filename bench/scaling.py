"""One instance of a service against two: RPC and event throughput.

Starts the suite as real processes (throwaway RabbitMQ vhost and databases),
then measures, for 1 and then 2 instances of the service under test:

- RPC: ``applications.submit`` (validate, store, outbox row), N calls with C in
  flight from one standalone RPC client; calls/s and latency percentiles.
- events: ``identity_gateway.on_application_submitted`` (an HTTP call to the
  IDMS simulator, a signed attestation, a commit): the identity service is
  stopped, N applications are submitted so that N events wait in its queue,
  then 1 or 2 instances start and drain it; events/s from the first event
  handled to the last (so process start-up is not counted).

    python bench/scaling.py                 # N=400 calls, 200 events, on PostgreSQL
    python bench/scaling.py --smoke         # tiny N: checks it still runs
    python bench/scaling.py --rpc 1000 --events 400 --concurrency 32

Prints one line per measurement and a final ``figures`` line; asserts nothing.
Every process shares this machine's cores: on a 2-core machine a second
instance adds workers and a second AMQP connection, not CPU.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import eventlet

eventlet.monkey_patch()

import requests  # noqa: E402
from nameko import config  # noqa: E402
from nameko.standalone.rpc import ClusterRpcClient  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

# a bench module named like a service package would shadow it (editable installs are
# found after sys.path), so bench files never take a package's name (bench_*.py) and
# bench/ stays off the path altogether.
BENCH_DIR = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != BENCH_DIR]

_benchlib_spec = importlib.util.spec_from_file_location("benchlib", BENCH_DIR / "benchlib.py")
benchlib = sys.modules["benchlib"] = importlib.util.module_from_spec(_benchlib_spec)
_benchlib_spec.loader.exec_module(benchlib)
percentile = benchlib.percentile

from wpis_common.signing import AUTH_KEY_STEM, load_private_key  # noqa: E402
from wpis_common.suite import Suite, running_suite  # noqa: E402
from wpis_common.testing import caller_context  # noqa: E402

IDENTITY_HANDLER = "on_application_submitted"


def application(index: int) -> dict[str, Any]:
    return {
        "employer": {
            "tax_id": "02563412",
            "name": "Ararat Build LLC",
            "email": "hr@ararat.example",
        },
        "worker": {
            "given_names": "Ravi",
            "surname": "Kumar",
            "date_of_birth": "1990-04-12",
            "sex": "M",
            "nationality": "IND",
            "email": "ravi@example.org",
            "passport": {
                "number": "Z1234567",
                "issuing_country": "IND",
                "expiry_date": "2031-01-01",
            },
        },
        "job": {
            "title": "Welder",
            "isco_code": "7212",
            "region": "AM-ER",
            "monthly_salary": 450000 + index,
            "currency": "AMD",
        },
        "contract": {"start_date": "2027-02-01", "end_date": "2027-12-31"},
    }


def handled(suite: Suite, process: str, entrypoint: str) -> float:
    """Workers of ``entrypoint`` one process has run (its /metrics)."""
    body = requests.get(suite.health_url(process, "/metrics"), timeout=10).text
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if sample.name == "wpis_entrypoint_calls_total" and (
                sample.labels.get("entrypoint") == entrypoint
            ):
                return sample.value
    return 0.0


def wait(probe: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := probe():
            return value
        time.sleep(interval)
    raise SystemExit(f"scaling: timed out waiting for {what}; last: {probe()!r}")


def settle(suite: Suite, timeout: float = 600) -> None:
    """Wait until the suite is idle: every queue empty, every outbox sent, no worker busy
    (the events of one measurement must not eat the CPU of the next)."""

    def busy() -> float:
        total = 0.0
        for name, process in suite.processes.items():
            if name == "idms" or process.poll() is not None:
                continue
            body = requests.get(suite.health_url(name, "/metrics"), timeout=10).text
            for family in text_string_to_metric_families(body):
                for sample in family.samples:
                    if sample.name in ("wpis_queue_messages_ready", "wpis_outbox_backlog"):
                        total += sample.value
        return total

    wait(lambda: busy() == 0 and (time.sleep(1) or busy() == 0), timeout, "the suite to settle")


def rpc_submits(client: Any, calls: int, concurrency: int) -> dict[str, float]:
    """``calls`` submits, ``concurrency`` in flight (a standalone client is driven from
    one green thread: it sends ahead and collects the replies in order)."""
    latencies: list[float] = []
    in_flight: deque[tuple[float, Any]] = deque()

    def collect_oldest() -> None:
        sent_at, call = in_flight.popleft()
        call.result()
        latencies.append(time.perf_counter() - sent_at)

    started = time.perf_counter()
    for index in range(calls):
        if len(in_flight) >= concurrency:
            collect_oldest()
        in_flight.append(
            (time.perf_counter(), client.applications.submit.call_async(application(index)))
        )
    while in_flight:
        collect_oldest()
    elapsed = time.perf_counter() - started
    return {
        "per_second": calls / elapsed,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
    }


def identity_processes(suite: Suite) -> list[str]:
    return [
        name
        for name, process in suite.processes.items()
        if name.split("-")[0] == "identity_gateway" and process.poll() is None
    ]


def event_drain(suite: Suite, client: Any, events: int, instances: int) -> dict[str, float]:
    settle(suite)  # earlier phases' events first, so that only this backlog is timed
    for name in identity_processes(suite):
        suite.stop(name, signal.SIGTERM, timeout=60)
    rpc_submits(client, events, 16)
    suite.start("identity_gateway")  # all instances boot together, then race for the backlog
    names = ["identity_gateway"]
    names += [suite.start_instance("identity_gateway", wait=False) for _ in range(instances - 1)]
    wait(lambda: all(_ready(suite, name) for name in names), 120, "identity instances")

    def total() -> float:
        return sum(handled(suite, name, IDENTITY_HANDLER) for name in names)

    first = wait(lambda: total() >= 1 and time.perf_counter(), 600, "the first event")
    wait(lambda: total() >= events, 600, "the backlog to drain", interval=0.1)
    elapsed = time.perf_counter() - first
    shares = [handled(suite, name, IDENTITY_HANDLER) for name in names]
    for name in names[1:]:
        suite.stop(name, signal.SIGTERM, timeout=60)
    per_second = (sum(shares) - 1) / elapsed if elapsed > 0 else 0.0
    return {"per_second": per_second, "shares": shares}


def _ready(suite: Suite, name: str) -> bool:
    try:
        return requests.get(suite.health_url(name, "/readyz"), timeout=2).status_code == 200
    except requests.RequestException:
        return False


def measure(suite: Suite, rpc_calls: int, events: int, concurrency: int) -> dict[str, Any]:
    # Calls carry an employer's access token, signed with the suite's key (docs/security.md).
    key = load_private_key(suite.base_dir / "keys" / f"{AUTH_KEY_STEM}.pem")
    context = caller_context(key, "ararat", "employer", "02563412")
    with (
        config.patch({"AMQP_URI": suite.amqp_uri}),
        ClusterRpcClient(context_data=context) as client,
    ):
        return _measure(suite, client, rpc_calls, events, concurrency)


def _measure(
    suite: Suite, client: Any, rpc_calls: int, events: int, concurrency: int
) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    rpc_submits(client, min(rpc_calls, 20), concurrency)  # warm up connections and caches
    for instances in (1, 2):
        extra = [suite.start_instance("applications") for _ in range(instances - 1)]
        settle(suite)
        rpc = rpc_submits(client, rpc_calls, concurrency)
        for name in extra:
            suite.stop(name, signal.SIGTERM, timeout=60)
        figures[f"rpc_submit_{instances}"] = rpc
        print(
            f"scaling: applications.submit instances={instances} calls={rpc_calls} "
            f"c={concurrency} {rpc['per_second']:.0f} calls/s "
            f"p50={rpc['p50_ms']:.1f}ms p99={rpc['p99_ms']:.1f}ms",
            flush=True,
        )
    for instances in (1, 2):
        drain = event_drain(suite, client, events, instances)
        figures[f"events_identity_{instances}"] = drain
        print(
            f"scaling: identity_gateway.{IDENTITY_HANDLER} instances={instances} "
            f"events={events} {drain['per_second']:.1f} events/s "
            f"shares={[int(share) for share in drain['shares']]}",
            flush=True,
        )
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rpc", type=int, default=400, help="RPC calls per measurement")
    parser.add_argument("--events", type=int, default=200, help="events per measurement")
    parser.add_argument("--concurrency", type=int, default=16, help="RPC calls in flight")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: it runs, that's all")
    parser.add_argument(
        "--db",
        choices=("postgresql", "sqlite"),
        default="postgresql",
        help="PostgreSQL (default; WPIS_TEST_PG_URL): several instances need it",
    )
    args = parser.parse_args(argv)
    os.environ["WPIS_TEST_DB"] = args.db
    if args.smoke:
        args.rpc, args.events, args.concurrency = 10, 4, 4
    with tempfile.TemporaryDirectory() as base, running_suite(Path(base)) as suite:
        figures = measure(suite, args.rpc, args.events, args.concurrency)
    print("figures " + json.dumps(figures, separators=(",", ":")), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
