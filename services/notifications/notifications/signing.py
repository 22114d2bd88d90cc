"""Webhook signatures: HMAC-SHA256 over the timestamp and the exact body bytes.

``X-WPIS-Signature: sha256=<hex>`` where the MAC is over ``b"<timestamp>." + body``
with the endpoint's secret, and ``X-WPIS-Timestamp`` carries that timestamp (Unix
seconds). Signing the timestamp with the body stops a captured request from being
replayed later with a fresh timestamp. docs/notifications.md has the receiver's side.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

SIGNATURE_HEADER = "X-WPIS-Signature"
TIMESTAMP_HEADER = "X-WPIS-Timestamp"
DELIVERY_HEADER = "X-WPIS-Delivery"
EVENT_TYPE_HEADER = "X-WPIS-Event-Type"
EVENT_ID_HEADER = "X-WPIS-Event-Id"
DEFAULT_TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def signed_headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    now: float,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """True when the signature matches and the timestamp is within ``tolerance`` of ``now``."""
    try:
        timestamp = int(headers[TIMESTAMP_HEADER])
        given = headers[SIGNATURE_HEADER]
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(given, signature(secret, timestamp, body))
