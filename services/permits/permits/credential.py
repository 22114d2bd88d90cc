"""The permit's compact signed credential and the permits signing key.

A credential is ``WPIS1.<payload>.<signature>``: the payload is canonical JSON
(base64url), the signature Ed25519 over the ASCII text ``WPIS1.<payload>``
(base64url). An offline verifier needs only the permits public key, base64url,
JSON and Ed25519; the online check (``/api/v1/verify/token/...``) adds whether
the permit has since been suspended, revoked, cancelled or extended.

The key is the permits service's own (not the identity gateway's): a PEM file,
``var/keys/permits_signing_key.pem`` by default, created on first start for
development (``PERMITS_SIGNING_KEY_AUTOCREATE``) or by ``wpis-permits-keygen``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from wpis_common.signing import b64url, canonical_json, key_id, load_private_key, unb64url

PREFIX = "WPIS1"
DEFAULT_KEY_PATH = "var/keys/permits_signing_key.pem"


def issue(private_key: Ed25519PrivateKey, claims: dict[str, Any]) -> str:
    payload = {**claims, "kid": key_id(private_key.public_key())}
    signed_part = f"{PREFIX}.{b64url(canonical_json(payload))}"
    return f"{signed_part}.{b64url(private_key.sign(signed_part.encode()))}"


def read(public_key: Ed25519PublicKey, credential: str) -> dict[str, Any] | None:
    """The claims of a genuine credential, or None (malformed, forged or altered)."""
    try:
        prefix, payload, signature = credential.split(".")
        if prefix != PREFIX:
            return None
        public_key.verify(unb64url(signature), f"{prefix}.{payload}".encode())
        claims = json.loads(unb64url(payload))
    except (InvalidSignature, ValueError, TypeError):
        return None
    return claims if isinstance(claims, dict) else None


def public_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def load_or_create_key(path: str | Path, create: bool) -> Ed25519PrivateKey:
    """Load the signing key; when missing and ``create``, make one (race-safe:
    several processes starting at once end up with the same key)."""
    path = Path(path)
    if path.exists() or not create:
        return load_private_key(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".permits_key_")
    try:
        os.write(fd, pem)
        os.close(fd)
        os.link(temporary, path)  # atomic; fails if another process won the race
    except FileExistsError:
        return load_private_key(path)
    finally:
        os.unlink(temporary)
    _write_public_half(path, key)
    return key


def _write_public_half(private_path: Path, key: Ed25519PrivateKey) -> Path:
    public_path = private_path.with_name(private_path.name.replace(".pem", ".pub.pem"))
    public_path.write_text(public_pem(key.public_key()))
    return public_path


def keygen_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Create the permits credential signing key.")
    parser.add_argument("path", nargs="?", default=DEFAULT_KEY_PATH)
    args = parser.parse_args(argv)
    path = Path(args.path)
    made = not path.exists()
    key = load_or_create_key(path, create=True)
    public_path = _write_public_half(path, key)
    print(f"{'created' if made else 'kept existing'} permits key {path} (public: {public_path})")
    return 0


if __name__ == "__main__":
    sys.exit(keygen_main())
