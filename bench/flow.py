"""The whole one-window flow under load, against a bare Nameko baseline.

Starts the suite as real processes (as `make run` does, on a throwaway
RabbitMQ vhost and databases), then drives N complete flows over the HTTP API
with C concurrent clients: register the person in the IDMS simulator, submit,
wait for the identity verification, approve, wait for the permit and the
contract, and for the permit notice. Then does the same with the baseline
chain (bench/baseline/chain.py: same hops, no logic) and prints the ratio.

    python bench/flow.py --n 300 --c 16 [--db sqlite|postgresql] [--no-baseline]
    python bench/flow.py --n 200 --c 48 --rate 3    # open loop: latency at a given rate
    make bench BENCH_ARGS="--n 300 --c 16"

C must be large enough to saturate: a flow takes seconds end to end (mostly
waiting), so C=8 measures latency-bound throughput, not the system's limit.

The last line is machine-readable:
flows_per_s=<x> baseline_per_s=<y> ratio=<x/y> p99_ms=<z>
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import random
import string
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import requests

from wpis_common.testing import auth_headers_at

# bench/ stays off sys.path: a bench module must never shadow a service package
BENCH_DIR = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != BENCH_DIR]
_spec = importlib.util.spec_from_file_location("benchlib", BENCH_DIR / "benchlib.py")
benchlib = sys.modules["benchlib"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(benchlib)
percentile, sample_process, summary_ms = (
    benchlib.percentile,
    benchlib.sample_process,
    benchlib.summary_ms,
)

# A client polls for each stage: first after 10 ms, then 1.5 times longer each time up
# to 50 ms. Every poll is an HTTP request, an RPC and a query, in WPIS and the baseline
# alike, and at a fixed 10 ms the slower system also paid for more polls (the load
# grew with the latency). The 50 ms cap bounds the error a poll adds to a latency.
POLL_FIRST, POLL_GROWTH, POLL_MAX = 0.01, 1.5, 0.05
FLOW_TIMEOUT = 120.0
HTTP_TIMEOUT = 30.0


@dataclass
class FlowTimes:
    submitted: float = 0.0
    verified: float = 0.0
    approved: float = 0.0
    issued: float = 0.0
    notified: float = 0.0


@dataclass
class Run:
    label: str
    flows: list[FlowTimes] = field(default_factory=list)
    wall_seconds: float = 0.0
    cpu_per_flow: dict[str, float] = field(default_factory=dict)
    peak_rss_mib: dict[str, float] = field(default_factory=dict)
    end_rss_mib: dict[str, float] = field(default_factory=dict)  # after the run: steady state
    polls: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return len(self.flows) / self.wall_seconds if self.wall_seconds else 0.0

    def stage(self, start: str, end: str) -> list[float]:
        return [getattr(f, end) - getattr(f, start) for f in self.flows]


ERRORS: Counter[str] = Counter()  # non-2xx answers to the polls, by status (reported)
POLLS: Counter[str] = Counter()  # polls made (each one HTTP request), reported per flow


def poll(check: Callable[[], bool], what: str) -> float:
    deadline = time.monotonic() + FLOW_TIMEOUT
    interval = POLL_FIRST
    while time.monotonic() < deadline:
        POLLS["all"] += 1
        if check():
            return time.monotonic()
        time.sleep(interval)
        interval = min(interval * POLL_GROWTH, POLL_MAX)
    raise TimeoutError(f"flow stuck waiting for {what}")


def answer(response: requests.Response) -> Any:
    """The JSON body of a 2xx poll answer; None (counted) for an error, e.g. a 504."""
    if response.ok:
        return response.json()
    ERRORS[f"{response.status_code} {response.request.method}"] += 1
    return None


def random_passport() -> str:
    return "B" + "".join(random.choices(string.digits, k=8))


def person(passport: str) -> dict:
    return {
        "given_names": "Arjun",
        "surname": "Mehta",
        "date_of_birth": "1991-06-01",
        "sex": "M",
        "nationality": "IND",
        "documents": [
            {
                "type": "passport",
                "number": passport,
                "issuing_country": "IND",
                "expiry_date": "2033-01-01",
                "status": "valid",
            }
        ],
        "entry_ban": False,
    }


def application(passport: str) -> dict:
    start = date.today() + timedelta(days=30)
    return {
        "employer": {"tax_id": "02563412", "name": "Ararat Build LLC", "email": "hr@a.example"},
        "worker": {
            "given_names": "Arjun",
            "surname": "Mehta",
            "date_of_birth": "1991-06-01",
            "sex": "M",
            "nationality": "IND",
            "email": "arjun@example.org",
            "passport": {"number": passport, "issuing_country": "IND", "expiry_date": "2033-01-01"},
        },
        "job": {
            "title": "Welder",
            "isco_code": "7212",
            "region": "AM-ER",
            "monthly_salary": 450000,
            "currency": "AMD",
        },
        "contract": {
            "start_date": start.isoformat(),
            "end_date": (start + timedelta(days=300)).isoformat(),
        },
    }


def wpis_flow(session: requests.Session, gateway: str, idms: str) -> FlowTimes:
    api = f"{gateway}/api/v1"
    employer, officer = auth_headers_at(gateway, "ararat"), auth_headers_at(gateway, "officer")
    passport = random_passport()
    session.post(
        f"{idms}/admin/persons", json=person(passport), timeout=HTTP_TIMEOUT
    ).raise_for_status()
    times = FlowTimes(submitted=time.monotonic())
    response = session.post(
        f"{api}/applications", json=application(passport), headers=employer, timeout=HTTP_TIMEOUT
    )
    response.raise_for_status()
    case_url = f"{api}/applications/{response.json()['id']}"

    def status() -> dict:
        return answer(session.get(case_url, headers=officer, timeout=HTTP_TIMEOUT)) or {}

    times.verified = poll(lambda: status().get("status") == "in_review", "identity check")

    def approve() -> bool:  # a 5xx (e.g. a 504 under overload) is retried; 409: it went through
        response = session.post(
            f"{case_url}/decision",
            json={"decision": "approve"},
            headers=officer,
            timeout=HTTP_TIMEOUT,
        )
        if response.status_code == 409 or answer(response) is not None:
            return True
        if response.status_code < 500:
            response.raise_for_status()
        return False

    poll(approve, "the decision")
    times.approved = time.monotonic()
    times.issued = poll(lambda: bool(status().get("contract_id")), "permit and contract")

    def notified() -> bool:
        url = f"{case_url}/notifications"
        notices = answer(session.get(url, headers=officer, timeout=HTTP_TIMEOUT)) or []
        return any(notice["template"] == "permit_issued" for notice in notices)

    times.notified = poll(notified, "permit notice")
    return times


def baseline_flow(session: requests.Session, gateway: str, idms: str) -> FlowTimes:
    # the person's registration
    session.get(f"{idms}/health", timeout=HTTP_TIMEOUT).raise_for_status()
    times = FlowTimes(submitted=time.monotonic())
    response = session.post(
        f"{gateway}/submit", json=application(random_passport()), timeout=HTTP_TIMEOUT
    )
    case_id = response.json()["id"]

    def status() -> str:
        return session.get(f"{gateway}/case/{case_id}", timeout=HTTP_TIMEOUT).json()["status"]

    times.verified = poll(lambda: status() == "in_review", "baseline identity")
    session.post(f"{gateway}/decide/{case_id}", timeout=HTTP_TIMEOUT)
    times.approved = time.monotonic()
    times.issued = poll(lambda: status() == "registered", "baseline permit and contract")
    times.notified = poll(
        lambda: len(session.get(f"{gateway}/notices/{case_id}", timeout=HTTP_TIMEOUT).json()) == 2,
        "baseline notice",
    )
    return times


def drive(
    label: str,
    flow: Callable[[requests.Session, str, str], FlowTimes],
    gateway: str,
    idms: str,
    pids: dict[str, int],
    n: int,
    c: int,
    rate: float | None = None,
) -> Run:
    """N flows with C clients; with ``rate``, flow i starts at i/rate s (open loop)."""
    sessions = [requests.Session() for _ in range(c)]
    run = Run(label)
    before = {name: sample_process(pid) for name, pid in pids.items()}
    POLLS.clear()
    ERRORS.clear()
    started = time.monotonic()

    def one(i: int) -> FlowTimes:
        if rate:
            time.sleep(max(0.0, started + i / rate - time.monotonic()))
        return flow(sessions[i % c], gateway, idms)

    with ThreadPoolExecutor(max_workers=c) as pool:
        run.flows = list(pool.map(one, range(n)))
    run.wall_seconds = time.monotonic() - started
    run.polls, run.errors = POLLS["all"], dict(ERRORS)
    for name, pid in pids.items():
        after = sample_process(pid)
        run.cpu_per_flow[name] = (after.cpu_seconds - before[name].cpu_seconds) / n
        run.peak_rss_mib[name] = after.peak_rss_mib
        run.end_rss_mib[name] = after.rss_mib
    return run


def report(run: Run) -> None:
    print(f"\n== {run.label}: {len(run.flows)} flows in {run.wall_seconds:.1f}s "
          f"= {run.per_second:.1f} flows/s")  # fmt: skip
    print(f"  submit -> permit+contract  {summary_ms(run.stage('submitted', 'issued'))}")
    print(f"  identity check             {summary_ms(run.stage('submitted', 'verified'))}")
    print(f"  decision call              {summary_ms(run.stage('verified', 'approved'))}")
    print(f"  approval -> contract       {summary_ms(run.stage('approved', 'issued'))}")
    print(f"  contract -> notice seen    {summary_ms(run.stage('issued', 'notified'))}")
    if run.errors:
        print(f"  error answers to polls (retried): {run.errors}")
    print(f"  polls per flow: {run.polls / max(len(run.flows), 1):.1f}")
    total_cpu = sum(run.cpu_per_flow.values())
    print(f"  CPU per flow: {total_cpu * 1000:.1f} ms in all")
    for name in sorted(run.cpu_per_flow):
        print(f"    {name:<18} cpu/flow={run.cpu_per_flow[name] * 1000:6.1f} ms  "
              f"peak_rss={run.peak_rss_mib[name]:6.1f} MiB  "
              f"rss_after={run.end_rss_mib[name]:6.1f} MiB")  # fmt: skip


def measure_wpis(args: argparse.Namespace) -> Run:
    from wpis_common.suite import running_suite

    with tempfile.TemporaryDirectory() as base, running_suite(Path(base)) as suite:
        return wpis_on(suite, args.n, args.c, args.rate)


def wpis_on(suite, n: int, c: int, rate: float | None = None) -> Run:
    """Warm up, then drive N flows on a running suite (``wpis_common.suite``)."""
    pids = {name: process.pid for name, process in suite.processes.items()}
    warm = max(2, min(c, 16))
    for username in ("ararat", "officer"):  # log in once, before the clients start
        auth_headers_at(suite.gateway_url, username)
    drive("warm-up", wpis_flow, suite.gateway_url, suite.idms_url, pids, warm, c)
    return drive("WPIS", wpis_flow, suite.gateway_url, suite.idms_url, pids, n, c, rate)


def measure_baseline(args: argparse.Namespace) -> Run:
    if str(BENCH_DIR) not in sys.path:
        sys.path.append(str(BENCH_DIR))  # for the `baseline` package, after everything else
    from baseline.runner import running_baseline

    with tempfile.TemporaryDirectory() as base, running_baseline(Path(base)) as chain:
        warm = max(2, min(args.c, 16))
        drive("warm-up", baseline_flow, chain.gateway_url, chain.idms_url, chain.pids, warm, args.c)
        return drive(
            "baseline",
            baseline_flow,
            chain.gateway_url,
            chain.idms_url,
            chain.pids,
            args.n,
            args.c,
            args.rate,
        )


def compare(wpis: Run, baseline: Run | None) -> str:
    """Print the ratios; return the machine-readable last line."""
    baseline_per_s = baseline.per_second if baseline else 0.0
    if baseline is not None:
        cpu_ratio = sum(wpis.cpu_per_flow.values()) / max(sum(baseline.cpu_per_flow.values()), 1e-9)
        throughput_ratio = wpis.per_second / max(baseline_per_s, 1e-9)
        print(
            f"\nratio real/baseline: throughput {throughput_ratio:.2f}, "
            f"CPU per flow {cpu_ratio:.2f}"
        )
    p99 = percentile([s * 1000 for s in wpis.stage("submitted", "issued")], 99)
    ratio = wpis.per_second / baseline_per_s if baseline_per_s else 0.0
    return (
        f"flows_per_s={wpis.per_second:.1f} baseline_per_s={baseline_per_s:.1f} "
        f"ratio={ratio:.2f} p99_ms={p99:.0f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="complete flows to drive")
    parser.add_argument("--c", type=int, default=16, help="concurrent clients")
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="start flows at this rate (open loop, e.g. half the saturation rate) "
        "instead of as fast as the C clients go",
    )
    parser.add_argument("--smoke", action="store_true", help="tiny run (CI): --n 4 --c 2")
    args = parser.parse_args()
    if args.smoke:
        args.n, args.c = 4, 2
    os.environ["WPIS_TEST_DB"] = args.db
    print(f"bench/flow.py: n={args.n} c={args.c} db={args.db} rate={args.rate or 'max'}")
    wpis = measure_wpis(args)
    report(wpis)
    baseline = None
    if not args.no_baseline:
        baseline = measure_baseline(args)
        report(baseline)
    print(compare(wpis, baseline))
    return 0


if __name__ == "__main__":
    sys.exit(main())
