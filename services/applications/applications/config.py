"""The service's configuration as dependencies: the workflow policy, the clock,
the document store, and the adapters to the state systems.

Every value comes from config.yaml, so from env vars (see docs/applications.md).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from nameko.extensions import DependencyProvider
from nameko.timer import Timer

from applications import domain
from applications.adapters import HttpEmploymentAgency, HttpPayments
from applications.documents import DocumentStore
from wpis_common.config import setting
from wpis_common.envelope import utc_now


def as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def as_list(value: Any) -> list[str]:
    """A YAML list, or a comma-separated string (what an env var can hold)."""
    if value in (None, ""):
        return []
    if isinstance(value, list | tuple):
        return [str(item).strip() for item in value if str(item).strip()]
    return [item.strip() for item in str(value).split(",") if item.strip()]


def as_dates(value: Any) -> frozenset[date]:
    if isinstance(value, list | tuple):
        return frozenset(v if isinstance(v, date) else date.fromisoformat(str(v)) for v in value)
    return frozenset(date.fromisoformat(item) for item in as_list(value))


def policy_from_settings(get: Any = setting) -> domain.Policy:
    kinds = [kind.value for kind in domain.Kind]
    checklist = {
        kind: tuple(as_list(get(f"CHECKLIST_{kind.upper()}", ",".join(default))))
        for kind, default in domain.DEFAULT_CHECKLIST.items()
    }
    unknown = {doc for docs in checklist.values() for doc in docs} - set(domain.DOCUMENT_TYPES)
    if unknown:
        raise RuntimeError(f"unknown document types in the checklist config: {sorted(unknown)}")
    outcome = str(get("LMT_DEFAULT_OUTCOME", "consent"))
    if outcome not in domain.LMT_OUTCOMES:
        raise RuntimeError(f"LMT_DEFAULT_OUTCOME must be one of {domain.LMT_OUTCOMES}")
    fees = domain.FeeRules()
    deadlines = domain.DeadlineRules()
    return domain.Policy(
        lmt=domain.LmtRules(
            required=as_bool(get("LMT_REQUIRED", False)),
            exempt_isco_codes=frozenset(as_list(get("LMT_EXEMPT_ISCO_CODES", ""))),
            exempt_nationalities=frozenset(as_list(get("LMT_EXEMPT_NATIONALITIES", ""))),
            working_days=int(get("LMT_WORKING_DAYS", 15)),
            default_outcome=outcome,
        ),
        fees=domain.FeeRules(
            required=as_bool(get("FEE_REQUIRED", False)),
            amounts={k: int(get(f"FEE_{k.upper()}", fees.amounts[k])) for k in kinds},
            currency=str(get("FEE_CURRENCY", fees.currency)),
        ),
        deadlines=domain.DeadlineRules(
            days_by_kind={
                k: int(get(f"DEADLINE_DAYS_{k.upper()}", deadlines.days_by_kind[k])) for k in kinds
            },
            warning_days=int(get("DEADLINE_WARNING_DAYS", deadlines.warning_days)),
        ),
        holidays=as_dates(get("HOLIDAYS", "")),
        require_documents=as_bool(get("DOCUMENTS_REQUIRED", False)),
        checklist=checklist,
        document_max_bytes=int(get("DOCUMENT_MAX_BYTES", 5 * 1024 * 1024)),
    )


class WorkflowPolicy(DependencyProvider):
    def setup(self) -> None:
        self.policy = policy_from_settings()

    def get_dependency(self, worker_ctx: Any) -> domain.Policy:
        return self.policy


class SystemClock:
    def now(self) -> datetime:
        return utc_now()


class Clock(DependencyProvider):
    """The time every rule sees. Injectable: tests replace it to move time."""

    def get_dependency(self, worker_ctx: Any) -> SystemClock:
        return SystemClock()


class Documents(DependencyProvider):
    def setup(self) -> None:
        self.store = DocumentStore(setting("DOCUMENTS_ROOT", "var/documents"))

    def get_dependency(self, worker_ctx: Any) -> DocumentStore:
        return self.store


class StateServices(DependencyProvider):
    """The employment agency and payment service adapters."""

    def setup(self) -> None:
        connect, read = (
            float(setting("HTTP_CONNECT_TIMEOUT", 2)),
            float(setting("HTTP_READ_TIMEOUT", 5)),
        )
        self.agency = HttpEmploymentAgency(
            setting("EMPLOYMENT_AGENCY_URL", "http://127.0.0.1:8200"), connect, read
        )
        self.payments = HttpPayments(
            setting("PAYMENTS_URL", "http://127.0.0.1:8300"), connect, read
        )

    def get_dependency(self, worker_ctx: Any) -> StateServices:
        return self


class ConfiguredTimer(Timer):
    """Nameko's timer, with its interval from config (``TIMER_INTERVAL`` seconds)."""

    def setup(self) -> None:
        self.interval = float(setting("TIMER_INTERVAL", self.interval))
