"""``python -m wpis_common.preflight <service>``: wait for the broker and the
database, with a bounded retry, before a service migrates and starts.

Used by ``deploy/entrypoint.sh`` (every Dockerfile's entrypoint). Reads the
service's config.yaml (so its env vars) for ``AMQP_URI`` and ``DATABASE_URL``.
Exits 0 once both answer, 1 when the deadline passes (the orchestrator then
restarts the container, with its own backoff).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from kombu import Connection
from sqlalchemy import text
from sqlalchemy.engine import make_url

from wpis_common.config import DATABASE_URL_KEY, read_config_file, service_config_path
from wpis_common.db import create_db_engine

CONNECT_TIMEOUT = 3.0


def broker_answers(amqp_uri: str) -> Callable[[], str | None]:
    def probe() -> str | None:
        try:
            with Connection(amqp_uri, connect_timeout=CONNECT_TIMEOUT) as connection:
                connection.ensure_connection(max_retries=1)
        except Exception as error:
            return f"{type(error).__name__}: {error}"
        return None

    return probe


def database_answers(url: str) -> Callable[[], str | None]:
    def probe() -> str | None:
        engine = create_db_engine(url, pool_size=1)
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as error:
            return f"{type(error).__name__}: {str(error).splitlines()[0]}"
        finally:
            engine.dispose()
        return None

    return probe


def wait_until(
    probes: dict[str, Callable[[], str | None]], timeout: float, interval: float
) -> list[str]:
    """Retry every failing probe until all pass or ``timeout`` passes; the failures left."""
    deadline = time.monotonic() + timeout
    waiting = dict(probes)
    while True:
        failures = {name: problem for name, probe in waiting.items() if (problem := probe())}
        for name in set(waiting) - set(failures):
            print(f"preflight: {name} is reachable", flush=True)
        waiting = {name: probes[name] for name in failures}
        if not waiting:
            return []
        if time.monotonic() + interval > deadline:
            return [f"{name}: {problem}" for name, problem in failures.items()]
        for name, problem in failures.items():
            print(f"preflight: waiting for {name} ({problem})", flush=True)
        time.sleep(interval)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Wait for a service's broker and database.")
    parser.add_argument("service", help="the service package, e.g. permits")
    parser.add_argument("--config", help="its config.yaml (default: beside the package)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds (default 60)")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between tries")
    args = parser.parse_args(argv)
    settings = read_config_file(args.config or service_config_path(args.service))
    database_url = settings.get(DATABASE_URL_KEY)
    probes = {"broker": broker_answers(settings["AMQP_URI"])}
    if database_url:
        host = make_url(database_url).host or "local file"
        probes[f"database ({host})"] = database_answers(database_url)
    failures = wait_until(probes, args.timeout, args.interval)
    if failures:
        print(f"preflight: gave up after {args.timeout:.0f}s: {'; '.join(failures)}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
