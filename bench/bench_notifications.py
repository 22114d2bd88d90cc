"""How fast notifications plans and sends deliveries, without the broker.

    python bench/bench_notifications.py                       # 300 cases, SQLite
    python bench/bench_notifications.py --backend postgresql  # the same on PostgreSQL
    python bench/bench_notifications.py --smoke               # tiny, for CI

Planning: one unit of work per ``application_submitted`` event, as the handler
runs it (contacts, three deliveries rendered from Jinja2 templates: two e-mails
and an SMS). Sending: every due delivery claimed, sent and recorded, each
event's deliveries together (``send_all``, as the service sends them), once to
a real local SMTP server (aiosmtpd in its own process) with the SMS to the file
outbox, and once with both channels to file outboxes. Prints one ``figures:``
line per measurement.
"""

from __future__ import annotations

import sys
from pathlib import Path

# keep bench/ off sys.path: its modules must never shadow packages or the stdlib.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

import argparse  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from datetime import UTC, datetime  # noqa: E402

from sqlalchemy import select  # noqa: E402

from notifications import deliveries, domain  # noqa: E402
from notifications.channels import (  # noqa: E402
    Channels,
    FileEmailOutbox,
    FileSmsOutbox,
    SmtpEmail,
    Webhooks,
)
from notifications.models import MESSAGING, Delivery  # noqa: E402
from notifications.schemas import EVENTS  # noqa: E402
from notifications.testing import smtp_server  # noqa: E402
from wpis_common.db import create_db_engine, make_session_factory  # noqa: E402
from wpis_common.dependencies import DatabaseHandle  # noqa: E402
from wpis_common.envelope import Envelope  # noqa: E402
from wpis_common.testing import migrated_database  # noqa: E402

POLICY = deliveries.SendingPolicy(domain.RetryPolicy(3, 1, 5), claim_seconds=60, batch_size=100)


def summary_ms(seconds: list[float]) -> str:
    ordered = sorted(value * 1000 for value in seconds)

    def rank(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] if ordered else 0.0

    return f"p50={rank(50):.1f}ms p99={rank(99):.1f}ms"


def submitted(index: int) -> Envelope:
    application_id = str(uuid.uuid4())
    data = {
        "application_id": application_id,
        "employer": {"name": "Ararat Build LLC", "email": "hr@ararat.example", "language": "ru"},
        "worker": {
            "given_names": "Ravi",
            "surname": f"Kumar {index}",
            "email": f"ravi{index}@example.org",
            "phone": "+37491234567",
            "language": "hy",
        },
        "submitted_at": datetime.now(UTC).isoformat(),
    }
    return Envelope(
        str(uuid.uuid4()),
        "application_submitted",
        1,
        datetime.now(UTC),
        "applications",
        index,
        data,
    )


def plan(db: DatabaseHandle, cases: int) -> float:
    started = time.perf_counter()
    for index in range(cases):
        with db.unit_of_work() as uow:
            event = submitted(index)
            contacts = deliveries.remember_contacts(uow, event.data)
            deliveries.plan_for_event(uow, event, contacts)
    return time.perf_counter() - started


def send_everything(db: DatabaseHandle, channels: Channels) -> tuple[int, float, list[float]]:
    """Send every due delivery as the service does: each event's deliveries together."""
    with db.unit_of_work() as uow:
        ids = deliveries.due_ids(uow, datetime.now(UTC), 1_000_000)
        by_event: dict[str, list[str]] = {}
        for delivery in uow.session.scalars(select(Delivery).where(Delivery.id.in_(ids))):
            by_event.setdefault(delivery.event_id, []).append(delivery.id)
    latencies = []
    started = time.perf_counter()
    for group in by_event.values():
        one = time.perf_counter()
        sent = deliveries.send_all(db.unit_of_work, channels, POLICY, group)
        assert sent == len(group), (sent, group)
        latencies.append(time.perf_counter() - one)
    return len(ids), time.perf_counter() - started, latencies


def run(cases: int, base: Path, label: str, with_smtp: bool) -> None:
    with migrated_database(base, "notifications") as url:
        engine = create_db_engine(url)
        db = DatabaseHandle(make_session_factory(engine), MESSAGING, "notifications", EVENTS, None)
        try:
            elapsed = plan(db, cases)
            print(
                f"figures: plan {label}: {cases} events, {cases / elapsed:,.0f} events/s, "
                f"{3 * cases / elapsed:,.0f} deliveries/s",
                flush=True,
            )
            sms = FileSmsOutbox(base / "outbox" / "sms")
            if with_smtp:
                with smtp_server(base / "maildir") as server:
                    email = SmtpEmail(server.host, server.port, "WPIS <no-reply@wpis.example>")
                    sent, seconds, latencies = send_everything(db, Channels(email, sms, Webhooks()))
                    received = len(server.messages())
                assert received == 2 * cases, received
                what = "smtp+file-sms"
            else:
                email_outbox = FileEmailOutbox(base / "outbox" / "email", "WPIS <no-reply@x>")
                sent, seconds, latencies = send_everything(
                    db, Channels(email_outbox, sms, Webhooks())
                )
                what = "file-outboxes"
            print(
                f"figures: send {label} {what}: {sent} deliveries, {sent / seconds:,.0f} "
                f"deliveries/s, per event ({sent // max(len(latencies), 1)} deliveries) "
                f"{summary_ms(latencies)}",
                flush=True,
            )
        finally:
            engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--smoke", action="store_true", help="tiny run (CI)")
    args = parser.parse_args()
    cases = 5 if args.smoke else args.cases
    os.environ["WPIS_TEST_DB"] = args.backend  # fresh databases on this backend
    for with_smtp in (True, False):
        with tempfile.TemporaryDirectory() as base:
            run(cases, Path(base), args.backend, with_smtp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
