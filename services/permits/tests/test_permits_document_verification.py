"""The certificate and the public check, in a real container: the PDF is
rasterised and its QR decoded, the credential verifies offline, the token
check works, the public answer carries only the listed fields, the date of
birth second factor works, checks are logged, and a mistyped number never
reaches the database."""

from __future__ import annotations

import base64
import json
from datetime import date, timedelta
from urllib.parse import urlsplit

import pypdfium2
import pytest
import zxingcpp
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_hook, entrypoint_waiter
from sqlalchemy import select

from permits import credential, domain, verification
from permits.models import VerificationLogEntry
from permits.service import PermitsService
from wpis_common.db import create_db_engine
from wpis_common.errors import InvalidInput
from wpis_common.signing import generate_key_pair, load_private_key
from wpis_common.testing import Callers

pytestmark = pytest.mark.integration

PUBLIC_FIELDS = {
    "number", "result", "valid", "reason", "message", "valid_from", "valid_until",
    "employer_name", "job_title", "checked_at",
}  # fmt: skip


@pytest.fixture
def keys(tmp_path):
    private_path, public_path, _ = generate_key_pair(tmp_path / "keys")
    return load_private_key(private_path), public_path


def start(container_factory, make_database, keys, tmp_path, **extra):
    callers = Callers(tmp_path / "auth-keys")
    config = {
        **callers.config,
        "DATABASE_URL": make_database("permits"),
        "ATTESTATION_PUBLIC_KEY": str(keys[1]),
        "CREDENTIAL_SIGNING_KEY": str(tmp_path / "permits_key.pem"),
        "VERIFY_BASE_URL": "https://verify.example.am",
        **extra,
    }
    container = container_factory(PermitsService, config)
    container.start()
    container.callers = callers
    return container


@pytest.fixture
def container(container_factory, rabbit_config, make_database, keys, tmp_path):
    return start(container_factory, make_database, keys, tmp_path)


def rpc(container, method: str, *args):
    """Call as a supervisor (may do everything the permits service offers)."""
    context = container.callers.context("supervisor")
    with entrypoint_hook(container, method, context_data=context) as call:
        return call(*args)


def issue(kit, container, keys, **changes) -> dict:
    data = kit.approval(keys[0], **changes)
    body = kit.envelope("application_approved", data, "applications")
    with entrypoint_waiter(container, "on_application_approved"):
        event_dispatcher()("applications", "application_approved", body)
    (_, issued), *_ = kit.committed_events(container.config["DATABASE_URL"], "permit_issued")
    return rpc(container, "get", issued["permit_number"])


def decode_qr(pdf: bytes) -> str:
    page = pypdfium2.PdfDocument(pdf)[0]
    image = page.render(scale=3).to_pil()
    codes = zxingcpp.read_barcodes(image)
    assert len(codes) == 1, codes
    return codes[0].text


def test_certificate_qr_carries_a_token_url_and_a_credential_that_verifies_offline(
    kit, container, keys
):
    permit = issue(kit, container, keys, start=date.today())
    document = rpc(container, "document", permit["number"])
    pdf = base64.b64decode(document["pdf_base64"])
    assert pdf.startswith(b"%PDF-") and document["filename"] == f"{permit['number']}.pdf"

    text = decode_qr(pdf)
    url = urlsplit(text)
    assert (url.scheme, url.netloc) == ("https", "verify.example.am")
    token = url.path.removeprefix("/verify/token/")
    assert len(token) == 43 and url.fragment.startswith("c=WPIS1.")

    key_info = rpc(container, "credential_key")
    public_key = load_pem_public_key(key_info["pem"].encode())
    claims = credential.read(public_key, url.fragment.removeprefix("c="))
    assert claims is not None, "the credential's signature does not verify"
    assert claims["kid"] == key_info["key_id"]
    assert claims["n"] == permit["number"]
    assert claims["name"] == "Kumar, Ravi" and claims["dob"] == "1990-04-12"
    assert (claims["vf"], claims["vu"]) == (permit["valid_from"], permit["valid_until"])
    assert claims["emp"] == "Ararat Build LLC" and claims["job"] == "Welder"

    forged = url.fragment.removeprefix("c=").replace("WPIS1.", "WPIS1.e", 1)
    assert credential.read(public_key, forged) is None

    online = rpc(container, "verify_token", token, {"client": "10.0.0.7"})
    assert online["result"] == "valid" and online["number"] == permit["number"]
    rpc(container, "revoke", permit["number"], {"reason": "fraud"})
    after = rpc(container, "verify_token", token, {})
    assert (after["result"], after["reason"]) == ("not_valid", "revoked")


def test_the_pdf_shows_holder_employer_job_and_validity(kit, container, keys):
    permit = issue(kit, container, keys)
    pdf = base64.b64decode(rpc(container, "document", permit["number"])["pdf_base64"])
    text = pypdfium2.PdfDocument(pdf)[0].get_textpage().get_text_range()
    for expected in (
        permit["number"], "Kumar", "Ravi", "1990-04-12", "Z1234567", "Ararat Build LLC",
        "Welder", "7212", permit["valid_from"], permit["valid_until"],
    ):  # fmt: skip
        assert expected in text, expected


def test_public_answer_has_only_the_listed_fields(kit, container, keys):
    permit = issue(kit, container, keys, start=date.today() - timedelta(days=1))
    answers = [
        rpc(container, "verify", permit["number"], {}),
        rpc(container, "verify", permit["number"], {"date_of_birth": "1990-04-12"}),
        rpc(container, "verify", domain.permit_number(date.today().year, 77), {}),
        rpc(container, "verify", "WP-2027-000042-X", {}),
    ]
    for answer in answers:
        assert set(answer) == PUBLIC_FIELDS
        dumped = json.dumps(answer)
        for secret in ("Ravi", "Kumar", "1990-04-12", "Z1234567", "IND", "02563412", "7212"):
            assert secret not in dumped, (secret, answer)
    valid = answers[0]
    assert (valid["result"], valid["valid"], valid["reason"]) == ("valid", True, None)
    assert valid["employer_name"] == "Ararat Build LLC" and valid["job_title"] == "Welder"
    assert answers[2]["result"] == "unknown" and answers[2]["employer_name"] is None
    assert answers[3]["reason"] == "malformed_number"


@pytest.mark.parametrize(
    ("action", "payload", "reason"),
    [
        ("suspend", {"reason": "review"}, "suspended"),
        ("revoke", {"reason": "fraud"}, "revoked"),
        ("cancel", {"reason": "left"}, "cancelled"),
    ],
)
def test_not_valid_says_why(kit, container, keys, action, payload, reason):
    permit = issue(kit, container, keys, start=date.today() - timedelta(days=1))
    rpc(container, action, permit["number"], payload)
    answer = rpc(container, "verify", permit["number"], {})
    assert (answer["result"], answer["valid"], answer["reason"]) == ("not_valid", False, reason)
    assert answer["employer_name"] == "Ararat Build LLC"


def test_a_wrong_date_of_birth_looks_like_an_unknown_number(kit, container, keys):
    permit = issue(kit, container, keys)
    right = rpc(container, "verify", permit["number"], {"date_of_birth": "1990-04-12"})
    wrong = rpc(container, "verify", permit["number"], {"date_of_birth": "1990-04-13"})
    assert right["employer_name"] == "Ararat Build LLC"
    assert (wrong["result"], wrong["employer_name"], wrong["valid_until"]) == (
        "unknown",
        None,
        None,
    )
    with pytest.raises(InvalidInput) as refused:
        rpc(container, "verify", permit["number"], {"date_of_birth": "12/04/1990"})
    assert "date_of_birth" in refused.value.details["errors"]


def test_the_date_of_birth_can_be_required(
    kit, container_factory, rabbit_config, make_database, keys, tmp_path
):
    container = start(
        container_factory, make_database, keys, tmp_path, VERIFY_REQUIRE_DATE_OF_BIRTH="true"
    )
    permit = issue(kit, container, keys)
    with pytest.raises(InvalidInput) as refused:
        rpc(container, "verify", permit["number"], {})
    assert refused.value.details["errors"] == {
        "date_of_birth": ["the holder's date of birth is required"]
    }
    answer = rpc(container, "verify", permit["number"], {"date_of_birth": "1990-04-12"})
    assert answer["result"] in ("valid", "not_valid")


def test_every_check_is_logged_with_when_which_and_from_where(kit, container, keys):
    permit = issue(kit, container, keys)
    rpc(container, "verify", permit["number"], {"client": "203.0.113.9"})
    rpc(container, "verify", domain.permit_number(date.today().year, 500), {"client": "h2"})
    rpc(container, "verify_token", "x" * 43, {"client": "h3"})
    engine = create_db_engine(container.config["DATABASE_URL"], pool_size=1)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(VerificationLogEntry.__table__).order_by(VerificationLogEntry.id)
            ).all()
    finally:
        engine.dispose()
    assert [(r.permit_number, r.channel, r.client, r.result) for r in rows] == [
        (permit["number"], "number", "203.0.113.9", "not_valid"),
        (None, "number", "h2", "unknown"),
        (None, "token", "h3", "unknown"),
    ]
    assert all(r.at is not None for r in rows)


class NoDatabase:
    """A unit of work whose every database use fails the test."""

    @property
    def session(self):
        raise AssertionError("the database was touched")


@pytest.mark.parametrize("typo", ["WP-2027-000042-H", "WP-2027-00042-G", "WP-2O27-000042-G", ""])
def test_a_mistyped_number_is_answered_without_the_database(typo):
    answer = verification.by_number(
        NoDatabase(), typo, {}, verification.VerificationPolicy(), date(2027, 6, 1)
    )
    assert (answer["result"], answer["reason"]) == ("unknown", "malformed_number")
