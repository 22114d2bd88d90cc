"""Identity checks through the gateway against the IDMS simulator, and the breaker.

Starts the suite as real processes (throwaway RabbitMQ vhost and databases), then:

1. throughput: files N applications over the HTTP API with C concurrent clients
   (seeded persons of the simulator) and waits until every identity check is done;
   prints checks per second and the latency of a check (asked -> answered, from the
   gateway's own records) and of its IDMS call, p50/p99;
2. outage: makes the simulator answer 503 to every call (it still counts them),
   files M more applications, keeps the IDMS failing for S seconds, and prints how
   many calls reached the IDMS (the simulator's count), how many of them were sent
   while the circuit breaker was not closed (its trial calls; from the gateway's
   /metrics), how many calls the open breaker answered without a request, and how
   long the queue took to drain once the IDMS was back.

    python bench/identity.py --n 300 --c 8 --outage-n 30 --outage-seconds 10
    python bench/identity.py --smoke          # tiny run, for CI

The last line is machine-readable:
identity_checks_per_s=<x> p50_ms=<y> p99_ms=<z> idms_p50_ms=<a> idms_p99_ms=<b>
outage_checks=<m> outage_s=<s> idms_calls_during_outage=<k> idms_calls_while_open=<o>
breaker_refused_calls=<r> recovery_s=<t>   (all on one line)
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from wpis_common.testing import auth_headers_at

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import percentile

# Seeded persons of the simulator whose passports verify (national_idms/seed.json).
PERSONS = (
    ("Ravi", "Kumar", "1990-04-12", "M", "IND", "Z1234567", "2031-01-01"),
    ("Jose Maria", "Nunez", "1987-05-06", "M", "ESP", "PAA123456", "2032-11-10"),
    ("Anh Thi", "Nguyen", "1995-01-15", "F", "VNM", "C1234567", "2033-01-14"),
    ("Sita", "Gurung", "1996-09-21", "F", "NPL", "PA0123456", "2035-05-18"),
    ("Reza", "Mohammadi", "1984-10-02", "M", "IRN", "K12345678", "2031-08-08"),
    ("Сергей", "Иванов", "1991-12-01", "M", "RUS", "751234567", "2034-07-04"),
    ("Անահիտ", "Պետրոսյան", "1994-08-30", "F", "RUS", "754321987", "2033-10-01"),
)
DONE_TIMEOUT = 300.0


def application(index: int) -> dict[str, Any]:
    given, surname, born, sex, nationality, number, expiry = PERSONS[index % len(PERSONS)]
    start = date.today() + timedelta(days=30)
    return {
        "employer": {"tax_id": "02563412", "name": "Ararat Build LLC", "email": "hr@a.example"},
        "worker": {
            "given_names": given, "surname": surname, "date_of_birth": born, "sex": sex,
            "nationality": nationality, "email": f"worker{index}@example.org",
            "passport": {"number": number, "issuing_country": nationality,
                         "expiry_date": expiry},
        },
        "job": {"title": "Welder", "isco_code": "7212", "region": "AM-ER",
                "monthly_salary": 450000, "currency": "AMD"},
        "contract": {"start_date": start.isoformat(),
                     "end_date": (start + timedelta(days=200)).isoformat()},
    }  # fmt: skip


def submit_all(gateway_url: str, count: int, clients: int, offset: int = 0) -> list[str]:
    session = requests.Session()
    session.headers.update(auth_headers_at(gateway_url, "ararat"))

    def submit(index: int) -> str:
        response = session.post(
            f"{gateway_url}/api/v1/applications", json=application(offset + index), timeout=30
        )
        response.raise_for_status()
        return str(response.json()["id"])

    with ThreadPoolExecutor(max_workers=clients) as pool:
        return list(pool.map(submit, range(count)))


def identity_checks(gateway_url: str, application_id: str) -> list[dict[str, Any]]:
    url = f"{gateway_url}/api/v1/applications/{application_id}/identity-checks"
    response = requests.get(url, headers=auth_headers_at(gateway_url, "officer"), timeout=30)
    response.raise_for_status()
    return list(response.json()["checks"])


def wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.2)


def statuses(gateway_url: str) -> dict[str, dict[str, Any]]:
    response = requests.get(
        f"{gateway_url}/api/v1/applications",
        params={"limit": 500},
        headers=auth_headers_at(gateway_url, "officer"),
        timeout=30,
    )
    response.raise_for_status()
    return {case["id"]: case for case in response.json()}


def checks_done(gateway_url: str, ids: list[str]) -> bool:
    cases = statuses(gateway_url)
    return all(cases.get(i, {}).get("status") not in (None, "identity_check_pending") for i in ids)


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def throughput(gateway_url: str, count: int, clients: int) -> dict[str, float]:
    ids = submit_all(gateway_url, count, clients)
    wait_until(lambda: checks_done(gateway_url, ids), DONE_TIMEOUT, "every check")
    checks = [identity_checks(gateway_url, i)[0] for i in ids]
    asked = [moment(check["created_at"]) for check in checks]
    answered = [moment(check["completed_at"]) for check in checks]
    span = (max(answered) - min(asked)).total_seconds()
    latency_ms = [(a - b).total_seconds() * 1000 for a, b in zip(answered, asked, strict=True)]
    idms_ms = [check["idms_latency_ms"] for check in checks]
    return {
        "identity_checks_per_s": count / span if span else 0.0,
        "p50_ms": percentile(latency_ms, 50),
        "p99_ms": percentile(latency_ms, 99),
        "idms_p50_ms": percentile(idms_ms, 50),
        "idms_p99_ms": percentile(idms_ms, 99),
    }


def idms_metrics(metrics_url: str) -> dict[str, float]:
    """The identity gateway's IDMS counters from its /metrics: requests sent by the
    breaker's state when sent, and calls the open breaker answered without a request."""
    totals = {"closed": 0.0, "half_open": 0.0, "open": 0.0, "refused": 0.0}
    try:  # the scrape also asks the broker for queue depths: slow when it is busy
        text = requests.get(metrics_url, timeout=60).text
    except requests.RequestException as error:
        print(
            f"metrics unavailable ({type(error).__name__}); breaker figures are nan",
            file=sys.stderr,
        )
        return {key: math.nan for key in totals}
    for line in text.splitlines():
        if line.startswith("wpis_idms_requests_sent_total{"):
            state = line.split('breaker_state="', 1)[1].split('"', 1)[0]
            totals[state] = totals.get(state, 0.0) + float(line.rsplit(" ", 1)[1])
        elif line.startswith("wpis_idms_breaker_refused_calls_total "):
            totals["refused"] = float(line.rsplit(" ", 1)[1])
    return totals


def outage(
    gateway_url: str, idms_url: str, metrics_url: str, count: int, clients: int, seconds: float
) -> dict[str, float]:
    from national_idms.testing import AdminClient

    idms = AdminClient(idms_url)
    received_before = idms.requests_received("auth") + idms.requests_received("events")
    metrics_before = idms_metrics(metrics_url)
    idms.set_fault(status=503)
    started = time.monotonic()
    try:
        ids = submit_all(gateway_url, count, clients, offset=10_000)

        def all_deferred() -> bool:
            cases = statuses(gateway_url)
            return all(
                (cases.get(i, {}).get("identity") or {}).get("outcome") == "unavailable"
                for i in ids
            )

        wait_until(all_deferred, DONE_TIMEOUT, "every check to be deferred")
        time.sleep(max(0.0, seconds - (time.monotonic() - started)))
        received = idms.requests_received("auth") + idms.requests_received("events")
        metrics = idms_metrics(metrics_url)
        outage_seconds = time.monotonic() - started
    finally:
        idms.clear_fault()
    back = time.monotonic()
    wait_until(lambda: checks_done(gateway_url, ids), DONE_TIMEOUT, "the queue to drain")
    recovery = time.monotonic() - back
    delta = {key: metrics[key] - metrics_before.get(key, 0.0) for key in metrics}
    return {
        "outage_checks": count,
        "outage_s": outage_seconds,
        # every request that reached the IDMS (checks and the identity events feed)
        "idms_calls_during_outage": received - received_before,
        # of those, sent while the breaker was not closed: its trial calls (never while open)
        "idms_calls_while_open": delta["half_open"] + delta["open"],
        "breaker_refused_calls": delta["refused"],
        "recovery_s": recovery,
    }


def run(suite: Any, n: int, c: int, outage_n: int, outage_seconds: float) -> dict[str, float]:
    """Both phases against a running suite (wpis_common.suite.Suite)."""
    gateway_url = suite.gateway_url
    for username in ("ararat", "officer"):  # log in once, before the clients start
        auth_headers_at(gateway_url, username)
    warm_up = submit_all(gateway_url, min(n, 10), c, offset=50_000)
    wait_until(lambda: checks_done(gateway_url, warm_up), DONE_TIMEOUT, "the warm-up")
    figures = throughput(gateway_url, n, c)
    metrics_url = suite.health_url("identity_gateway", "/metrics")
    figures.update(outage(gateway_url, suite.idms_url, metrics_url, outage_n, c, outage_seconds))
    return figures


def figures_line(figures: dict[str, float]) -> str:
    def shown(value: float) -> str:
        return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"

    return " ".join(f"{key}={shown(value)}" for key, value in figures.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=300, help="applications for the throughput run")
    parser.add_argument("--c", type=int, default=8, help="concurrent HTTP clients")
    parser.add_argument("--outage-n", type=int, default=30, help="applications during the outage")
    parser.add_argument("--outage-seconds", type=float, default=10.0)
    parser.add_argument("--smoke", action="store_true", help="tiny run (CI)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.n, args.c, args.outage_n, args.outage_seconds = 5, 2, 3, 2.0
    from wpis_common.suite import running_suite

    with tempfile.TemporaryDirectory() as base, running_suite(Path(base)) as suite:
        figures = run(suite, args.n, args.c, args.outage_n, args.outage_seconds)
    print(f"identity checks: {args.n} through the gateway, {args.c} clients; "
          f"outage: {args.outage_n} checks, IDMS failing {args.outage_seconds:.0f}s")  # fmt: skip
    print(figures_line(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
