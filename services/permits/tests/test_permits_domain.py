"""Permit numbering, validity and attestation rules: pure, table-driven."""

from __future__ import annotations

import string
from datetime import UTC, date, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from permits.domain import (
    PermitRefused,
    ValidityRules,
    add_months,
    check_attestation,
    is_valid_on,
    is_well_formed_number,
    permit_number,
    validity_period,
)
from wpis_common.signing import document_fingerprint, sign, verify

# -- numbers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("year", "sequence", "number"),
    [
        (2027, 42, "WP-2027-000042-G"),
        (2026, 1, "WP-2026-000001-E"),
        (2026, 999999, "WP-2026-999999-Y"),
    ],
)
def test_permit_number_has_year_padded_sequence_and_check_character(year, sequence, number):
    assert permit_number(year, sequence) == number
    assert is_well_formed_number(number)


@pytest.mark.parametrize("sequence", [1, 7, 10, 123, 4567, 89012, 999998])
def test_every_issued_number_is_well_formed(sequence):
    assert is_well_formed_number(permit_number(2027, sequence))


def test_consecutive_numbers_differ():
    numbers = {permit_number(2027, sequence) for sequence in range(1, 500)}
    assert len(numbers) == 499


VALID = permit_number(2027, 42)
ALPHABET = string.digits + string.ascii_uppercase + "-"


@pytest.mark.parametrize("position", range(len(VALID)))
def test_any_single_character_change_is_rejected(position):
    for replacement in ALPHABET:
        if replacement == VALID[position]:
            continue
        typo = VALID[:position] + replacement + VALID[position + 1 :]
        assert not is_well_formed_number(typo), typo


@pytest.mark.parametrize(
    "number",
    [
        "",
        "WP-2027-000042",  # no check character
        "WP-2027-42-G",  # sequence not padded
        "wp-2027-000042-g",  # lower case
        "WP2027000042G",  # no dashes
        "WP-2027-000042-G ",  # trailing space
        " WP-2027-000042-G",
        "WP-2027-0000042-G",  # seven-digit sequence
        "XP-2027-000042-G",
        "WP-2027-000042-GG",
        "WP-2027-000024-G",  # transposed digits
    ],
)
def test_malformed_numbers_are_rejected(number):
    assert not is_well_formed_number(number)


def test_sequence_beyond_six_digits_is_refused_not_misnumbered():
    with pytest.raises(ValueError):
        permit_number(2027, 1_000_000)


# -- add_months ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2027, 1, 15), 1, date(2027, 2, 15)),
        (date(2027, 1, 31), 1, date(2027, 2, 28)),  # clipped to month end
        (date(2028, 1, 31), 1, date(2028, 2, 29)),  # leap year
        (date(2027, 3, 31), 1, date(2027, 4, 30)),
        (date(2027, 11, 30), 3, date(2028, 2, 29)),
        (date(2027, 12, 15), 1, date(2028, 1, 15)),  # across the year end
        (date(2027, 1, 15), 12, date(2028, 1, 15)),
        (date(2028, 2, 29), 12, date(2029, 2, 28)),
        (date(2028, 2, 29), 48, date(2032, 2, 29)),
        (date(2027, 1, 15), 0, date(2027, 1, 15)),
        (date(2027, 3, 31), -1, date(2027, 2, 28)),
    ],
)
def test_add_months(start, months, expected):
    assert add_months(start, months) == expected


# -- validity period -------------------------------------------------------------------------

RULES = ValidityRules()  # 12 months at most, passport valid 30 days beyond the permit
START = date(2027, 1, 15)
FAR = date(2035, 1, 1)


@pytest.mark.parametrize(
    ("start", "end", "passport_expiry", "rules", "valid_until"),
    [
        # the contract end comes first
        (START, date(2027, 12, 31), FAR, RULES, date(2027, 12, 31)),
        # the legal maximum comes first: the day before the same date a year on
        (START, date(2028, 6, 30), FAR, RULES, date(2028, 1, 14)),
        (date(2027, 1, 1), date(2028, 1, 1), FAR, RULES, date(2027, 12, 31)),
        (date(2027, 2, 1), date(2027, 6, 30), FAR, ValidityRules(max_months=1), date(2027, 2, 28)),
        (date(2028, 2, 1), date(2028, 6, 30), FAR, ValidityRules(max_months=1), date(2028, 2, 29)),
        (date(2027, 3, 1), date(2028, 6, 30), FAR, RULES, date(2028, 2, 29)),
        # the passport expiry less the margin comes first
        (START, date(2027, 12, 31), date(2027, 6, 30), RULES, date(2027, 5, 31)),
        (START, date(2027, 12, 31), date(2027, 6, 30), ValidityRules(passport_margin_days=0),
         date(2027, 6, 30)),
        # exactly one day is still a permit
        (START, date(2027, 12, 31), START + timedelta(days=30), RULES, START),
    ],
)  # fmt: skip
def test_permit_runs_from_contract_start_to_the_earliest_limit(
    start, end, passport_expiry, rules, valid_until
):
    assert validity_period(start, end, passport_expiry, rules) == (start, valid_until)


@pytest.mark.parametrize("passport_expiry", [START + timedelta(days=29), START, date(2026, 1, 1)])
def test_passport_expiring_too_soon_refuses_the_permit(passport_expiry):
    with pytest.raises(PermitRefused, match="passport expires too soon"):
        validity_period(START, date(2027, 12, 31), passport_expiry, RULES)


@pytest.mark.parametrize(
    ("start", "months", "valid_until"),
    [
        (date(2027, 1, 31), 1, date(2027, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2028, 2, 29), 12, date(2029, 2, 28)),
    ],
)
def test_clipped_legal_maximum_ends_on_the_last_day_of_the_month(start, months, valid_until):
    rules = ValidityRules(max_months=months)
    assert validity_period(start, date(2030, 1, 1), FAR, rules) == (start, valid_until)


@pytest.mark.parametrize(
    ("status", "day", "valid"),
    [
        ("issued", date(2027, 1, 15), True),
        ("issued", date(2027, 12, 31), True),
        ("issued", date(2027, 1, 14), False),
        ("issued", date(2028, 1, 1), False),
        ("revoked", date(2027, 6, 1), False),
    ],
)
def test_is_valid_on(status, day, valid):
    assert is_valid_on(status, date(2027, 1, 15), date(2027, 12, 31), day) is valid


# -- attestations -------------------------------------------------------------------------------

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
APPLICATION = "app-1"


def good_payload(**changes) -> dict:
    payload = {
        "attestation_id": "att-1",
        "issuer": "wpis.identity_gateway",
        "verification_id": "ver-1",
        "application_id": APPLICATION,
        "subject": "tok",
        "document_type": "passport",
        "document_country": "IND",
        "document_fingerprint": document_fingerprint("IND", "Z1234567"),
        "outcome": "verified",
        "checked_at": (NOW - timedelta(hours=1)).isoformat(),
        "expires_at": (NOW + timedelta(days=29)).isoformat(),
    }
    payload.update(changes)
    return {key: value for key, value in payload.items() if value is not ...}


def check(payload: dict, signature_ok: bool = True, country="IND", number="Z1234567") -> None:
    check_attestation(payload, signature_ok, APPLICATION, country, number, NOW)


def test_good_attestation_passes():
    check(good_payload())


def test_fingerprint_ignores_case_of_country_and_number():
    check(good_payload(), country="ind", number="z1234567")


@pytest.mark.parametrize(
    ("payload", "signature_ok", "reason"),
    [
        (good_payload(), False, "signature is not valid"),
        (good_payload(outcome="data_mismatch"), True, "does not say verified"),
        (good_payload(outcome=...), True, "does not say verified"),
        (good_payload(application_id="app-2"), True, "for another application"),
        (good_payload(document_fingerprint=document_fingerprint("IND", "Z7654321")), True,
         "another travel document"),
        (good_payload(document_fingerprint=document_fingerprint("NPL", "Z1234567")), True,
         "another travel document"),
        (good_payload(expires_at=NOW.isoformat()), True, "has expired"),
        (good_payload(expires_at=(NOW - timedelta(seconds=1)).isoformat()), True, "has expired"),
        (good_payload(expires_at=...), True, "no valid expiry"),
        (good_payload(expires_at=None), True, "no valid expiry"),
        (good_payload(expires_at="next week"), True, "no valid expiry"),
        ({}, False, "signature is not valid"),
        ({}, True, "does not say verified"),
    ],
)  # fmt: skip
def test_bad_attestation_is_refused(payload, signature_ok, reason):
    with pytest.raises(PermitRefused, match=reason):
        check(payload, signature_ok)


def test_attestation_with_naive_expiry_is_refused():
    with pytest.raises(PermitRefused):
        check(good_payload(expires_at="2027-01-01T00:00:00"))


# -- real signatures ---------------------------------------------------------------------------


def test_signed_attestation_round_trip_passes_the_check():
    key = Ed25519PrivateKey.generate()
    document = sign(key, good_payload())
    assert verify(key.public_key(), document)
    check(document["payload"], verify(key.public_key(), document))


@pytest.mark.parametrize(
    "tamper",
    [
        lambda doc: doc["payload"].update(application_id="app-2"),
        lambda doc: doc["payload"].update(expires_at="2099-01-01T00:00:00+00:00"),
        lambda doc: doc["payload"].update(outcome="verified", extra="x"),
        lambda doc: doc.update(signature=doc["signature"][::-1]),
        lambda doc: doc.update(signature="not base64 !"),
        lambda doc: doc.pop("signature"),
        lambda doc: doc.pop("payload"),
    ],
)
def test_tampered_attestation_fails_verification_and_the_check(tamper):
    key = Ed25519PrivateKey.generate()
    document = sign(key, good_payload())
    tamper(document)
    signature_ok = verify(key.public_key(), document)
    assert signature_ok is False
    with pytest.raises(PermitRefused, match="signature is not valid"):
        check(document.get("payload", {}), signature_ok)


def test_attestation_signed_by_another_key_fails_verification():
    document = sign(Ed25519PrivateKey.generate(), good_payload())
    assert verify(Ed25519PrivateKey.generate().public_key(), document) is False


def test_signature_does_not_depend_on_key_order():
    key = Ed25519PrivateKey.generate()
    document = sign(key, good_payload())
    reordered = {**document, "payload": dict(reversed(list(document["payload"].items())))}
    assert verify(key.public_key(), reordered)
