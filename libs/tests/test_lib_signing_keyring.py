"""Key rings for attestation rotation: several public keys by key id, one signing key,
keys from files, directories or env vars."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from wpis_common.signing import (
    KeyRing,
    generate_key_pair,
    key_id,
    keygen_main,
    load_key_ring,
    load_private_key,
    load_signing_key,
    sign,
)

PAYLOAD = {"outcome": "verified", "subject": "ab" * 32}


def pem_of_public(private_key: Ed25519PrivateKey) -> str:
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def pem_of_private(private_key: Ed25519PrivateKey) -> str:
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def test_ring_accepts_every_key_it_holds_and_nothing_else():
    old, new, stranger = (Ed25519PrivateKey.generate() for _ in range(3))
    ring = KeyRing.of([old.public_key(), new.public_key()])

    assert ring.verify(sign(old, PAYLOAD))
    assert ring.verify(sign(new, PAYLOAD))
    assert not ring.verify(sign(stranger, PAYLOAD))
    assert ring.key_ids == sorted([key_id(old.public_key()), key_id(new.public_key())])


def test_ring_refuses_a_document_whose_key_id_was_swapped_or_removed():
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    ring = KeyRing.of([old.public_key(), new.public_key()])
    document = sign(old, PAYLOAD)

    assert not ring.verify({**document, "key_id": key_id(new.public_key())})
    assert not ring.verify({key: value for key, value in document.items() if key != "key_id"})
    assert not ring.verify({**document, "key_id": None})
    assert not ring.verify("not a document")
    assert not ring.knows("0123456789abcdef")


def test_ring_from_files_directories_and_env(tmp_path):
    first_dir, second_dir = tmp_path / "2026", tmp_path / "2027"
    _, first_public, _ = generate_key_pair(first_dir)
    generate_key_pair(second_dir)
    third = Ed25519PrivateKey.generate()
    env = {"THIRD_KEY": pem_of_public(third)}

    ring = load_key_ring(str(first_public), f" {second_dir} , env:THIRD_KEY", None, env=env)

    assert len(ring.key_ids) == 3
    for directory in (first_dir, second_dir):
        signer = load_private_key(directory / "identity_signing_key.pem")
        assert ring.verify(sign(signer, PAYLOAD))
    assert ring.verify(sign(third, PAYLOAD))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "no attestation public key"),
        ("env:MISSING", "MISSING"),
    ],
)
def test_ring_refuses_an_empty_or_unresolvable_configuration(spec, message):
    with pytest.raises(ValueError, match=message):
        load_key_ring(spec, env={})


def test_ring_refuses_an_empty_directory_and_a_private_key_given_as_public(tmp_path):
    with pytest.raises(ValueError, match="holds no"):
        load_key_ring(str(tmp_path))
    env = {"WRONG": pem_of_private(Ed25519PrivateKey.generate())}
    with pytest.raises(ValueError, match="env var WRONG is not an Ed25519 public key"):
        load_key_ring("env:WRONG", env=env)


def test_signing_key_from_a_file_or_from_env(tmp_path):
    private_path, _, _ = generate_key_pair(tmp_path)
    from_file = load_signing_key(private_path)
    from_env = load_signing_key("env:SIGNING", env={"SIGNING": private_path.read_text()})

    assert key_id(from_file.public_key()) == key_id(from_env.public_key())
    with pytest.raises(ValueError, match="SIGNING"):
        load_signing_key("env:SIGNING", env={})
    with pytest.raises(ValueError, match="not an Ed25519 private key"):
        load_signing_key("env:PUBLIC", env={"PUBLIC": pem_of_public(from_file)})


def test_keygen_prints_the_key_id(tmp_path, capsys):
    assert keygen_main([str(tmp_path)]) == 0
    expected = key_id(load_private_key(tmp_path / "identity_signing_key.pem").public_key())
    assert f"(key id {expected})" in capsys.readouterr().out
