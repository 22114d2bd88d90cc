"""A permit's life end to end: issued through the one window, then extended,
amended, revoked, or expired by the timer's admin command with a moved day;
each change seen by an outside agency (plain pika) in the right order. Also
the certificate (PDF + QR), the public verification page, and the public
check's rate limit."""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta
from urllib.parse import urlsplit

import pika
import pypdfium2
import pytest
import requests
import zxingcpp
from nameko import config as nameko_config
from nameko.standalone.rpc import ClusterRpcClient

from wpis_common.e2e import act_on_permit, api, issue_permit
from wpis_common.signing import AUTH_KEY_STEM, load_private_key
from wpis_common.suite import Suite
from wpis_common.testing import auth_headers, caller_context, wait_for

pytestmark = pytest.mark.e2e

LIFECYCLE_EVENTS = (
    "permit_issued", "permit_extended", "permit_amended", "permit_suspended",
    "permit_reinstated", "permit_revoked", "permit_cancelled", "permit_expired",
)  # fmt: skip
PUBLIC_FIELDS = {
    "number", "result", "valid", "reason", "message", "valid_from", "valid_until",
    "employer_name", "job_title", "checked_at",
}  # fmt: skip


class Agency:
    """An outside subscriber to every permit lifecycle event: plain pika, its own queue."""

    def __init__(self, amqp_uri: str):
        self.connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
        self.channel = self.connection.channel()
        self.channel.exchange_declare("permits.events", passive=True)
        self.queue = f"agency.labour.permits-{uuid.uuid4().hex[:8]}"
        self.channel.queue_declare(self.queue, durable=True)
        for event_type in LIFECYCLE_EVENTS:
            self.channel.queue_bind(self.queue, "permits.events", routing_key=event_type)
        self.received: list[dict] = []

    def drain(self) -> None:
        while True:
            method, _, body = self.channel.basic_get(self.queue, auto_ack=True)
            if method is None:
                return
            self.received.append(json.loads(body))

    def events_for(self, number: str) -> list[str]:
        self.drain()
        return [e["event_type"] for e in self.received if e["data"]["permit_number"] == number]

    def wait_for_events(self, number: str, expected: list[str]) -> list[dict]:
        wait_for(lambda: self.events_for(number) == expected or None, timeout=20,
                 what=f"{expected} for {number}; got {self.events_for(number)}")  # fmt: skip
        return [e for e in self.received if e["data"]["permit_number"] == number]

    def close(self) -> None:
        self.channel.queue_delete(self.queue)
        self.connection.close()


@pytest.fixture(scope="module")
def agency(suite: Suite):
    subscriber = Agency(suite.amqp_uri)
    yield subscriber
    subscriber.close()


def act(suite: Suite, number: str, action: str, payload: dict) -> requests.Response:
    return act_on_permit(suite, number, action, payload)


def verdict_of(suite: Suite, number: str, *expected: str) -> dict | None:
    """The public answer once it says ``expected`` (result, reason): the answer comes
    from the gateway's read model, which follows the register's events (ADR-014)."""
    verdict = requests.get(api(suite, f"/verify/{number}"), timeout=10).json()
    return verdict if (verdict["result"], verdict["reason"]) == expected else None


def test_issue_extend_amend_revoke_seen_by_an_agency_in_order(suite: Suite, agency: Agency):
    number = issue_permit(suite, date.today())
    permit = requests.get(
        api(suite, f"/permits/{number}"), timeout=10, headers=auth_headers(suite, "officer")
    ).json()
    new_until = (date.fromisoformat(permit["valid_until"]) + timedelta(days=60)).isoformat()

    extended = act(suite, number, "extend", {"valid_until": new_until, "reason": "project"})
    assert extended.status_code == 200, extended.text
    assert extended.json()["valid_until"] == new_until

    bad = act(suite, number, "amend", {"changes": {"isco_code": "12"}, "reason": "x"})
    assert bad.status_code == 422 and "changes.isco_code" in bad.json()["errors"]
    malformed = requests.post(
        api(suite, f"/permits/{number}/amend"),
        data=b"{",
        timeout=10,
        headers=auth_headers(suite, "supervisor"),
    )
    assert malformed.status_code == 400
    assert act(suite, number, "teleport", {}).status_code == 404

    amended = act(suite, number, "amend", {"changes": {"title": "Senior welder"}, "reason": "x"})
    assert amended.status_code == 200, amended.text
    revoked = act(suite, number, "revoke", {"reason": "false documents", "by": "officer.anna"})
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"

    illegal = act(suite, number, "extend", {"valid_until": "2099-01-01", "reason": "x"})
    assert illegal.status_code == 409
    assert illegal.json()["error"]["details"]["allowed_actions"] == []

    events = agency.wait_for_events(
        number, ["permit_issued", "permit_extended", "permit_amended", "permit_revoked"]
    )
    sequences = [e["sequence"] for e in events]
    assert sequences == sorted(sequences)
    assert events[1]["data"]["previous_valid_until"] == permit["valid_until"]
    assert events[2]["data"]["changes"] == {"title": "Senior welder"}
    assert events[3]["data"]["revoked_by"] == "supervisor"  # the caller, not the body
    assert {e["data"]["application_id"] for e in events} == {permit["application_id"]}

    verdict = wait_for(
        lambda: verdict_of(suite, number, "not_valid", "revoked"), timeout=10, interval=0.2
    )
    assert verdict["job_title"] == "Senior welder"


def test_expiry_by_the_timers_command_with_a_moved_day(suite: Suite, agency: Agency):
    number = issue_permit(suite, date.today())
    permit = requests.get(
        api(suite, f"/permits/{number}"), timeout=10, headers=auth_headers(suite, "officer")
    ).json()
    day_after = (date.fromisoformat(permit["valid_until"]) + timedelta(days=1)).isoformat()

    # Straight over RPC, as ops would: the permits service still wants a supervisor's token.
    key = load_private_key(suite.base_dir / "keys" / f"{AUTH_KEY_STEM}.pem")
    supervisor = caller_context(key, "ops.supervisor", "supervisor")
    with (
        nameko_config.patch({"AMQP_URI": suite.amqp_uri}),
        ClusterRpcClient(context_data=supervisor) as cluster,
    ):
        assert cluster.permits.expire_due(permit["valid_until"])["expired"] == []
        assert number in cluster.permits.expire_due(day_after)["expired"]

    events = agency.wait_for_events(number, ["permit_issued", "permit_expired"])
    assert events[1]["data"]["expired_on"] == permit["valid_until"]
    after = requests.get(
        api(suite, f"/permits/{number}"), timeout=10, headers=auth_headers(suite, "officer")
    ).json()
    assert after["status"] == "expired"
    wait_for(lambda: verdict_of(suite, number, "not_valid", "expired"), timeout=10, interval=0.2)


def test_certificate_qr_and_the_public_page(suite: Suite):
    number = issue_permit(suite, date.today())
    pdf = requests.get(
        api(suite, f"/permits/{number}/document"),
        timeout=20,
        headers=auth_headers(suite, "officer"),
    )
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    image = pypdfium2.PdfDocument(pdf.content)[0].render(scale=3).to_pil()
    (code,) = zxingcpp.read_barcodes(image)
    token = urlsplit(code.text).path.removeprefix("/verify/token/")

    by_token = requests.get(api(suite, f"/verify/token/{token}"), timeout=10)
    assert by_token.status_code == 200 and set(by_token.json()) == PUBLIC_FIELDS
    assert by_token.json()["number"] == number and by_token.json()["result"] == "valid"
    for leaked in ("Kumar", "Ravi", "1990-04-12", "Z1234567"):
        assert leaked not in by_token.text

    key = requests.get(api(suite, "/verify/keys"), timeout=10).json()
    assert key["algorithm"] == "Ed25519" and "PUBLIC KEY" in key["pem"]

    form = requests.get(f"{suite.gateway_url}/verify", timeout=10)
    assert form.status_code == 200 and "<form" in form.text and "Valid" not in form.text
    page = requests.get(f"{suite.gateway_url}/verify", params={"number": number}, timeout=10)
    assert page.headers["Content-Type"].startswith("text/html")
    assert "<h2>Valid</h2>" in page.text and "Ararat Build LLC" in page.text
    assert "Kumar" not in page.text
    token_page = requests.get(f"{suite.gateway_url}/verify/token/{token}", timeout=10)
    assert "<h2>Valid</h2>" in token_page.text
    typo = requests.get(f"{suite.gateway_url}/verify", params={"number": "<b>WP-1</b>"}, timeout=10)
    assert "<h2>Unknown</h2>" in typo.text and "<b>WP-1</b>" not in typo.text  # escaped


def test_public_checks_are_rate_limited_per_client(suite: Suite):
    """Last in the module: it spends this client's verification budget."""
    statuses = []
    for _ in range(200):
        response = requests.get(api(suite, "/verify/WP-2027-000042-X"), timeout=10)
        statuses.append(response.status_code)
        if response.status_code == 429:
            break
    assert statuses[0] == 200 and statuses[-1] == 429, statuses
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json()["error"]["code"] == "rate_limited"
