"""Ed25519 signing of attestations and the key files."""

from __future__ import annotations

import copy
import json
import stat

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from wpis_common.signing import (
    PRIVATE_KEY_FILE,
    PUBLIC_KEY_FILE,
    document_fingerprint,
    generate_key_pair,
    key_id,
    keygen_main,
    load_private_key,
    load_public_key,
    sign,
    verify,
)

PAYLOAD = {
    "attestation_id": "6f1c1b2e-0d7a-4d53-9d55-0c1f3f1f0a01",
    "subject": {"given_names": "Ravi", "surname": "Kumar", "date_of_birth": "1990-04-12"},
    "document": document_fingerprint("IND", "Z1234567"),
    "outcome": "verified",
    "issued_at": "2027-01-02T03:04:05+00:00",
    "expires_at": "2027-04-02T03:04:05+00:00",
    "note": "Ünïcödé is signed as is",
}


@pytest.fixture
def private_key():
    return Ed25519PrivateKey.generate()


def test_signed_document_verifies_with_the_public_key(private_key):
    document = sign(private_key, PAYLOAD)

    assert document["payload"] == PAYLOAD
    assert document["key_id"] == key_id(private_key.public_key())
    assert len(document["key_id"]) == 16
    assert verify(private_key.public_key(), document)


def test_signed_document_survives_json_transport(private_key):
    document = sign(private_key, PAYLOAD)

    travelled = json.loads(json.dumps(document))
    travelled["payload"] = dict(reversed(list(travelled["payload"].items())))

    assert verify(private_key.public_key(), travelled)


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda d: d["payload"].update(outcome="rejected"), id="changed-value"),
        pytest.param(lambda d: d["payload"]["subject"].update(surname="Kumer"), id="nested"),
        pytest.param(lambda d: d["payload"].update(extra=True), id="added-field"),
        pytest.param(lambda d: d["payload"].pop("expires_at"), id="removed-field"),
        pytest.param(lambda d: d.update(signature=d["signature"][::-1]), id="signature"),
        pytest.param(lambda d: d.update(signature="not base64 !"), id="garbage-signature"),
        pytest.param(lambda d: d.update(signature=None), id="null-signature"),
        pytest.param(lambda d: d.pop("signature"), id="no-signature"),
        pytest.param(lambda d: d.pop("payload"), id="no-payload"),
    ],
)
def test_tampered_documents_fail_verification(private_key, tamper):
    document = copy.deepcopy(sign(private_key, PAYLOAD))
    tamper(document)

    assert verify(private_key.public_key(), document) is False


def test_another_key_fails_verification(private_key):
    document = sign(private_key, PAYLOAD)

    assert verify(Ed25519PrivateKey.generate().public_key(), document) is False


def test_generate_key_pair_is_idempotent_and_keeps_the_private_key_private(tmp_path):
    directory = tmp_path / "keys"

    private_path, public_path, made = generate_key_pair(directory)

    assert made is True
    assert (private_path.name, public_path.name) == (PRIVATE_KEY_FILE, PUBLIC_KEY_FILE)
    assert stat.S_IMODE(private_path.stat().st_mode) == 0o600
    private_pem, public_pem = private_path.read_bytes(), public_path.read_bytes()

    assert generate_key_pair(directory) == (private_path, public_path, False)
    assert private_path.read_bytes() == private_pem
    assert public_path.read_bytes() == public_pem

    private_key, public_key = load_private_key(private_path), load_public_key(public_path)
    assert key_id(private_key.public_key()) == key_id(public_key)
    assert verify(public_key, sign(private_key, PAYLOAD))


def test_a_lost_public_key_is_rederived_from_the_existing_private_key(tmp_path):
    private_path, public_path, _ = generate_key_pair(tmp_path)
    private_pem = private_path.read_bytes()
    public_path.unlink()
    private_path.chmod(0o644)

    assert generate_key_pair(tmp_path) == (private_path, public_path, True)

    assert private_path.read_bytes() == private_pem
    assert stat.S_IMODE(private_path.stat().st_mode) == 0o600
    assert key_id(load_public_key(public_path)) == key_id(
        load_private_key(private_path).public_key()
    )


def test_keygen_command_reports_what_it_did(tmp_path, capsys):
    assert keygen_main([str(tmp_path)]) == 0
    assert "created key pair" in capsys.readouterr().out
    assert keygen_main([str(tmp_path)]) == 0
    assert "kept existing key pair" in capsys.readouterr().out


def test_loading_refuses_keys_of_another_kind(tmp_path):
    other = ec.generate_private_key(ec.SECP256R1())
    private_path, public_path = tmp_path / "ec.pem", tmp_path / "ec.pub.pem"
    private_path.write_bytes(
        other.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public_path.write_bytes(
        other.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )

    with pytest.raises(ValueError, match="Ed25519"):
        load_private_key(private_path)
    with pytest.raises(ValueError, match="Ed25519"):
        load_public_key(public_path)


def test_document_fingerprint_ignores_case_and_hides_the_number():
    fingerprint = document_fingerprint("IND", "Z1234567")

    assert document_fingerprint("ind", "z1234567") == fingerprint
    assert document_fingerprint("Ind", "Z1234567") == fingerprint
    assert len(fingerprint) == 64
    assert int(fingerprint, 16) >= 0
    assert "1234567" not in fingerprint
    assert document_fingerprint("IND", "Z1234568") != fingerprint
    assert document_fingerprint("PAK", "Z1234567") != fingerprint
