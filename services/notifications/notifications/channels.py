"""Delivery channels: e-mail (SMTP, or a file outbox), SMS (an HTTP gateway, or a
file outbox) and signed webhooks. Each ``send`` either returns (delivered) or raises
:class:`SendError` with a reason fit for the delivery log (never a secret).

Everything here does network or file I/O and is called outside any database
transaction.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import ssl
import tempfile
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any, Protocol

import requests

from notifications.signing import (
    DELIVERY_HEADER,
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    signed_headers,
)

log = logging.getLogger(__name__)
TLS_MODES = ("none", "starttls", "ssl")
USER_AGENT = "WPIS-Notifications/1"


class SendError(Exception):
    """A delivery attempt failed; it may be retried."""


@dataclass(frozen=True)
class Outgoing:
    """One delivery attempt's message, as read from the delivery log."""

    delivery_id: str
    event_id: str
    event_type: str
    channel: str
    recipient: str
    subject: str
    body: str
    language: str
    secret: str | None = None  # webhooks: the endpoint's signing secret


class Sender(Protocol):
    def send(self, outgoing: Outgoing) -> None: ...

    def describe(self) -> str: ...


def message_id(delivery_id: str) -> str:
    """Stable across retries, so a mail system can drop a duplicate of a re-sent notice."""
    return f"<{delivery_id}@notifications.wpis>"


def build_email(outgoing: Outgoing, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = outgoing.subject
    message["From"] = sender
    message["To"] = outgoing.recipient
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id(outgoing.delivery_id)
    message["X-WPIS-Event-Type"] = outgoing.event_type
    message.set_content(outgoing.body)
    message["Content-Language"] = outgoing.language  # after set_content, which clears Content-*
    return message


class SmtpEmail:
    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        tls: str = "none",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        ca_file: str | None = None,
    ):
        if tls not in TLS_MODES:
            raise ValueError(f"SMTP_TLS must be one of {TLS_MODES}, not {tls!r}")
        self.host, self.port, self.sender, self.tls = host, port, sender, tls
        self.username, self.password = username, password
        self.timeout, self.ca_file = timeout, ca_file

    def describe(self) -> str:
        return f"SMTP {self.host}:{self.port} (tls={self.tls})"

    def send(self, outgoing: Outgoing) -> None:
        message = build_email(outgoing, self.sender)
        try:
            with self._connect() as smtp:
                if self.tls == "starttls":
                    smtp.starttls(context=self._tls_context())
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as error:
            raise SendError(f"smtp {type(error).__name__}: {error}") from error

    def _connect(self) -> smtplib.SMTP:
        if self.tls == "ssl":
            return smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=self._tls_context()
            )
        return smtplib.SMTP(self.host, self.port, timeout=self.timeout)

    def _tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path``, then rename: no half-written files."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class FileEmailOutbox:
    """No SMTP server configured: each e-mail becomes ``<dir>/<delivery id>.eml``."""

    def __init__(self, directory: str | Path, sender: str):
        self.directory = Path(directory)
        self.sender = sender

    def describe(self) -> str:
        return f"file outbox {self.directory}"

    def send(self, outgoing: Outgoing) -> None:
        message = build_email(outgoing, self.sender)
        try:
            write_atomically(self.directory / f"{outgoing.delivery_id}.eml", message.as_bytes())
        except OSError as error:
            raise SendError(f"outbox {type(error).__name__}: {error}") from error


class HttpSms:
    """An HTTP SMS gateway: ``POST <url>/v1/messages`` with a bearer key (the
    simulator in simulators/sms_gateway speaks the same API)."""

    def __init__(self, base_url: str, api_key: str, sender_id: str, timeout: float = 5.0):
        self.url = base_url.rstrip("/") + "/v1/messages"
        self.api_key, self.sender_id, self.timeout = api_key, sender_id, timeout
        self.session = requests.Session()

    def describe(self) -> str:
        return f"SMS gateway {self.url}"

    def send(self, outgoing: Outgoing) -> None:
        payload = {
            "to": outgoing.recipient,
            "text": outgoing.body,
            "sender": self.sender_id,
            "reference": outgoing.delivery_id,  # the gateway accepts a reference once
        }
        headers = {"Authorization": f"Bearer {self.api_key}", "User-Agent": USER_AGENT}
        try:
            response = self.session.post(
                self.url, json=payload, headers=headers, timeout=self.timeout
            )
        except requests.RequestException as error:
            raise SendError(f"sms gateway {type(error).__name__}") from error
        if response.status_code not in (200, 201, 202):
            raise SendError(f"sms gateway answered HTTP {response.status_code}")


class FileSmsOutbox:
    """No SMS gateway configured: each SMS becomes ``<dir>/<delivery id>.json``."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    def describe(self) -> str:
        return f"file outbox {self.directory}"

    def send(self, outgoing: Outgoing) -> None:
        record = {
            "to": outgoing.recipient,
            "text": outgoing.body,
            "reference": outgoing.delivery_id,
        }
        data = json.dumps(record, ensure_ascii=False, indent=2).encode()
        try:
            write_atomically(self.directory / f"{outgoing.delivery_id}.json", data)
        except OSError as error:
            raise SendError(f"outbox {type(error).__name__}: {error}") from error


class Webhooks:
    """POSTs the event envelope, signed with the endpoint's secret; 2xx is delivered."""

    def __init__(self, timeout: float = 5.0, clock: Any = time.time):
        self.timeout = timeout
        self.clock = clock
        self.session = requests.Session()

    def describe(self) -> str:
        return "webhooks over HTTP(S)"

    def send(self, outgoing: Outgoing) -> None:
        if not outgoing.secret:
            raise SendError("webhook endpoint has no secret")
        body = outgoing.body.encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            DELIVERY_HEADER: outgoing.delivery_id,
            EVENT_TYPE_HEADER: outgoing.event_type,
            EVENT_ID_HEADER: outgoing.event_id,
            **signed_headers(outgoing.secret, int(self.clock()), body),
        }
        try:
            response = self.session.post(
                outgoing.recipient,
                data=body,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as error:
            raise SendError(f"webhook {type(error).__name__}") from error
        if not 200 <= response.status_code < 300:
            raise SendError(f"webhook endpoint answered HTTP {response.status_code}")


@dataclass
class Channels:
    email: Sender
    sms: Sender
    webhook: Sender

    def sender(self, channel: str) -> Sender:
        return {"email": self.email, "sms": self.sms, "webhook": self.webhook}[channel]


def channels_from_settings(settings: dict[str, Any]) -> Channels:
    """Build the channels from config; without SMTP or an SMS gateway, file outboxes."""
    outbox = Path(str(settings.get("OUTBOX_DIR") or "var/outbox"))
    sender = str(settings.get("SMTP_FROM") or "WPIS <no-reply@wpis.example>")
    email: Sender
    if settings.get("SMTP_HOST"):
        email = SmtpEmail(
            host=str(settings["SMTP_HOST"]),
            port=int(settings.get("SMTP_PORT") or 25),
            sender=sender,
            tls=str(settings.get("SMTP_TLS") or "none").lower(),
            username=_text(settings.get("SMTP_USERNAME")),
            password=_text(settings.get("SMTP_PASSWORD")),
            timeout=float(settings.get("SMTP_TIMEOUT") or 10),
            ca_file=_text(settings.get("SMTP_CA_FILE")),
        )
    else:
        email = FileEmailOutbox(outbox / "email", sender)
    sms: Sender
    if settings.get("SMS_GATEWAY_URL"):
        sms = HttpSms(
            str(settings["SMS_GATEWAY_URL"]),
            str(settings.get("SMS_GATEWAY_API_KEY") or ""),
            str(settings.get("SMS_SENDER_ID") or "WPIS"),
            float(settings.get("SMS_GATEWAY_TIMEOUT") or 5),
        )
    else:
        sms = FileSmsOutbox(outbox / "sms")
    webhook = Webhooks(float(settings.get("WEBHOOK_TIMEOUT") or 5))
    return Channels(email, sms, webhook)


def _text(value: Any) -> str | None:
    return None if value in (None, "") else str(value)
