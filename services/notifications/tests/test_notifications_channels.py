"""The delivery channels against real local servers: aiosmtpd (plain and STARTTLS),
the SMS gateway simulator, and a webhook receiver that verifies signatures; and
the file outboxes used when no server is configured."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import uuid
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from notifications.channels import (
    FileEmailOutbox,
    FileSmsOutbox,
    HttpSms,
    Outgoing,
    SendError,
    SmtpEmail,
    Webhooks,
    channels_from_settings,
)
from notifications.testing import free_port, sms_gateway, smtp_server, webhook_receiver

pytestmark = pytest.mark.integration
SENDER = "WPIS <no-reply@wpis.example>"


def outgoing(channel: str = "email", recipient: str = "ravi@example.org", **changes) -> Outgoing:
    fields = {
        "delivery_id": str(uuid.uuid4()),
        "event_id": str(uuid.uuid4()),
        "event_type": "permit_issued",
        "channel": channel,
        "recipient": recipient,
        "subject": "Տրամադրվել է WP-2027-000042-K աշխատանքի թույլտվությունը",
        "body": "Հարգելի Ravi Kumar,\n\nՎավեր է 2027-01-15-ից մինչև 2027-12-31։",  # noqa: RUF001
        "language": "hy",
        **changes,
    }
    return Outgoing(**fields)


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp.crt", directory / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_email_arrives_over_smtp_in_the_recipients_language(tmp_path):
    with smtp_server(tmp_path / "maildir") as server:
        message = outgoing()
        SmtpEmail(server.host, server.port, SENDER).send(message)
        (received,) = server.messages()
    assert received["To"] == "ravi@example.org"
    assert received["Subject"] == message.subject  # Armenian survives the MIME encoding
    assert received["Content-Language"] == "hy"
    assert received["Message-ID"] == f"<{message.delivery_id}@notifications.wpis>"
    assert received.get_content().strip() == message.body


def test_email_goes_over_starttls_when_configured(tmp_path):
    cert, key = self_signed(tmp_path)
    with smtp_server(tmp_path / "maildir", cert=cert, key=key) as server:
        email = SmtpEmail(server.host, server.port, SENDER, tls="starttls", ca_file=str(cert))
        email.send(outgoing(subject="over TLS"))
        plain = SmtpEmail(server.host, server.port, SENDER, tls="none")
        with pytest.raises(SendError, match="smtp"):
            plain.send(outgoing(subject="in clear"))  # the server requires STARTTLS
        assert [m["Subject"] for m in server.messages()] == ["over TLS"]


def test_unreachable_smtp_server_is_a_send_error():
    with pytest.raises(SendError, match="smtp ConnectionRefusedError"):
        SmtpEmail("127.0.0.1", free_port(), SENDER, timeout=2).send(outgoing())


def test_unknown_tls_mode_is_refused_at_configuration():
    with pytest.raises(ValueError, match="SMTP_TLS"):
        SmtpEmail("127.0.0.1", 25, SENDER, tls="yes")


def test_sms_goes_through_the_gateway_once_per_delivery(tmp_path):
    with sms_gateway("sms-key") as url:
        sms = HttpSms(url, "sms-key", "WPIS")
        message = outgoing("sms", "+37491234567", body="WPIS. Տրամադրվել է WP-1")
        sms.send(message)
        sms.send(message)  # a retry after a lost answer: the gateway keeps one
        listed = requests.get(
            f"{url}/v1/messages", headers={"Authorization": "Bearer sms-key"}, timeout=5
        ).json()["messages"]
        assert [(m["to"], m["text"], m["reference"]) for m in listed] == [
            ("+37491234567", "WPIS. Տրամադրվել է WP-1", message.delivery_id)
        ]
        with pytest.raises(SendError, match="HTTP 401"):
            HttpSms(url, "wrong-key", "WPIS").send(outgoing("sms", "+37491234567"))
        requests.post(f"{url}/_simulator/faults", json={"fail_next": 1}, timeout=5)
        with pytest.raises(SendError, match="HTTP 503"):
            sms.send(outgoing("sms", "+37491234567"))


def test_unreachable_sms_gateway_is_a_send_error():
    with pytest.raises(SendError, match="sms gateway ConnectionError"):
        HttpSms(f"http://127.0.0.1:{free_port()}", "k", "WPIS").send(outgoing("sms", "+3749"))


def test_webhook_is_signed_so_that_the_receiver_verifies_it():
    with webhook_receiver("endpoint-secret") as receiver:
        envelope = {"event_id": str(uuid.uuid4()), "event_type": "permit_issued", "data": {}}
        message = outgoing("webhook", receiver.url, body=json.dumps(envelope), secret=None)
        Webhooks().send(Outgoing(**{**message.__dict__, "secret": "endpoint-secret"}))
        with pytest.raises(SendError, match="HTTP 401"):
            Webhooks().send(Outgoing(**{**message.__dict__, "secret": "another-secret"}))
        stale = Webhooks(clock=lambda: 1_000_000_000.0)  # signed long ago: a replay
        with pytest.raises(SendError, match="HTTP 401"):
            stale.send(Outgoing(**{**message.__dict__, "secret": "endpoint-secret"}))
        got = receiver.received()
    assert [(r["valid"], r["status"]) for r in got] == [(True, 200), (False, 401), (False, 401)]
    assert got[0]["event"] == envelope
    assert got[0]["delivery"] == message.delivery_id
    assert got[0]["event_type"] == "permit_issued"


def test_webhook_error_answers_and_closed_ports_are_send_errors():
    with webhook_receiver("s", fail_first=1) as receiver, pytest.raises(SendError, match="503"):
        Webhooks().send(outgoing("webhook", receiver.url, body="{}", secret="s"))
    with pytest.raises(SendError, match="webhook ConnectionError"):
        Webhooks().send(outgoing("webhook", f"http://127.0.0.1:{free_port()}/", secret="s"))
    with pytest.raises(SendError, match="no secret"):
        Webhooks().send(outgoing("webhook", "http://127.0.0.1:1/", secret=None))


def test_without_servers_configured_messages_go_to_file_outboxes(tmp_path):
    channels = channels_from_settings({"OUTBOX_DIR": str(tmp_path), "SMTP_HOST": ""})
    assert isinstance(channels.email, FileEmailOutbox)
    assert isinstance(channels.sms, FileSmsOutbox)
    email, sms = outgoing(), outgoing("sms", "+37491234567", body="WPIS. Բարև")
    channels.email.send(email)
    channels.sms.send(sms)
    eml = (tmp_path / "email" / f"{email.delivery_id}.eml").read_bytes()
    assert b"Content-Language: hy" in eml and b"To: ravi@example.org" in eml
    record = json.loads((tmp_path / "sms" / f"{sms.delivery_id}.json").read_text())
    assert record == {"to": "+37491234567", "text": "WPIS. Բարև", "reference": sms.delivery_id}
    assert not list(tmp_path.glob("**/.tmp-*"))


def test_configured_servers_are_used_instead_of_outboxes():
    channels = channels_from_settings(
        {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": "2525", "SMS_GATEWAY_URL": "http://127.0.0.1:1"}
    )
    assert isinstance(channels.email, SmtpEmail) and channels.email.port == 2525
    assert isinstance(channels.sms, HttpSms)
