"""Synthetic, realistic event logs for tests, the benchmark and demos: whole
cases (submission, identity check, decision, permit, contract, and sometimes
an extension, a cancellation, a revocation or an expiry), shaped like the
producers' published events, with per-producer gap-free sequences."""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

NATIONALITIES = (
    ("IND", 30), ("IRN", 14), ("CHN", 10), ("SYR", 8), ("RUS", 8), ("NPL", 6), ("EGY", 5),
    ("TUR", 5), ("UZB", 4), ("PHL", 3), ("LKA", 3), ("GEO", 2), ("UKR", 2), ("ISL", 0.2),
)  # fmt: skip
REGIONS = (
    ("AM-ER", 55), ("AM-KT", 8), ("AM-AR", 7), ("AM-AV", 6), ("AM-SH", 5), ("AM-LO", 5),
    ("AM-GR", 4), ("AM-SU", 4), ("AM-TV", 2), ("AM-AG", 2), ("AM-VD", 2),
)  # fmt: skip
ISCO_CODES = (
    ("7112", 14), ("7212", 10), ("9313", 12), ("2512", 9), ("5120", 8), ("8322", 6),
    ("3118", 4), ("1120", 3), ("6111", 3), ("2211", 3), ("4110", 2),
)  # fmt: skip
NACE_CODES = ("41.20", "43.99", "10.71", "62.01", "55.10", "86.10", "49.41", None)
REJECTION_REASONS = (
    ("officer", "salary below the market rate"),
    ("identity_gateway", "identity check failed (document_invalid): passport reported lost"),
    ("identity_gateway", "identity check failed (data_mismatch): date of birth differs"),
)


def pick(rng: random.Random, weighted: tuple[tuple[Any, float], ...]) -> Any:
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights)[0]


class EventLog:
    """Every producer's published events, in sequence order; ``events_after``
    answers like the producers' replay RPC."""

    def __init__(self) -> None:
        self.by_producer: dict[str, list[dict[str, Any]]] = defaultdict(list)

    def emit(self, producer: str, event_type: str, data: dict, at: datetime) -> dict[str, Any]:
        log = self.by_producer[producer]
        envelope = {
            "event_id": str(uuid.uuid4()),
            "event_type": event_type,
            "schema_version": 1,
            "occurred_at": at.isoformat(),
            "producer": producer,
            "sequence": len(log) + 1,
            "data": data,
        }
        log.append(envelope)
        return envelope

    def events_after(self, producer: str, after: int = 0, limit: int = 500) -> list[dict]:
        return self.by_producer.get(producer, [])[after : after + limit]

    def all_events(self) -> list[dict[str, Any]]:
        """Every event, in the order they happened."""
        merged = [e for log in self.by_producer.values() for e in log]
        return sorted(merged, key=lambda e: (e["occurred_at"], e["producer"], e["sequence"]))


def generate(
    cases: int, start: datetime, days: int, seed: int = 7, log: EventLog | None = None
) -> EventLog:
    """``cases`` whole cases submitted over ``days`` days from ``start``."""
    rng = random.Random(seed)
    log = log or EventLog()
    for _ in range(cases):
        submitted = start + timedelta(seconds=rng.randrange(days * 86400))
        add_case(log, rng, submitted)
    return log


def add_case(log: EventLog, rng: random.Random, submitted: datetime, **worker_changes: Any) -> str:
    """One case from submission to its end; returns its application id."""
    case = _case(rng, submitted, worker_changes)
    log.emit("applications", "application_submitted", case, submitted)
    checked = submitted + timedelta(minutes=rng.randrange(1, 90))
    if rng.random() < 0.05:
        _deferred(log, case, submitted + timedelta(seconds=5))
    if rng.random() < 0.04:
        _identity_rejected(log, case, checked)
        return case["application_id"]
    attestation = _identity_verified(log, case, checked)
    if rng.random() < 0.03:
        withdrawn = checked + timedelta(days=rng.randrange(1, 10))
        data = {"application_id": case["application_id"], "withdrawn_at": withdrawn.isoformat()}
        log.emit("applications", "application_withdrawn", data, withdrawn)
        return case["application_id"]
    decided = checked + timedelta(days=rng.choice((1, 3, 6, 9, 14, 20, 27, 33, 45)))
    if rng.random() < 0.08:
        rejected_by, reason = REJECTION_REASONS[0]
        _rejected(log, case, decided, rejected_by, reason)
        return case["application_id"]
    _approved_and_issued(log, rng, case, attestation, decided)
    return case["application_id"]


def _case(rng: random.Random, submitted: datetime, worker_changes: dict) -> dict[str, Any]:
    born = date(1960, 1, 1) + timedelta(days=rng.randrange(365 * 45))
    start = (submitted + timedelta(days=rng.randrange(30, 60))).date()
    nace = rng.choice(NACE_CODES)
    employer = {"tax_id": f"{rng.randrange(10**8):08d}", "name": "Employer LLC", "email": "hr@e.am"}
    if nace:
        employer["nace_code"] = nace
    worker = {
        "given_names": "Sample",
        "surname": "Worker",
        "date_of_birth": born.isoformat(),
        "sex": rng.choice("MMMF"),
        "nationality": pick(rng, NATIONALITIES),
        "email": "worker@example.org",
        "passport": {"number": f"P{rng.randrange(10**7):07d}", "issuing_country": "IND"},
        **worker_changes,
    }
    return {
        "application_id": str(uuid.uuid4()),
        "employer": employer,
        "worker": worker,
        "job": {
            "title": "Worker",
            "isco_code": pick(rng, ISCO_CODES),
            "region": pick(rng, REGIONS),
            "monthly_salary": 400000,
            "currency": "AMD",
        },
        "contract": {
            "start_date": start.isoformat(),
            "end_date": (start + timedelta(days=300)).isoformat(),
        },
        "submitted_at": submitted.isoformat(),
    }


def _deferred(log: EventLog, case: dict, at: datetime) -> None:
    data = {
        "verification_id": _verification_id(case),
        "application_id": case["application_id"],
        "outcome": "unavailable",
        "reason": "the IDMS did not answer",
        "attempts": 1,
        "next_attempt_at": (at + timedelta(seconds=30)).isoformat(),
    }
    log.emit("identity_gateway", "identity_check_deferred", data, at)


def _verification_id(case: dict) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, case["application_id"]))


def _identity_rejected(log: EventLog, case: dict, at: datetime) -> None:
    data = {
        "verification_id": _verification_id(case),
        "application_id": case["application_id"],
        "outcome": "document_invalid",
        "reason": "passport reported lost",
        "mismatched_fields": [],
    }
    log.emit("identity_gateway", "identity_rejected", data, at)
    _, reason = REJECTION_REASONS[1]
    _rejected(log, case, at + timedelta(seconds=2), "identity_gateway", reason)


def _identity_verified(log: EventLog, case: dict, at: datetime) -> dict[str, Any]:
    attestation = {
        "payload": {"attestation_id": str(uuid.uuid4())},
        "signature": "s",
        "key_id": "k",
    }
    data = {
        "verification_id": _verification_id(case),
        "application_id": case["application_id"],
        "outcome": "verified",
        "reason": "document valid, data match",
        "attestation": attestation,
    }
    log.emit("identity_gateway", "identity_verified", data, at)
    return attestation


def _rejected(log: EventLog, case: dict, at: datetime, rejected_by: str, reason: str) -> None:
    data = {
        "application_id": case["application_id"],
        "employer": case["employer"],
        "worker_email": case["worker"]["email"],
        "reason": reason,
        "rejected_by": rejected_by,
        "decided_at": at.isoformat(),
    }
    log.emit("applications", "application_rejected", data, at)


def _approved_and_issued(
    log: EventLog, rng: random.Random, case: dict, attestation: dict, decided: datetime
) -> None:
    approved = {
        **case,
        "attestation": attestation,
        "decided_by": "officer",
        "decided_at": decided.isoformat(),
    }
    log.emit("applications", "application_approved", approved, decided)
    issued = decided + timedelta(seconds=3)
    number = f"WP-{issued.year}-{len(log.by_producer['permits']) + 1:06d}-X"
    valid_from = date.fromisoformat(case["contract"]["start_date"])
    valid_until = valid_from + timedelta(days=300)
    worker = case["worker"]
    permit = {
        "permit_number": number,
        "application_id": case["application_id"],
        "status": "valid",
        "holder": {
            "given_names": worker["given_names"],
            "surname": worker["surname"],
            "date_of_birth": worker["date_of_birth"],
            "sex": worker["sex"],
            "nationality": worker["nationality"],
            "passport_number": worker["passport"]["number"],
            "passport_country": worker["passport"]["issuing_country"],
        },
        "employer": {"tax_id": case["employer"]["tax_id"], "name": case["employer"]["name"]},
        "job": case["job"],
        "contract_terms": case["contract"],
        "valid_from": valid_from.isoformat(),
        "valid_until": valid_until.isoformat(),
        "issued_at": issued.isoformat(),
    }
    log.emit("permits", "permit_issued", permit, issued)
    registered = issued + timedelta(seconds=2)
    contract_id = str(uuid.uuid4())
    contract = {
        "contract_id": contract_id,
        "permit_number": number,
        "application_id": case["application_id"],
        "employer_tax_id": case["employer"]["tax_id"],
        "employer_name": case["employer"]["name"],
        "isco_code": case["job"]["isco_code"],
        "region": case["job"]["region"],
        "monthly_salary": 400000,
        "currency": "AMD",
        "start_date": valid_from.isoformat(),
        "end_date": valid_until.isoformat(),
        "registered_until": valid_until.isoformat(),
        "registered_at": registered.isoformat(),
    }
    log.emit("contracts", "contract_registered", contract, registered)
    _lifecycle(log, rng, permit, contract_id, registered)


def _lifecycle(log: EventLog, rng: random.Random, permit: dict, contract_id: str, after: datetime):
    ref = {"permit_number": permit["permit_number"], "application_id": permit["application_id"]}
    valid_from = date.fromisoformat(permit["valid_from"])
    valid_until = date.fromisoformat(permit["valid_until"])
    roll = rng.random()
    if roll < 0.1:
        at = after + timedelta(days=rng.randrange(30, 200))
        new_until = valid_until + timedelta(days=180)
        data = {
            **ref,
            "valid_from": valid_from.isoformat(),
            "valid_until": new_until.isoformat(),
            "previous_valid_until": valid_until.isoformat(),
            "reason": "contract extended",
        }
        log.emit("permits", "permit_extended", data, at)
    elif roll < 0.16:
        at = after + timedelta(days=rng.randrange(40, 200))
        ended = at.date() - timedelta(days=2)
        terminated = {
            "contract_id": contract_id,
            **ref,
            "employer_tax_id": permit["employer"]["tax_id"],
            "terminated_on": ended.isoformat(),
            "reason": "resigned",
            "terminated_by": "employer",
            "reported_at": at.isoformat(),
        }
        log.emit("contracts", "contract_terminated", terminated, at)
        cancelled = {**ref, "cancelled_on": ended.isoformat(), "reason": "contract ended"}
        cancelled["cancelled_by"] = "employer"
        log.emit("permits", "permit_cancelled", cancelled, at + timedelta(seconds=2))
    elif roll < 0.18:
        at = after + timedelta(days=rng.randrange(20, 100))
        data = {**ref, "reason": "document_stolen", "flagged_at": at.isoformat()}
        log.emit("permits", "permit_flagged", data, at)
        revoked = {**ref, "reason": "stolen passport", "revoked_by": "officer"}
        revoked["revoked_on"] = (at + timedelta(days=1)).date().isoformat()
        log.emit("permits", "permit_revoked", revoked, at + timedelta(days=1))
    elif roll < 0.5:
        expired_at = datetime.combine(valid_until + timedelta(days=1), datetime.min.time(), UTC)
        data = {**ref, "expired_on": (valid_until + timedelta(days=1)).isoformat()}
        log.emit("permits", "permit_expired", data, expired_at + timedelta(hours=1))
