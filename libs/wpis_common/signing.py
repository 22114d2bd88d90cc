"""Ed25519 signatures over canonical JSON, key rings, and ``wpis-keygen``.

The identity gateway signs attestations with its one private key; the permits
service verifies them with public keys alone, so the no-attestation, no-permit
rule holds even if everything upstream of permits is compromised.

Rotation: a verifier holds a :class:`KeyRing` (several public keys, found by
key id), the signer holds one private key. Add the new public key to every
verifier's ring, switch the signer to the new private key, and drop the old
public key once the last attestation it signed has expired. Keys come from
files, directories of ``*.pub.pem`` files, or env vars (``env:NAME``); see
:func:`load_key_ring` and docs/identity.md.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PRIVATE_KEY_FILE = "identity_signing_key.pem"
PUBLIC_KEY_FILE = "identity_signing_key.pub.pem"
PUBLIC_KEY_SUFFIX = ".pub.pem"
AUTH_KEY_STEM = "auth_signing_key"  # the gateway's access-token key pair (docs/security.md)
ENV_PREFIX = "env:"


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


def _pem_from(source: str, env: Mapping[str, str]) -> tuple[bytes, str]:
    """The PEM bytes a key source names (a file, or ``env:NAME``), and a label for errors."""
    if source.startswith(ENV_PREFIX):
        name = source[len(ENV_PREFIX) :]
        value = env.get(name)
        if not value:
            raise ValueError(f"env var {name} (key source {source!r}) is not set")
        return value.encode(), f"env var {name}"
    return Path(source).read_bytes(), source


def load_signing_key(source: str | Path, env: Mapping[str, str] | None = None) -> Ed25519PrivateKey:
    """The one signing key: a PEM file path, or ``env:NAME`` for a PEM held in an env var."""
    pem, label = _pem_from(str(source), os.environ if env is None else env)
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{label} is not an Ed25519 private key")
    return key


@dataclass(frozen=True)
class KeyRing:
    """The public keys a verifier accepts, by key id (several during a rotation)."""

    keys: Mapping[str, Ed25519PublicKey]

    @classmethod
    def of(cls, public_keys: Iterable[Ed25519PublicKey]) -> KeyRing:
        return cls({key_id(key): key for key in public_keys})

    @property
    def key_ids(self) -> list[str]:
        return sorted(self.keys)

    def knows(self, candidate: Any) -> bool:
        return isinstance(candidate, str) and candidate in self.keys

    def verify(self, document: Any) -> bool:
        """True only when the document names a known key id and that key's signature holds."""
        if not isinstance(document, dict) or not self.knows(document.get("key_id")):
            return False
        return verify(self.keys[document["key_id"]], document)


def as_key_ring(keys: KeyRing | Ed25519PublicKey) -> KeyRing:
    """A key ring, from a ring or from one public key (callers of the single-key era)."""
    return keys if isinstance(keys, KeyRing) else KeyRing.of([keys])


def split_sources(spec: str) -> list[str]:
    """``"a.pem, dir/ ,env:NAME"`` -> ``["a.pem", "dir/", "env:NAME"]``."""
    return [part.strip() for part in spec.replace("\n", ",").split(",") if part.strip()]


def load_key_ring(*specs: str | None, env: Mapping[str, str] | None = None) -> KeyRing:
    """A key ring from comma-separated sources; each is a public key PEM file, a directory
    (every ``*.pub.pem`` in it), or ``env:NAME`` (a PEM in an env var). Empty specs are
    skipped; a ring with no key at all is an error, as is a source that names nothing."""
    env = os.environ if env is None else env
    keys: list[Ed25519PublicKey] = []
    for source in (source for spec in specs if spec for source in split_sources(spec)):
        path = Path(source)
        if not source.startswith(ENV_PREFIX) and path.is_dir():
            found = sorted(path.glob(f"*{PUBLIC_KEY_SUFFIX}"))
            if not found:
                raise ValueError(f"key directory {source} holds no *{PUBLIC_KEY_SUFFIX} file")
            keys.extend(load_public_key(file) for file in found)
        else:
            keys.append(_public_key_from(source, env))
    if not keys:
        raise ValueError("no attestation public key configured")
    return KeyRing.of(keys)


def _public_key_from(source: str, env: Mapping[str, str]) -> Ed25519PublicKey:
    pem, label = _pem_from(source, env)
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError:
        key = None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{label} is not an Ed25519 public key")
    return key


def generate_key_pair(directory: str | Path, stem: str | None = None) -> tuple[Path, Path, bool]:
    """Write the key pair into ``directory`` unless it exists; returns (private, public, made).
    ``stem`` names another pair (e.g. :data:`AUTH_KEY_STEM`) instead of the identity one."""
    directory = Path(directory)
    private_path, public_path = directory / PRIVATE_KEY_FILE, directory / PUBLIC_KEY_FILE
    if stem:
        private_path, public_path = directory / f"{stem}.pem", directory / f"{stem}.pub.pem"
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
    parser = argparse.ArgumentParser(
        description="Create the identity attestation key pair and the gateway's access-token "
        "key pair (each kept if it exists). To rotate, create a pair in a new directory and add "
        "it to the verifiers' key ring first."
    )
    parser.add_argument("directory", nargs="?", default="var/keys")
    args = parser.parse_args(argv)
    for stem in (None, AUTH_KEY_STEM):
        private_path, public_path, made = generate_key_pair(args.directory, stem)
        kid = key_id(load_public_key(public_path))
        print(
            f"{'created' if made else 'kept existing'} key pair: {private_path}, {public_path}"
            f" (key id {kid})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(keygen_main())
