"""Public verification lookups and permit issuance against a large register.

Section 1, the public path (``--http``, what an employer's check costs):
starts the suite as real processes, bulk-loads N permits (default 1,000,000)
into the permits service's database and the gateway's verification read model
(ADR-014; as if their ``permit_issued`` events had been applied), then C
concurrent clients (default 16; keep-alive connections, ``http.client``: a
lean client, since it shares the 2 cores) GET ``/api/v1/verify/<number>`` on
the gateway for random numbers (10 % unknown, which the gateway asks of the
register): lookups per second and p50/p99 latency as the client sees them.
Then it revokes ``--revocations`` permits through the API and reports how long
each took to show in the public answer (p50/max). The gateway's per-client
rate limit is lifted for the run (VERIFY_RATE_*).

Section 2, the register (no HTTP, no RPC): bulk-loads N permits
straight into a fresh permits
database (SQLite file, or PostgreSQL with COPY; not through the API), then
measures, in this process, the use cases the permits service runs:

* verification: ``verification.by_number`` in its own unit of work (lookup by
  primary key, the answer, and the verification-log insert, committed), for
  random numbers of which 10 % are unknown;
* lookup only: the same without the log row and its commit (the register's part);
* issuance: ``register.issue_for_approval`` (attestation signature check,
  gap-free number under the counter row lock, insert, outbox event, commit).

It measures the register, not the HTTP/RPC path (see bench/flow.py for that).

    python bench/verify.py --http --backend sqlite   # the public path, 1,000,000 permits
    python bench/verify.py                           # the register, both backends
    python bench/verify.py --backend sqlite --permits 200000
    python bench/verify.py --smoke                   # tiny run of the register, for CI
    python bench/verify.py --http --smoke            # tiny run of the public path, for CI

PostgreSQL: WPIS_TEST_PG_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/postgres).
Prints one ``figures:`` line per backend (register) and one ``public:`` line
per backend (public path).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import secrets
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from http.client import HTTPConnection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# bench/ stays off sys.path: a bench module must never shadow a service package
BENCH_DIR = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != BENCH_DIR]

import requests  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from permits import domain, register, verification  # noqa: E402
from permits.models import MESSAGING, Permit, PermitCounter  # noqa: E402
from permits.schemas import EVENTS  # noqa: E402
from wpis_common.db import UnitOfWork, create_db_engine, make_session_factory  # noqa: E402
from wpis_common.signing import document_fingerprint, sign  # noqa: E402
from wpis_common.testing import fresh_database  # noqa: E402

_spec = importlib.util.spec_from_file_location("benchlib", BENCH_DIR / "benchlib.py")
benchlib = sys.modules["benchlib"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(benchlib)
percentile = benchlib.percentile


FIRST_YEAR = 2000  # bulk rows use past years, so issuance continues this year's series
BATCH = 20_000
COLUMNS = (
    "number", "application_id", "status", "holder", "employer", "job", "contract_terms",
    "valid_from", "valid_until", "attestation_id", "verification_token", "issued_at",
    "document_fingerprint", "passport_expiry", "version",
)  # fmt: skip
STATUSES = ["issued"] * 8 + ["expired", "revoked"]


def bulk_number(index: int) -> str:
    year, sequence = divmod(index, domain.MAX_SEQUENCE)
    return domain.permit_number(FIRST_YEAR + year, sequence + 1)


def bulk_rows(count: int) -> Iterator[tuple]:
    rng = random.Random(7)
    issued_at = datetime(2001, 1, 1, tzinfo=UTC)
    for index in range(count):
        passport = f"P{index:08d}"
        # valid well past today: else the permits service's expiry sweep, running during
        # the public-path measurement, expires (and publishes) thousands of them
        start = date.today() - timedelta(days=rng.randrange(365))
        holder = {"given_names": "Worker", "surname": f"No{index}", "date_of_birth": "1990-01-01",
                  "sex": "F", "nationality": "IND", "passport_number": passport,
                  "passport_country": "IND"}  # fmt: skip
        job = {"title": "Welder", "isco_code": "7212", "region": "AM-ER",
               "monthly_salary": 450000, "currency": "AMD"}  # fmt: skip
        yield (
            bulk_number(index), str(uuid.UUID(int=index)), rng.choice(STATUSES),
            json.dumps(holder), json.dumps({"tax_id": "02563412", "name": "Ararat Build LLC"}),
            json.dumps(job), json.dumps({"start_date": start.isoformat(),
                                         "end_date": (start + timedelta(days=800)).isoformat()}),
            start, start + timedelta(days=800), str(uuid.UUID(int=index + 1)),
            secrets.token_urlsafe(32), issued_at, document_fingerprint("IND", passport),
            date(2031, 1, 1), 1,
        )  # fmt: skip


def bulk_load(url: str, count: int) -> float:
    started = time.perf_counter()
    engine = create_db_engine(url, pool_size=1)
    try:
        if engine.dialect.name == "postgresql":
            _copy_postgresql(engine, count)
        else:
            _insert_sqlite(engine, count)
    finally:
        engine.dispose()
    return time.perf_counter() - started


READ_MODEL_COLUMNS = (
    "number", "status", "valid_from", "valid_until", "ends_on", "employer_name", "job_title",
    "holder_birth_date", "sequence",
)  # fmt: skip


def read_model_rows(count: int) -> Iterator[tuple]:
    """The gateway's verification entries for the same permits (bulk_rows)."""
    for number, _, status, holder, _, _, _, valid_from, valid_until, *_ in bulk_rows(count):
        birth = json.loads(holder)["date_of_birth"]
        yield (number, status, valid_from.isoformat(), valid_until.isoformat(), None,
               "Ararat Build LLC", "Welder", birth, 0)  # fmt: skip


def bulk_load_read_model(url: str, count: int) -> float:
    started = time.perf_counter()
    engine = create_db_engine(url, pool_size=1)
    columns = ", ".join(READ_MODEL_COLUMNS)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "postgresql":
            with cursor.copy(f"COPY verification_entries ({columns}) FROM STDIN") as copy:
                for row in read_model_rows(count):
                    copy.write_row(row)
        else:
            placeholders = ", ".join("?" for _ in READ_MODEL_COLUMNS)
            statement = f"INSERT INTO verification_entries ({columns}) VALUES ({placeholders})"
            rows = read_model_rows(count)
            while batch := [row for _, row in zip(range(BATCH), rows, strict=False)]:
                cursor.executemany(statement, batch)
        raw.commit()
        cursor.execute(
            "ANALYZE verification_entries" if engine.dialect.name != "sqlite" else "ANALYZE"
        )
        raw.commit()
        if engine.dialect.name == "sqlite":
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()
        engine.dispose()
    return time.perf_counter() - started


def _copy_postgresql(engine, count: int) -> None:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        with cursor.copy(f"COPY permits ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in bulk_rows(count):
                copy.write_row(row)
        raw.commit()
        cursor.execute("ANALYZE permits")
        raw.commit()
    finally:
        raw.close()


def _insert_sqlite(engine, count: int) -> None:
    placeholders = ", ".join("?" for _ in COLUMNS)
    statement = f"INSERT INTO permits ({', '.join(COLUMNS)}) VALUES ({placeholders})"
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        batch: list[tuple] = []
        for row in bulk_rows(count):
            *head, valid_from, valid_until, att, token, issued_at, fp, expiry, version = row
            batch.append((*head, valid_from.isoformat(), valid_until.isoformat(), att, token,
                          issued_at.strftime("%Y-%m-%d %H:%M:%S.%f"), fp, expiry.isoformat(),
                          version))  # fmt: skip
            if len(batch) == BATCH:
                cursor.executemany(statement, batch)
                batch = []
        if batch:
            cursor.executemany(statement, batch)
        raw.commit()
        cursor.execute("ANALYZE")
        raw.commit()
        # fold the WAL (about the database's size) into the file now: else the first
        # commit of the running service checkpoints it, and a lookup waits for that
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()


def measure_verification(sessions, count: int, lookups: int) -> list[float]:
    rng = random.Random(11)
    policy = verification.VerificationPolicy()
    today = date.today()
    latencies = []
    for _ in range(lookups):
        index = rng.randrange(count)
        number = bulk_number(index) if rng.random() < 0.9 else domain.permit_number(1999, index + 1)
        started = time.perf_counter()
        with UnitOfWork(sessions, MESSAGING, "permits", EVENTS) as uow:
            answer = verification.by_number(uow, number, {"client": "bench"}, policy, today)
        latencies.append(time.perf_counter() - started)
        assert answer["result"] in ("valid", "not_valid", "unknown")
    return latencies


def measure_lookup_only(sessions, count: int, lookups: int) -> list[float]:
    """The register's part alone: find and judge the permit, no log row, no commit."""
    rng = random.Random(13)
    today = date.today()
    latencies = []
    with sessions() as session:
        for _ in range(lookups):
            number = bulk_number(rng.randrange(count))
            started = time.perf_counter()
            answer = verification._judge(number, session.get(Permit, number), today)
            latencies.append(time.perf_counter() - started)
            session.expunge_all()
            assert answer["result"] in ("valid", "not_valid")
    return latencies


def measure_issuance(sessions, issues: int) -> float:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    approvals = [_approval(key) for _ in range(issues)]
    started = time.perf_counter()
    for approval in approvals:
        with UnitOfWork(sessions, MESSAGING, "permits", EVENTS) as uow:
            permit = register.issue_for_approval(
                uow, approval, key.public_key(), domain.ValidityRules()
            )
            assert permit is not None
    return time.perf_counter() - started


def _approval(key) -> dict:
    application_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    start = date.today() + timedelta(days=10)
    attestation = {
        "attestation_id": str(uuid.uuid4()), "application_id": application_id,
        "document_fingerprint": document_fingerprint("IND", "Z1234567"), "outcome": "verified",
        "checked_at": now.isoformat(), "expires_at": (now + timedelta(days=30)).isoformat(),
        "issuer": "wpis.identity_gateway", "verification_id": str(uuid.uuid4()),
        "subject": "s", "document_type": "passport", "document_country": "IND",
    }  # fmt: skip
    return {
        "application_id": application_id,
        "employer": {"tax_id": "02563412", "name": "Ararat Build LLC", "email": "hr@a.example"},
        "worker": {"given_names": "Ravi", "surname": "Kumar", "date_of_birth": "1990-04-12",
                   "sex": "M", "nationality": "IND", "email": "r@example.org",
                   "passport": {"number": "Z1234567", "issuing_country": "IND",
                                "expiry_date": "2031-01-01"}},
        "job": {"title": "Welder", "isco_code": "7212", "region": "AM-ER",
                "monthly_salary": 450000, "currency": "AMD"},
        "contract": {"start_date": start.isoformat(),
                     "end_date": (start + timedelta(days=200)).isoformat()},
        "attestation": sign(key, attestation),
    }  # fmt: skip


def run_backend(backend: str, permits: int, lookups: int, issues: int) -> None:
    os.environ["WPIS_TEST_DB"] = backend
    from wpis_common.migrate import upgrade

    with tempfile.TemporaryDirectory() as scratch, fresh_database(Path(scratch), "bench") as url:
        upgrade("permits", url)
        load_seconds = bulk_load(url, permits)
        engine = create_db_engine(url, pool_size=2)
        sessions = make_session_factory(engine)
        try:
            with sessions() as session:  # the counter for the bulk years, as issuing leaves it
                session.execute(insert(PermitCounter), _counters(permits))
                session.commit()
                assert session.get(Permit, bulk_number(permits - 1)) is not None
            measure_verification(sessions, permits, min(200, lookups))  # warm the cache
            latencies = measure_verification(sessions, permits, lookups)
            lookup_only = measure_lookup_only(sessions, permits, lookups)
            issue_seconds = measure_issuance(sessions, issues)
        finally:
            engine.dispose()
    ms = [value * 1000 for value in latencies]
    lookup_ms = [value * 1000 for value in lookup_only]
    print(
        f"figures: backend={backend} permits={permits} load={load_seconds:.1f}s "
        f"verify_lookups={lookups} verify_per_s={lookups / sum(latencies):.0f} "
        f"verify_p50={percentile(ms, 50):.2f}ms verify_p99={percentile(ms, 99):.2f}ms "
        f"issued={issues} issued_per_s={issues / issue_seconds:.0f} "
        f"lookup_only_per_s={lookups / sum(lookup_only):.0f} "
        f"lookup_only_p50={percentile(lookup_ms, 50):.2f}ms "
        f"lookup_only_p99={percentile(lookup_ms, 99):.2f}ms",
        flush=True,
    )


def _counters(permits: int) -> list[dict]:
    full_years, last = divmod(permits, domain.MAX_SEQUENCE)
    counters = [{"year": FIRST_YEAR + y, "last_sequence": domain.MAX_SEQUENCE}
                for y in range(full_years)]  # fmt: skip
    if last:
        counters.append({"year": FIRST_YEAR + full_years, "last_sequence": last})
    return counters


def run_public(
    backend: str,
    permits: int,
    lookups: int,
    clients: int,
    revocations: int,
    unknown_locally: bool = False,
    gateways: int = 1,
) -> dict[str, float]:
    """Start the suite (rate limit lifted), load ``permits`` and measure the public path."""
    os.environ["WPIS_TEST_DB"] = backend
    from wpis_common.suite import running_suite

    unlimited = {
        "VERIFY_RATE_PER_MINUTE": "100000000",
        "VERIFY_RATE_BURST": "1000000",
        "VERIFY_UNKNOWN_LOCALLY": "true" if unknown_locally else "false",
    }
    with (
        tempfile.TemporaryDirectory() as scratch,
        running_suite(Path(scratch), extra_env=unlimited) as suite,
    ):
        for _ in range(gateways - 1):  # SO_REUSEPORT: the kernel spreads connections
            suite.start_instance("gateway")
        figures = measure_public(suite, permits, lookups, clients, revocations)
    print(
        public_line(backend, clients, lookups, figures),
        f"unknown_locally={unknown_locally} gateways={gateways}",
    )
    return figures


def measure_public(
    suite: Any, permits: int, lookups: int, clients: int, revocations: int
) -> dict[str, float]:
    """GET /api/v1/verify/<number> on a running suite after bulk-loading ``permits``."""
    load_seconds = bulk_load(suite.database_urls["permits"], permits)
    load_seconds += bulk_load_read_model(suite.database_urls["gateway"], permits)
    rng = random.Random(17)
    numbers = [
        bulk_number(rng.randrange(permits))
        if rng.random() < 0.9
        else domain.permit_number(1999, rng.randrange(permits) + 1)
        for _ in range(lookups)
    ]
    address = urlsplit(suite.gateway_url)
    connections = [
        HTTPConnection(address.hostname, address.port, timeout=30) for _ in range(clients)
    ]
    errors: list[int] = []

    def check(i: int) -> float:
        started = time.perf_counter()
        status, body = _get(connections[i % clients], f"/api/v1/verify/{numbers[i]}")
        elapsed = time.perf_counter() - started
        if status != 200:  # e.g. a 504: the gateway's RPC timed out
            errors.append(status)
        else:
            assert json.loads(body)["result"] in ("valid", "not_valid", "unknown")
        return elapsed

    # one client per connection: map each connection's share in its own thread
    def client(index: int) -> list[float]:
        return [check(i) for i in range(index, lookups, clients)]

    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(lambda i: [check(j) for j in range(i, min(200, lookups // 5), clients)],
                      range(clients)))  # warm up  # fmt: skip
        errors.clear()
        started = time.perf_counter()
        latencies = [value for share in pool.map(client, range(clients)) for value in share]
        seconds = time.perf_counter() - started
    ms = [value * 1000 for value in latencies]
    lags = revocation_lags(suite, connections[0], permits, revocations)
    return {
        "permits": permits,
        "load_s": load_seconds,
        "per_s": lookups / seconds,
        "p50": percentile(ms, 50),
        "p99": percentile(ms, 99),
        "errors": len(errors),
        "revoked": len(lags),
        "revoke_p50": percentile(lags, 50) if lags else 0.0,
        "revoke_max": max(lags, default=0.0),
    }


def _get(connection: HTTPConnection, path: str) -> tuple[int, bytes]:
    connection.request("GET", path)
    response = connection.getresponse()
    return response.status, response.read()


def revocation_lags(
    suite: Any, connection: HTTPConnection, permits: int, count: int
) -> list[float]:
    """Revoke ``count`` valid permits through the API; ms until each shows as revoked."""
    from wpis_common.testing import auth_headers

    lags = []
    for index in range(0, permits, max(1, permits // max(count, 1)))[:count]:
        number = bulk_number(index)
        _, body = _get(connection, f"/api/v1/verify/{number}")
        if json.loads(body)["result"] != "valid":
            continue
        revoked = requests.post(
            f"{suite.gateway_url}/api/v1/permits/{number}/revoke",
            json={"reason": "benchmark"},
            headers=auth_headers(suite, "supervisor"),
            timeout=30,
        )
        answered = time.perf_counter()
        assert revoked.status_code == 200, revoked.text
        deadline = answered + 30
        while json.loads(_get(connection, f"/api/v1/verify/{number}")[1])["reason"] != "revoked":
            assert time.perf_counter() < deadline, f"revocation of {number} not visible in 30 s"
            time.sleep(0.002)
        lags.append((time.perf_counter() - answered) * 1000)
    return lags


def public_line(backend: str, clients: int, lookups: int, figures: dict[str, float]) -> str:
    return (
        f"public: backend={backend} permits={figures['permits']} load={figures['load_s']:.1f}s "
        f"clients={clients} lookups={lookups} lookups_per_s={figures['per_s']:.0f} "
        f"p50={figures['p50']:.1f}ms p99={figures['p99']:.1f}ms errors={figures['errors']} "
        f"revocations={figures['revoked']} revocation_visible_p50={figures['revoke_p50']:.0f}ms "
        f"revocation_visible_max={figures['revoke_max']:.0f}ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--permits", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=5_000)
    parser.add_argument("--issues", type=int, default=500)
    parser.add_argument("--http", action="store_true", help="the public path only (section 1)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (--http)")
    parser.add_argument(
        "--unknown-locally",
        action="store_true",
        help="the gateway answers numbers its read model lacks itself (VERIFY_UNKNOWN_LOCALLY)",
    )
    parser.add_argument(
        "--gateways", type=int, default=1, help="gateway processes sharing the port (--http)"
    )
    parser.add_argument("--revocations", type=int, default=20, help="revocations timed (--http)")
    parser.add_argument("--smoke", action="store_true", help="tiny run (CI), SQLite only")
    args = parser.parse_args()
    if args.smoke:
        args.backend, args.permits, args.lookups, args.issues = "sqlite", 300, 50, 10
        args.clients, args.revocations = 4, 2
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for backend in backends:
        if args.http:
            run_public(
                backend,
                args.permits,
                args.lookups,
                args.clients,
                args.revocations,
                args.unknown_locally,
                args.gateways,
            )
        if not args.http:
            run_backend(backend, args.permits, args.lookups, args.issues)
    return 0


if __name__ == "__main__":
    sys.exit(main())
