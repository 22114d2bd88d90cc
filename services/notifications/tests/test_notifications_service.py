"""notifications in a real Nameko container on a throwaway vhost and database, with
real channels: e-mail to aiosmtpd, SMS to the gateway simulator, webhooks to a
receiver that verifies signatures. Events in; deliveries, retries, the log and
``notification_failed`` out."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import requests
from kombu import Connection, Queue
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_hook, entrypoint_waiter

from notifications.service import NotificationsService
from notifications.testing import (
    free_port,
    receiver_url,
    sms_gateway,
    smtp_server,
    webhook_receiver,
)
from wpis_common.caller import Forbidden, Unauthenticated
from wpis_common.envelope import Envelope
from wpis_common.errors import InvalidInput, NotFound
from wpis_common.outbox import event_exchange
from wpis_common.testing import wait_for

pytestmark = pytest.mark.integration
SMS_KEY = "sms-test-key"


@pytest.fixture(scope="module")
def smtp(tmp_path_factory):
    with smtp_server(tmp_path_factory.mktemp("maildir") / "mail") as server:
        yield server


@pytest.fixture(scope="module")
def sms_url():
    with sms_gateway(SMS_KEY) as url:
        yield url


@pytest.fixture
def failures(rabbit_config, amqp_uri):
    """notification_failed events, as a subscriber of notifications.events sees them."""
    with Connection(amqp_uri) as connection:
        channel = connection.default_channel
        event_exchange("notifications")(channel).declare()
        queue = Queue(
            f"test-notification-failed-{uuid.uuid4().hex[:8]}",
            exchange=event_exchange("notifications"),
            routing_key="notification_failed",
            durable=False,
            auto_delete=True,
        )(channel)
        queue.declare()

        received: list[Envelope] = []

        def drain() -> list[Envelope]:
            while (message := queue.get(no_ack=True)) is not None:
                received.append(Envelope.parse(message.payload))
            return list(received)

        yield drain


@pytest.fixture
def start(container_factory, rabbit_config, make_database, smtp, sms_url, tmp_path, callers):
    def start_container(**overrides):
        config = {
            "DATABASE_URL": make_database("notifications"),
            "OUTBOX_POLL_INTERVAL": 0.1,
            "SMTP_HOST": smtp.host,
            "SMTP_PORT": smtp.port,
            "SMTP_FROM": "WPIS <no-reply@wpis.example>",
            "SMS_GATEWAY_URL": sms_url,
            "SMS_GATEWAY_API_KEY": SMS_KEY,
            "OUTBOX_DIR": str(tmp_path / "outbox"),
            "SEND_INTERVAL": 0.2,
            "RETRY_MAX_ATTEMPTS": 3,
            "RETRY_BASE_SECONDS": 0.2,
            "RETRY_MAX_BACKOFF": 0.5,
            "CLAIM_SECONDS": 30,
            **overrides,
        }
        container = container_factory(NotificationsService, {**config, **callers.config})
        container.start()
        container.callers = callers
        return container

    return start_container


@pytest.fixture
def container(start):
    return start()


def submitted(worker_language="hy", employer_language="ru", phone="+37491234567") -> dict:
    application_id = str(uuid.uuid4())
    worker = {
        "given_names": "Ravi",
        "surname": "Kumar",
        "email": f"ravi-{application_id[:8]}@example.org",
        "language": worker_language,
    }
    if phone:
        worker["phone"] = phone
    return {
        "application_id": application_id,
        "employer": {
            "tax_id": "02563412",
            "name": "Ararat Build LLC",
            "email": f"hr-{application_id[:8]}@ararat.example",
            "language": employer_language,
        },
        "worker": worker,
        "submitted_at": datetime.now(UTC).isoformat(),
    }


def permit_issued(application_id: str) -> dict:
    return {
        "application_id": application_id,
        "permit_number": f"WP-2027-{uuid.uuid4().int % 10**6:06d}-K",
        "valid_from": "2027-01-15",
        "valid_until": "2027-12-31",
        "job": {"title": "Welder"},
    }


def envelope(producer: str, event_type: str, data: dict) -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": datetime.now(UTC).isoformat(),
        "producer": producer,
        "sequence": 1,
        "data": data,
    }


def deliver(container, producer: str, event_type: str, body: dict) -> None:
    with entrypoint_waiter(container, f"on_{event_type}"):
        event_dispatcher()(producer, event_type, body)


# The caller of each query: officers read the delivery log, admins manage webhooks.
CALLER_ROLES = {"register_endpoint": "admin", "list_endpoints": "admin", "remove_endpoint": "admin"}


def call(container, method: str, *args):
    context = container.callers.context(CALLER_ROLES.get(method, "decision_officer"))
    with entrypoint_hook(container, method, context_data=context) as hook:
        return hook(*args)


def log_of(container, **filters) -> list[dict]:
    return call(container, "list_deliveries", filters)


def settled(container, count: int, **filters) -> list[dict]:
    """Wait until ``count`` deliveries match ``filters`` and none of them is still in flight."""

    def probe():
        rows = log_of(container, **filters)
        done = [r for r in rows if r["status"] in ("sent", "failed", "cancelled")]
        return rows if len(rows) == count and len(done) == count else None

    return wait_for(probe, timeout=15, what=f"{count} settled deliveries {filters}")


def test_submission_is_notified_by_email_and_sms_in_each_persons_language(container, smtp, sms_url):
    data = submitted()
    deliver(
        container,
        "applications",
        "application_submitted",
        envelope("applications", "application_submitted", data),
    )

    rows = settled(container, 3, application_id=data["application_id"], status="sent")
    assert {(r["recipient_role"], r["channel"], r["language"]) for r in rows} == {
        ("employer", "email", "ru"),
        ("worker", "email", "hy"),
        ("worker", "sms", "hy"),
    }
    assert all(r["attempts"] == 1 and r["sent_at"] for r in rows)

    mails = {m["To"]: m for m in smtp.messages() if data["application_id"][:8] in m["To"]}
    worker_mail = mails[data["worker"]["email"]]
    assert worker_mail["Subject"].startswith("Աշխատանքի թույլտվության դիմումը ստացվել է")
    assert worker_mail["Content-Language"] == "hy"
    assert "Հարգելի Ravi Kumar" in worker_mail.get_content()
    employer_mail = mails[data["employer"]["email"]]
    assert employer_mail["Subject"].startswith("Заявление на разрешение на работу получено")
    assert "Здравствуйте, Ararat Build LLC!" in employer_mail.get_content()

    texts = requests.get(
        f"{sms_url}/v1/messages",
        params={"to": "+37491234567"},
        headers={"Authorization": f"Bearer {SMS_KEY}"},
        timeout=5,
    ).json()["messages"]
    sms_id = next(r["id"] for r in rows if r["channel"] == "sms")
    assert [m["text"] for m in texts if m["reference"] == sms_id] == [
        next(r["body"] for r in rows if r["channel"] == "sms")
    ]


def test_a_redelivered_event_is_notified_once(container, smtp):
    data = submitted(phone=None)
    body = envelope("applications", "application_submitted", data)
    deliver(container, "applications", "application_submitted", body)
    deliver(container, "applications", "application_submitted", body)  # the broker redelivers

    rows = settled(container, 2, application_id=data["application_id"])
    assert sorted(r["recipient_role"] for r in rows) == ["employer", "worker"]
    mails = [m for m in smtp.messages() if data["application_id"][:8] in m["To"]]
    assert len(mails) == 2
    assert call(container, "deliveries_for", data["application_id"]) == sorted(
        rows, key=lambda r: (r["created_at"], r["id"])
    )


def test_notices_wait_for_the_contacts_when_their_event_comes_first(container, smtp):
    data = submitted(worker_language="ru", phone=None)
    issued = permit_issued(data["application_id"])
    deliver(container, "permits", "permit_issued", envelope("permits", "permit_issued", issued))
    assert log_of(container, application_id=data["application_id"]) == []

    deliver(
        container,
        "applications",
        "application_submitted",
        envelope("applications", "application_submitted", data),
    )
    rows = settled(container, 2, application_id=data["application_id"], event_type="permit_issued")
    worker = next(r for r in rows if r["recipient_role"] == "worker")
    assert worker["subject"] == f"Выдано разрешение на работу {issued['permit_number']}"


def register(container, url: str, *event_types: str) -> dict:
    payload = {"agency": "Police", "url": url, "event_types": list(event_types)}
    return call(container, "register_endpoint", payload)


def test_agency_webhook_receives_signed_events_it_subscribed_to(container):
    port = free_port()
    endpoint = register(container, receiver_url(port), "permit_flagged")
    assert len(endpoint["secret"]) >= 32
    assert call(container, "list_endpoints") == [
        {key: value for key, value in endpoint.items() if key != "secret"}
    ]
    with webhook_receiver(endpoint["secret"], port=port) as receiver:
        # permit_flagged has no producer yet and tells no person: it reaches agencies only
        flagged = {
            "permit_number": "WP-1",
            "application_id": str(uuid.uuid4()),
            "reason": "document_stolen",
        }
        body = envelope("permits", "permit_flagged", flagged)
        deliver(container, "permits", "permit_flagged", body)
        issued = envelope("permits", "permit_issued", permit_issued(flagged["application_id"]))
        deliver(container, "permits", "permit_issued", issued)  # not subscribed to

        (row,) = settled(container, 1, channel="webhook")
        assert (row["status"], row["event_type"]) == ("sent", "permit_flagged")
        assert row["recipient"] == receiver.url
        (got,) = wait_for(receiver.received, what="the webhook")
    assert got["valid"] is True
    assert got["event"] == body
    assert got["delivery"] == row["id"]
    assert log_of(container, application_id=flagged["application_id"], channel="email") == []


def test_failing_endpoint_is_retried_with_backoff_until_it_answers(container):
    port = free_port()
    endpoint = register(container, receiver_url(port), "*")
    with webhook_receiver(endpoint["secret"], fail_first=2, port=port) as receiver:
        data = permit_issued(str(uuid.uuid4()))
        deliver(container, "permits", "permit_issued", envelope("permits", "permit_issued", data))
        (row,) = settled(container, 1, channel="webhook")
        statuses = [r["status"] for r in receiver.received()]
    assert (row["status"], row["attempts"]) == ("sent", 3)
    assert statuses == [503, 503, 200]


def test_after_the_last_retry_the_delivery_fails_and_is_published(container, failures):
    endpoint = register(container, receiver_url(free_port()), "permit_revoked")  # nobody there
    data = {
        "permit_number": "WP-1",
        "application_id": str(uuid.uuid4()),
        "reason": "false documents",
        "revoked_by": "officer.anna",
        "revoked_on": "2027-06-01",
    }
    body = envelope("permits", "permit_revoked", data)
    deliver(container, "permits", "permit_revoked", body)

    (row,) = settled(container, 1, channel="webhook")
    assert (row["status"], row["attempts"]) == ("failed", 3)
    assert "ConnectionError" in row["last_error"]
    (failed,) = wait_for(failures, what="notification_failed")
    assert failed.producer == "notifications"
    assert failed.data == {
        "delivery_id": row["id"],
        "event_id": body["event_id"],
        "event_type": "permit_revoked",
        "application_id": data["application_id"],
        "channel": "webhook",
        "recipient_role": "agency",
        "attempts": 3,
        "last_error": row["last_error"],
        "failed_at": failed.data["failed_at"],
    }
    assert endpoint["id"] not in str(failed.data)  # no endpoint or address in the event


def test_unreachable_mail_server_fails_the_email_after_its_retries(start, failures):
    container = start(SMTP_PORT=free_port(), SMTP_TIMEOUT=2)
    data = submitted(phone=None)
    deliver(
        container,
        "applications",
        "application_submitted",
        envelope("applications", "application_submitted", data),
    )
    rows = settled(container, 2, application_id=data["application_id"], status="failed")
    assert {r["attempts"] for r in rows} == {3}
    published = wait_for(lambda: len(failures()) == 2 and failures(), what="two failures")
    assert sorted(event.data["recipient_role"] for event in published) == ["employer", "worker"]


def test_no_write_lock_is_held_while_a_delivery_is_on_the_wire(container):
    port = free_port()
    endpoint = register(container, receiver_url(port), "permit_issued")
    with webhook_receiver(endpoint["secret"], delay=3, port=port):
        data = permit_issued(str(uuid.uuid4()))
        deliver(container, "permits", "permit_issued", envelope("permits", "permit_issued", data))
        wait_for(lambda: log_of(container, status="sending"), what="the send under way")
        # the agency is slow to answer, yet the database takes a write meanwhile: had the
        # send held a transaction open, this write would wait until the answer came
        register(container, receiver_url(free_port()), "permit_revoked")
        assert [row["status"] for row in log_of(container, channel="webhook")] == ["sending"]
        settled(container, 1, channel="webhook", status="sent")


def test_removed_endpoint_is_no_longer_called_and_cannot_be_removed_twice(container):
    endpoint = register(container, receiver_url(free_port()), "*")
    removed = call(container, "remove_endpoint", endpoint["id"])
    assert removed["active"] is False and "secret" not in removed
    assert call(container, "list_endpoints") == []
    data = permit_issued(str(uuid.uuid4()))
    deliver(container, "permits", "permit_issued", envelope("permits", "permit_issued", data))
    assert log_of(container, channel="webhook") == []
    with pytest.raises(NotFound):
        call(container, "remove_endpoint", endpoint["id"])


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({"agency": " ", "url": "ftp://x", "event_types": []}, {"agency", "url", "event_types"}),
        ({"url": "http://127.0.0.1:1/", "event_types": ["nope"]}, {"agency", "event_types.0"}),
        ("not an object", {"_schema"}),
    ],
)
def test_invalid_endpoint_is_refused_with_its_fields_and_stores_nothing(container, payload, fields):
    with pytest.raises(InvalidInput) as refused:
        call(container, "register_endpoint", payload)
    assert set(refused.value.details["errors"]) == fields
    assert call(container, "list_endpoints") == []


def test_invalid_log_filters_are_refused_with_their_fields(container):
    with pytest.raises(InvalidInput) as refused:
        log_of(container, status="lost", limit=0, colour="red")
    assert set(refused.value.details["errors"]) == {"status", "limit", "colour"}


def test_the_delivery_log_and_webhooks_check_the_caller_here(container):
    for method, args, role in (("list_deliveries", ({},), "agency"),
                               ("register_endpoint", ({},), "decision_officer"),
                               ("list_endpoints", (), "employer")):  # fmt: skip
        context = container.callers.context(role)
        with (
            entrypoint_hook(container, method, context_data=context) as hook,
            pytest.raises(Forbidden),
        ):
            hook(*args)
    with entrypoint_hook(container, "deliveries_for") as hook, pytest.raises(Unauthenticated):
        hook("00000000-0000-4000-8000-000000000000")  # no token at all
