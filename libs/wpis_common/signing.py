"""Ed25519 signatures over canonical JSON, and ``wpis-keygen``.

The identity gateway signs attestations with its private key; the permits
service verifies them with the public key alone, so the no-attestation,
no-permit rule holds even if everything upstream of permits is compromised.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PRIVATE_KEY_FILE = "identity_signing_key.pem"
PUBLIC_KEY_FILE = "identity_signing_key.pub.pem"


def canonical_json(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def document_fingerprint(issuing_country: str, number: str) -> str:
    """How attestations name a travel document without carrying its number."""
    return hashlib.sha256(f"{issuing_country.upper()}:{number.upper()}".encode()).hexdigest()


def sign(private_key: Ed25519PrivateKey, payload: dict[str, Any]) -> dict[str, Any]:
    """A signed document: the payload, its signature and the signing key's id."""
    return {
        "payload": payload,
        "signature": b64url(private_key.sign(canonical_json(payload))),
        "key_id": key_id(private_key.public_key()),
    }


def verify(public_key: Ed25519PublicKey, document: dict[str, Any]) -> bool:
    try:
        signature = unb64url(document["signature"])
        public_key.verify(signature, canonical_json(document["payload"]))
    except (InvalidSignature, KeyError, TypeError, ValueError):
        return False
    return True


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def load_public_key(path: str | Path) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(Path(path).read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path} is not an Ed25519 public key")
    return key


def generate_key_pair(directory: str | Path) -> tuple[Path, Path, bool]:
    """Write the key pair into ``directory`` unless it exists; returns (private, public, made)."""
    directory = Path(directory)
    private_path, public_path = directory / PRIVATE_KEY_FILE, directory / PUBLIC_KEY_FILE
    if private_path.exists() and public_path.exists():
        return private_path, public_path, False
    directory.mkdir(parents=True, exist_ok=True)
    if private_path.exists():
        # Keep the key that signed the attestations in circulation; re-derive its public half.
        private_key = load_private_key(private_path)
        os.chmod(private_path, 0o600)
    else:
        private_key = Ed25519PrivateKey.generate()
        private_pem = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as private_file:
            private_file.write(private_pem)
    public_path.write_bytes(
        private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private_path, public_path, True


def keygen_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Create the identity attestation key pair.")
    parser.add_argument("directory", nargs="?", default="var/keys")
    args = parser.parse_args(argv)
    private_path, public_path, made = generate_key_pair(args.directory)
    print(f"{'created' if made else 'kept existing'} key pair: {private_path}, {public_path}")
    return 0


if __name__ == "__main__":
    sys.exit(keygen_main())
