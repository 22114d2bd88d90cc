"""Public verification answered from the gateway's own read model (ADR-014).

The permits service owns the register; the gateway keeps, in its own
database, just what a public check needs of each permit (status, validity,
employer name, job title, the holder's date of birth for the second factor),
kept current by the permits service's events. A check is then one indexed
read in the gateway's process: no RPC hop and no commit per lookup. The
rules (number format, valid on a day or why not, the answer's shape) are the
register's own, shared in :mod:`wpis_common.permit_rules`.

* Each row remembers the sequence of the last event applied to it, so a
  replayed or redelivered event never undoes a newer one. A change that
  arrives before its permit's ``permit_issued`` raises :class:`NotYetIssued`
  and is retried (the consumer's delayed retry) until the issue has landed.
* A number the read model does not hold is asked of the register (RPC): a
  permit issued a moment ago is never reported unknown. ``VERIFY_UNKNOWN_LOCALLY``
  answers such a number "unknown" at once instead (for a gateway whose read
  model has followed the register from its first permit): the answer is then
  as fresh as the read model, like a revocation.
* Checks answered here are logged in ``verification_checks``, written in
  batches by :class:`CheckLog` (the register logs the checks it answers).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import eventlet
from marshmallow import EXCLUDE, Schema, ValidationError, fields
from nameko.extensions import DependencyProvider
from sqlalchemy import Engine, bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.models import VerificationCheck, VerificationEntry
from wpis_common import permit_rules as rules
from wpis_common.config import flag_setting, required_setting, setting
from wpis_common.db import create_db_engine
from wpis_common.envelope import Envelope, utc_now
from wpis_common.errors import InvalidInput

log = logging.getLogger(__name__)

FEED_EVENTS = (
    "permit_issued",
    "permit_extended",
    "permit_amended",
    "permit_suspended",
    "permit_reinstated",
    "permit_revoked",
    "permit_cancelled",
    "permit_expired",
)


class NotYetIssued(Exception):
    """A change to a permit whose issue the read model has not applied yet."""


# -- the events, as far as the read model reads them -------------------------------


class _Reads(Schema):
    """Reads the fields it names and ignores the rest of the event."""

    class Meta:
        unknown = EXCLUDE


class _Named(_Reads):
    name = fields.String(required=True)


class _Job(_Reads):
    title = fields.String(load_default=None)


class _Holder(_Reads):
    date_of_birth = fields.Date(required=True)


class IssuedSchema(_Reads):
    permit_number = fields.String(required=True)
    status = fields.String(required=True)
    valid_from = fields.Date(required=True)
    valid_until = fields.Date(required=True)
    employer = fields.Nested(_Named, required=True)
    job = fields.Nested(_Job, required=True)
    holder = fields.Nested(_Holder, required=True)


class ChangeSchema(_Reads):
    """Every lifecycle event names its permit; the rest depends on the type."""

    permit_number = fields.String(required=True)
    valid_from = fields.Date()
    valid_until = fields.Date()
    changes = fields.Nested(_Job)
    revoked_on = fields.Date()
    cancelled_on = fields.Date()


def _extended(entry: VerificationEntry, change: dict[str, Any]) -> None:
    entry.valid_from, entry.valid_until = change["valid_from"], change["valid_until"]


def _amended(entry: VerificationEntry, change: dict[str, Any]) -> None:
    title = (change.get("changes") or {}).get("title")
    if title:
        entry.job_title = title


def _status(status: rules.PermitStatus, ends_on_field: str | None = None) -> Callable:
    def to_status(entry: VerificationEntry, change: dict[str, Any]) -> None:
        entry.status = str(status)
        if ends_on_field:
            entry.ends_on = change[ends_on_field]

    return to_status


# The permits service's transitions, as its events report them.
CHANGES: dict[str, Callable[[VerificationEntry, dict[str, Any]], None]] = {
    "permit_extended": _extended,
    "permit_amended": _amended,
    "permit_suspended": _status(rules.PermitStatus.SUSPENDED),
    "permit_reinstated": _status(rules.PermitStatus.ISSUED),
    "permit_revoked": _status(rules.PermitStatus.REVOKED, "revoked_on"),
    "permit_cancelled": _status(rules.PermitStatus.CANCELLED, "cancelled_on"),
    "permit_expired": _status(rules.PermitStatus.EXPIRED),
}


def apply_event(session: Session, event: Envelope) -> None:
    """Bring the read model up to ``event`` (one of FEED_EVENTS from permits)."""
    if event.event_type == "permit_issued":
        _issue(session, IssuedSchema().load(event.data), event.sequence)
        return
    change = ChangeSchema().load(event.data)
    entry = session.get(VerificationEntry, change["permit_number"])
    if entry is None:
        raise NotYetIssued(f"{event.event_type} for {change['permit_number']} before its issue")
    if entry.sequence >= event.sequence:
        return  # already applied, or older than what is applied
    CHANGES[event.event_type](entry, change)
    entry.sequence = event.sequence


def _issue(session: Session, issued: dict[str, Any], sequence: int) -> None:
    entry = session.get(VerificationEntry, issued["permit_number"])
    if entry is not None and entry.sequence >= sequence:
        return
    if entry is None:
        entry = VerificationEntry(number=issued["permit_number"])
        session.add(entry)
    entry.status = issued["status"]
    entry.valid_from, entry.valid_until = issued["valid_from"], issued["valid_until"]
    entry.ends_on = None
    entry.employer_name = issued["employer"]["name"]
    entry.job_title = issued["job"]["title"]
    entry.holder_birth_date = issued["holder"]["date_of_birth"]
    entry.sequence = sequence


def catch_up(
    engine: Engine, fetch: Callable[[int, int], list[dict[str, Any]]], page_size: int = 500
) -> int:
    """Apply the permits service's event log from its first event: for a gateway
    added to a register that already holds permits. ``fetch(after, limit)`` is the
    ``events_after`` RPC. Safe beside the live consumer: the sequence guard skips
    what is applied; a page that races it to a row is applied again."""
    after, applied = 0, 0
    while page := fetch(after, page_size):
        applied += _apply_page(engine, [Envelope.parse(message) for message in page])
        after = page[-1]["sequence"]
    return applied


def _apply_page(engine: Engine, events: list[Envelope], attempts: int = 3) -> int:
    feed = [event for event in events if event.event_type in FEED_EVENTS]
    for attempt in range(1, attempts + 1):
        try:
            with Session(engine) as session, session.begin():
                for event in feed:
                    apply_event(session, event)
            return len(feed)
        except IntegrityError:  # the live consumer inserted a row of this page first
            if attempt == attempts:
                raise
    return 0


# -- answering a check ---------------------------------------------------------------


class VerifyRequestSchema(Schema):
    date_of_birth = fields.Date(load_default=None)
    client = fields.String(load_default=None)


@dataclass(frozen=True)
class CheckRequest:
    number: str
    date_of_birth: date | None
    client: str | None


_REQUEST_SCHEMA = VerifyRequestSchema()


def parse_request(number: str, options: dict[str, Any], require_birth_date: bool) -> CheckRequest:
    """The number (trimmed, upper case) and options, or InvalidInput naming the field."""
    try:
        loaded = _REQUEST_SCHEMA.load(options)
    except ValidationError as error:
        raise InvalidInput(error.messages_dict) from None
    if require_birth_date and loaded["date_of_birth"] is None:
        raise InvalidInput({"date_of_birth": ["the holder's date of birth is required"]})
    return CheckRequest((number or "").strip().upper(), loaded["date_of_birth"], loaded["client"])


_COLUMNS = (
    VerificationEntry.number,
    VerificationEntry.status,
    VerificationEntry.valid_from,
    VerificationEntry.valid_until,
    VerificationEntry.ends_on,
    VerificationEntry.employer_name,
    VerificationEntry.job_title,
    VerificationEntry.holder_birth_date,
)
# Built once: a lookup then only binds the number (no statement building per check).
_LOOKUP = select(*_COLUMNS).where(VerificationEntry.number == bindparam("number"))


def answer(
    engine: Engine, check: CheckRequest, today: date, unknown_locally: bool = False
) -> dict[str, Any] | None:
    """The public answer from the read model; for a number it does not hold, None
    (ask the register) or, with ``unknown_locally``, "unknown"."""
    if not rules.is_well_formed_number(check.number):
        return rules.malformed_answer(check.number)
    row = _lookup(engine, check.number)
    if row is None:
        return rules.judge(check.number, None, today) if unknown_locally else None
    number, status, valid_from, valid_until, ends_on, employer, job_title, birth_date = row
    if check.date_of_birth is not None and check.date_of_birth != _as_date(birth_date):
        return rules.judge(check.number, None, today)  # the same answer as an unknown number
    standing = rules.Standing(
        number, status, _as_date(valid_from), _as_date(valid_until), _as_date(ends_on),
        employer, job_title,
    )  # fmt: skip
    return rules.judge(check.number, standing, today)


def _lookup(engine: Engine, number: str) -> tuple | None:
    """One row by primary key on a pooled DBAPI connection: the statement is compiled
    once per engine, and SQLAlchemy's per-execution work (a quarter of a check's CPU
    in the profile) is skipped. Dates come back as ISO text on SQLite."""
    sql, positions = _compiled_lookup(engine)
    parameters: Any = (number,) if positions else {"number": number}
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(sql, parameters)
        row = cursor.fetchone()
        cursor.close()
    finally:
        raw.close()
    return tuple(row) if row is not None else None


@functools.cache
def _compiled_lookup(engine: Engine) -> tuple[str, bool]:
    compiled = _LOOKUP.compile(dialect=engine.dialect)
    return str(compiled), bool(compiled.positional)


def _as_date(value: date | str | None) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value


def authority_today(offset_days: int, timezone: ZoneInfo) -> date:
    return (datetime.now(UTC) + timedelta(days=offset_days)).astimezone(timezone).date()


# -- the dependency: engine, settings, and the batched log of checks ----------------


class CheckLog(DependencyProvider):
    """What the verification routes see as ``self.verification``: the read
    model's engine, the authority's today, and a log of checks that is written
    every ``VERIFY_LOG_FLUSH_INTERVAL`` seconds (default 0.5) in one batch,
    and on stop. A crash loses at most that interval's log rows, never an answer."""

    def setup(self) -> None:
        self.engine = create_db_engine(required_setting("DATABASE_URL"), pool_size=10)
        self.require_birth_date = flag_setting("VERIFY_REQUIRE_DATE_OF_BIRTH")
        self.unknown_locally = flag_setting("VERIFY_UNKNOWN_LOCALLY")
        self.interval = float(setting("VERIFY_LOG_FLUSH_INTERVAL", 0.5))
        self.timezone = ZoneInfo(str(setting("AUTHORITY_TIMEZONE", "Asia/Yerevan")))
        self.offset_days = int(setting("CLOCK_OFFSET_DAYS", 0))
        self.pending: list[dict[str, Any]] = []
        self.running = False

    def start(self) -> None:
        self.running = True
        self.container.spawn_managed_thread(self._flush_every_interval, identifier="check_log")

    def stop(self) -> None:
        self.running = False
        self.flush()
        self.engine.dispose()

    def kill(self) -> None:
        self.running = False

    def get_dependency(self, worker_ctx: Any) -> CheckLog:
        return self

    def check(self, number: str, options: dict[str, Any]) -> dict[str, Any] | None:
        """The answer from the read model (logged), or None: ask the register."""
        request = parse_request(number, options, self.require_birth_date)
        today = authority_today(self.offset_days, self.timezone)
        result = answer(self.engine, request, today, self.unknown_locally)
        if result is not None:
            self.record(request, result)
        return result

    def record(self, request: CheckRequest, result: dict[str, Any]) -> None:
        if result["reason"] == "malformed_number":
            return  # answered without the register, like the permits service does
        self.pending.append(
            {
                "at": utc_now(),
                "permit_number": result["number"] if result["result"] != "unknown" else None,
                "channel": "number",
                "client": request.client,
                "result": result["result"],
                "reason": result["reason"],
            }
        )

    def flush(self) -> int:
        batch, self.pending = self.pending, []
        if not batch:
            return 0
        try:
            with self.engine.begin() as connection:
                connection.execute(insert(VerificationCheck), batch)
        except Exception:
            log.exception("could not write %d log rows of checks; kept for next time", len(batch))
            self.pending = batch + self.pending
            return 0
        return len(batch)

    def _flush_every_interval(self) -> None:
        while self.running:
            eventlet.sleep(self.interval)
            self.flush()
