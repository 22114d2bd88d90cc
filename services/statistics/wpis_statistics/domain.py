"""The statistics rules, pure (no I/O): dimensions and measures, how an
entity's state turns into facts (its contributions to the figures), the
pre-aggregated cells a fact counts in, query validation, percentiles and
small-cell suppression.

Why facts are derived from entity state rather than appended per event:
events from different producers arrive in any order (and a rebuild replays
producer by producer), so every figure is a pure function of the entities'
final state. Applying an event recomputes the contributions of the entities
it touches and moves the counts by the difference; whatever the order, the
figures end the same, which is what makes rebuild-equals-live hold.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import combinations
from typing import Any, NamedTuple

from wpis_common.errors import InvalidInput, NotFound
from wpis_statistics import codes
from wpis_statistics.codes import UNKNOWN

# -- dimensions ----------------------------------------------------------------

TIME_DIMENSIONS = ("month", "day")
PROFILE_DIMENSIONS = (
    "nationality", "sex", "age_band", "isco_major", "nace_section", "region", "kind",
)  # fmt: skip
FACT_DIMENSIONS = (
    *PROFILE_DIMENSIONS, "outcome", "reason_code", "decision_days", "within_deadline",
)  # fmt: skip
# Internal dimensions of the decision-time histogram; not for grouping or filtering.
HISTOGRAM_DIMENSIONS = ("decision_days", "within_deadline")
MAX_GROUP_BY = 2
# Decision times are counted in whole days, capped: "366" means a year or more.
MAX_DECISION_DAYS = 366
_CODE = re.compile(r"^[a-z0-9_]{1,40}$")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class Dimension:
    name: str
    description: str
    is_valid: Callable[[str], bool]
    label: Callable[[str], str] = str


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


def _one_of(values: Iterable[str]) -> Callable[[str], bool]:
    allowed = {*values, UNKNOWN}
    return lambda value: value in allowed


def _code_label(names: Mapping[str, str]) -> Callable[[str], str]:
    return lambda value: names.get(value, value)


DIMENSIONS: dict[str, Dimension] = {
    dim.name: dim
    for dim in (
        Dimension("month", "calendar month of the event, YYYY-MM", _MONTH.match),
        Dimension("day", "calendar day of the event, YYYY-MM-DD", _is_date),
        Dimension(
            "nationality",
            "worker's nationality, ISO 3166-1 alpha-3 (ICAO codes for special cases)",
            lambda v: v == UNKNOWN or codes.is_nationality(v),
            codes.nationality_name,
        ),
        Dimension("sex", "worker's sex: M, F or X", _one_of(codes.SEXES), _code_label(codes.SEXES)),
        Dimension(
            "age_band",
            "worker's age band (at submission for applications received, at the decision "
            "for decisions and permits)",
            _one_of(codes.AGE_BANDS),
        ),
        Dimension(
            "isco_major",
            "ISCO-08 major group of the job (first digit of the occupation code)",
            _one_of(codes.ISCO_MAJOR_GROUPS),
            _code_label(codes.ISCO_MAJOR_GROUPS),
        ),
        Dimension(
            "nace_section",
            "NACE Rev. 2 section of the employer's activity, 'unknown' when no event carries it",
            _one_of(codes.NACE_SECTIONS),
            _code_label(codes.NACE_SECTIONS),
        ),
        Dimension(
            "region",
            "work region, ISO 3166-2:AM",
            lambda v: v == UNKNOWN or v in codes.armenian_regions(),
            codes.region_name,
        ),
        Dimension(
            "kind",
            "kind of application: new, extension, amendment",
            _one_of(codes.KINDS),
            _code_label(codes.KINDS),
        ),
        Dimension("outcome", "outcome (approved/rejected; verified/rejected)", _CODE.match),
        Dimension("reason_code", "reason code of a refusal, revocation or ending", _CODE.match),
    )
}


# -- measures ------------------------------------------------------------------

COUNT, DISTRIBUTION, STOCK = "count", "distribution", "stock"


@dataclass(frozen=True)
class Measure:
    name: str
    description: str
    dimensions: tuple[str, ...] = PROFILE_DIMENSIONS
    kind: str = COUNT
    fact: str = ""  # the stored fact measure it reads; defaults to its own name
    public: bool = False  # published in the open-data export

    @property
    def fact_measure(self) -> str:
        return self.fact or self.name


def _m(name: str, description: str, *extra: str, public: bool = False) -> Measure:
    return Measure(name, description, (*PROFILE_DIMENSIONS, *extra), public=public)


MEASURES: dict[str, Measure] = {
    m.name: m
    for m in (
        _m("applications_received", "applications filed, by submission date", public=True),
        _m(
            "applications_decided",
            "applications decided, by decision date",
            "outcome",
            "reason_code",
        ),
        _m("applications_approved", "applications approved, by decision date"),
        _m(
            "applications_rejected",
            "applications refused, by decision date",
            "reason_code",
            public=True,
        ),
        _m("applications_withdrawn", "applications withdrawn by the employer", public=True),
        Measure(
            "decision_time",
            "days from submission to decision (median, 90th percentile) and the share "
            "decided within the statutory deadline, by decision date",
            (*PROFILE_DIMENSIONS, "outcome", "reason_code"),
            DISTRIBUTION,
            fact="applications_decided",
        ),
        _m("permits_issued", "permits entered in the register, by issue date", public=True),
        _m("permits_extended", "permit extensions, by date recorded", public=True),
        _m("permits_amended", "permit amendments (job changes), by date recorded"),
        _m("permits_suspended", "permit suspensions, by date recorded"),
        _m("permits_revoked", "permits revoked, by date recorded", "reason_code", public=True),
        _m(
            "permits_cancelled_early",
            "permits cancelled before the end of their validity (e.g. the contract ended), "
            "by date recorded",
            "reason_code",
            public=True,
        ),
        _m("permits_expired", "permits that reached the end of their validity", public=True),
        _m("permits_flagged", "permits flagged for review by an identity change", "reason_code"),
        Measure(
            "permits_active",
            "permits valid on a date (?on=YYYY-MM-DD, default today): in their validity "
            "period and not revoked or cancelled",
            PROFILE_DIMENSIONS,
            STOCK,
        ),
        _m("identity_checks", "identity checks completed, by outcome", "outcome", public=True),
        _m("identity_checks_deferred", "identity checks deferred at least once (IDMS down)"),
        _m("contracts_registered", "employment contracts registered"),
        _m("contracts_terminated", "employment contracts terminated", "reason_code"),
    )
}
# Facts behind the stock of active permits (not queryable on their own).
STOCK_FACTS = ("permit_started", "permit_ended")
FACT_MEASURE_DIMENSIONS: dict[str, tuple[str, ...]] = {
    m.name: m.dimensions for m in MEASURES.values() if m.kind == COUNT
}
FACT_MEASURE_DIMENSIONS["applications_decided"] += HISTOGRAM_DIMENSIONS
for _stock_fact in STOCK_FACTS:
    FACT_MEASURE_DIMENSIONS[_stock_fact] = PROFILE_DIMENSIONS


# -- facts and cells -------------------------------------------------------------


class Fact(NamedTuple):
    """One contribution to a figure: a fact measure on a day, with its dimensions.

    Dimensions that do not apply to the measure are "".
    """

    measure: str
    day: date
    nationality: str = ""
    sex: str = ""
    age_band: str = ""
    isco_major: str = ""
    nace_section: str = ""
    region: str = ""
    kind: str = ""
    outcome: str = ""
    reason_code: str = ""
    decision_days: str = ""
    within_deadline: str = ""

    @property
    def month(self) -> str:
        return self.day.strftime("%Y-%m")


# (measure, dim_a, dim_b, month, val_a, val_b): dimensions in name order, "" for none.
Cell = tuple[str, str, str, str, str, str]


def cells_of(fact: Fact) -> list[Cell]:
    """The pre-aggregated cells a fact counts in: the total, each dimension
    alone, and each pair of dimensions, per month."""
    dims = sorted(FACT_MEASURE_DIMENSIONS[fact.measure])
    values = fact._asdict()
    month = fact.month
    cells: list[Cell] = [(fact.measure, "", "", month, "", "")]
    cells += [(fact.measure, d, "", month, values[d], "") for d in dims]
    cells += [(fact.measure, a, b, month, values[a], values[b]) for a, b in combinations(dims, 2)]
    return cells


def cube_pairs(measure: str) -> list[tuple[str, str]]:
    """Every (dim_a, dim_b) level stored for a fact measure, "" for none."""
    dims = sorted(FACT_MEASURE_DIMENSIONS[measure])
    return [("", ""), *((d, "") for d in dims), *combinations(dims, 2)]


# -- entity state -> facts -------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """What the figures know about a worker and a job (no names, no documents)."""

    nationality: str
    sex: str
    date_of_birth: date | None
    isco_major: str
    region: str
    nace_section: str = UNKNOWN
    kind: str = UNKNOWN

    def dims(self, age_on: date) -> dict[str, str]:
        return {
            "nationality": self.nationality,
            "sex": self.sex,
            "age_band": codes.age_band(self.date_of_birth, age_on),
            "isco_major": self.isco_major,
            "nace_section": self.nace_section,
            "region": self.region,
            "kind": self.kind,
        }


def profile_from(worker: Mapping[str, Any], job: Mapping[str, Any], **extra: str) -> Profile:
    dob = worker.get("date_of_birth")
    return Profile(
        nationality=worker.get("nationality") or UNKNOWN,
        sex=worker.get("sex") or UNKNOWN,
        date_of_birth=date.fromisoformat(dob) if isinstance(dob, str) else dob,
        isco_major=codes.isco_major(job.get("isco_code")),
        region=job.get("region") or UNKNOWN,
        **extra,
    )


def employer_nace(employer: Mapping[str, Any] | None) -> str:
    employer = employer or {}
    return codes.nace_section(
        employer.get("nace_section") or employer.get("nace_code") or employer.get("nace")
    )


def reason_code(text: str | None) -> str:
    """A short code from a free-text reason or actor ("Document stolen" -> document_stolen)."""
    if not text:
        return UNKNOWN
    code = re.sub(r"[^a-z0-9]+", "_", text.strip().lower()).strip("_")[:40].strip("_")
    return code or UNKNOWN


@dataclass(frozen=True)
class ApplicationState:
    profile: Profile | None
    submitted_at: datetime | None
    deadline_at: datetime | None = None
    decided_at: datetime | None = None
    outcome: str | None = None
    reason_code: str | None = None
    withdrawn_at: datetime | None = None


def decision_days(submitted_at: datetime, decided_at: datetime) -> str:
    days = max(int((decided_at - submitted_at).total_seconds() // 86400), 0)
    return str(min(days, MAX_DECISION_DAYS))


def application_facts(app: ApplicationState, deadline_days: int) -> list[Fact]:
    if app.profile is None or app.submitted_at is None:
        return []
    received = app.submitted_at.date()
    facts = [Fact("applications_received", received, **app.profile.dims(received))]
    if app.decided_at is not None and app.outcome in ("approved", "rejected"):
        decided = app.decided_at.date()
        dims = app.profile.dims(decided)
        deadline = app.deadline_at or app.submitted_at + timedelta(days=deadline_days)
        reason = (app.reason_code or UNKNOWN) if app.outcome == "rejected" else ""
        facts.append(
            Fact(
                "applications_decided",
                decided,
                **dims,
                outcome=app.outcome,
                reason_code=reason,
                decision_days=decision_days(app.submitted_at, app.decided_at),
                within_deadline="yes" if app.decided_at <= deadline else "no",
            )
        )
        if app.outcome == "approved":
            facts.append(Fact("applications_approved", decided, **dims))
        else:
            facts.append(Fact("applications_rejected", decided, **dims, reason_code=reason))
    if app.withdrawn_at is not None:
        withdrawn = app.withdrawn_at.date()
        facts.append(Fact("applications_withdrawn", withdrawn, **app.profile.dims(withdrawn)))
    return facts


@dataclass(frozen=True)
class PermitChange:
    """A lifecycle event of a permit, as the figures need it."""

    event_type: str
    at: datetime
    on: date | None = None  # the business date: new valid_until, revoked_on, cancelled_on...
    reason_code: str = ""


@dataclass(frozen=True)
class PermitState:
    profile: Profile
    issued_at: datetime
    valid_from: date
    valid_until: date
    changes: tuple[PermitChange, ...] = ()

    @property
    def valid_until_now(self) -> date:
        extended = [c.on for c in self.changes if c.event_type == "permit_extended" and c.on]
        return max([self.valid_until, *extended])

    @property
    def ends_on(self) -> date:
        """The first day the permit is no longer valid."""
        ended = [
            c.on
            for c in self.changes
            if c.event_type in ("permit_revoked", "permit_cancelled") and c.on
        ]
        return min([self.valid_until_now + timedelta(days=1), *ended])


# lifecycle event -> the fact measure it counts in
_PERMIT_CHANGE_MEASURES = {
    "permit_extended": "permits_extended",
    "permit_amended": "permits_amended",
    "permit_suspended": "permits_suspended",
    "permit_revoked": "permits_revoked",
    "permit_expired": "permits_expired",
    "permit_flagged": "permits_flagged",
}
_WITH_REASON = ("permits_revoked", "permits_cancelled_early", "permits_flagged")


def permit_facts(permit: PermitState) -> list[Fact]:
    issued = permit.issued_at.date()
    dims = permit.profile.dims(issued)  # the holder's age at the decision, for every flow
    facts = [
        Fact("permits_issued", issued, **dims),
        Fact("permit_started", permit.valid_from, **dims),
        Fact("permit_ended", permit.ends_on, **dims),
    ]
    for change in sorted(permit.changes, key=lambda c: (c.at, c.event_type)):
        measure = _PERMIT_CHANGE_MEASURES.get(change.event_type)
        cancelled = change.event_type == "permit_cancelled" and change.on is not None
        if cancelled and change.on <= permit.valid_until_now:
            measure = "permits_cancelled_early"
        if measure is None:
            continue
        reason = (change.reason_code or UNKNOWN) if measure in _WITH_REASON else ""
        facts.append(Fact(measure, change.at.date(), **dims, reason_code=reason))
    return facts


@dataclass(frozen=True)
class IdentityCheckState:
    outcome: str | None
    completed_at: datetime | None
    first_deferred_at: datetime | None


def identity_check_facts(check: IdentityCheckState, app: ApplicationState | None) -> list[Fact]:
    if app is None or app.profile is None or app.submitted_at is None:
        return []
    dims = app.profile.dims(app.submitted_at.date())
    facts = []
    if check.outcome and check.completed_at:
        facts.append(
            Fact("identity_checks", check.completed_at.date(), **dims, outcome=check.outcome)
        )
    if check.first_deferred_at:
        facts.append(Fact("identity_checks_deferred", check.first_deferred_at.date(), **dims))
    return facts


@dataclass(frozen=True)
class ContractState:
    registered_at: datetime | None
    terminated_at: datetime | None = None
    terminated_by: str | None = None


def contract_facts(contract: ContractState, permit: PermitState | None) -> list[Fact]:
    if permit is None:
        return []
    dims = permit.profile.dims(permit.issued_at.date())
    facts = []
    if contract.registered_at:
        facts.append(Fact("contracts_registered", contract.registered_at.date(), **dims))
    if contract.terminated_at:
        reason = reason_code(contract.terminated_by)
        facts.append(
            Fact("contracts_terminated", contract.terminated_at.date(), **dims, reason_code=reason)
        )
    return facts


# -- queries -------------------------------------------------------------------

RESERVED_PARAMS = ("group_by", "from", "to", "on")


@dataclass(frozen=True)
class Query:
    measure: Measure
    group_by: tuple[str, ...] = ()
    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()
    date_from: date | None = None
    date_to: date | None = None
    on: date | None = None
    errors: dict[str, list[str]] = field(default_factory=dict, compare=False)

    @property
    def filter_map(self) -> dict[str, tuple[str, ...]]:
        return dict(self.filters)

    def cube_dimensions(self, extra: str | None = None) -> tuple[str, str] | None:
        """The stored (dim_a, dim_b) level that answers this query, or None
        when it needs the facts (a day grain, odd date bounds, too many dimensions)."""
        dims = {d for d in (*self.group_by, *self.filter_map) if d != "month"}
        if extra:
            dims.add(extra)
        if "day" in dims or len(dims) > 2 or not self.month_aligned:
            return None
        pair = [*sorted(dims), "", ""]
        return pair[0], pair[1]

    @property
    def month_aligned(self) -> bool:
        starts_month = self.date_from is None or self.date_from.day == 1
        ends_month = self.date_to is None or (self.date_to + timedelta(days=1)).day == 1
        return starts_month and ends_month


def parse_date_bound(value: str, end: bool) -> date:
    """YYYY-MM-DD, or YYYY-MM meaning the month's first (from) or last (to) day."""
    if _MONTH.match(value):
        first = date.fromisoformat(value + "-01")
        if not end:
            return first
        return (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    if not _is_date(value):
        raise ValueError("must be a date, YYYY-MM-DD, or a month, YYYY-MM")
    return date.fromisoformat(value)


def parse_query(measure_name: str, params: Mapping[str, str], today: date) -> Query:
    """Validate a query; raises NotFound (measure) or InvalidInput (field: reasons)."""
    measure = MEASURES.get(measure_name)
    if measure is None:
        raise NotFound(f"no such measure: {measure_name!r}", measures=sorted(MEASURES))
    errors: dict[str, list[str]] = {}
    allowed = (
        measure.dimensions if measure.kind == STOCK else (*TIME_DIMENSIONS, *measure.dimensions)
    )
    group_by = tuple(g.strip() for g in (params.get("group_by") or "").split(",") if g.strip())
    for name in group_by:
        if name not in allowed:
            errors.setdefault("group_by", []).append(
                f"unknown dimension {name!r} for {measure.name}; one of: {', '.join(allowed)}"
            )
    if len(group_by) > MAX_GROUP_BY:
        errors.setdefault("group_by", []).append(f"at most {MAX_GROUP_BY} dimensions")
    if len(set(group_by)) != len(group_by):
        errors.setdefault("group_by", []).append("a dimension is named twice")
    bounds: dict[str, date | None] = {"from": None, "to": None, "on": None}
    for key in bounds:
        if params.get(key):
            try:
                bounds[key] = parse_date_bound(params[key], end=key == "to")
            except ValueError as error:
                errors[key] = [str(error)]
    if bounds["on"] and measure.kind != STOCK:
        errors["on"] = [f"only for the stock measure permits_active, not {measure.name}"]
    if measure.kind == STOCK and (params.get("from") or params.get("to")):
        errors["from"] = ["a stock is counted on one date: use on=YYYY-MM-DD"]
    if bounds["from"] and bounds["to"] and bounds["from"] > bounds["to"]:
        errors["to"] = ["must not be before 'from'"]
    filters = []
    for key in sorted(set(params) - set(RESERVED_PARAMS)):
        values = tuple(sorted({v.strip() for v in str(params[key]).split(",") if v.strip()}))
        dimension = DIMENSIONS.get(key)
        if dimension is None or key not in allowed or key in HISTOGRAM_DIMENSIONS:
            errors[key] = [f"not a dimension of {measure.name}; filter on: {', '.join(allowed)}"]
        elif not values:
            errors[key] = ["give at least one value"]
        else:
            bad = [v for v in values if not dimension.is_valid(v)]
            if bad:
                errors[key] = [f"invalid value(s) {', '.join(bad)}: {dimension.description}"]
            filters.append((key, values))
    if errors:
        raise InvalidInput(errors)
    return Query(
        measure=measure,
        group_by=group_by,
        filters=tuple(filters),
        date_from=bounds["from"],
        date_to=bounds["to"],
        on=bounds["on"] or (today if measure.kind == STOCK else None),
    )


def label_row(row: dict[str, Any]) -> dict[str, Any]:
    """Add a ``<dimension>_label`` beside each coded dimension value."""
    labelled = dict(row)
    for name, value in row.items():
        dimension = DIMENSIONS.get(name)
        if dimension is not None and dimension.label is not str and isinstance(value, str):
            labelled[f"{name}_label"] = dimension.label(value)
    return labelled


# -- distributions ---------------------------------------------------------------


def percentile(histogram: Mapping[int, int], fraction: float) -> int | None:
    """Nearest-rank percentile of a histogram {value: count}."""
    total = sum(histogram.values())
    if total == 0:
        return None
    rank = max(1, -(-int(fraction * total * 1000) // 1000))  # ceil without float drift
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    return max(histogram)


def distribution_summary(histogram: Mapping[int, int], within: int) -> dict[str, Any]:
    count = sum(histogram.values())
    return {
        "count": count,
        "median_days": percentile(histogram, 0.5),
        "p90_days": percentile(histogram, 0.9),
        "within_deadline": within,
        "within_deadline_share": round(within / count, 4) if count else None,
    }


# -- disclosure control ----------------------------------------------------------


def suppress(
    total: int, cells: Mapping[str, int], threshold: int
) -> tuple[int | None, dict[str, int | None]]:
    """Small-cell suppression of one table (cells that add up to ``total``).

    Primary: a cell counting 1..threshold-1 is hidden. Complementary: hidden
    cells must be at least two and add up to at least ``threshold``, so that
    the published total minus the visible cells reveals no single small cell;
    the smallest visible cells are hidden until that holds. A total below the
    threshold hides the whole table.
    """
    if 0 < total < threshold:
        return None, dict.fromkeys(cells)
    hidden = {key for key, n in cells.items() if 0 < n < threshold}

    def unsafe() -> bool:
        hidden_sum = sum(cells[key] for key in hidden)
        return bool(hidden) and (len(hidden) == 1 or hidden_sum < threshold)

    while unsafe():
        visible = sorted((n, key) for key, n in cells.items() if key not in hidden and n > 0)
        if not visible:
            break
        hidden.add(visible[0][1])
    return total, {key: (None if key in hidden else n) for key, n in cells.items()}
