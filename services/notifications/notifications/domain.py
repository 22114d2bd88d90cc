"""What to tell whom, for each event. Pure: no I/O.

Each rule names the recipients (employer, worker) and the message. Delivery
is a log entry for now; real channels (e-mail, SMS) come with their adapters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Notice:
    recipient_role: str  # employer | worker
    template: str
    subject: str
    body: str


TEMPLATES: dict[str, tuple[str, str]] = {
    "application_received": (
        "Work permit application received",
        "Application {application_id} for {worker_name} was received and is being checked.",
    ),
    "application_rejected": (
        "Work permit application refused",
        "Application {application_id} was refused. Reason: {reason}",
    ),
    "permit_issued": (
        "Work permit issued",
        "Work permit {permit_number} for {worker_name} is valid from {valid_from} "
        "to {valid_until}.",
    ),
}


def _notice(role: str, template: str, facts: dict[str, Any]) -> Notice:
    subject, body = TEMPLATES[template]
    return Notice(role, template, subject, body.format(**facts))


def notices_for(event_type: str, data: dict[str, Any], worker_name: str | None) -> list[Notice]:
    """The notices an event calls for; empty when it calls for none."""
    facts = {**data, "worker_name": worker_name or "the worker"}
    if event_type == "application_submitted":
        return [_notice(role, "application_received", facts) for role in ("employer", "worker")]
    if event_type == "application_rejected":
        return [_notice(role, "application_rejected", facts) for role in ("employer", "worker")]
    if event_type == "permit_issued":
        return [_notice(role, "permit_issued", facts) for role in ("employer", "worker")]
    return []


def full_name(worker: dict[str, Any]) -> str:
    return f"{worker['given_names']} {worker['surname']}"
