"""Notifications end to end: the whole suite as real processes, configured to send
e-mail to an aiosmtpd server this test starts. A case goes to an issued permit; the
worker's e-mails arrive in Armenian and the employer's in Russian, the SMS goes to
the file outbox (no gateway configured), an agency's webhook endpoint registered
over the HTTP API receives the signed event, and the delivery log answers queries."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
import requests

from notifications.testing import free_port, receiver_url, smtp_server, webhook_receiver
from wpis_common.suite import Suite, running_suite
from wpis_common.testing import auth_headers, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def smtp(tmp_path_factory):
    with smtp_server(tmp_path_factory.mktemp("smtp") / "maildir") as server:
        yield server


@pytest.fixture(scope="module")
def suite(tmp_path_factory, smtp):
    """This module's own suite: its notifications service sends e-mail to ``smtp``."""
    extra_env = {
        "SMTP_HOST": smtp.host,
        "SMTP_PORT": str(smtp.port),
        "SMTP_FROM": "Migration Service <no-reply@migration.example>",
        "NOTIFICATIONS_SEND_INTERVAL": "0.5",
    }
    with running_suite(Path(tmp_path_factory.mktemp("suite")), extra_env=extra_env) as running:
        yield running


def api(suite: Suite, path: str) -> str:
    return f"{suite.gateway_url}/api/v1{path}"


def application(worker_email: str) -> dict:
    start = date.today() + timedelta(days=45)
    return {
        "employer": {
            "tax_id": "02563412",
            "name": "Ararat Build LLC",
            "email": "hr@ararat.example",
            "language": "ru",
        },
        "worker": {
            "given_names": "Ravi",
            "surname": "Kumar",
            "date_of_birth": "1990-04-12",
            "sex": "M",
            "nationality": "IND",
            "email": worker_email,
            "phone": "+37491234567",
            "language": "hy",
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
            "monthly_salary": 450000,
            "currency": "AMD",
        },
        "contract": {
            "start_date": start.isoformat(),
            "end_date": (start + timedelta(days=300)).isoformat(),
        },
    }


def issue_permit(suite: Suite, payload: dict) -> dict:
    created = requests.post(
        api(suite, "/applications"), json=payload, timeout=10, headers=auth_headers(suite, "ararat")
    )
    assert created.status_code == 201, created.text
    case_id = created.json()["id"]

    def case_in(*statuses: str):
        case = requests.get(
            api(suite, f"/applications/{case_id}"),
            timeout=10,
            headers=auth_headers(suite, "officer"),
        ).json()
        return case if case["status"] in statuses else None

    wait_for(lambda: case_in("in_review"), timeout=60, what="identity check")
    decision = requests.post(
        api(suite, f"/applications/{case_id}/decision"),
        json={"decision": "approve"},
        timeout=10,
        headers=auth_headers(suite, "officer"),
    )
    assert decision.status_code == 200, decision.text
    return wait_for(lambda: case_in("permit_issued"), timeout=60, what="the permit")


def test_permit_email_arrives_in_the_workers_language(suite: Suite, smtp):
    case = issue_permit(suite, application("ravi.e2e@example.org"))
    number = case["permit_number"]

    def mail_about_the_permit(to: str):
        found = [
            m
            for m in smtp.messages()
            if m["To"] == to
            and m["X-WPIS-Event-Type"] == "permit_issued"
            and number in m["Subject"]
        ]
        return found or None

    (worker_mail,) = wait_for(
        lambda: mail_about_the_permit("ravi.e2e@example.org"), timeout=60, what="worker e-mail"
    )
    assert worker_mail["Subject"] == f"Տրամադրվել է {number} աշխատանքի թույլտվությունը"
    assert worker_mail["Content-Language"] == "hy"
    assert worker_mail["From"] == "Migration Service <no-reply@migration.example>"
    text = worker_mail.get_content()
    assert text.startswith("Հարգելի Ravi Kumar,")
    assert f"Վավեր է {case['contract']['start_date']}-ից" in text

    (employer_mail,) = wait_for(
        lambda: mail_about_the_permit("hr@ararat.example"), timeout=60, what="employer e-mail"
    )
    assert employer_mail["Subject"] == f"Выдано разрешение на работу {number}"

    # The SMS goes out on its own (the sender's timer): wait until the log shows all three.
    expected_notices = {("employer", "email"), ("worker", "email"), ("worker", "sms")}

    def sent_log() -> list[dict] | None:
        log = requests.get(
            api(suite, "/notifications"),
            params={"application_id": case["id"], "status": "sent"},
            timeout=10,
            headers=auth_headers(suite, "officer"),
        ).json()
        sent = {
            (n["recipient_role"], n["channel"]) for n in log if n["event_type"] == "permit_issued"
        }
        return log if sent >= expected_notices else None

    log = wait_for(sent_log, timeout=60, what="the permit notices to be logged as sent")
    permit_notices = {
        (n["recipient_role"], n["channel"]) for n in log if n["event_type"] == "permit_issued"
    }
    assert permit_notices == expected_notices
    sms = next(n for n in log if n["event_type"] == "permit_issued" and n["channel"] == "sms")
    outbox_sms = suite.base_dir / "outbox" / "sms" / f"{sms['id']}.json"
    assert outbox_sms.exists()  # no SMS gateway configured: the file outbox took it

    # exactly once: no notice of this case went out twice, on any channel
    keys = [(n["event_id"], n["channel"], n["recipient_role"]) for n in log]
    assert len(keys) == len(set(keys))
    mails_for_case = wait_for(
        lambda: (
            (found := [m for m in smtp.messages() if number in m["Subject"]])
            and len(found) >= 4
            and found
        ),
        timeout=60,
        what="the permit and contract e-mails",
    )
    by_event = sorted(m["X-WPIS-Event-Type"] for m in mails_for_case)
    assert by_event == ["contract_registered"] * 2 + ["permit_issued"] * 2


def test_agency_registers_a_webhook_and_receives_signed_events(suite: Suite):
    refused = requests.post(
        api(suite, "/notifications/webhooks"),
        json={"agency": "Police", "url": "not a url", "event_types": ["permit_isued"]},
        timeout=10,
        headers=auth_headers(suite, "agency"),
    )
    assert refused.status_code == 422
    assert set(refused.json()["errors"]) == {"url", "event_types.0"}
    assert (
        requests.get(
            api(suite, "/notifications/webhooks"), timeout=10, headers=auth_headers(suite, "agency")
        ).json()
        == []
    )

    port = free_port()
    registered = requests.post(
        api(suite, "/notifications/webhooks"),
        json={"agency": "Police", "url": receiver_url(port), "event_types": ["permit_issued"]},
        timeout=10,
        headers=auth_headers(suite, "agency"),
    )
    assert registered.status_code == 201, registered.text
    endpoint = registered.json()
    with webhook_receiver(endpoint["secret"], port=port) as receiver:
        case = issue_permit(suite, application("ravi.hook@example.org"))
        (got,) = wait_for(receiver.received, timeout=20, what="the webhook call")
    assert got["valid"] is True
    assert got["event"]["event_type"] == "permit_issued"
    assert got["event"]["data"]["permit_number"] == case["permit_number"]

    bad_filter = requests.get(
        api(suite, "/notifications"),
        params={"status": "lost"},
        timeout=10,
        headers=auth_headers(suite, "officer"),
    )
    assert bad_filter.status_code == 422
    assert "status" in bad_filter.json()["errors"]

    url = api(suite, f"/notifications/webhooks/{endpoint['id']}")
    assert (
        requests.delete(url, timeout=10, headers=auth_headers(suite, "agency")).status_code == 200
    )
    assert (
        requests.get(
            api(suite, "/notifications/webhooks"), timeout=10, headers=auth_headers(suite, "agency")
        ).json()
        == []
    )
    assert (
        requests.delete(url, timeout=10, headers=auth_headers(suite, "agency")).status_code == 404
    )
