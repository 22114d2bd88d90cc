"""Identity checks end to end, on one running suite:

- the IDMS goes down in the middle of the day: applications filed meanwhile wait
  as "identity check pending" with the reason (``identity_check_deferred``), and
  when it is back every one is verified, none lost, none duplicated, in order;
- re-checks: a worker with a valid permit has their passport reported stolen in
  the IDMS; the identity gateway reads it from the IDMS identity events feed and
  publishes ``identity_status_changed`` (the document's fingerprint, nothing more);
  permits flags the permit for review and an agency sees ``permit_flagged``;
- the identity-checks endpoint, and the identity benchmark's smoke run."""

from __future__ import annotations

import importlib.util
import json
import uuid
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pika
import pytest
import requests

from national_idms.testing import AdminClient
from wpis_common.signing import document_fingerprint
from wpis_common.suite import REPO_ROOT, Suite
from wpis_common.testing import auth_headers, wait_for

pytestmark = pytest.mark.e2e

# Seeded persons of the IDMS simulator whose passports verify.
PERSONS = (
    ("Ravi", "Kumar", "1990-04-12", "M", "IND", "Z1234567", "2031-01-01"),
    ("José-María", "Nuñez", "1987-05-06", "M", "ESP", "PAA123456", "2032-11-10"),
    ("Anh Thi", "Nguyen", "1995-01-15", "F", "VNM", "C1234567", "2033-01-14"),
    ("Сергей", "Иванов", "1991-12-01", "M", "RUS", "751234567", "2034-07-04"),
    ("Անահիտ", "Պետրոսյան", "1994-08-30", "F", "RUS", "754321987", "2033-10-01"),
)
IDENTITY_EVENTS = ("identity_check_deferred", "identity_verified", "identity_rejected")


def application(person: tuple[str, ...]) -> dict:
    given, surname, born, sex, nationality, number, expiry = person
    start = date.today() + timedelta(days=45)
    return {
        "employer": {"tax_id": "02563412", "name": "Ararat Build LLC", "email": "hr@a.example"},
        "worker": {
            "given_names": given, "surname": surname, "date_of_birth": born, "sex": sex,
            "nationality": nationality, "email": "worker@example.org",
            "passport": {"number": number, "issuing_country": nationality,
                         "expiry_date": expiry},
        },
        "job": {"title": "Welder", "isco_code": "7212", "region": "AM-ER",
                "monthly_salary": 450000, "currency": "AMD"},
        "contract": {"start_date": start.isoformat(),
                     "end_date": (start + timedelta(days=300)).isoformat()},
    }  # fmt: skip


class Subscriber:
    """An agency listening with plain pika to some event types of some producers."""

    def __init__(self, amqp_uri: str, bindings: dict[str, tuple[str, ...]]):
        self.connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
        self.channel = self.connection.channel()
        self.queue = f"test.identity.{uuid.uuid4().hex[:8]}"
        self.channel.queue_declare(self.queue, durable=True)
        for exchange, event_types in bindings.items():
            self.channel.exchange_declare(exchange, passive=True)
            for event_type in event_types:
                self.channel.queue_bind(self.queue, exchange, routing_key=event_type)
        self.received: list[dict] = []

    def of(self, event_type: str) -> list[dict]:
        while True:
            method, _, body = self.channel.basic_get(self.queue, auto_ack=True)
            if method is None:
                break
            self.received.append(json.loads(body))
        return [e["data"] for e in self.received if e["event_type"] == event_type]

    def close(self) -> None:
        self.channel.queue_delete(self.queue)
        self.connection.close()


@pytest.fixture(scope="module")
def listener(suite: Suite):
    subscriber = Subscriber(suite.amqp_uri, {"identity_gateway.events": IDENTITY_EVENTS})
    yield subscriber
    subscriber.close()


def api(suite: Suite, path: str) -> str:
    return f"{suite.gateway_url}/api/v1{path}"


def case(suite: Suite, application_id: str) -> dict:
    response = requests.get(
        api(suite, f"/applications/{application_id}"),
        timeout=10,
        headers=auth_headers(suite, "officer"),
    )
    assert response.status_code == 200, response.text
    return response.json()


def identity_checks(suite: Suite, application_id: str) -> list[dict]:
    response = requests.get(
        api(suite, f"/applications/{application_id}/identity-checks"),
        timeout=10,
        headers=auth_headers(suite, "officer"),
    )
    assert response.status_code == 200, response.text
    return response.json()["checks"]


def test_idms_outage_defers_checks_and_every_one_is_verified_once_it_is_back(
    suite: Suite, listener: Subscriber
):
    assert suite.stop("idms") == 0
    ids = []
    for person in PERSONS:
        response = requests.post(
            api(suite, "/applications"),
            json=application(person),
            timeout=10,
            headers=auth_headers(suite, "ararat"),
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])

    def all_pending_with_reason() -> bool:
        cases = [case(suite, i) for i in ids]
        return all(
            c["status"] == "identity_check_pending"
            and (c["identity"] or {}).get("outcome") == "unavailable"
            for c in cases
        )

    wait_for(all_pending_with_reason, timeout=30, what="every case pending with the reason")
    for application_id in ids:
        identity = case(suite, application_id)["identity"]
        assert identity["reason"] == (
            "the national identity register is unavailable; the check will be retried"
        )
    deferred = wait_for(
        lambda: {d["application_id"] for d in listener.of("identity_check_deferred")} >= set(ids),
        timeout=20,
        what="identity_check_deferred for every case",
    )
    assert deferred

    suite.start("idms")
    suite.wait_ready()

    def all_in_review() -> list[dict] | None:
        cases = [case(suite, i) for i in ids]
        return cases if all(c["status"] == "in_review" for c in cases) else None

    cases = wait_for(all_in_review, timeout=60, what="every case verified")
    assert [c["identity"]["outcome"] for c in cases] == ["verified"] * len(ids)

    verified = wait_for(
        lambda: (found := listener.of("identity_verified")) and len(found) >= len(ids) and found,
        timeout=20,
        what="identity_verified for every case",
    )
    counts = Counter(data["application_id"] for data in verified)
    assert counts == Counter(ids)  # none lost, none duplicated
    assert [data["application_id"] for data in verified] == ids  # in the order filed
    assert not [d for d in listener.of("identity_rejected") if d["application_id"] in ids]

    checks = [identity_checks(suite, i) for i in ids]
    assert all(len(found) == 1 and found[0]["status"] == "completed" for found in checks)
    completed_at = [found[0]["completed_at"] for found in checks]
    assert completed_at == sorted(completed_at)
    for found in checks:
        actions = [entry["action"] for entry in found[0]["audit"]]
        assert actions[0] == "check_requested" and actions[-1] == "check_completed"
        assert "check_deferred" in actions and actions.count("check_completed") == 1


def test_identity_checks_endpoint_shows_the_check_and_refuses_a_bad_id(suite: Suite):
    response = requests.post(
        api(suite, "/applications"),
        json=application(PERSONS[0]),
        timeout=10,
        headers=auth_headers(suite, "ararat"),
    )
    application_id = response.json()["id"]

    def completed() -> list[dict] | None:
        found = identity_checks(suite, application_id)
        return found if found and found[0]["status"] == "completed" else None

    [check] = wait_for(completed, timeout=30, what="the identity check")
    assert check["outcome"] == "verified"
    assert check["attestation"]["payload"]["subject"] == check["subject"]
    assert len(check["attestation"]["key_id"]) == 16
    assert "Z1234567" not in json.dumps(check) and "Kumar" not in json.dumps(check)
    assert {entry["requested_by"] for entry in check["audit"]} == {
        "applications for employer 02563412"
    }

    bad = requests.get(
        api(suite, "/applications/not-a-uuid/identity-checks"),
        timeout=10,
        headers=auth_headers(suite, "officer"),
    )
    assert bad.status_code == 422
    assert bad.json()["errors"] == {"application_id": ["must be a UUID"]}
    unknown = identity_checks(suite, str(uuid.uuid4()))
    assert unknown == []


# -- re-checks ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def agency(suite: Suite):
    subscriber = Subscriber(
        suite.amqp_uri,
        {
            "identity_gateway.events": ("identity_status_changed",),
            "permits.events": ("permit_flagged",),
        },
    )
    yield subscriber
    subscriber.close()


def wait_for_status(suite: Suite, application_id: str, status: str) -> dict:
    return wait_for(
        lambda: (found := case(suite, application_id))["status"] == status and found,
        timeout=40,
        what=f"the case to reach {status}",
    )


def register_person(idms: AdminClient, number: str) -> None:
    idms.create_person(
        {
            "given_names": "Armen",
            "surname": "Petrosyan",
            "date_of_birth": "1985-06-15",
            "sex": "M",
            "nationality": "IRN",
            "documents": [{"type": "passport", "number": number, "issuing_country": "IRN",
                           "expiry_date": "2034-01-01", "status": "valid"}],
        }
    )  # fmt: skip


def armen_petrosyan(number: str) -> dict:
    start = date.today() + timedelta(days=5)
    return {
        "employer": {"tax_id": "02563412", "name": "Ararat Build LLC", "email": "hr@a.example"},
        "worker": {
            # as the employer typed it, in Armenian script; the register holds it in Latin
            "given_names": "Արմեն", "surname": "Պետրոսյան", "date_of_birth": "1985-06-15",
            "sex": "M", "nationality": "IRN", "email": "armen@example.org",
            "passport": {"number": number, "issuing_country": "IRN",
                         "expiry_date": "2034-01-01"},
        },
        "job": {"title": "Welder", "isco_code": "7212", "region": "AM-ER",
                "monthly_salary": 450000, "currency": "AMD"},
        "contract": {"start_date": start.isoformat(),
                     "end_date": (start + timedelta(days=200)).isoformat()},
    }  # fmt: skip


def test_stolen_passport_in_the_idms_flags_the_valid_permit(suite: Suite, agency: Subscriber):
    idms = AdminClient(suite.idms_url)
    number = f"R{uuid.uuid4().hex[:8].upper()}"
    register_person(idms, number)
    created = requests.post(
        api(suite, "/applications"),
        json=armen_petrosyan(number),
        timeout=10,
        headers=auth_headers(suite, "ararat"),
    )
    assert created.status_code == 201, created.text
    application_id = created.json()["id"]
    assert wait_for_status(suite, application_id, "in_review")["identity"]["outcome"] == "verified"
    decision = requests.post(
        api(suite, f"/applications/{application_id}/decision"),
        json={"decision": "approve", "reason": "documents in order"},
        timeout=10,
        headers=auth_headers(suite, "officer"),
    )
    assert decision.status_code == 200, decision.text
    permit_number = wait_for_status(suite, application_id, "permit_issued")["permit_number"]

    idms.report("document_stolen", number, "IRN")

    changed = wait_for(
        lambda: agency.of("identity_status_changed"), timeout=30, what="identity_status_changed"
    )
    assert changed == [
        {
            "subject": document_fingerprint("IRN", number),
            "document_country": "IRN",
            "change": "document_stolen",
            "reported_at": changed[0]["reported_at"],
        }
    ]
    flagged = wait_for(lambda: agency.of("permit_flagged"), timeout=30, what="permit_flagged")
    assert [(f["permit_number"], f["application_id"], f["reason"]) for f in flagged] == [
        (permit_number, application_id, "document_stolen")
    ]


def test_identity_benchmark_smoke_run_prints_its_figures(suite: Suite):
    path = Path(REPO_ROOT) / "bench" / "identity.py"
    spec = importlib.util.spec_from_file_location("bench_identity", path)
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)

    figures = bench.run(suite, 4, 2, 3, 1.0)
    line = bench.figures_line(figures)

    for key in ("identity_checks_per_s", "p99_ms", "idms_calls_while_open", "recovery_s"):
        assert f"{key}=" in line
    assert figures["identity_checks_per_s"] > 0
    assert figures["outage_checks"] == 3
    assert figures["idms_calls_during_outage"] >= 1
