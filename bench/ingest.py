"""A seasonal rush: applications accepted per second, then the backlog drained.

Starts the suite as real processes (as bench/flow.py does), registers N
persons in the IDMS simulator (not timed), then:

1. ingest: C concurrent clients POST N applications to /api/v1/applications
   as fast as they are accepted (201): applications accepted per second;
2. drain: an officer approves every case as soon as its identity check put it
   in review (oldest first, via the listing), until every application has its
   permit: seconds from the first submit to the last permit, and the rate.

Then checks that nothing was lost and the order was kept: every accepted
application has exactly one permit, no permit number twice, and the permit
numbers follow the submission order (reports the number of inversions: cases
approved in the same batch may swap places).

    python bench/ingest.py --n 500 --c 16 [--db sqlite|postgresql]
    python bench/ingest.py --smoke           # tiny run (CI)

The last line is machine-readable:
accepted_per_s=<x> drain_s=<y> drained_per_s=<z> lost=<n> duplicates=<n> inversions=<n>
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from wpis_common.testing import auth_headers_at

# bench/ stays off sys.path (its modules must not shadow the service packages)
BENCH_DIR = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != BENCH_DIR]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH_DIR / f"{name}.py")
    module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


benchlib = _load("benchlib")
flow = _load("flow")

DRAIN_TIMEOUT = 600.0


def signed_in_sessions(gateway: str, username: str, count: int) -> list[requests.Session]:
    """HTTP sessions acting as a demo account (the suite seeds them)."""
    sessions = [requests.Session() for _ in range(count)]
    for session in sessions:
        session.headers.update(auth_headers_at(gateway, username))
    return sessions


def register_persons(idms: str, passports: list[str], c: int) -> None:
    sessions = [requests.Session() for _ in range(c)]

    def one(i: int) -> None:
        person = flow.person(passports[i])
        sessions[i % c].post(f"{idms}/admin/persons", json=person, timeout=10).raise_for_status()

    with ThreadPoolExecutor(max_workers=c) as pool:
        list(pool.map(one, range(len(passports))))


def ingest(gateway: str, passports: list[str], c: int) -> tuple[list[str], list[float], float]:
    """POST every application; returns the ids in submission order, latencies, seconds."""
    api = f"{gateway}/api/v1/applications"
    sessions = signed_in_sessions(gateway, "ararat", c)
    accepted: list[tuple[float, str]] = []
    latencies: list[float] = []

    def one(i: int) -> None:
        started = time.monotonic()
        response = sessions[i % c].post(api, json=flow.application(passports[i]), timeout=30)
        response.raise_for_status()
        done = time.monotonic()
        latencies.append(done - started)
        accepted.append((done, response.json()["id"]))

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=c) as pool:
        list(pool.map(one, range(len(passports))))
    seconds = time.monotonic() - started
    return [case_id for _, case_id in sorted(accepted)], latencies, seconds


def _listing(session: requests.Session, gateway: str, status: str) -> list[dict]:
    url, params = f"{gateway}/api/v1/applications", {"status": status, "limit": 500}
    items: list[dict] = []
    while True:
        response = session.get(url, params=params, timeout=30)
        response.raise_for_status()
        items += response.json()
        cursor = response.headers.get("X-Next-Cursor")
        if not cursor:
            return items
        params = {**params, "cursor": cursor}


def drain(gateway: str, ids: list[str], c: int) -> dict[str, str]:
    """Approve each case once it is in review; returns application id -> permit number."""
    api = f"{gateway}/api/v1/applications"
    wanted, approved, permits = set(ids), set(), {}
    sessions = signed_in_sessions(gateway, "officer", c)
    (lister,) = signed_in_sessions(gateway, "officer", 1)
    deadline = time.monotonic() + DRAIN_TIMEOUT

    def approve(i: int, case_id: str) -> None:
        response = sessions[i % c].post(
            f"{api}/{case_id}/decision", json={"decision": "approve"}, timeout=30
        )
        if response.status_code not in (200, 409):  # 409: approved already (a retry)
            response.raise_for_status()

    with ThreadPoolExecutor(max_workers=c) as pool:
        while len(permits) < len(wanted):
            if time.monotonic() > deadline:
                raise TimeoutError(f"backlog not drained: {len(permits)}/{len(wanted)} permits")
            ready = [
                case["id"]
                for case in _listing(lister, gateway, "in_review")
                if case["id"] in wanted and case["id"] not in approved
            ]
            order = {case_id: n for n, case_id in enumerate(ids)}
            ready.sort(key=order.__getitem__)  # oldest first
            list(pool.map(approve, range(len(ready)), ready))
            approved.update(ready)
            for case in _listing(lister, gateway, "permit_issued"):
                if case["id"] in wanted and case.get("permit_number"):
                    permits[case["id"]] = case["permit_number"]
            if not ready:
                time.sleep(0.05)  # nothing to do yet: the identity checks are running
    return permits


def inversions(numbers: list[str]) -> int:
    """Adjacent pairs out of order (permit numbers sort in issue order within a year)."""
    return sum(1 for a, b in itertools.pairwise(numbers) if a > b)


def run(gateway: str, idms: str, n: int, c: int) -> dict[str, float]:
    passports = [flow.random_passport() for _ in range(n)]
    register_persons(idms, passports, c)
    started = time.monotonic()
    ids, latencies, ingest_seconds = ingest(gateway, passports, c)
    permits = drain(gateway, ids, c)
    drain_seconds = time.monotonic() - started
    numbers = [permits[case_id] for case_id in ids if case_id in permits]
    return {
        "n": n,
        "accepted_per_s": n / ingest_seconds,
        "submit_p50_ms": benchlib.percentile([s * 1000 for s in latencies], 50),
        "submit_p99_ms": benchlib.percentile([s * 1000 for s in latencies], 99),
        "drain_s": drain_seconds,
        "drained_per_s": n / drain_seconds,
        "lost": len(set(ids)) - len(permits) + (n - len(set(ids))),
        "duplicates": len(numbers) - len(set(numbers)),
        "inversions": inversions(numbers),
    }


def figures_line(figures: dict[str, float]) -> str:
    return (
        f"accepted_per_s={figures['accepted_per_s']:.1f} drain_s={figures['drain_s']:.1f} "
        f"drained_per_s={figures['drained_per_s']:.1f} lost={figures['lost']} "
        f"duplicates={figures['duplicates']} inversions={figures['inversions']}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="applications to submit")
    parser.add_argument("--c", type=int, default=16, help="concurrent clients")
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--smoke", action="store_true", help="tiny run (CI): --n 6 --c 3")
    args = parser.parse_args()
    if args.smoke:
        args.n, args.c = 6, 3
    os.environ["WPIS_TEST_DB"] = args.db
    from wpis_common.suite import running_suite

    print(f"bench/ingest.py: n={args.n} c={args.c} db={args.db}", flush=True)
    with tempfile.TemporaryDirectory() as base, running_suite(Path(base)) as suite:
        figures = run(suite.gateway_url, suite.idms_url, args.n, args.c)
    print(
        f"ingest: {figures['n']} applications accepted at {figures['accepted_per_s']:.1f}/s "
        f"(POST p50 {figures['submit_p50_ms']:.0f} ms, p99 {figures['submit_p99_ms']:.0f} ms)\n"
        f"drain: every permit issued {figures['drain_s']:.1f} s after the first submit "
        f"({figures['drained_per_s']:.1f} applications/s end to end)\n"
        f"check: lost={figures['lost']} duplicate permit numbers={figures['duplicates']} "
        f"order inversions={figures['inversions']}"
    )
    print(figures_line(figures))
    return 0 if figures["lost"] == 0 and figures["duplicates"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
