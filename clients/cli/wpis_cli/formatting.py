"""How the CLI shows things: rich tables and panels, CSV/JSON exports, errors.
Pure functions of the API's answers (tested without a server)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any

from rich.table import Table

CASE_COLUMNS = (
    ("id", "ID"),
    ("status", "Status"),
    ("kind", "Kind"),
    ("employer.name", "Employer"),
    ("worker.name", "Worker"),
    ("worker.nationality", "Nat."),
    ("job.title", "Job"),
    ("assigned_to", "Assigned"),
    ("due_at", "Due"),
    ("overdue", "Overdue"),
)
EXPORT_COLUMNS = (
    "id", "kind", "status", "employer.tax_id", "employer.name", "worker.given_names",
    "worker.surname", "worker.nationality", "job.title", "job.isco_code", "job.region",
    "assigned_to", "submitted_at", "due_at", "overdue", "decision", "permit_number",
)  # fmt: skip


def pick(item: dict[str, Any], path: str) -> Any:
    """A value by dotted path; ``worker.name`` is the given names and surname."""
    if path == "worker.name":
        worker = item.get("worker") or {}
        return " ".join(p for p in (worker.get("given_names"), worker.get("surname")) if p)
    value: Any = item
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def cases_table(items: Iterable[dict[str, Any]], title: str = "Applications") -> Table:
    items = list(items)
    table = Table(title=f"{title} ({len(items)})", header_style="bold")
    for _, header in CASE_COLUMNS:
        table.add_column(header, overflow="fold")
    for item in items:
        row = [cell(pick(item, path)) for path, _ in CASE_COLUMNS]
        row[0] = row[0][:8]  # a UUID's first block is enough to tell cases apart on screen
        style = "red" if item.get("overdue") else None
        table.add_row(*row, style=style)
    return table


def key_value_table(pairs: Iterable[tuple[str, Any]], title: str | None = None) -> Table:
    table = Table(title=title, show_header=False, box=None, padding=(0, 2, 0, 0))
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key, value in pairs:
        if value not in (None, "", [], {}):
            table.add_row(key, cell(value))
    return table


def case_summary(case: dict[str, Any]) -> list[tuple[str, Any]]:
    identity = case.get("identity") or {}
    fee = case.get("fee") or {}
    return [
        ("Application", case.get("id")),
        ("Status", case.get("status")),
        ("Kind", case.get("kind")),
        ("Employer", f"{pick(case, 'employer.name') or ''} ({pick(case, 'employer.tax_id')})"),
        ("Worker", f"{pick(case, 'worker.name')}, {pick(case, 'worker.nationality') or ''}"),
        ("Passport", pick(case, "worker.passport.number")),
        ("Job", f"{pick(case, 'job.title')} (ISCO {pick(case, 'job.isco_code')})"),
        ("Region", pick(case, "job.region")),
        ("Salary", f"{pick(case, 'job.monthly_salary')} {pick(case, 'job.currency') or ''}"),
        ("Identity", " / ".join(str(v) for v in (identity.get("outcome"), identity.get("reason"))
                                if v)),
        ("Fee", f"{fee.get('amount')} {fee.get('currency')}, paid {fee.get('paid_at') or 'no'}"
                if fee.get("required") else None),
        ("Assigned to", case.get("assigned_to")),
        ("Due", case.get("due_at")),
        ("Overdue", case.get("overdue")),
        ("Decision", case.get("decision")),
        ("Reason", case.get("decision_reason")),
        ("Permit", case.get("permit_number")),
        ("Contract", case.get("contract_id")),
        ("Next actions", ", ".join(case.get("allowed_actions") or [])),
    ]  # fmt: skip


def history_table(entries: Iterable[dict[str, Any]]) -> Table:
    table = Table(title="History", header_style="bold")
    for header in ("At", "From", "To", "Action", "By", "Role", "Reason"):
        table.add_column(header, overflow="fold")
    for entry in entries:
        table.add_row(
            *(cell(entry.get(key)) for key in
              ("at", "from_status", "to_status", "action", "actor", "role", "reason"))
        )  # fmt: skip
    return table


def permit_summary(permit: dict[str, Any]) -> list[tuple[str, Any]]:
    return [
        ("Permit", permit.get("number")),
        ("Status", permit.get("status")),
        ("Holder", pick(permit, "holder.given_names") and
         f"{pick(permit, 'holder.given_names')} {pick(permit, 'holder.surname')}"),
        ("Employer", pick(permit, "employer.name")),
        ("Job", pick(permit, "job.title")),
        ("Valid from", permit.get("valid_from")),
        ("Valid until", permit.get("valid_until")),
        ("Application", permit.get("application_id")),
        ("Next actions", ", ".join(permit.get("allowed_actions") or [])),
    ]  # fmt: skip


def verification_summary(answer: dict[str, Any]) -> list[tuple[str, Any]]:
    return [
        ("Result", answer.get("result")),
        ("Permit", answer.get("number")),
        ("Why", answer.get("message") if answer.get("result") != "valid" else None),
        ("Valid from", answer.get("valid_from")),
        ("Valid until", answer.get("valid_until")),
        ("Employer", answer.get("employer_name")),
        ("Job", answer.get("job_title")),
        ("Checked at", answer.get("checked_at")),
    ]


def event_line(event: dict[str, Any]) -> str:
    data = event.get("data") or {}
    subject = next(
        (
            data[k]
            for k in ("application_id", "permit_number", "number", "contract_id")
            if k in data
        ),
        "",
    )
    return (
        f"{event.get('sequence'):>6}  {event.get('occurred_at', '')}  "
        f"{event.get('producer', '')}.{event.get('event_type', '')}  {subject}"
    ).rstrip()


def to_csv(items: Iterable[dict[str, Any]], columns: Iterable[str] = EXPORT_COLUMNS) -> str:
    columns = list(columns)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for item in items:
        writer.writerow([cell(pick(item, column)) for column in columns])
    return out.getvalue()


def to_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def error_text(status: int, code: str, message: str, fields: dict[str, list[str]]) -> str:
    lines = [f"error {status} {code}: {message}" if status else f"error: {message}"]
    for name, reasons in sorted(fields.items()):
        lines.append(f"  {name}: {'; '.join(reasons)}")
    return "\n".join(lines)
