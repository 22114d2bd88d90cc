"""Applying events to the read model: entity rows, then their facts, then the cells.

``apply_event`` updates what the figures know of the entities an event
touches, then re-derives those entities' facts (domain rules) and moves the
pre-aggregated cells by the difference. Replays use the same appliers but
derive facts and cells in bulk at the end (``refresh_facts`` then
``rebuild_cells``).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, literal, select, tuple_
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from wpis_common.envelope import Envelope
from wpis_statistics import domain
from wpis_statistics.codes import UNKNOWN
from wpis_statistics.domain import Fact
from wpis_statistics.models import (
    StatApplication,
    StatCell,
    StatContract,
    StatFact,
    StatIdentityCheck,
    StatPermit,
    StatPermitChange,
)


@dataclass(frozen=True)
class ProjectionSettings:
    # Statutory time for a decision when the event does not carry a deadline.
    deadline_days: int = 30


Applier = Callable[[Session, Envelope], set[str]]
FACT_COLUMNS = Fact._fields
CELL_KEY = ("measure", "dim_a", "dim_b", "month", "val_a", "val_b")


def when(value: Any, default: datetime) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value) if value else default


def day(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


# -- appliers: one per consumed event type ----------------------------------------


def _application(session: Session, application_id: str) -> StatApplication:
    app = session.get(StatApplication, application_id)
    if app is None:
        app = StatApplication(application_id=application_id, kind=UNKNOWN)
        session.add(app)
    return app


def _set_profile(app: StatApplication, data: dict[str, Any]) -> None:
    profile = domain.profile_from(data.get("worker") or {}, data.get("job") or {})
    app.nationality, app.sex = profile.nationality, profile.sex
    app.date_of_birth, app.isco_major, app.region = (
        profile.date_of_birth,
        profile.isco_major,
        profile.region,
    )
    app.nace_section = domain.employer_nace(data.get("employer"))
    app.kind = data.get("kind") or "new"


def _application_keys(session: Session, application_id: str) -> set[str]:
    """The application and every entity whose figures read its profile."""
    permits = session.scalars(
        select(StatPermit.permit_number).where(StatPermit.application_id == application_id)
    ).all()
    checks = session.scalars(
        select(StatIdentityCheck.verification_id).where(
            StatIdentityCheck.application_id == application_id
        )
    ).all()
    keys = {f"app:{application_id}", *(f"idc:{v}" for v in checks)}
    for number in permits:
        keys |= _permit_keys(session, number)
    return keys


def _permit_keys(session: Session, permit_number: str) -> set[str]:
    contracts = session.scalars(
        select(StatContract.contract_id).where(StatContract.permit_number == permit_number)
    ).all()
    return {f"permit:{permit_number}", *(f"contract:{c}" for c in contracts)}


def on_application_submitted(session: Session, event: Envelope) -> set[str]:
    data = event.data
    app = _application(session, data["application_id"])
    submitted = when(data.get("submitted_at"), event.occurred_at)
    _set_profile(app, data)
    app.submitted_at = min(submitted, app.submitted_at or submitted)
    due = data.get("decision_due") or data.get("deadline_at") or data.get("deadline")
    if due:
        app.deadline_at = when(due, submitted)
    return _application_keys(session, app.application_id)


def on_application_approved(session: Session, event: Envelope) -> set[str]:
    data = event.data
    app = _application(session, data["application_id"])
    if app.submitted_at is None and data.get("worker"):
        _set_profile(app, data)  # an approval carries the whole case
        app.submitted_at = when(data.get("submitted_at"), event.occurred_at)
    _decide(app, "approved", None, when(data.get("decided_at"), event.occurred_at))
    return _application_keys(session, app.application_id)


_IDENTITY_REFUSAL = re.compile(r"identity check failed \(([a-z_]+)\)")


def rejection_code(data: dict[str, Any]) -> str:
    if data.get("reason_code"):
        return domain.reason_code(data["reason_code"])
    found = _IDENTITY_REFUSAL.match(data.get("reason") or "")
    if found:
        return f"identity_{found.group(1)}"[:40]
    if data.get("rejected_by") == "identity_gateway":
        return "identity_check_failed"
    return "officer_decision"


def on_application_rejected(session: Session, event: Envelope) -> set[str]:
    data = event.data
    app = _application(session, data["application_id"])
    decided = when(data.get("decided_at"), event.occurred_at)
    _decide(app, "rejected", rejection_code(data), decided)
    return _application_keys(session, app.application_id)


def _decide(app: StatApplication, outcome: str, code: str | None, decided: datetime) -> None:
    # One decision per case; if two ever arrive, the later one stands, in any order.
    if app.decided_at is None or decided >= app.decided_at:
        app.decided_at, app.outcome, app.reason_code = decided, outcome, code


def on_application_withdrawn(session: Session, event: Envelope) -> set[str]:
    data = event.data
    app = _application(session, data["application_id"])
    app.withdrawn_at = when(data.get("withdrawn_at"), event.occurred_at)
    return _application_keys(session, app.application_id)


def _identity_check(session: Session, data: dict[str, Any]) -> StatIdentityCheck:
    check = session.get(StatIdentityCheck, data["verification_id"])
    if check is None:
        check = StatIdentityCheck(
            verification_id=data["verification_id"], application_id=data["application_id"]
        )
        session.add(check)
    return check


def on_identity_completed(session: Session, event: Envelope) -> set[str]:
    check = _identity_check(session, event.data)
    if check.completed_at is None or event.occurred_at >= check.completed_at:
        check.completed_at = event.occurred_at
        default = "verified" if event.event_type == "identity_verified" else "rejected"
        check.outcome = domain.reason_code(event.data.get("outcome") or default)
    return {f"idc:{check.verification_id}"}


def on_identity_check_deferred(session: Session, event: Envelope) -> set[str]:
    check = _identity_check(session, event.data)
    first = check.first_deferred_at
    check.first_deferred_at = min(first, event.occurred_at) if first else event.occurred_at
    return {f"idc:{check.verification_id}"}


def on_permit_issued(session: Session, event: Envelope) -> set[str]:
    data = event.data
    profile = domain.profile_from(data.get("holder") or {}, data.get("job") or {})
    permit = session.get(StatPermit, data["permit_number"]) or StatPermit(
        permit_number=data["permit_number"]
    )
    permit.application_id = data["application_id"]
    permit.nationality, permit.sex, permit.date_of_birth = (
        profile.nationality,
        profile.sex,
        profile.date_of_birth,
    )
    permit.isco_major, permit.region = profile.isco_major, profile.region
    permit.issued_at = when(data.get("issued_at"), event.occurred_at)
    permit.valid_from, permit.valid_until = day(data["valid_from"]), day(data["valid_until"])
    session.add(permit)
    return _permit_keys(session, permit.permit_number)


# lifecycle event -> (the field with its business date, the field with its reason)
_CHANGE_FIELDS = {
    "permit_extended": ("valid_until", None),
    "permit_amended": (None, None),
    "permit_suspended": (None, None),
    "permit_reinstated": (None, None),
    "permit_revoked": ("revoked_on", "revoked_by"),
    "permit_cancelled": ("cancelled_on", "cancelled_by"),
    "permit_expired": ("expired_on", None),
    "permit_flagged": (None, "reason"),
}


def on_permit_changed(session: Session, event: Envelope) -> set[str]:
    data = event.data
    date_field, reason_field = _CHANGE_FIELDS[event.event_type]
    reason = data.get("reason_code") or (data.get(reason_field) if reason_field else None)
    session.add(
        StatPermitChange(
            event_id=event.event_id,
            permit_number=data["permit_number"],
            event_type=event.event_type,
            at=event.occurred_at,
            on_date=day(data.get(date_field)) if date_field else None,
            reason_code=domain.reason_code(reason) if reason else "",
        )
    )
    return {f"permit:{data['permit_number']}"}


def _contract(session: Session, data: dict[str, Any]) -> StatContract:
    contract = session.get(StatContract, data["contract_id"])
    if contract is None:
        contract = StatContract(contract_id=data["contract_id"])
        session.add(contract)
    contract.permit_number = data["permit_number"]
    contract.application_id = data.get("application_id") or contract.application_id
    return contract


def on_contract_registered(session: Session, event: Envelope) -> set[str]:
    data = event.data
    contract = _contract(session, data)
    contract.registered_at = when(data.get("registered_at"), event.occurred_at)
    nace = domain.employer_nace(data)
    contract.nace_section = nace if nace != UNKNOWN else contract.nace_section
    session.flush()
    return _permit_keys(session, contract.permit_number)


def on_contract_terminated(session: Session, event: Envelope) -> set[str]:
    data = event.data
    contract = _contract(session, data)
    contract.terminated_at = when(data.get("reported_at"), event.occurred_at)
    contract.terminated_by = data.get("terminated_by")
    return {f"contract:{contract.contract_id}"}


# (producer, event type) -> applier: every event the statistics consume.
APPLIERS: dict[tuple[str, str], Applier] = {
    ("applications", "application_submitted"): on_application_submitted,
    ("applications", "application_approved"): on_application_approved,
    ("applications", "application_rejected"): on_application_rejected,
    ("applications", "application_withdrawn"): on_application_withdrawn,
    ("identity_gateway", "identity_verified"): on_identity_completed,
    ("identity_gateway", "identity_rejected"): on_identity_completed,
    ("identity_gateway", "identity_check_deferred"): on_identity_check_deferred,
    ("permits", "permit_issued"): on_permit_issued,
    **{("permits", event_type): on_permit_changed for event_type in _CHANGE_FIELDS},
    ("contracts", "contract_registered"): on_contract_registered,
    ("contracts", "contract_terminated"): on_contract_terminated,
}


def apply_to_entities(session: Session, event: Envelope) -> set[str]:
    """Record what an event says about its entities; returns the entities to refresh."""
    applier = APPLIERS.get((event.producer, event.event_type))
    if applier is None:
        return set()
    session.flush()  # the unit of work does not autoflush: make earlier changes visible
    keys = applier(session, event)
    session.flush()
    return keys


def apply_event(session: Session, event: Envelope, settings: ProjectionSettings) -> None:
    """Apply one event live: entities, their facts, and the cells by difference."""
    for key in sorted(apply_to_entities(session, event)):
        old, new = refresh_facts(session, key, settings)
        apply_cell_deltas(session, old, new)


# -- entity state -> facts ----------------------------------------------------------


def application_state(app: StatApplication | None) -> domain.ApplicationState | None:
    if app is None:
        return None
    profile = None
    if app.nationality is not None:
        profile = domain.Profile(
            nationality=app.nationality,
            sex=app.sex or UNKNOWN,
            date_of_birth=app.date_of_birth,
            isco_major=app.isco_major or UNKNOWN,
            region=app.region or UNKNOWN,
            nace_section=app.nace_section or UNKNOWN,
            kind=app.kind or UNKNOWN,
        )
    return domain.ApplicationState(
        profile=profile,
        submitted_at=app.submitted_at,
        deadline_at=app.deadline_at,
        decided_at=app.decided_at,
        outcome=app.outcome,
        reason_code=app.reason_code,
        withdrawn_at=app.withdrawn_at,
    )


def permit_state(session: Session, permit_number: str) -> domain.PermitState | None:
    permit = session.get(StatPermit, permit_number)
    if permit is None:
        return None
    app = session.get(StatApplication, permit.application_id)
    nace = app.nace_section if app is not None and app.nace_section else UNKNOWN
    if nace == UNKNOWN:
        contract_naces = session.scalars(
            select(StatContract.nace_section).where(
                StatContract.permit_number == permit_number,
                StatContract.nace_section.is_not(None),
            )
        ).all()
        nace = min(contract_naces, default=UNKNOWN)
    changes = session.scalars(
        select(StatPermitChange).where(StatPermitChange.permit_number == permit_number)
    ).all()
    return domain.PermitState(
        profile=domain.Profile(
            nationality=permit.nationality,
            sex=permit.sex,
            date_of_birth=permit.date_of_birth,
            isco_major=permit.isco_major,
            region=permit.region,
            nace_section=nace,
            kind=(app.kind if app is not None and app.kind else UNKNOWN),
        ),
        issued_at=permit.issued_at,
        valid_from=permit.valid_from,
        valid_until=permit.valid_until,
        changes=tuple(
            domain.PermitChange(c.event_type, c.at, c.on_date, c.reason_code) for c in changes
        ),
    )


def derive_facts(session: Session, key: str, settings: ProjectionSettings) -> list[Fact]:
    kind, _, ident = key.partition(":")
    if kind == "app":
        state = application_state(session.get(StatApplication, ident))
        return domain.application_facts(state, settings.deadline_days) if state else []
    if kind == "permit":
        permit = permit_state(session, ident)
        return domain.permit_facts(permit) if permit else []
    if kind == "idc":
        check = session.get(StatIdentityCheck, ident)
        if check is None:
            return []
        app = application_state(session.get(StatApplication, check.application_id))
        state = domain.IdentityCheckState(
            check.outcome, check.completed_at, check.first_deferred_at
        )
        return domain.identity_check_facts(state, app)
    if kind == "contract":
        contract = session.get(StatContract, ident)
        if contract is None:
            return []
        state = domain.ContractState(
            contract.registered_at, contract.terminated_at, contract.terminated_by
        )
        return domain.contract_facts(state, permit_state(session, contract.permit_number))
    raise ValueError(f"unknown entity key {key!r}")


def stored_facts(session: Session, key: str) -> list[Fact]:
    columns = [getattr(StatFact, name) for name in FACT_COLUMNS]
    rows = session.execute(select(*columns).where(StatFact.entity == key)).all()
    return [Fact(*row) for row in rows]


def refresh_facts(
    session: Session, key: str, settings: ProjectionSettings
) -> tuple[list[Fact], list[Fact]]:
    """Re-derive one entity's facts and store them; returns (old, new)."""
    old = stored_facts(session, key)
    new = derive_facts(session, key, settings)
    if Counter(old) == Counter(new):
        return old, old
    session.execute(delete(StatFact).where(StatFact.entity == key))
    if new:
        session.execute(
            insert(StatFact),
            [{"entity": key, "month": fact.month, **fact._asdict()} for fact in new],
        )
    return old, new


# -- cells ----------------------------------------------------------------------------


def cell_deltas(old: Iterable[Fact], new: Iterable[Fact]) -> Counter:
    deltas: Counter = Counter()
    for fact in new:
        deltas.update(domain.cells_of(fact))
    for fact in old:
        deltas.subtract(domain.cells_of(fact))
    return Counter({cell: n for cell, n in deltas.items() if n})


def apply_cell_deltas(session: Session, old: list[Fact], new: list[Fact]) -> None:
    deltas = cell_deltas(old, new)
    if not deltas:
        return
    table = StatCell.__table__
    dialect = session.get_bind().dialect.name
    insert_fn = postgresql_insert if dialect == "postgresql" else sqlite_insert
    upsert = insert_fn(table)
    upsert = upsert.on_conflict_do_update(
        index_elements=[table.c[name] for name in CELL_KEY],
        set_={"n": table.c.n + upsert.excluded.n},
    )
    session.execute(
        upsert, [{**dict(zip(CELL_KEY, cell, strict=True)), "n": n} for cell, n in deltas.items()]
    )
    emptied = [cell for cell, n in deltas.items() if n < 0]
    if emptied:
        key = tuple_(*(table.c[name] for name in CELL_KEY))
        session.execute(delete(table).where(and_(key.in_(emptied), table.c.n == 0)))


def rebuild_cells(session: Session) -> int:
    """Recount every cell from the facts (after a replay or a bulk load)."""
    session.execute(delete(StatCell))
    measures_by_level: dict[tuple[str, str], list[str]] = defaultdict(list)
    for measure in domain.FACT_MEASURE_DIMENSIONS:
        for level in domain.cube_pairs(measure):
            measures_by_level[level].append(measure)
    target = [StatCell.__table__.c[name] for name in (*CELL_KEY, "n")]
    for (dim_a, dim_b), measures in sorted(measures_by_level.items()):
        val_a = getattr(StatFact, dim_a) if dim_a else literal("")
        val_b = getattr(StatFact, dim_b) if dim_b else literal("")
        grouping = [StatFact.measure, StatFact.month, *(c for c in (dim_a, dim_b) if c)]
        source = (
            select(
                StatFact.measure,
                literal(dim_a),
                literal(dim_b),
                StatFact.month,
                val_a,
                val_b,
                func.count(),
            )
            .where(StatFact.measure.in_(measures))
            .group_by(*(getattr(StatFact, c) if isinstance(c, str) else c for c in grouping))
        )
        session.execute(insert(StatCell.__table__).from_select(target, source))
    return session.scalar(select(func.count()).select_from(StatCell)) or 0
