"""The verification snippet docs/notifications.md gives agencies accepts what the
service sends, and refuses a tampered body, a wrong secret and a stale timestamp."""

from __future__ import annotations

import re
import time
from pathlib import Path

from notifications.signing import signed_headers

DOC = Path(__file__).resolve().parents[3] / "docs" / "notifications.md"


def agency_snippet():
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)
    (snippet,) = [b for b in blocks if "def verify_wpis_signature" in b]
    namespace: dict = {}
    exec(snippet, namespace)  # our own documentation
    return namespace["verify_wpis_signature"]


def test_documented_snippet_verifies_a_signed_request():
    verify = agency_snippet()
    body = b'{"event_type":"permit_issued","data":{"permit_number":"WP-1"}}'
    now = int(time.time())
    headers = signed_headers("endpoint-secret", now, body)
    assert verify("endpoint-secret", headers, body) is True
    assert verify("endpoint-secret", headers, body.replace(b"WP-1", b"WP-2")) is False
    assert verify("another-secret", headers, body) is False
    stale = signed_headers("endpoint-secret", now - 600, body)
    assert verify("endpoint-secret", stale, body) is False
    assert verify("endpoint-secret", {}, body) is False
